// resident.js - the resident's page, phone first: balance, power status, estimated days
// left (from the last 7 days of deductions, integer fen arithmetic), usage by day (ECharts
// bar chart, kWh per China-time day from the stored readings), and receipts: each top-up
// and deduction with a "verify" button that checks the receipt's inclusion proof and the
// checkpoint's Ed25519 signature here in the browser (assets/verify.js) against the log
// key shown at the bottom, which the resident can compare out of band.
import * as api from '/assets/api.js';
import { t, apply, toggle } from '/assets/i18n.js';
import { verifyReceipt } from '/assets/verify.js';

const $ = (id) => document.getElementById(id);
let user = null, account = null, readings = [], transfers = [], chart = null, logKey = null;
let shownIds = null;

async function start() {
  apply();
  $('lang').addEventListener('click', () => toggle(() => { shownIds = null; if (account) draw(); }));
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
  user = await api.me();
  if (user) await enter(); else $('login-form').classList.remove('hidden');
}

async function enter() {
  if (user.role !== 'resident') { $('login-error').textContent = t('staff_only'); $('login-form').classList.remove('hidden'); return; }
  $('login-form').classList.add('hidden');
  $('app').classList.remove('hidden');
  $('logout').classList.remove('hidden');
  await load();
  setInterval(load, 10000);
}

async function load() {
  const id = user.account_id;
  [account, readings, transfers] = await Promise.all([
    api.get(`/api/v1/accounts/${id}`), api.all(`/api/v1/accounts/${id}/readings`, 10),
    api.get(`/api/v1/accounts/${id}/transfers?limit=20`).then((r) => r.items),
  ]);
  if (!logKey) logKey = (await api.get('/api/v1/ledger/key')).verifier;
  draw();
}

// China-time day (UTC+8) of a Unix time in seconds, as "YYYY-MM-DD".
const day = (s) => new Date((s + 8 * 3600) * 1000).toISOString().slice(0, 10);

function draw() {
  $('place').textContent = `${account.community} ${account.building} ${account.unit}`;
  $('balance').textContent = api.yuan(account.balance_fen);
  const on = account.relay !== 'tripped';
  $('status').textContent = on ? t('power_on') : t('power_off');
  $('status').className = 'badge ' + (on ? 'ok' : 'bad');
  // days left: balance / average daily deduction over the last 7 days of readings
  const newest = readings.length ? readings[0].time_s : 0;
  const recent = readings.filter((r) => r.time_s > newest - 7 * 86400);
  const spent = recent.reduce((s, r) => s + r.deduction_fen, 0);
  const span = recent.length > 1 ? recent[0].time_s - recent[recent.length - 1].time_s : 0;
  if (spent > 0 && span >= 3600 && account.balance_fen > 0)
    $('days').textContent = `${Math.floor((account.balance_fen * span) / (spent * 86400))} ${t('days')}`;
  else $('days').textContent = '–';
  // usage by day
  const byDay = new Map();
  for (const r of readings) byDay.set(day(r.time_s), (byDay.get(day(r.time_s)) || 0) + r.energy_wh);
  const days = [...byDay.keys()].sort();
  $('chart-empty').classList.toggle('hidden', days.length > 0);
  if (window.echarts) {
    if (!chart) chart = window.echarts.init($('chart'));
    chart.setOption({
      grid: { left: 40, right: 10, top: 20, bottom: 30 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: days.map((d) => d.slice(5)) },
      yAxis: { type: 'value', name: 'kWh' },
      series: [{ type: 'bar', name: t('usage_by_day'), data: days.map((d) => (byDay.get(d) / 1000).toFixed(2)), itemStyle: { color: '#0a66c2' } }],
      animation: false,
    });
  }
  $('log-key').textContent = logKey || '–';
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

start();
