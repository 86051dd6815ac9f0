// staff.js - the property console: login, a live dashboard (meters online/offline/tripped,
// low balances, today's collections, arrears rate, prepaid money held, recent events) fed by
// Server-Sent Events from /api/v1/events/stream, polling /api/v1/reports/dashboard when the
// stream cannot be had, the
// community -> building -> unit -> meter tree with search, the meter page with its
// account, commands and latency, the relay command with a mandatory reason, and the audit
// log for company admins. Everything comes from /api/v1; nothing is cached across logins.
import * as api from '/assets/api.js';
import { t, apply, toggle, add } from '/assets/i18n.js';
import moduleNames from '/staff/modules.js';
import { billCard } from '/assets/bill.js';

const $ = (id) => document.getElementById(id);
let user = null;
let timer = null;
let currentMeter = null;
const modules = new Map(); // tab -> module (web/staff/<name>.js, listed in modules.js)

function show(tab) {
  for (const s of document.querySelectorAll('main section')) s.classList.toggle('hidden', s.id !== 'tab-' + tab);
  for (const b of document.querySelectorAll('nav.tabs button')) b.classList.toggle('active', b.dataset.tab === tab);
  if (tab === 'tree') loadTree();
  if (tab === 'audit') loadAudit();
  if (tab === 'meter' && currentMeter) openMeter(currentMeter);
  const m = modules.get(tab);
  if (m && m.show) m.show();
}

// Each module: export default { tab, label (i18n key), roles (list; absent = all staff),
// mount(section, ctx), show() }. ctx gives the user, the page's helpers and navigation.
async function loadModules() {
  const ctx = { user, api, t, apply, show, openMeter: (id) => { currentMeter = id; show('meter'); } };
  const nav = document.querySelector('nav.tabs');
  for (const name of moduleNames) {
    const m = (await import(`/staff/${name}.js`)).default;
    if (!m || (m.roles && !m.roles.includes(user.role))) continue;
    const b = api.el('button', { 'data-tab': m.tab, 'data-i18n': m.label });
    b.addEventListener('click', () => show(m.tab));
    nav.append(b);
    const sec = api.el('section', { id: 'tab-' + m.tab, class: 'hidden' });
    document.getElementById('app').append(sec);
    m.mount(sec, ctx);
    modules.set(m.tab, m);
  }
  apply();
}

function loginError(e) {
  if (e.status === 423) return t('locked');
  if (e.status === 429) return t('rate_limited');
  if (e.status === 401) return t('wrong_login');
  return e.message;
}

async function start() {
  apply();
  $('lang').addEventListener('click', () => toggle(() => { if (user) { drawDashboard(); show(activeTab()); } }));
  $('logout').addEventListener('click', async () => { await api.logout().catch(() => {}); location.reload(); });
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      user = await api.login($('login-name').value.trim(), $('login-password').value);
      $('login-password').value = '';
      enter();
    } catch (e) { $('login-error').textContent = loginError(e); }
  });
  for (const b of document.querySelectorAll('nav.tabs button')) b.addEventListener('click', () => show(b.dataset.tab));
  $('relay-action').addEventListener('change', () =>
    $('relay-hours-box').classList.toggle('hidden', $('relay-action').value !== 'close'));
  $('relay-form').addEventListener('submit', sendRelay);
  $('search').addEventListener('input', () => filterTree($('search').value.trim().toLowerCase()));
  user = await api.me();
  if (user) enter(); else $('login-form').classList.remove('hidden');
}

function activeTab() {
  const b = document.querySelector('nav.tabs button.active');
  return b ? b.dataset.tab : 'dashboard';
}

async function enter() {
  if (user.role === 'resident') { location.href = '/resident/'; return; }
  $('login-form').classList.add('hidden');
  $('who').textContent = `${user.login} (${user.role})`;
  $('audit-tab').classList.toggle('hidden', user.role !== 'admin');
  await loadModules(); // every tab exists before the console shows (a click cannot be undone)
  show('dashboard');
  $('app').classList.remove('hidden');
  $('logout').classList.remove('hidden');
  startDashboard();
}

