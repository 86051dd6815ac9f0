// payments.js - the console's payments section (staff.js loadModules): counter top-up (an
// account found by unit or holder, the amount typed in yuan and turned into fen by a
// decimal parser, never floating point; one idempotency id per attempt so a retry books
// once), the payments list with a refund form per payment, the refunds list, and the
// reconciliation upload with the stored runs and their discrepancy lines. Errors appear
// next to the field the API names.
import { get, post, all, el, yuan, cst, ApiError } from '/assets/api.js';
import { add, t, apply } from '/assets/i18n.js';

add({
  en: {
    pay_tab: 'Payments', pay_counter: 'Counter top-up', pay_find: 'Find account (unit or holder)',
    pay_account: 'Account', pay_amount: 'Amount (yuan)', pay_method: 'Method', pay_cash: 'Cash', pay_card: 'Bank card',
    pay_transfer: 'Bank transfer', pay_reason: 'Note / reason', pay_submit: 'Book top-up', pay_booked: 'Booked',
    pay_list: 'Payments', pay_refunds: 'Refunds', pay_refund: 'Refund', pay_refund_of: 'Refund payment',
    pay_refund_submit: 'Book refund', pay_refunded: 'Refunded', pay_source: 'Source', pay_channel: 'Channel',
    pay_time: 'Time', pay_unit: 'Unit', pay_operator: 'Operator', pay_status: 'Status', pay_none: 'Nothing yet',
    pay_recon: 'Reconciliation', pay_bill: 'Bill file', pay_upload: 'Upload and reconcile', pay_runs: 'Runs',
    pay_dates: 'Days', pay_matched: 'Matched', pay_issues: 'Discrepancies', pay_lines: 'Discrepancy lines',
    pay_bad_amount: 'Enter yuan with at most two decimals, e.g. 50 or 12.34', pay_pick_account: 'Pick an account',
    pay_no_file: 'Choose the channel\'s bill file', pay_existed: 'Already booked (same attempt)',
    pay_cancel: 'Cancel', pay_by: 'Operator / order', pay_hidden: 'lines of other companies hidden', pay_filter: 'Channel',
    pay_all: 'All', pay_counter_ch: 'Counter', pay_left: 'Refundable',
  },
  zh: {
    pay_tab: '缴费', pay_counter: '柜台缴费', pay_find: '查找账户（房号或户名）',
    pay_account: '账户', pay_amount: '金额（元）', pay_method: '方式', pay_cash: '现金', pay_card: '刷卡',
    pay_transfer: '银行转账', pay_reason: '备注 / 原因', pay_submit: '确认缴费', pay_booked: '已入账',
    pay_list: '缴费记录', pay_refunds: '退款记录', pay_refund: '退款', pay_refund_of: '退款：缴费',
    pay_refund_submit: '确认退款', pay_refunded: '已退', pay_source: '来源', pay_channel: '渠道',
    pay_time: '时间', pay_unit: '房号', pay_operator: '操作人', pay_status: '状态', pay_none: '暂无记录',
    pay_recon: '对账', pay_bill: '对账单文件', pay_upload: '上传并对账', pay_runs: '对账记录',
    pay_dates: '账单日期', pay_matched: '一致', pay_issues: '差异', pay_lines: '差异明细',
    pay_bad_amount: '请输入元，最多两位小数，例如 50 或 12.34', pay_pick_account: '请选择账户',
    pay_no_file: '请选择渠道对账单文件', pay_existed: '已入账（同一次操作）',
    pay_cancel: '取消', pay_by: '操作人 / 订单号', pay_hidden: '条属于其他公司的明细未显示', pay_filter: '渠道',
    pay_all: '全部', pay_counter_ch: '柜台', pay_left: '可退',
  },
});

// "12.34" -> 1234 fen, exactly: digits only, at most two decimals; null otherwise.
export function parseYuan(text) {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const fen = parseInt(m[1], 10) * 100 + parseInt((m[2] || '').padEnd(2, '0'), 10);
  return fen > 0 && fen <= 100000000 ? fen : null;
}

function newId() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const METHODS = { cash: 'pay_cash', card: 'pay_card', transfer: 'pay_transfer' };
const channelName = (c) => (c === 'counter' ? t('pay_counter_ch') : c === 'wechat' ? 'WeChat Pay' : c === 'alipay' ? 'Alipay' : c);

