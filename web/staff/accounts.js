// accounts.js - staff console section "Accounts": search and list the company's accounts
// (GET /api/v1/accounts), an account panel (balance, status, vacancy, relay), and the forms
// of the account lifecycle (docs/api.md "Accounts"): open an account on a unit (move-in),
// move-out settlement, vacancy, shop transfer. Every form needs a reason; an error is shown
// next to the form naming the field, and the result (and the refreshed account) after a
// submit. Admin and service see everything; finance sees the list and the move-out form.
import { add, t } from '/assets/i18n.js';

add({
  en: {
    acc_tab: 'Accounts', acc_search: 'Search unit, holder or account number', acc_status_all: 'All',
    acc_status_open: 'Open', acc_status_closed: 'Closed', acc_id: 'No.', acc_kind: 'Kind',
    acc_resident: 'Resident', acc_tenant: 'Shop tenant', acc_vacant: 'Vacant', acc_opened: 'Opened',
    acc_pick: 'Pick an account in the list.', acc_panel: 'Account', acc_open_title: 'Open an account (move-in)',
    acc_unit_id: 'Unit', acc_phone: 'Phone (SMS, optional)', acc_move_in: 'Move-in date', acc_submit_open: 'Open account',
    acc_moveout_title: 'Move-out settlement', acc_settle: 'Remaining balance', acc_settle_refund: 'Refund in cash at the counter',
    acc_settle_carry: 'Carry over to another account', acc_settle_keep: 'Keep in the closed account',
    acc_to_account: 'To account', acc_date: 'Hand-over date', acc_reading: 'Agreed final reading (kWh, optional)',
    acc_submit_moveout: 'Settle and close', acc_vacancy_title: 'Vacancy', acc_vacancy_on: 'Mark vacant (hold power off)',
    acc_vacancy_off: 'End vacancy (balance decides)', acc_transfer_title: 'Shop transfer (move prepaid money)',
    acc_amount: 'Amount (yuan)', acc_all: 'The whole balance', acc_submit_transfer: 'Transfer',
    acc_submit_vacancy: 'Apply', acc_free_units: 'units without an open account', acc_none: 'No accounts match.',
    acc_done_open: 'Account opened', acc_done_moveout: 'Account closed; settled', acc_done_vacancy: 'Vacancy updated',
    acc_done_transfer: 'Transferred', acc_confirm: 'Really settle and close this account?', acc_bad_amount: 'expected yuan like 12.34',
    acc_start: 'charged from register', acc_closed_note: 'This account is closed.', acc_meter: 'Meter',
  },
  zh: {
    acc_tab: '开户/销户', acc_search: '搜索房号、户名或户号', acc_status_all: '全部',
    acc_status_open: '正常', acc_status_closed: '已销户', acc_id: '户号', acc_kind: '类型',
    acc_resident: '住户', acc_tenant: '商户', acc_vacant: '空置', acc_opened: '开户时间',
    acc_pick: '请在列表中选择一户。', acc_panel: '户信息', acc_open_title: '开户（入住）',
    acc_unit_id: '房号', acc_phone: '手机号（短信提醒，可选）', acc_move_in: '入住日期', acc_submit_open: '开户',
    acc_moveout_title: '退房销户结算', acc_settle: '剩余余额', acc_settle_refund: '柜台现金退款',
    acc_settle_carry: '结转到其他户', acc_settle_keep: '保留在已销户账户',
    acc_to_account: '转入户号', acc_date: '交接日期', acc_reading: '交接示数（kWh，可选）',
    acc_submit_moveout: '结算并销户', acc_vacancy_title: '空置房', acc_vacancy_on: '设为空置（保持断电）',
    acc_vacancy_off: '取消空置（按余额）', acc_transfer_title: '商铺转让（余额过户）',
    acc_amount: '金额（元）', acc_all: '全部余额', acc_submit_transfer: '过户',
    acc_submit_vacancy: '提交', acc_free_units: '个房间无在用账户', acc_none: '没有符合条件的户。',
    acc_done_open: '已开户', acc_done_moveout: '已销户，结算金额', acc_done_vacancy: '空置状态已更新',
    acc_done_transfer: '已过户', acc_confirm: '确认结算并销户？', acc_bad_amount: '请输入金额，如 12.34',
    acc_start: '起算示数', acc_closed_note: '该户已销户。', acc_meter: '电表',
  },
});

