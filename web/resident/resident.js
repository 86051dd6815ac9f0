// resident.js - the resident's page, phone first: balance, power status and estimated days
// left (GET /api/v1/me/summary: the server's estimate from the recent deductions), a top-up
// through the payment channel (POST /api/v1/me/topups, then the channel's page opens and the
// order is polled until the notification credited it), usage by day or month (GET
// /api/v1/me/usage, ECharts), receipts: each top-up and deduction with a "verify" button
// that checks the receipt's inclusion proof and the checkpoint's Ed25519 signature here in
// the browser (assets/verify.js) against the log key shown at the bottom, and the
// notification contacts (GET/POST /api/v1/me/contacts).
import * as api from '/assets/api.js';
import { t, add, apply, toggle } from '/assets/i18n.js';
import { verifyReceipt } from '/assets/verify.js';
import { billCard } from '/assets/bill.js';

add({
  en: {
    res_topup_title: 'Top up', res_wechat: 'WeChat Pay', res_alipay: 'Alipay', res_topup_go: 'Pay',
    res_order: 'Order', res_open_pay: 'Open the payment page', res_pay_hint: 'or scan/open:',
    res_sandbox_note: 'In this demo the payment channels are the sandbox stand-in (wattkeeper paysim): no real money moves.',
    res_pick: 'Pick an amount and a channel', res_st_created: 'waiting for the payment…',
    res_st_paid: 'paid, crediting…', res_st_credited: 'credited ✓', res_st_closed: 'closed', res_st_expired: 'expired (not paid)',
    res_bill_title: 'Why was I charged this? (one day)', res_bill_date: 'Day (tap a bar in the chart, or pick a date)',
    res_by_day: 'By day', res_by_month: 'By month', res_usage_by_month: 'Usage by month (kWh)',
    res_total: 'Total', res_deducted: 'deducted', res_days_basis: 'average deduction ¥{avg}/day over the last {n} days',
    res_contacts_title: 'Notifications', res_no_contacts: 'No contacts yet: add one to get low-balance warnings and receipts.',
    res_channel: 'Channel', res_language: 'Language', res_address: 'Address', res_quiet_from: 'Quiet from',
    res_quiet_to: 'Quiet until', res_save: 'Save', res_delete: 'Delete', res_saved: 'Saved',
    res_ch_sms: 'SMS (+86 mobile)', res_ch_email: 'E-mail', res_ch_wechat: 'WeChat (openid)', res_ch_webhook: 'Webhook (https URL)',
    res_quiet: 'quiet', res_power_back: 'The power is back on', res_events: 'Send me',
    res_ev_warn1: 'Low balance', res_ev_warn2: 'Very low balance', res_ev_trip: 'Power cut',
    res_ev_close: 'Power restored', res_ev_credit: 'Top-up receipts',
  },
  zh: {
    res_topup_title: '充值', res_wechat: '微信支付', res_alipay: '支付宝', res_topup_go: '去支付',
    res_order: '订单', res_open_pay: '打开支付页面', res_pay_hint: '或扫码/打开：',
    res_sandbox_note: '演示环境中的支付渠道为沙箱替身（wattkeeper paysim），不会产生真实扣款。',
    res_pick: '请选择金额和支付方式', res_st_created: '等待支付…',
    res_st_paid: '已支付，入账中…', res_st_credited: '已到账 ✓', res_st_closed: '已关闭', res_st_expired: '已过期（未支付）',
    res_bill_title: '某日电费明细', res_bill_date: '日期（点图中柱子或选择日期）',
    res_by_day: '按日', res_by_month: '按月', res_usage_by_month: '每月用电量（千瓦时）',
    res_total: '合计', res_deducted: '扣费', res_days_basis: '近 {n} 天平均每日扣费 ¥{avg}',
    res_contacts_title: '通知设置', res_no_contacts: '尚未设置联系方式：添加后可收到余额提醒和收据。',
    res_channel: '方式', res_language: '语言', res_address: '地址/号码', res_quiet_from: '免打扰开始',
    res_quiet_to: '免打扰结束', res_save: '保存', res_delete: '删除', res_saved: '已保存',
    res_ch_sms: '短信（+86 手机号）', res_ch_email: '电子邮件', res_ch_wechat: '微信（openid）', res_ch_webhook: 'Webhook（https 地址）',
    res_quiet: '免打扰', res_power_back: '已恢复供电', res_events: '通知内容',
    res_ev_warn1: '余额不足提醒', res_ev_warn2: '余额即将用完', res_ev_trip: '停电通知',
    res_ev_close: '恢复供电', res_ev_credit: '充值到账',
  },
});