let ctx = null;
let root = null;
const $ = (id) => root.querySelector('#' + id);
let accounts = [];

// An error next to the field the API named (or the form's general error line).
function showError(form, e) {
  for (const p of form.querySelectorAll('.error')) p.textContent = '';
  const field = e.field;
  const slot = (field && form.querySelector(`.error[data-field="${field}"]`)) || form.querySelector('.error[data-field=""]');
  // the field's own label first, so the message says what to fix even on a phone
  const label = slot.dataset.field && slot.parentElement.querySelector('label');
  slot.textContent = e.message && label ? `${label.textContent}: ${e.message}` : e.message;
}

function field(labelKey, input, name) {
  return el('div', {}, el('label', { for: input.id, 'data-i18n': labelKey }), input,
    el('div', { class: 'error', 'data-field': name }));
}

function counterForm() {
  const find = el('input', { id: 'pay-find', 'data-i18n-ph': 'pay_find', autocomplete: 'off' });
  const account = el('select', { id: 'pay-account' });
  const amount = el('input', { id: 'pay-amount', inputmode: 'decimal', placeholder: '50.00' });
  const method = el('select', { id: 'pay-method' },
    ...Object.entries(METHODS).map(([v, k]) => el('option', { value: v, 'data-i18n': k })));
  const reason = el('input', { id: 'pay-reason', maxlength: '200' });
  const ok = el('p', { class: 'ok', id: 'pay-ok' });
  const form = el('form', { class: 'card', id: 'pay-counter-form' },
    el('h2', { 'data-i18n': 'pay_counter' }),
    el('div', { class: 'row' }, field('pay_find', find, 'find'), field('pay_account', account, 'account_id')),
    el('div', { class: 'row' }, field('pay_amount', amount, 'amount_fen'), field('pay_method', method, 'method')),
    field('pay_reason', reason, 'reason'),
    el('div', { class: 'error', 'data-field': '' }),
    el('button', { type: 'submit', 'data-i18n': 'pay_submit' }), ok);
  let attempt = newId(); // the same id while the inputs stay the same: a retry books once
  const fresh = () => { attempt = newId(); ok.textContent = ''; };
  for (const i of [account, amount, method, reason]) i.addEventListener('input', fresh);
  find.addEventListener('input', () => { fillAccounts(find.value); fresh(); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ok.textContent = '';
    const fen = parseYuan(amount.value);
    if (!account.value) return showError(form, { field: 'account_id', message: t('pay_pick_account') });
    if (fen === null) return showError(form, { field: 'amount_fen', message: t('pay_bad_amount') });
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = await post('/api/v1/payments/counter', {
        account_id: Number(account.value), amount_fen: fen, method: method.value, reason: reason.value, id: attempt,
      });
      showError(form, { field: '', message: '' });
      ok.textContent = r.existed ? t('pay_existed')
        : `${t('pay_booked')}: ¥${yuan(r.amount_fen)} · ${r.unit} ${r.holder} · ${t('balance')} ¥${yuan(r.balance_after_fen)}`;
      amount.value = '';
      reason.value = '';
      attempt = newId();
      loadPayments();
    } catch (e) {
      showError(form, e);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function fillAccounts(q) {
  const sel = $('pay-account');
  const needle = q.trim().toLowerCase();
  const hits = accounts.filter((a) => a.status === 'open' && (!needle ||
    `${a.unit} ${a.holder} ${a.building} ${a.community}`.toLowerCase().includes(needle))).slice(0, 50);
  sel.replaceChildren(...hits.map((a) => el('option', { value: a.id },
    `${a.community} ${a.building} ${a.unit} · ${a.holder} · ¥${yuan(a.balance_fen)}`)));
}

function refundForm(p) {
  const amount = el('input', { id: 'pay-refund-amount', inputmode: 'decimal', value: yuan(p.refundable_fen).replace(/,/g, '') });
  const reason = el('input', { id: 'pay-refund-reason', maxlength: '200' });
  const form = el('form', { class: 'card', id: 'pay-refund-form' },
    el('h2', {}, `${t('pay_refund_of')} ${p.id} · ${p.unit} · ¥${yuan(p.amount_fen)}`),
    el('div', { class: 'row' }, field('pay_amount', amount, 'amount_fen'), field('pay_reason', reason, 'reason')),
    el('div', { class: 'error', 'data-field': '' }),
    el('div', { class: 'row' }, el('button', { type: 'submit' }, t('pay_refund_submit')),
      el('button', { type: 'button', class: 'secondary', onclick: () => form.remove() }, t('pay_cancel'))));
  let attempt = newId();
  for (const i of [amount, reason]) i.addEventListener('input', () => { attempt = newId(); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fen = parseYuan(amount.value);
    if (fen === null) return showError(form, { field: 'amount_fen', message: t('pay_bad_amount') });
    try {
      await post(`/api/v1/payments/${p.id}/refund`, { amount_fen: fen, reason: reason.value, id: attempt });
      form.remove();
      loadPayments();
    } catch (e) {
      showError(form, e);
    }
  });
  return form;
}

const canRefund = () => ['admin', 'finance'].includes(ctx.user.role);

async function loadPayments() {
  const ch = $('pay-filter').value;
  try {
    const [pays, refs] = await Promise.all([
      get('/api/v1/payments?limit=100' + (ch ? '&channel=' + ch : '')),
      get('/api/v1/refunds?limit=100'),
    ]);
    $('pay-rows').replaceChildren(...(pays.items.length ? pays.items.map((p) => el('tr', { 'data-id': p.id },
      el('td', {}, cst(p.time_ms)), el('td', {}, `${p.unit} · ${p.holder}`),
      el('td', {}, channelName(p.channel) + (p.method ? ' · ' + t(METHODS[p.method]) : '')),
      el('td', { class: 'num' }, yuan(p.amount_fen)), el('td', { class: 'num' }, yuan(p.refunded_fen)),
      el('td', {}, p.operator || p.out_trade_no || ''),
      el('td', {}, canRefund() && p.refundable_fen > 0
        ? el('button', { class: 'secondary', 'data-refund': p.id, onclick: () => openRefund(p) }, t('pay_refund')) : '')))
      : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, t('pay_none')))]));
    $('ref-rows').replaceChildren(...(refs.items.length ? refs.items.map((r) => el('tr', { 'data-id': r.id },
      el('td', {}, cst(r.time_ms)), el('td', {}, `${r.unit} · ${r.holder}`), el('td', {}, channelName(r.channel)),
      el('td', { class: 'num' }, yuan(r.amount_fen)), el('td', {}, r.status), el('td', {}, r.operator),
      el('td', {}, r.reason))) : [el('tr', {}, el('td', { colspan: 7, class: 'muted' }, t('pay_none')))]));
  } catch (e) {
    $('pay-list-error').textContent = e.message;
  }
}