const RW = ['admin', 'service'];
const SETTLE = ['admin', 'service', 'finance'];

let ctx = null;
let root = null;
let accounts = [];
let units = [];
let current = null; // the selected account id

const q = (sel) => root.querySelector(sel);

// "12.34" -> 1234 fen, without floating point; null when malformed.
function fen(s) {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(s);
  if (!m) return null;
  return parseInt(m[1], 10) * 100 + parseInt((m[2] || '0').padEnd(2, '0'), 10);
}

function field(label, input) {
  const { el } = ctx.api;
  return el('div', {}, el('label', { for: input.id, 'data-i18n': label }), input);
}

// A form with a reason, an error line (naming the field) and a result line.
function form(id, title, fields, submitKey, onSubmit) {
  const { el } = ctx.api;
  const f = el('form', { class: 'card', id }, el('h2', { 'data-i18n': title }),
    el('div', { class: 'row' }, ...fields),
    field('reason', el('input', { id: id + '-reason', maxlength: '200', name: 'reason' })),
    el('p', { class: 'error', id: id + '-error' }), el('p', { class: 'ok', id: id + '-ok' }),
    el('button', { type: 'submit', 'data-i18n': submitKey }));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = f.querySelector('.error'), ok = f.querySelector('.ok');
    err.textContent = '';
    ok.textContent = '';
    const reason = f.querySelector(`#${id}-reason`).value.trim();
    if (!reason) { err.textContent = 'reason: ' + t('reason_required'); f.querySelector(`#${id}-reason`).focus(); return; }
    const button = f.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const msg = await onSubmit(reason);
      if (msg === null) return;
      ok.textContent = msg;
      q('#acc-result').textContent = msg; // stays visible when the form hides (a closed account)
      f.querySelector(`#${id}-reason`).value = '';
    } catch (e) {
      err.textContent = (e.field ? e.field + ': ' : '') + e.message;
      const bad = e.field && f.querySelector(`[name="${e.field}"]`);
      if (bad) bad.focus();
    } finally { button.disabled = false; }
  });
  return f;
}

function kindText(k) { return t(k === 'tenant' ? 'acc_tenant' : 'acc_resident'); }

function drawList() {
  const { el, yuan } = ctx.api;
  const term = q('#acc-search').value.trim().toLowerCase();
  const status = q('#acc-status').value;
  const rows = accounts.filter((a) => (!status || a.status === status) &&
    (!term || [String(a.id), a.holder, a.unit, a.building, a.community].some((s) => s.toLowerCase().includes(term))));
  q('#acc-rows').replaceChildren(...rows.map((a) => {
    const tr = el('tr', { 'data-account': a.id, class: a.id === current ? 'active' : '' },
      el('td', {}, el('a', { href: '#', class: 'acc-link' }, String(a.id))),
      el('td', {}, `${a.building} ${a.unit}`),
      el('td', {}, a.holder),
      el('td', { class: 'num' }, '¥' + yuan(a.balance_fen)),
      el('td', {}, el('span', { class: 'badge ' + (a.status === 'open' ? 'ok' : 'muted') },
        t(a.status === 'open' ? 'acc_status_open' : 'acc_status_closed')),
      a.vacant ? ' ' : '', a.vacant ? el('span', { class: 'badge warn' }, t('acc_vacant')) : ''));
    tr.querySelector('a').addEventListener('click', (ev) => { ev.preventDefault(); select(a.id); });
    return tr;
  }));
  q('#acc-empty').classList.toggle('hidden', rows.length > 0);
  const free = units.filter((u) => !accounts.some((a) => a.unit_id === u.id && a.status === 'open'));
  q('#acc-free').textContent = `${free.length} ${t('acc_free_units')}`;
  const sel = q('#acc-open-unit');
  const keep = sel.value;
  sel.replaceChildren(...free.map((u) => el('option', { value: u.id }, `${u.label}`)));
  if (free.some((u) => String(u.id) === keep)) sel.value = keep;
}

