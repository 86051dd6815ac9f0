// tariffs.js - staff console section "Tariffs" (see staff.js loadModules): the tariffs of
// the caller's communities with their versions, the price matrix of a version (slot x tier),
// its slot maps and seasons, and, for admin/finance of a company that alone uses the
// tariff, a form that adds a version (effective date + the version's JSON, prefilled with
// the latest one). Errors of the tariff parser name the JSON path and are shown next to
// the form. API: GET /api/v1/tariffs, GET /api/v1/tariffs/{name},
// POST /api/v1/tariffs/{name}/versions (docs/api.md "Tariffs and bills").
import { add, t } from '/assets/i18n.js';

add({
  en: {
    tariffs_tab: 'Tariffs', tariffs_list: 'Tariffs', tariffs_name: 'Tariff', tariffs_versions: 'Versions',
    tariffs_used_by: 'Used by', tariffs_editable: 'You can add versions', tariffs_shared: 'Shared: read only',
    tariffs_from: 'Effective from', tariffs_to: 'Until', tariffs_open: 'open-ended', tariffs_current: 'in force',
    tariffs_source: 'Source', tariffs_matrix: 'Prices (yuan/kWh)', tariffs_slot: 'Slot', tariffs_tier: 'Tier',
    tariffs_thresholds: 'Tier thresholds (kWh)', tariffs_cycle: 'Tier cycle', tariffs_maps: 'Time-of-use periods',
    tariffs_seasons: 'Seasons', tariffs_months: 'Months', tariffs_days: 'Day types', tariffs_unverified: 'Unverified',
    tariffs_add: 'Add a version', tariffs_date: 'Effective date (00:00 China time, after today)',
    tariffs_json: 'Version (JSON, tariff file format)', tariffs_reason: 'Reason (optional)', tariffs_save: 'Add version',
    tariffs_added: 'Version added: the head-end rates with it from its date.', tariffs_none: 'No tariffs in your communities.',
    tariffs_bad_json: 'Not valid JSON', tariffs_pick: 'Pick a tariff above.', tariffs_none_cycle: 'none',
    tariffs_annual: 'annual', tariffs_monthly: 'monthly', tariffs_sharp: 'sharp', tariffs_peak: 'peak',
    tariffs_flat: 'flat', tariffs_valley: 'valley', tariffs_deep_valley: 'deep valley', tariffs_rev: 'Revision',
    tariffs_ranges: 'Periods', tariffs_map: 'Map', tariffs_workday: 'workday', tariffs_weekend: 'weekend',
    tariffs_holiday: 'holiday',
  },
  zh: {
    tariffs_tab: '电价', tariffs_list: '电价方案', tariffs_name: '电价方案', tariffs_versions: '版本',
    tariffs_used_by: '使用小区', tariffs_editable: '可新增版本', tariffs_shared: '共用：只读',
    tariffs_from: '生效日期', tariffs_to: '截止', tariffs_open: '长期有效', tariffs_current: '执行中',
    tariffs_source: '依据', tariffs_matrix: '电价（元/千瓦时）', tariffs_slot: '时段', tariffs_tier: '档',
    tariffs_thresholds: '阶梯分档电量（千瓦时）', tariffs_cycle: '阶梯周期', tariffs_maps: '峰谷时段',
    tariffs_seasons: '季节', tariffs_months: '月份', tariffs_days: '日类型', tariffs_unverified: '未核实',
    tariffs_add: '新增电价版本', tariffs_date: '生效日期（北京时间 0 点，须晚于今天）',
    tariffs_json: '版本内容（JSON，电价文件格式）', tariffs_reason: '原因（可选）', tariffs_save: '新增版本',
    tariffs_added: '已新增版本：自生效日起按新电价扣费。', tariffs_none: '您的小区暂无电价方案。',
    tariffs_bad_json: 'JSON 格式错误', tariffs_pick: '请在上方选择电价方案。', tariffs_none_cycle: '无',
    tariffs_annual: '年阶梯', tariffs_monthly: '月阶梯', tariffs_sharp: '尖', tariffs_peak: '峰',
    tariffs_flat: '平', tariffs_valley: '谷', tariffs_deep_valley: '深谷', tariffs_rev: '修订号',
    tariffs_ranges: '时段', tariffs_map: '时段表', tariffs_workday: '工作日', tariffs_weekend: '周末',
    tariffs_holiday: '节假日',
  },
});