function openRefund(p) {
  const old = root.querySelector('#pay-refund-form');
  if (old) old.remove();
  const f = refundForm(p);
  $('pay-list-card').after(f);
  apply(f);
  f.querySelector('#pay-refund-reason').focus();
}

function reconForm() {
  const channel = el('select', { id: 'rec-channel' }, el('option', { value: 'wechat' }, 'WeChat Pay'),
    el('option', { value: 'alipay' }, 'Alipay'));
  const file = el('input', { id: 'rec-file', type: 'file', accept: '.csv,.txt,.bill,text/csv' });
  const form = el('form', { class: 'card', id: 'rec-form' }, el('h2', { 'data-i18n': 'pay_recon' }),
    el('div', { class: 'row' }, field('pay_channel', channel, 'channel'), field('pay_bill', file, 'bill')),
    el('div', { class: 'error', 'data-field': '' }), el('button', { type: 'submit', 'data-i18n': 'pay_upload' }),
    el('table', {}, el('thead', {}, el('tr', {}, ...['pay_time', 'pay_channel', 'pay_dates', 'pay_matched', 'pay_issues',
      'pay_operator'].map((k) => el('th', { 'data-i18n': k })))), el('tbody', { id: 'rec-rows' })),
    el('div', { id: 'rec-detail' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = file.files[0];
    if (!f) return showError(form, { field: 'bill', message: t('pay_no_file') });
    try {
      // the bill goes as it is (WeChat: UTF-8 CSV; Alipay: GBK): not JSON, so not api.post
      const r = await fetch('/api/v1/reconciliations?channel=' + channel.value, {
        method: 'POST', credentials: 'same-origin', body: await f.arrayBuffer(),
        headers: { 'Content-Type': 'text/csv', 'X-CSRF-Token': ctx.user.csrf },
      });
      const body = await r.json();
      if (!r.ok) throw new ApiError(r.status, body);
      showError(form, { field: '', message: '' });
      file.value = '';
      await loadRecons();
      showRun(body);
    } catch (e) {
      showError(form, e);
    }
  });
  return form;
}

const issues = (r) => r.credited_from_bill + r.unattributable + r.unknown_to_channel + r.amount_mismatch + r.refunds_unmatched;

async function loadRecons() {
  if (!canRefund()) return;
  try {
    const runs = await all('/api/v1/reconciliations', 2);
    $('rec-rows').replaceChildren(...runs.map((r) => el('tr', { 'data-id': r.id, onclick: async () => showRun(await get('/api/v1/reconciliations/' + r.id)) },
      el('td', {}, cst(r.created_ms)), el('td', {}, channelName(r.channel)),
      el('td', {}, !r.date_from ? '—' : r.date_from === r.date_to ? r.date_from : `${r.date_from} – ${r.date_to}`),
      el('td', { class: 'num' }, `${r.matched} / ${r.bill_payments + r.bill_refunds}`),
      el('td', { class: 'num' + (issues(r) ? ' error' : '') }, String(issues(r))), el('td', {}, r.uploaded_by || '—'))));
  } catch (e) {
    root.querySelector('#rec-form .error[data-field=""]').textContent = e.message;
  }
}

function showRun(r) {
  $('rec-detail').replaceChildren(el('h2', {}, `${t('pay_lines')} #${r.id}`),
    el('p', { class: 'mono', id: 'rec-counts' }, ['bill_payments', 'bill_refunds', 'matched', 'credited_from_bill', 'unattributable',
      'unknown_to_channel', 'amount_mismatch', 'refunds_unmatched'].map((k) => `${k}=${r[k]}`).join('  ')),
    el('table', {}, el('tbody', { id: 'rec-lines' }, ...(r.lines.length ? r.lines.map((l) => el('tr', {},
      el('td', {}, l.kind), el('td', { class: 'mono' }, l.detail))) : [el('tr', {}, el('td', { class: 'muted' }, t('pay_none')))]))),
    r.lines_hidden ? el('p', { class: 'muted' }, `${r.lines_hidden} ${t('pay_hidden')}`) : '');
}

export default {
  tab: 'payments',
  label: 'pay_tab',
  roles: ['admin', 'finance', 'service'],
  mount(section, c) {
    ctx = c;
    root = section;
    const filter = el('select', { id: 'pay-filter' }, el('option', { value: '', 'data-i18n': 'pay_all' }),
      el('option', { value: 'counter', 'data-i18n': 'pay_counter_ch' }), el('option', { value: 'wechat' }, 'WeChat Pay'),
      el('option', { value: 'alipay' }, 'Alipay'));
    filter.addEventListener('change', loadPayments);
    const head = (keys) => el('thead', {}, el('tr', {}, ...keys.map((k) => el('th', { 'data-i18n': k }))));
    section.append(counterForm(),
      el('div', { class: 'card', id: 'pay-list-card' }, el('h2', { 'data-i18n': 'pay_list' }),
        el('div', { class: 'row' }, el('div', {}, el('label', { for: 'pay-filter', 'data-i18n': 'pay_filter' }), filter)),
        el('p', { class: 'error', id: 'pay-list-error' }),
        el('table', {}, head(['pay_time', 'pay_unit', 'pay_channel', 'amount', 'pay_refunded', 'pay_by', '']),
          el('tbody', { id: 'pay-rows' }))),
      el('div', { class: 'card', id: 'ref-card' }, el('h2', { 'data-i18n': 'pay_refunds' }),
        el('table', {}, head(['pay_time', 'pay_unit', 'pay_channel', 'amount', 'pay_status', 'pay_operator', 'pay_reason']),
          el('tbody', { id: 'ref-rows' }))));
    if (canRefund()) section.append(reconForm());
  },
  async show() {
    try {
      accounts = await all('/api/v1/accounts?status=open', 5);
    } catch (e) {
      accounts = [];
    }
    fillAccounts($('pay-find').value);
    await Promise.all([loadPayments(), loadRecons()]);
  },
};
