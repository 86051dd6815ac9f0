// bill.js - the bill explanation of one day, as a card: total deducted, energy, and the
// lines by tariff version, slot and tier (kWh x price = amount), then each reading's
// interval on demand. For the resident page and the staff meter page:
//   import { billCard } from '/assets/bill.js';
//   await billCard(document.getElementById('x'), accountId, '2026-11-27');
// Data: GET /api/v1/bills/{account_id}?date=YYYY-MM-DD (docs/api.md "Tariffs and bills").
// Errors are shown in the card (never thrown); returns the bill or null.
import { get, el } from '/assets/api.js';
import { add, t } from '/assets/i18n.js';

add({
  en: {
    bill_title: 'Charges of', bill_total: 'Deducted', bill_energy: 'Energy', bill_slot: 'Slot', bill_tier: 'Tier',
    bill_kwh: 'kWh', bill_price: 'Price (yuan/kWh)', bill_amount: 'Amount (yuan)', bill_version: 'Tariff from',
    bill_intervals: 'Readings', bill_from: 'From', bill_to: 'To', bill_deduction: 'Deduction (yuan)',
    bill_none: 'No deductions on this day.', bill_exact: 'Exact charge', bill_vacant: 'not charged (vacant)',
    bill_rounding: 'Deductions are the running total of the billing cycle rounded to the fen, so a day can differ from its exact charge by less than 1 fen.',
    bill_sharp: 'sharp', bill_peak: 'peak', bill_flat: 'flat', bill_valley: 'valley', bill_deep_valley: 'deep valley',
  },
  zh: {
    bill_title: '电费明细', bill_total: '扣费', bill_energy: '用电量', bill_slot: '时段', bill_tier: '档',
    bill_kwh: '千瓦时', bill_price: '电价（元/千瓦时）', bill_amount: '金额（元）', bill_version: '电价版本',
    bill_intervals: '抄表记录', bill_from: '起', bill_to: '止', bill_deduction: '扣费（元）',
    bill_none: '当日无扣费。', bill_exact: '精确电费', bill_vacant: '未计费（空置）',
    bill_rounding: '扣费按计费周期累计金额四舍五入到分，单日扣费与精确电费可能相差不到 1 分。',
    bill_sharp: '尖', bill_peak: '峰', bill_flat: '平', bill_valley: '谷', bill_deep_valley: '深谷',
  },
});

const slot = (s) => t('bill_' + s);
const num = (x) => el('td', { class: 'num' }, x);

function linesTable(lines) {
  return el('div', { style: 'overflow-x:auto' }, el('table', { class: 'bill-lines' },
    el('thead', {}, el('tr', {}, el('th', {}, t('bill_slot')), el('th', {}, t('bill_tier')),
      el('th', { class: 'num' }, t('bill_kwh')), el('th', { class: 'num' }, t('bill_price')),
      el('th', { class: 'num' }, t('bill_amount')), el('th', {}, t('bill_version')))),
    el('tbody', {}, ...lines.map((l) => el('tr', {},
      el('td', {}, slot(l.slot)), el('td', {}, String(l.tier)), num(l.energy_kwh), num(l.price_yuan),
      num(l.amount_yuan), el('td', { class: 'muted' }, (l.version_effective_from || '').slice(0, 10)))))));
}

export async function billCard(box, accountId, date) {
  box.replaceChildren(el('div', { class: 'card bill' }, el('p', { class: 'muted' }, '…')));
  let b;
  try {
    b = await get(`/api/v1/bills/${encodeURIComponent(accountId)}?date=${encodeURIComponent(date)}`);
  } catch (e) {
    box.replaceChildren(el('div', { class: 'card bill' }, el('p', { class: 'error' }, e.message)));
    return null;
  }
  const card = el('div', { class: 'card bill', 'data-total-fen': b.total_fen },
    el('h2', {}, `${t('bill_title')} ${b.date}`),
    el('p', {}, el('b', {}, t('bill_total') + ' '), el('span', { class: 'bill-total' }, '¥' + b.total), ' · ',
      el('b', {}, t('bill_energy') + ' '), `${b.energy_kwh} kWh`, ' · ',
      el('span', { class: 'muted' }, `${t('bill_exact')} ¥${b.exact_charge_yuan}`)));
  if (!b.intervals.length) {
    card.append(el('p', { class: 'muted' }, t('bill_none')));
  } else {
    card.append(linesTable(b.lines));
    const rows = b.intervals.map((iv) => el('tr', {},
      el('td', {}, iv.from.slice(11, 16)), el('td', {}, iv.to.slice(11, 16)), num(iv.energy_kwh),
      num(iv.deduction), el('td', { class: 'muted' }, iv.rated ? iv.lines.map((l) =>
        `${slot(l.slot)}·${l.tier} ${l.energy_kwh}×${l.price_yuan}`).join('; ') : t('bill_vacant'))));
    card.append(el('details', { style: 'overflow-x:auto' }, el('summary', {}, `${t('bill_intervals')} (${b.intervals.length})`),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, t('bill_from')), el('th', {}, t('bill_to')),
        el('th', { class: 'num' }, t('bill_kwh')), el('th', { class: 'num' }, t('bill_deduction')), el('th', {}, ''))),
      el('tbody', {}, ...rows))),
    el('p', { class: 'muted' }, t('bill_rounding')));
  }
  box.replaceChildren(card);
  return b;
}