function drawPanel() {
  const { el, yuan, cst } = ctx.api;
  const a = accounts.find((x) => x.id === current);
  q('#acc-pick').classList.toggle('hidden', !!a);
  q('#acc-panel').classList.toggle('hidden', !a);
  if (!a) return;
  const row = (k, v) => el('tr', {}, el('th', { 'data-i18n': k }), el('td', {}, v));
  q('#acc-title').textContent = `${a.community} ${a.building} ${a.unit} · ${a.holder}`;
  q('#acc-info').replaceChildren(
    row('acc_id', String(a.id)),
    row('balance', el('span', { id: 'acc-balance', class: a.balance_fen < 0 ? 'bad' : '' }, '¥' + yuan(a.balance_fen))),
    row('status', el('span', { id: 'acc-status-text' },
      t(a.status === 'open' ? 'acc_status_open' : 'acc_status_closed') + (a.vacant ? ' · ' + t('acc_vacant') : ''))),
    row('acc_kind', kindText(a.kind)),
    row('acc_opened', cst(a.opened_s * 1000)),
    row('relay', a.relay ? el('span', { class: 'badge ' + (a.relay === 'tripped' ? 'bad' : 'ok') }, t(a.relay)) : '–'),
    row('acc_meter', a.meter_id ? el('a', { href: '#', id: 'acc-meter-link' }, String(a.meter_id)) : '–'));
  const ml = q('#acc-meter-link');
  if (ml) ml.addEventListener('click', (ev) => { ev.preventDefault(); ctx.openMeter(a.meter_id); });
  const open = a.status === 'open';
  const role = ctx.user.role;
  q('#acc-closed-note').classList.toggle('hidden', open);
  q('#acc-moveout').classList.toggle('hidden', !open || !SETTLE.includes(role));
  q('#acc-vacancy').classList.toggle('hidden', !open || !RW.includes(role));
  q('#acc-transfer').classList.toggle('hidden', !RW.includes(role) || (!open && a.balance_fen <= 0));
  q('#acc-vacancy-value').value = a.vacant ? 'false' : 'true';
  const others = accounts.filter((x) => x.id !== a.id && x.status === 'open');
  for (const sel of [q('#acc-moveout-to'), q('#acc-transfer-to')]) {
    const keep = sel.value;
    sel.replaceChildren(...others.map((x) => el('option', { value: x.id }, `${x.id} · ${x.building} ${x.unit} · ${x.holder}`)));
    if (others.some((x) => String(x.id) === keep)) sel.value = keep;
  }
  ctx.apply(q('#acc-panel'));
}

async function load() {
  const { api } = ctx;
  const [acc, us, bs] = await Promise.all([api.all('/api/v1/accounts'), api.all('/api/v1/units'), api.all('/api/v1/buildings')]);
  accounts = acc;
  const bname = new Map(bs.map((b) => [b.id, b.name]));
  units = us.map((u) => ({ id: u.id, label: `${bname.get(u.building_id) || ''} ${u.name}` }));
  drawList();
  drawPanel();
}

function select(id) {
  current = id;
  q('#acc-result').textContent = '';
  for (const f of root.querySelectorAll('#acc-panel form')) {
    f.querySelector('.error').textContent = '';
    f.querySelector('.ok').textContent = '';
  }
  drawList();
  drawPanel();
}