let api, root, listBox, detailBox, current = null, currentVersion = null;

const slotName = (s) => t('tariffs_' + s);
const dayName = (d) => (['workday', 'weekend', 'holiday'].includes(d) ? t('tariffs_' + d) : d);
const cycleName = (c) => t(c === 'none' ? 'tariffs_none_cycle' : 'tariffs_' + c);

// Tomorrow in China time as YYYY-MM-DD (the earliest date a version may start).
function tomorrowCst() {
  return new Date(Date.now() + 8 * 3600 * 1000 + 86400 * 1000).toISOString().slice(0, 10);
}

// A table that scrolls sideways inside its card on a narrow screen.
function table(head, rows, id) {
  const { el } = api;
  return el('div', { style: 'overflow-x:auto' }, el('table', id ? { id } : {}, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { class: h.num ? 'num' : '' }, h.text ?? h)))),
    el('tbody', {}, ...rows)));
}

async function loadList() {
  const { el } = api;
  const r = await api.get('/api/v1/tariffs');
  if (!r.items.length) { listBox.replaceChildren(el('p', { class: 'muted' }, t('tariffs_none'))); return; }
  listBox.replaceChildren(table(
    [t('tariffs_name'), t('tariffs_versions'), t('tariffs_used_by'), ''],
    r.items.map((x) => el('tr', { 'data-tariff': x.name },
      el('td', {}, el('a', { href: '#', class: 'tariffs-open', onclick: (e) => { e.preventDefault(); open(x.name); } }, x.name)),
      el('td', { class: 'tariffs-dates' }, x.versions.map((v) => el('div', { class: v.index === x.current_version ? '' : 'muted' },
        v.effective_from.slice(0, 10), v.index === x.current_version ? ' · ' + t('tariffs_current') : ''))),
      el('td', {}, x.communities.map((c) => c.name).join(', ')),
      el('td', {}, el('span', { class: 'badge ' + (x.can_add ? 'ok' : 'muted'), style: 'white-space:nowrap' },
        t(x.can_add ? 'tariffs_editable' : 'tariffs_shared'))))),
  ));
}

function renderVersion(v) {
  const { el } = api;
  const tiers = Array.from({ length: v.tiers }, (_, i) => i + 1);
  const matrix = table([t('tariffs_slot'), ...tiers.map((k) => ({ text: `${t('tariffs_tier')} ${k}`, num: true }))],
    v.matrix.map((row) => el('tr', { 'data-slot': row.slot }, el('td', {}, slotName(row.slot)),
      ...row.prices.map((p) => el('td', { class: 'num', title: `${p.price_uyuan_per_kwh} µ¥/kWh` }, p.price_yuan)))),
    'tariffs-matrix');
  const maps = table([t('tariffs_map'), t('tariffs_ranges')], v.maps.map((m) => el('tr', {},
    el('td', {}, m.name),
    el('td', {}, m.ranges.map((r) => el('div', {}, `${r.from}–${r.to} ${slotName(r.slot)}`))))));
  const seasons = table([t('tariffs_seasons'), t('tariffs_months'), t('tariffs_days'), t('tariffs_thresholds')],
    v.seasons.map((s) => el('tr', {},
      el('td', {}, s.name),
      el('td', {}, s.dates ? `${s.dates.from} – ${s.dates.to}` : s.months.join(', ')),
      el('td', {}, Object.entries(s.days).map(([k, m]) => el('div', {}, `${dayName(k)}: ${m}`))),
      el('td', {}, s.thresholds_kwh.join(' / ')))));
  return el('div', { id: 'tariffs-version' },
    el('p', {}, el('b', {}, t('tariffs_from') + ' '), v.effective_from, ' · ', el('b', {}, t('tariffs_to') + ' '),
      v.effective_to || t('tariffs_open')),
    el('p', {}, el('b', {}, t('tariffs_cycle') + ' '), cycleName(v.cycle),
      v.thresholds_kwh.length ? [' · ', el('b', {}, t('tariffs_thresholds') + ' '), el('span', { id: 'tariffs-thresholds' }, v.thresholds_kwh.join(' / '))] : ''),
    v.unverified ? el('p', { class: 'warn' }, t('tariffs_unverified') + ': ' + v.unverified) : '',
    el('h2', { style: 'margin-top:1rem' }, t('tariffs_matrix')), matrix,
    el('h2', { style: 'margin-top:1rem' }, t('tariffs_maps')), maps,
    el('h2', { style: 'margin-top:1rem' }, t('tariffs_seasons')), seasons);
}

