// reports.js - the console's reports (any staff role): collections per day or month and
// channel (with an ECharts bar chart), consumption per building, and the prepaid
// liability; each with an "Export CSV" link to the same report as a file. Days are China
// time; amounts come from the API as decimal strings and are shown as they are.
import { add, t } from '/assets/i18n.js';

add({
  en: {
    reports_tab: 'Reports', reports_collections: 'Collections', reports_consumption: 'Consumption per building',
    reports_liability: 'Prepaid liability (money held for residents)', reports_by: 'Per', reports_by_day: 'day',
    reports_by_month: 'month', reports_from: 'From', reports_to: 'To', reports_community: 'Community',
    reports_all: 'All', reports_show: 'Show', reports_csv: 'Export CSV', reports_period: 'Period',
    reports_channel: 'Channel', reports_count: 'Payments', reports_amount: 'Amount', reports_refunds: 'Refunds',
    reports_net: 'Net', reports_building: 'Building', reports_readings: 'Readings', reports_kwh: 'kWh',
    reports_charged: 'Charged', reports_accounts: 'Accounts', reports_held: 'Held', reports_arrears: 'Arrears',
    reports_total: 'Total', reports_none: 'Nothing in this range', reports_wechat: 'WeChat Pay',
    reports_alipay: 'Alipay', reports_counter: 'Counter', reports_as_of: 'As of',
    reports_refund_count: 'Refunds', reports_refunded: 'Refunded', reports_in_arrears: 'In arrears',
  },
  zh: {
    reports_tab: '报表', reports_collections: '收款统计', reports_consumption: '各楼栋用电量',
    reports_liability: '预存款余额（代住户保管的资金）', reports_by: '按', reports_by_day: '日',
    reports_by_month: '月', reports_from: '开始日期', reports_to: '结束日期', reports_community: '小区',
    reports_all: '全部', reports_show: '查询', reports_csv: '导出 CSV', reports_period: '日期',
    reports_channel: '渠道', reports_count: '笔数', reports_amount: '金额', reports_refunds: '退款',
    reports_net: '净额', reports_building: '楼栋', reports_readings: '抄表次数', reports_kwh: '千瓦时',
    reports_charged: '电费', reports_accounts: '户数', reports_held: '预存余额', reports_arrears: '欠费',
    reports_total: '合计', reports_none: '此期间无数据', reports_wechat: '微信支付',
    reports_alipay: '支付宝', reports_counter: '柜台', reports_as_of: '截至',
    reports_refund_count: '退款笔数', reports_refunded: '退款金额', reports_in_arrears: '欠费户数',
  },
});

let api, sec, chart = null;
const q = (sel) => sec.querySelector(sel);

// today in China time, YYYY-MM-DD
function cstDay(offsetDays = 0) {
  return new Date(Date.now() + 8 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);
}

function query() {
  const p = new URLSearchParams({ by: q('#rep-by').value, from: q('#rep-from').value, to: q('#rep-to').value });
  if (q('#rep-community').value) p.set('community', q('#rep-community').value);
  return p;
}

function table(head, rows, id) { // scrolls sideways inside its card at phone width
  return api.el('div', { style: 'overflow-x:auto' }, api.el('table', { id },
    api.el('thead', {}, api.el('tr', {}, ...head.map(([k, num]) => api.el('th', num ? { class: 'num' } : {}, t(k))))),
    api.el('tbody', {}, ...rows.map((r) => api.el('tr', {}, ...r.map((v, i) =>
      api.el('td', head[i][1] ? { class: 'num' } : {}, String(v))))))));
}

function csvLink(path, params) {
  const p = new URLSearchParams(params);
  p.set('format', 'csv');
  return api.el('a', { href: `${path}?${p}`, download: '', class: 'csv-link' }, t('reports_csv'));
}

function showError(where, e) {
  where.replaceChildren(api.el('p', { class: 'error' }, (e.field ? e.field + ': ' : '') + e.message));
}

function loadECharts() {
  if (window.echarts) return Promise.resolve();
  return new Promise((resolve) => {
    const s = document.createElement('script');
    s.src = '/vendor/echarts/echarts.min.js';
    s.onload = resolve;
    s.onerror = resolve; // the tables still work
    document.head.append(s);
  });
}