// ---- dashboard: live over Server-Sent Events, polling as the fallback ----
add({
  en: {
    reports_dash_low: 'Low balance (≤ warning level)', reports_dash_collections: "Today's collections",
    reports_dash_arrears: 'Arrears rate', reports_dash_live: 'live', reports_dash_polling: 'polling every 5 s',
    reports_dash_reconnecting: 'reconnecting…', reports_dash_of: 'of',
  },
  zh: {
    reports_dash_low: '余额不足（≤ 预警线）', reports_dash_collections: '今日收款',
    reports_dash_arrears: '欠费率', reports_dash_live: '实时', reports_dash_polling: '每 5 秒刷新',
    reports_dash_reconnecting: '正在重连…', reports_dash_of: '/',
  },
});
let dash = null;             // the last dashboard numbers
const recent = new Map();    // event id -> event (the newest 10 are shown)
let stream = null, mode = '', streamErrors = 0;

// "0.1250" -> "12.50%" without floating point
function percent(rate) {
  const [i, f] = rate.split('.');
  const whole = Number(i) * 100 + Number(f.slice(0, 2));
  return `${whole}.${f.slice(2).padEnd(2, '0')}%`;
}

function setMode(m) {
  mode = m;
  $('s-mode').textContent = t('reports_dash_' + m);
  $('s-mode').className = 'badge ' + (m === 'live' ? 'ok' : 'warn');
}

function drawDashboard() {
  if (dash) {
    $('s-meters').textContent = dash.meters;
    $('s-online').textContent = dash.online;
    $('s-offline').textContent = dash.offline;
    $('s-tripped').textContent = dash.tripped;
    $('s-low').textContent = dash.low_balance;
    $('s-liability').textContent = '¥' + api.yuan(dash.liability_fen);
    $('s-collections').textContent = '¥' + api.yuan(dash.collections_today_fen);
    $('s-arrears').textContent = percent(dash.arrears_rate);
    $('s-arrears-n').textContent = `${dash.arrears_accounts} ${t('reports_dash_of')} ${dash.open_accounts}`;
  }
  const evs = [...recent.values()].sort((a, b) => b.id - a.id).slice(0, 10);
  $('events').replaceChildren(...evs.map((e) =>
    api.el('tr', { 'data-event': e.id }, api.el('td', {}, api.cst(e.time_ms)), api.el('td', {}, e.kind),
      api.el('td', { class: 'mono' }, e.detail))));
  if (mode) setMode(mode);
}

function addEvent(e) {
  recent.set(e.id, e);
  if (recent.size > 50) recent.delete(Math.min(...recent.keys()));
}

function touched() { $('s-updated').textContent = new Date().toLocaleTimeString(); }

// One GET of the dashboard (the fallback, and the first paint).
async function refresh() {
  try {
    const d = await api.get('/api/v1/reports/dashboard');
    dash = d;
    for (const e of d.recent_events) addEvent(e);
    touched();
  } catch (e) {
    if (e.status === 401) { clearInterval(timer); location.reload(); }
  }
  drawDashboard();
}

function poll() {
  if (stream) { stream.close(); stream = null; }
  if (timer) return;
  setMode('polling');
  timer = setInterval(refresh, 5000);
}

function startDashboard() {
  refresh();
  if (!window.EventSource) { poll(); return; }
  stream = new EventSource('/api/v1/events/stream');
  stream.addEventListener('open', () => { streamErrors = 0; setMode('live'); touched(); });
  stream.addEventListener('dashboard', (ev) => { dash = JSON.parse(ev.data); streamErrors = 0; touched(); drawDashboard(); });
  stream.addEventListener('event', (ev) => { addEvent(JSON.parse(ev.data)); touched(); drawDashboard(); });
  stream.addEventListener('end', () => { stream.close(); location.reload(); }); // the session ended
  stream.addEventListener('error', () => {
    // the browser reconnects by itself (resuming with Last-Event-ID); an answer that is no
    // stream (401, 503 ...) closes it for good: then poll
    if (!stream || stream.readyState === EventSource.CLOSED || ++streamErrors > 3) poll();
    else setMode('reconnecting');
  });
  // a live stream pushes every change: while it is open the numbers are current
  setInterval(() => { if (stream && stream.readyState === EventSource.OPEN) touched(); }, 1000);
}