function addForm(tr) {
  const { el } = api;
  const latest = { ...tr.versions[tr.versions.length - 1].json };
  delete latest.effective_from;
  delete latest.effective_to;
  const date = el('input', { id: 'tariffs-date', type: 'date', min: tomorrowCst(), value: tomorrowCst(), required: true });
  const text = el('textarea', { id: 'tariffs-json', rows: 14, class: 'mono', spellcheck: 'false' });
  text.value = JSON.stringify(latest, null, 2);
  const reason = el('input', { id: 'tariffs-reason', maxlength: 255 });
  const error = el('p', { class: 'error', id: 'tariffs-error', role: 'alert' });
  const ok = el('p', { class: 'ok', id: 'tariffs-ok' });
  const form = el('form', { id: 'tariffs-form', class: 'card' },
    el('h2', {}, t('tariffs_add')),
    el('label', { for: 'tariffs-date' }, t('tariffs_date')), date,
    el('label', { for: 'tariffs-json' }, t('tariffs_json')), text,
    el('label', { for: 'tariffs-reason' }, t('tariffs_reason')), reason,
    error, ok,
    el('button', { type: 'submit' }, t('tariffs_save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    ok.textContent = '';
    for (const x of [date, text]) x.removeAttribute('aria-invalid');
    let version;
    try { version = JSON.parse(text.value); } catch (e) {
      error.textContent = `${t('tariffs_bad_json')}: ${e.message}`;
      text.setAttribute('aria-invalid', 'true');
      return;
    }
    const body = { effective_date: date.value, version };
    if (reason.value.trim()) body.reason = reason.value.trim();
    try {
      const r = await api.post(`/api/v1/tariffs/${encodeURIComponent(tr.name)}/versions`, body);
      await loadList();
      render(r, r.versions.length - 1);
      document.getElementById('tariffs-ok').textContent = t('tariffs_added');
    } catch (e) {
      error.textContent = e.field && !e.message.startsWith(e.field) ? `${e.field}: ${e.message}` : e.message;
      (e.field === 'effective_date' ? date : text).setAttribute('aria-invalid', 'true');
    }
  });
  return form;
}

function render(tr, vi) {
  const { el } = api;
  current = tr;
  currentVersion = vi ?? (tr.current_version ?? tr.versions.length - 1);
  const tabs = el('nav', { class: 'tabs', id: 'tariffs-versions' }, ...tr.versions.map((v) =>
    el('button', {
      type: 'button', class: v.index === currentVersion ? 'active' : '', 'data-version': v.index,
      onclick: () => render(current, v.index),
    }, v.effective_from.slice(0, 10) + (v.index === tr.current_version ? ' · ' + t('tariffs_current') : ''))));
  detailBox.replaceChildren(
    el('div', { class: 'card' },
      el('h2', { id: 'tariffs-title' }, tr.name),
      el('p', { class: 'muted' }, t('tariffs_source') + ': ' + tr.source, ' · ', t('tariffs_rev') + ' ' + tr.rev),
      tabs, renderVersion(tr.versions[currentVersion])),
    tr.can_add ? addForm(tr) : '');
}

async function open(name) {
  const tr = await api.get(`/api/v1/tariffs/${encodeURIComponent(name)}`);
  render(tr);
}

export default {
  tab: 'tariffs',
  label: 'tariffs_tab',
  roles: ['admin', 'finance', 'service', 'technician'],
  mount(section, ctx) {
    api = ctx.api;
    root = section;
    listBox = api.el('div', { id: 'tariffs-list' });
    detailBox = api.el('div', { id: 'tariffs-detail' }, api.el('p', { class: 'muted' }, t('tariffs_pick')));
    root.replaceChildren(api.el('div', { class: 'card' }, api.el('h2', { id: 'tariffs-list-title' }, t('tariffs_list')), listBox), detailBox);
  },
  async show() {
    document.getElementById('tariffs-list-title').textContent = t('tariffs_list');
    await loadList();
    if (current) await open(current.name).catch(() => {});
  },
};