async function collections() {
  const out = q('#rep-coll');
  const params = query();
  try {
    const r = await api.get('/api/v1/reports/collections?' + params);
    const rows = r.items.map((i) => [i.period, t('reports_' + i.channel), i.count, i.amount, i.refund_count, i.refunds, i.net]);
    for (const ch of ['wechat', 'alipay', 'counter']) {
      const c = r.channels[ch];
      if (c.count || c.refund_count) rows.push([t('reports_total'), t('reports_' + ch), c.count, c.amount, c.refund_count, c.refunds, c.net]);
    }
    rows.push([t('reports_total'), '', r.total.count, r.total.amount, r.total.refund_count, r.total.refunds, r.total.net]);
    out.replaceChildren(
      api.el('div', { id: 'rep-chart', class: 'chart' }),
      table([['reports_period'], ['reports_channel'], ['reports_count', 1], ['reports_amount', 1], ['reports_refund_count', 1],
        ['reports_refunded', 1], ['reports_net', 1]], rows, 'rep-coll-table'),
      r.items.length ? '' : api.el('p', { class: 'muted' }, t('reports_none')),
      csvLink('/api/v1/reports/collections', params));
    await loadECharts();
    if (!window.echarts) return;
    if (chart) chart.dispose();
    chart = window.echarts.init(q('#rep-chart'));
    const periods = [...new Set(r.items.map((i) => i.period))];
    const series = ['wechat', 'alipay', 'counter'].map((ch) => ({
      name: t('reports_' + ch), type: 'bar', stack: 'in',
      // yuan for the chart only: fen / 100 is display, never arithmetic on money
      data: periods.map((p) => { const i = r.items.find((x) => x.period === p && x.channel === ch); return i ? i.amount_fen / 100 : 0; }),
    }));
    series.push({
      name: t('reports_refunds'), type: 'bar', stack: 'out',
      data: periods.map((p) => -r.items.filter((x) => x.period === p).reduce((s, x) => s + x.refunds_fen, 0) / 100),
    });
    chart.setOption({
      animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 50, right: 10, top: 30, bottom: 30 },
      xAxis: { type: 'category', data: periods }, yAxis: { type: 'value', name: '¥' }, series,
    });
  } catch (e) { showError(out, e); }
}

async function consumption() {
  const out = q('#rep-cons');
  const params = query();
  try {
    const r = await api.get('/api/v1/reports/consumption?' + params);
    const rows = r.items.map((i) => [i.period, `${i.community} / ${i.building}`, i.readings, i.energy_kwh, i.charged]);
    rows.push([t('reports_total'), '', r.total.readings, r.total.energy_kwh, r.total.charged]);
    out.replaceChildren(
      table([['reports_period'], ['reports_building'], ['reports_readings', 1], ['reports_kwh', 1], ['reports_charged', 1]],
        rows, 'rep-cons-table'),
      csvLink('/api/v1/reports/consumption', params));
  } catch (e) { showError(out, e); }
}

async function liability() {
  const out = q('#rep-liab');
  try {
    const r = await api.get('/api/v1/reports/liability');
    const rows = r.items.map((i) => [i.community, i.accounts, i.held, i.accounts_in_arrears, i.arrears, i.net]);
    rows.push([t('reports_total'), r.total.accounts, r.total.held, r.total.accounts_in_arrears, r.total.arrears, r.total.net]);
    out.replaceChildren(
      api.el('p', { class: 'muted' }, `${t('reports_as_of')} ${api.cst(r.as_of_ms)}`),
      table([['reports_community'], ['reports_accounts', 1], ['reports_held', 1], ['reports_in_arrears', 1],
        ['reports_arrears', 1], ['reports_net', 1]], rows, 'rep-liab-table'),
      csvLink('/api/v1/reports/liability', {}));
  } catch (e) { showError(out, e); }
}

async function showAll() {
  await Promise.all([collections(), consumption(), liability()]);
}

export default {
  tab: 'reports',
  label: 'reports_tab',
  mount(section, ctx) {
    sec = section;
    window.addEventListener('resize', () => { if (chart) chart.resize(); });
    api = ctx.api;
    const field = (label, input) => api.el('div', {}, api.el('label', { 'data-i18n': label }), input);
    const by = api.el('select', { id: 'rep-by' },
      api.el('option', { value: 'day', 'data-i18n': 'reports_by_day' }), api.el('option', { value: 'month', 'data-i18n': 'reports_by_month' }));
    const community = api.el('select', { id: 'rep-community' }, api.el('option', { value: '', 'data-i18n': 'reports_all' }));
    const form = api.el('form', { class: 'card', id: 'rep-form' },
      api.el('div', { class: 'row' },
        field('reports_by', by),
        field('reports_from', api.el('input', { id: 'rep-from', type: 'date', value: cstDay(-29) })),
        field('reports_to', api.el('input', { id: 'rep-to', type: 'date', value: cstDay() })),
        field('reports_community', community)),
      api.el('button', { type: 'submit', 'data-i18n': 'reports_show' }));
    form.addEventListener('submit', (ev) => { ev.preventDefault(); showAll(); });
    by.addEventListener('change', () => {
      if (by.value === 'month') q('#rep-from').value = cstDay(-330).slice(0, 8) + '01';
      else q('#rep-from').value = cstDay(-29);
    });
    section.append(form,
      api.el('div', { class: 'card' }, api.el('h2', { 'data-i18n': 'reports_collections' }), api.el('div', { id: 'rep-coll' })),
      api.el('div', { class: 'card' }, api.el('h2', { 'data-i18n': 'reports_consumption' }), api.el('div', { id: 'rep-cons' })),
      api.el('div', { class: 'card' }, api.el('h2', { 'data-i18n': 'reports_liability' }), api.el('div', { id: 'rep-liab' })));
    api.all('/api/v1/communities').then((cs) => {
      for (const c of cs) community.append(api.el('option', { value: c.id }, c.name));
    }).catch(() => {});
  },
  show() {
    showAll();
    if (chart) chart.resize();
  },
};