// ---- tree ----
async function loadTree() {
  const [cs, bs, us, ms, as] = await Promise.all([
    api.all('/api/v1/communities'), api.all('/api/v1/buildings'), api.all('/api/v1/units'),
    api.all('/api/v1/meters'), api.all('/api/v1/accounts?status=open'),
  ]);
  const meterOf = new Map(ms.map((m) => [m.unit_id, m]));
  const acctOf = new Map(as.map((a) => [a.unit_id, a]));
  const root = api.el('ul', { class: 'tree' });
  for (const c of cs) {
    const bl = api.el('ul', { class: 'tree' });
    for (const b of bs.filter((x) => x.community_id === c.id)) {
      const ul = api.el('ul', { class: 'tree' });
      for (const u of us.filter((x) => x.building_id === b.id)) {
        const m = meterOf.get(u.id), a = acctOf.get(u.id);
        const text = [u.name, a ? a.holder : '', m ? m.address : ''].join(' ').toLowerCase();
        ul.append(api.el('li', { 'data-search': text },
          m ? api.el('a', { onclick: () => { currentMeter = m.id; show('meter'); }, 'data-meter': m.id }, u.name)
            : u.name,
          ' ', a ? api.el('span', { class: 'muted' }, a.holder + ' · ¥' + a.balance) : '',
          ' ', m ? api.el('span', { class: 'badge ' + (m.relay === 'tripped' ? 'bad' : 'ok') }, t(m.relay)) : '',
          ' ', m && !m.online ? api.el('span', { class: 'badge warn' }, t('offline')) : ''));
      }
      bl.append(api.el('li', {}, api.el('strong', {}, b.name), ul));
    }
    root.append(api.el('li', {}, api.el('strong', {}, c.name), bl));
  }
  $('tree').replaceChildren(root);
  filterTree($('search').value.trim().toLowerCase());
}

function filterTree(q) {
  for (const li of document.querySelectorAll('#tree li[data-search]'))
    li.classList.toggle('hidden', q !== '' && !li.dataset.search.includes(q));
}

// ---- meter page ----
// What a meter engineer asks about one meter: where it is and whose, the register and the
// balance over time, anomalies (the meter's own event records, replies to commands we did
// not send, refused or expired commands, silences), commands with their latency, readings
// with the deduction of each, and the latest events.
const ANOMALY_KINDS = ['tou_mismatch', 'meter_event', 'foreign_command', 'refused', 'expired', 'offline', 'policy_invalid'];
const charts = {};
let billShown = '';

function lineChart(id, name, points, decimals) {
  if (typeof echarts === 'undefined') return;
  const e = document.getElementById(id);
  charts[id] = charts[id] || echarts.init(e);
  charts[id].setOption({
    title: { text: name, textStyle: { fontSize: 13 } }, grid: { left: 60, right: 10, top: 30, bottom: 30 },
    tooltip: { trigger: 'axis', axisPointer: { label: { formatter: (p) => api.cst(p.value) } } },
    xAxis: { type: 'time', axisLabel: { formatter: (v) => api.cst(v).slice(11), hideOverlap: true } },
    yAxis: { type: 'value', scale: true },
    series: [{ type: 'line', step: 'end', showSymbol: false, data: points.map(([t, v]) => [t, v.toFixed(decimals)]) }],
  });
}