function mount(section, c) {
  ctx = c;
  root = section;
  const { el, post, yuan } = ctx.api;
  const canWrite = RW.includes(ctx.user.role);

  const list = el('div', { class: 'card' },
    el('div', { class: 'row' },
      el('input', { id: 'acc-search', 'data-i18n-ph': 'acc_search' }),
      el('select', { id: 'acc-status' },
        el('option', { value: 'open', 'data-i18n': 'acc_status_open' }),
        el('option', { value: 'closed', 'data-i18n': 'acc_status_closed' }),
        el('option', { value: '', 'data-i18n': 'acc_status_all' }))),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { 'data-i18n': 'acc_id' }), el('th', { 'data-i18n': 'unit' }),
      el('th', { 'data-i18n': 'holder' }), el('th', { class: 'num', 'data-i18n': 'balance' }), el('th', { 'data-i18n': 'status' }))),
    el('tbody', { id: 'acc-rows' })),
    el('p', { class: 'muted hidden', id: 'acc-empty', 'data-i18n': 'acc_none' }),
    el('p', { class: 'muted', id: 'acc-free' }));

  // open (move-in)
  const openForm = form('acc-open', 'acc_open_title', [
    field('acc_unit_id', el('select', { id: 'acc-open-unit', name: 'unit_id' })),
    field('holder', el('input', { id: 'acc-open-holder', name: 'holder', maxlength: '128' })),
    field('acc_kind', el('select', { id: 'acc-open-kind', name: 'kind' },
      el('option', { value: 'resident', 'data-i18n': 'acc_resident' }), el('option', { value: 'tenant', 'data-i18n': 'acc_tenant' }))),
    field('acc_phone', el('input', { id: 'acc-open-phone', name: 'phone', inputmode: 'tel' })),
    field('acc_move_in', el('input', { id: 'acc-open-date', name: 'move_in', type: 'date' })),
  ], 'acc_submit_open', async (reason) => {
    const body = { unit_id: parseInt(q('#acc-open-unit').value, 10) || 0, holder: q('#acc-open-holder').value.trim(),
      kind: q('#acc-open-kind').value, reason };
    const phone = q('#acc-open-phone').value.trim();
    if (phone) body.phone = phone;
    const date = q('#acc-open-date').value;
    if (date) body.move_in = date;
    const r = await post('/api/v1/accounts', body);
    q('#acc-open-holder').value = '';
    q('#acc-open-phone').value = '';
    current = r.id;
    await load();
    return `${t('acc_done_open')}: ${r.id}` + (r.start_wh !== null ? ` · ${t('acc_start')} ${(r.start_wh / 1000).toFixed(3)} kWh` : '');
  });
  openForm.classList.toggle('hidden', !canWrite);

  // move-out
  const settleSel = el('select', { id: 'acc-moveout-settle', name: 'settle' },
    el('option', { value: 'refund_cash', 'data-i18n': 'acc_settle_refund' }),
    el('option', { value: 'carry_over', 'data-i18n': 'acc_settle_carry' }),
    el('option', { value: 'keep', 'data-i18n': 'acc_settle_keep' }));
  const toBox = field('acc_to_account', el('select', { id: 'acc-moveout-to', name: 'to_account' }));
  toBox.classList.add('hidden');
  settleSel.addEventListener('change', () => toBox.classList.toggle('hidden', settleSel.value !== 'carry_over'));
  const moveout = form('acc-moveout', 'acc_moveout_title', [
    field('acc_settle', settleSel), toBox,
    field('acc_date', el('input', { id: 'acc-moveout-date', name: 'date', type: 'date' })),
    field('acc_reading', el('input', { id: 'acc-moveout-reading', name: 'reading_wh', inputmode: 'decimal' })),
  ], 'acc_submit_moveout', async (reason) => {
    const body = { settle: settleSel.value, reason };
    if (body.settle === 'carry_over') body.to_account = parseInt(q('#acc-moveout-to').value, 10) || 0;
    const date = q('#acc-moveout-date').value;
    if (date) body.date = date;
    const rd = q('#acc-moveout-reading').value.trim();
    if (rd) {
      const m = /^(\d{1,9})(?:\.(\d{1,3}))?$/.exec(rd);
      if (!m) { const e = new Error('expected kWh like 1234.56'); e.field = 'reading_wh'; throw e; }
      body.reading_wh = parseInt(m[1], 10) * 1000 + parseInt((m[2] || '0').padEnd(3, '0'), 10);
    }
    if (!window.confirm(t('acc_confirm'))) return null;
    const r = await post(`/api/v1/accounts/${current}/move-out`, body);
    q('#acc-moveout-reading').value = '';
    await load();
    return `${t('acc_done_moveout')} ¥${r.settled}`;
  });

  // vacancy
  const vacancy = form('acc-vacancy', 'acc_vacancy_title', [
    field('acc_vacant', el('select', { id: 'acc-vacancy-value', name: 'vacant' },
      el('option', { value: 'true', 'data-i18n': 'acc_vacancy_on' }), el('option', { value: 'false', 'data-i18n': 'acc_vacancy_off' }))),
  ], 'acc_submit_vacancy', async (reason) => {
    const r = await post(`/api/v1/accounts/${current}/vacancy`, { vacant: q('#acc-vacancy-value').value === 'true', reason });
    await load();
    return `${t('acc_done_vacancy')}: ${r.vacant ? t('acc_vacant') : t('acc_status_open')}`;
  });

  // transfer
  const allBox = el('input', { id: 'acc-transfer-all', name: 'all', type: 'checkbox' });
  allBox.style.width = 'auto';
  const transfer = form('acc-transfer', 'acc_transfer_title', [
    field('acc_to_account', el('select', { id: 'acc-transfer-to', name: 'to_account' })),
    field('acc_amount', el('input', { id: 'acc-transfer-amount', name: 'amount_fen', inputmode: 'decimal' })),
    el('div', {}, el('label', { for: 'acc-transfer-all' }, allBox, ' ', el('span', { 'data-i18n': 'acc_all' }))),
  ], 'acc_submit_transfer', async (reason) => {
    const body = { to_account: parseInt(q('#acc-transfer-to').value, 10) || 0, reason };
    if (allBox.checked) body.all = true;
    else {
      const f = fen(q('#acc-transfer-amount').value);
      if (f === null) { const e = new Error(t('acc_bad_amount')); e.field = 'amount_fen'; throw e; }
      body.amount_fen = f;
    }
    const r = await post(`/api/v1/accounts/${current}/transfer`, body);
    q('#acc-transfer-amount').value = '';
    allBox.checked = false;
    await load();
    return `${t('acc_done_transfer')} ¥${yuan(r.amount_fen)} → ${r.to_account}`;
  });

  const panel = el('div', { id: 'acc-panel', class: 'hidden' },
    el('div', { class: 'card' }, el('h2', { id: 'acc-title' }), el('table', {}, el('tbody', { id: 'acc-info' })),
      el('p', { class: 'muted hidden', id: 'acc-closed-note', 'data-i18n': 'acc_closed_note' }),
      el('p', { class: 'ok', id: 'acc-result' })),
    moveout, vacancy, transfer);
  section.append(list, el('p', { class: 'muted', id: 'acc-pick', 'data-i18n': 'acc_pick' }), panel, openForm);
  q('#acc-search').addEventListener('input', drawList);
  q('#acc-status').addEventListener('change', drawList);
  ctx.apply(section);
}

export default {
  tab: 'accounts',
  label: 'acc_tab',
  roles: ['admin', 'service', 'finance'],
  mount,
  show() { load().catch((e) => { if (root) q('#acc-free').textContent = e.message; }); },
};