const $ = (id) => document.getElementById(id);
let user = null, summary = null, usage = null, transfers = [], chart = null, logKey = null;
let shownIds = null, usageBy = 'day', usageAt = 0, timer = null, usageKeys = [];
const topup = { fen: 0, channel: 'wechat', order: null, poll: null };

async function start() {
  apply();
  $('lang').addEventListener('click', () => toggle(() => { shownIds = null; if (summary) draw(); drawContacts(); }));
  $('logout').addEventListener('click', async () => { await api.logout().catch(() => {}); location.reload(); });
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      user = await api.login($('login-name').value.trim(), $('login-password').value);
      $('login-password').value = '';
      await enter();
    } catch (e) {
      $('login-error').textContent = e.status === 423 ? t('locked') : e.status === 429 ? t('rate_limited')
        : e.status === 401 ? t('wrong_login') : e.message;
    }
  });
  window.addEventListener('resize', () => chart && chart.resize());
  setupTopup();
  setupUsage();
  setupContacts();
  setupBill();
  user = await api.me();
  if (user) await enter(); else $('login-form').classList.remove('hidden');
}

async function enter() {
  if (user.role !== 'resident') { $('login-error').textContent = t('staff_only'); $('login-form').classList.remove('hidden'); return; }
  $('login-form').classList.add('hidden');
  $('app').classList.remove('hidden');
  $('logout').classList.remove('hidden');
  await Promise.all([load(), loadContacts(), showBill()]);
  timer = setInterval(load, 10000);
}

async function load() {
  const id = user.account_id;
  const wantUsage = !usage || Date.now() - usageAt > 30000;
  [summary, transfers] = await Promise.all([
    api.get('/api/v1/me/summary'),
    api.get(`/api/v1/accounts/${id}/transfers?limit=20`).then((r) => r.items),
  ]);
  if (wantUsage) await loadUsage();
  if (!logKey) logKey = (await api.get('/api/v1/ledger/key')).verifier;
  draw();
}

async function loadUsage() {
  usage = await api.get(`/api/v1/me/usage?by=${usageBy}`);
  usageAt = Date.now();
}

function draw() {
  const s = summary;
  $('place').textContent = `${s.community} ${s.building} ${s.unit}`;
  $('balance').textContent = api.yuan(s.balance_fen);
  const on = s.relay !== 'tripped';
  $('status').textContent = on ? t('power_on') : t('power_off');
  $('status').className = 'badge ' + (on ? 'ok' : 'bad');
  $('status').dataset.relay = s.relay || '';
  $('days').textContent = s.days_left === null ? '–' : `${s.days_left} ${t('days')}`;
  $('days-basis').textContent = s.daily_deduction
    ? t('res_days_basis').replace('{avg}', s.daily_deduction.yuan).replace('{n}', s.days_left_basis.window_days) : '';
  drawUsage();
  $('log-key').textContent = logKey || '–';
  drawReceipts();
}