async function openMeter(id) {
  $('meter-none').classList.add('hidden');
  $('meter-page').classList.remove('hidden');
  const [m, accts, cmds, evs] = await Promise.all([
    api.get(`/api/v1/meters/${id}`), api.all('/api/v1/accounts?status=open'),
    api.get(`/api/v1/commands?meter=${id}&limit=20`), api.get(`/api/v1/events?meter=${id}&limit=200`),
  ]);
  const a = accts.find((x) => x.meter_id === m.id);
  const [readings, transfers] = a ? await Promise.all([
    api.get(`/api/v1/accounts/${a.id}/readings?limit=200`).then((r) => r.items),
    api.get(`/api/v1/accounts/${a.id}/transfers?limit=200`).then((r) => r.items),
  ]) : [[], []];
  $('meter-title').textContent = `${t('meter')} ${m.address}`;
  const row = (k, v) => api.el('tr', {}, api.el('th', {}, t(k)), api.el('td', {}, v));
  $('meter-info').replaceChildren(
    row('unit', a ? `${a.community} / ${a.building} / ${a.unit}` : '–'),
    row('holder', a ? a.holder : '–'),
    row('balance', a ? '¥' + a.balance : '–'),
    row('relay', api.el('span', { class: 'badge ' + (m.relay === 'tripped' ? 'bad' : 'ok'), id: 'meter-relay' }, t(m.relay))),
    row('status', m.online ? t('online') : t('offline')),
    row('reading', m.last_total_wh === null ? '–' : (m.last_total_wh / 1000).toFixed(2) + ' kWh'),
    row('last_seen', m.last_seen_s ? api.cst(m.last_seen_s * 1000) : '–'));
  $('meter-commands').replaceChildren(...cmds.items.map((c) => api.el('tr', {},
    api.el('td', {}, api.cst(c.created_ms)), api.el('td', {}, c.action), api.el('td', {}, c.reason),
    api.el('td', { class: 'cmd-state' }, c.state),
    api.el('td', { class: 'num' }, c.latency_ms === null ? '–' : c.latency_ms + ' ms'))));
  $('meter-readings').replaceChildren(...readings.slice(0, 30).map((r) => api.el('tr', {},
    api.el('td', {}, api.cst(r.time_s * 1000)), api.el('td', { class: 'num' }, (r.total_wh / 1000).toFixed(2)),
    api.el('td', { class: 'num' }, (r.energy_wh / 1000).toFixed(3)), api.el('td', { class: 'num' }, '¥' + r.deduction))));
  const anomalies = evs.items.filter((e) => ANOMALY_KINDS.includes(e.kind));
  $('meter-anomalies-none').classList.toggle('hidden', anomalies.length > 0);
  $('meter-anomalies').replaceChildren(...anomalies.slice(0, 20).map((e) => api.el('tr', {},
    api.el('td', {}, api.cst(e.time_ms)), api.el('td', {}, api.el('span', { class: 'badge warn' }, e.kind)),
    api.el('td', { class: 'mono' }, e.detail))));
  $('meter-events').replaceChildren(...evs.items.slice(0, 15).map((e) => api.el('tr', {},
    api.el('td', {}, api.cst(e.time_ms)), api.el('td', {}, e.kind), api.el('td', { class: 'mono' }, e.detail))));
  // register over time; balance walked back from today's through the transfers (exact fen)
  lineChart('meter-register-chart', t('register_kwh'),
    readings.map((r) => [r.time_s * 1000, r.total_wh / 1000]).reverse(), 2);
  if (a) {
    let fen = a.balance_fen;
    const pts = [[Date.now(), fen]];
    for (const x of transfers) {
      pts.push([x.time_s * 1000, fen]);
      fen -= x.direction === 'in' ? x.amount_fen : -x.amount_fen;
      pts.push([x.time_s * 1000 - 1, fen]);
    }
    lineChart('meter-balance-chart', t('balance_yuan'), pts.reverse().map(([tm, f]) => [tm, f / 100]), 2);
  }
  // the bill of a day for the meter's account (default: the day of the newest reading)
  const dateBox = $('meter-bill-date');
  if (!dateBox.value && readings.length) dateBox.value = api.cst(readings[0].time_s * 1000).slice(0, 10);
  dateBox.onchange = () => { if (a) { billShown = `${a.id}:${dateBox.value}`; billCard($('meter-bill'), a.id, dateBox.value); } };
  const key = a ? `${a.id}:${dateBox.value}` : '';
  if (key !== billShown) { // not again while the page follows a command: a bill is a replay
    billShown = key;
    if (a && dateBox.value) await billCard($('meter-bill'), a.id, dateBox.value);
    else $('meter-bill').replaceChildren();
  }
}

async function sendRelay(ev) {
  ev.preventDefault();
  $('relay-error').textContent = '';
  $('relay-ok').textContent = '';
  const reason = $('relay-reason').value.trim();
  if (!reason) { $('relay-error').textContent = t('reason_required'); $('relay-reason').focus(); return; }
  const body = { action: $('relay-action').value, reason };
  if (body.action === 'close') body.hours = parseInt($('relay-hours').value, 10);
  try {
    await api.post(`/api/v1/meters/${currentMeter}/relay`, body);
    $('relay-ok').textContent = t('sent_ok');
    $('relay-reason').value = '';
    await openMeter(currentMeter);
    // follow the command until the meter confirms it (or 30 s pass)
    for (let i = 0; i < 30 && currentMeter; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      await openMeter(currentMeter);
      const s = document.querySelector('#meter-commands .cmd-state');
      if (s && ['confirmed', 'refused', 'expired'].includes(s.textContent)) break;
    }
  } catch (e) {
    $('relay-error').textContent = (e.field ? e.field + ': ' : '') + e.message;
  }
}

// ---- audit ----
async function loadAudit() {
  const r = await api.get('/api/v1/audit?limit=50');
  const j = (o) => api.el('code', {}, JSON.stringify(o));
  $('audit').replaceChildren(...r.items.map((x) => api.el('tr', {},
    api.el('td', {}, api.cst(x.time_ms)), api.el('td', {}, x.login), api.el('td', {}, x.action),
    api.el('td', {}, x.reason), api.el('td', {}, j(x.before)), api.el('td', {}, j(x.after)))));
}

start();