// An <svg> of the QR code the server encoded (libqrencode): {size, rows of '0'/'1'}, with a
// quiet zone of 4 modules, px pixels wide; null without one.
function qrSvg(qr, px) {
  if (!qr || !qr.rows) return null;
  const n = qr.size + 8, NS = 'http://www.w3.org/2000/svg';
  let d = '';
  qr.rows.forEach((row, y) => { for (let x = 0; x < row.length; x++) if (row[x] === '1') d += `M${x + 4} ${y + 4}h1v1h-1z`; });
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${n} ${n}`);
  svg.setAttribute('width', px);
  svg.setAttribute('height', px);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', n); bg.setAttribute('height', n); bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d); path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}

// ---- the bill of one day (web/assets/bill.js): tier and slot lines ----

function cstToday() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

function setupBill() {
  $('bill-date').value = cstToday();
  $('bill-date').max = cstToday();
  $('bill-date').addEventListener('change', showBill);
}

async function showBill() {
  if (!user || !$('bill-date').value) return;
  await billCard($('bill'), user.account_id, $('bill-date').value);
}

// ---- usage chart ----

function setupUsage() {
  for (const [btn, by] of [['usage-day', 'day'], ['usage-month', 'month']]) {
    $(btn).addEventListener('click', async () => {
      usageBy = by;
      $('usage-day').className = 'channel-btn ' + (by === 'day' ? 'active' : 'secondary');
      $('usage-month').className = 'channel-btn ' + (by === 'month' ? 'active' : 'secondary');
      $('usage-title').dataset.i18n = by === 'day' ? 'usage_by_day' : 'res_usage_by_month';
      $('usage-title').textContent = t($('usage-title').dataset.i18n);
      await loadUsage();
      drawUsage();
    });
  }
}

// Every period from..to (the API lists only periods with readings), as "YYYY-MM[-DD]".
function periods(from, to, byMonth) {
  const out = [];
  if (byMonth) {
    let [y, m] = from.split('-').map(Number);
    const [ty, tm] = to.split('-').map(Number);
    while (y < ty || (y === ty && m <= tm)) {
      out.push(`${y}-${String(m).padStart(2, '0')}`);
      if (++m > 12) { m = 1; y++; }
    }
  } else {
    for (let d = Date.parse(from + 'T00:00:00Z'); d <= Date.parse(to + 'T00:00:00Z') && out.length < 400; d += 86400000)
      out.push(new Date(d).toISOString().slice(0, 10));
  }
  return out;
}

function drawUsage() {
  if (!usage) return;
  const byMonth = usage.by === 'month';
  const got = new Map(usage.items.map((it) => [it.period, it]));
  let keys = periods(usage.from, usage.to, byMonth);
  if (!byMonth) { // from the first day with readings (at most the 30 days asked for)
    const first = keys.findIndex((k) => got.has(k));
    keys = first < 0 ? [] : keys.slice(Math.max(0, Math.min(first, keys.length - 7)));
  }
  usageKeys = keys;
  $('chart-empty').classList.toggle('hidden', usage.items.length > 0);
  $('usage-total').textContent = usage.items.length
    ? `${t('res_total')}: ${usage.total_energy_kwh} kWh · ${t('res_deducted')} ¥${usage.total_deduction}` : '';
  $('chart').dataset.by = usage.by;
  $('chart').dataset.total = usage.total_energy_wh;
  if (!window.echarts) return;
  if (!chart) {
    chart = window.echarts.init($('chart'));
    chart.on('click', (p) => { // a day's bar: that day's bill
      if (usage.by !== 'day') return;
      $('bill-date').value = usageKeys[p.dataIndex];
      showBill();
      $('bill-card').scrollIntoView({ behavior: 'smooth' });
    });
  }
  chart.setOption({
    grid: { left: 44, right: 10, top: 24, bottom: 30 },
    tooltip: {
      trigger: 'axis',
      formatter: (ps) => {
        const it = got.get(keys[ps[0].dataIndex]);
        return `${keys[ps[0].dataIndex]}<br>${it ? it.energy_kwh : '0'} kWh · ¥${it ? it.deduction : '0.00'}`;
      },
    },
    xAxis: { type: 'category', data: keys.map((k) => (byMonth ? k : k.slice(5))) },
    yAxis: { type: 'value', name: 'kWh' },
    series: [{
      type: 'bar', name: 'kWh', itemStyle: { color: '#0a66c2' },
      data: keys.map((k) => (got.has(k) ? got.get(k).energy_wh / 1000 : 0)),
    }],
    animation: false,
  }, true);
}

// ---- receipts ----

function drawReceipts() {
  const ids = transfers.map((x) => x.id).join();
  if (ids === shownIds) return; // keep verification results while nothing new arrived
  shownIds = ids;
  $('receipts').replaceChildren(...transfers.map((x) => {
    const out = api.el('span', { class: 'verify-result' });
    const btn = api.el('button', { class: 'secondary verify', 'data-id': x.id, onclick: () => check(x.id, btn, out) }, t('verify'));
    return api.el('tr', { 'data-transfer': x.id },
      api.el('td', {}, api.cst(x.time_s * 1000).slice(5)),
      api.el('td', {}, x.direction === 'in' ? t('top_up') : t('deduction')),
      api.el('td', { class: 'num ' + (x.direction === 'in' ? 'ok' : '') }, (x.direction === 'in' ? '+' : '−') + x.amount),
      api.el('td', {}, btn, ' ', out));
  }));
}

async function check(id, btn, out) {
  btn.disabled = true;
  out.textContent = '…';
  out.className = 'verify-result';
  try {
    const receipt = await api.get(`/api/v1/receipts/${id}`);
    const r = await verifyReceipt(receipt, logKey);
    out.textContent = r.ok ? t('verified') : `${t('verify_failed')}: ${r.message}`;
    out.className = 'verify-result ' + (r.ok ? 'ok' : 'bad');
    out.dataset.ok = r.ok ? 'true' : 'false';
  } catch (e) {
    out.textContent = `${t('verify_failed')}: ${e.message}`;
    out.className = 'verify-result bad';
    out.dataset.ok = 'false';
  } finally {
    btn.disabled = false;
  }
}

// ---- top-up ----

function setupTopup() {
  const pick = (sel, attr, set) => {
    for (const b of document.querySelectorAll(sel)) {
      b.addEventListener('click', () => {
        for (const o of document.querySelectorAll(sel)) o.classList.toggle('active', o === b);
        set(b.dataset[attr]);
        $('topup-go').disabled = !topup.fen;
      });
    }
  };
  pick('.amount-btn', 'fen', (v) => { topup.fen = Number(v); });
  pick('#topup-channels .channel-btn', 'channel', (v) => { topup.channel = v; });
  document.querySelector('#topup-channels .channel-btn[data-channel=wechat]').classList.add('active');
  $('topup-go').addEventListener('click', createOrder);
}

async function createOrder() {
  $('topup-error').textContent = '';
  if (!topup.fen) { $('topup-error').textContent = t('res_pick'); return; }
  $('topup-go').disabled = true; // one order per click; the channel credits each payment once
  try {
    const o = await api.post('/api/v1/me/topups', { amount_fen: topup.fen, channel: topup.channel });
    topup.order = o;
    $('topup-no').textContent = o.order_no;
    $('topup-amount').textContent = o.amount;
    $('topup-link').href = o.pay_url;
    $('topup-code').textContent = o.code_url || o.qr_code || '';
    const qr = qrSvg(o.qr, 200); // to scan from a computer's screen
    $('topup-qr').replaceChildren(...(qr ? [qr] : []));
    $('topup-order').classList.remove('hidden');
    showState(o.state);
    pollOrder(o.order_no);
  } catch (e) {
    $('topup-error').textContent = e.field ? `${e.field}: ${e.message}` : e.message;
  } finally {
    $('topup-go').disabled = !topup.fen;
  }
}

function showState(state) {
  $('topup-state').textContent = t('res_st_' + state);
  $('topup-state').dataset.state = state;
  $('topup-state').className = state === 'credited' ? 'ok' : state === 'created' || state === 'paid' ? '' : 'bad';
  $('topup-link').classList.toggle('hidden', state !== 'created'); // nothing left to pay
  $('topup-qr').classList.toggle('hidden', state !== 'created');
}

// Polls the order (every 1.5 s, for up to 15 min) until it is credited or over; then the
// balance, status and receipts are reloaded, and the status followed until the meter
// confirms the power is back.
function pollOrder(no) {
  clearInterval(topup.poll);
  const until = Date.now() + 15 * 60000;
  topup.poll = setInterval(async () => {
    if (Date.now() > until || !topup.order || topup.order.order_no !== no) { clearInterval(topup.poll); return; }
    let o;
    try { o = await api.get(`/api/v1/me/topups/${encodeURIComponent(no)}`); } catch { return; }
    showState(o.state);
    if (o.state === 'created' || o.state === 'paid') return;
    clearInterval(topup.poll);
    if (o.state !== 'credited') return;
    await load();
    const stop = Date.now() + 60000;
    const follow = setInterval(async () => {
      await load().catch(() => {});
      if (summary.relay !== 'tripped' || Date.now() > stop) clearInterval(follow);
    }, 1500);
  }, 1500);
}

// ---- notification contacts ----

let contacts = [];

async function loadContacts() {
  contacts = (await api.get('/api/v1/me/contacts')).items;
  drawContacts();
}

function drawContacts() {
  if (!user) return;
  $('contacts-empty').classList.toggle('hidden', contacts.length > 0);
  $('contacts').replaceChildren(...contacts.map((c) => api.el('li', { 'data-id': c.id, 'data-channel': c.channel },
    api.el('span', { class: 'what' }, api.el('strong', {}, t('res_ch_' + c.channel).replace(/[（(].*$/, '')), ' ',
      api.el('span', { class: 'mono' }, c.address), ' ',
      api.el('span', { class: 'muted small' }, c.language === 'en' ? 'English' : '中文',
        c.quiet_from ? ` · ${t('res_quiet')} ${c.quiet_from}–${c.quiet_to}` : '',
        c.events.length < 5 ? ` · ${c.events.map((e) => t('res_ev_' + e)).join(', ')}` : '')),
    api.el('button', { class: 'secondary delete', onclick: () => deleteContact(c.id) }, t('res_delete')))));
}

async function deleteContact(id) {
  try {
    await api.post(`/api/v1/me/contacts/${id}/delete`);
  } catch (e) {
    $('contact-error').textContent = e.message;
  }
  await loadContacts();
}

function setupContacts() {
  const fields = { channel: 'contact-channel', address: 'contact-address', language: 'contact-language',
    quiet_from: 'contact-quiet-from', quiet_to: 'contact-quiet-to', events: 'contact-events' };
  $('contact-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('contact-error').textContent = '';
    for (const id of Object.values(fields)) $(id).classList.remove('invalid');
    const body = { channel: $('contact-channel').value, address: $('contact-address').value.trim(),
      language: $('contact-language').value };
    body.events = [...document.querySelectorAll('#contact-events input:checked')].map((i) => i.value);
    if ($('contact-quiet-from').value || $('contact-quiet-to').value) {
      body.quiet_from = $('contact-quiet-from').value;
      body.quiet_to = $('contact-quiet-to').value;
    }
    try {
      await api.post('/api/v1/me/contacts', body);
      $('contact-address').value = '';
      $('contact-error').textContent = '';
      await loadContacts();
    } catch (e) {
      if (e.field && fields[e.field]) $(fields[e.field]).classList.add('invalid');
      $('contact-error').textContent = e.field ? `${t('res_' + e.field)}: ${e.message}` : e.message;
      $('contact-error').dataset.field = e.field || '';
    }
  });
}

start();
