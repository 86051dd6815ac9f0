// i18n.js - zh-CN and English for both pages, with the words property offices use
// (shared/reference/glossary.md). Elements carry data-i18n="key" (text) or
// data-i18n-ph="key" (placeholder); t(key) is for text made in code. The choice is kept in
// localStorage; the default follows the browser (zh* -> zh-CN).

const dict = {
  en: {
    staff_title: 'Wattkeeper · Property console', resident_title: 'Wattkeeper · My electricity',
    login: 'Log in', logout: 'Log out', login_name: 'Login', password: 'Password',
    lang: '中文', dashboard: 'Dashboard', tree: 'Communities', meter: 'Meter', audit: 'Audit log',
    meters: 'Meters', online: 'Online', offline: 'Offline', tripped: 'Tripped', closed: 'Closed',
    low_balance: 'Low balance (< ¥10)', liability: 'Prepaid balance held', accounts: 'Accounts',
    recent_events: 'Recent events', updated: 'Updated', search: 'Search unit, holder or meter number',
    relay: 'Relay', balance: 'Balance', holder: 'Holder', unit: 'Unit', address: 'Meter number',
    last_seen: 'Last seen', reading: 'Register', commands: 'Commands', action: 'Action',
    reason: 'Reason', state: 'State', latency: 'Latency', time: 'Time', kind: 'Event', detail: 'Detail',
    relay_command: 'Relay command', act_trip: 'Trip (hold open)', act_close: 'Close (power guarantee)',
    act_auto: 'Automatic (balance decides)', hours: 'Hours', send: 'Send', reason_required: 'A reason is required',
    sent_ok: 'Command accepted', pick_meter: 'Pick a meter in Communities.', who: 'Who', before: 'Before', after: 'After',
    power_on: 'Power on', power_off: 'Power cut', days_left: 'Days left (estimate)', days: 'days',
    usage_by_day: 'Usage by day (kWh)', receipts: 'Receipts', top_up: 'Top-up', deduction: 'Deduction',
    verify: 'Verify', verified: 'Verified ✓', verify_failed: 'Verification failed', log_key: 'Log key (compare with the notice at the property office)',
    amount: 'Amount', no_data: 'No data yet', wrong_login: 'Wrong login or password',
    locked: 'Too many failed logins: locked for a while', rate_limited: 'Too many attempts; wait a moment',
    meter_bill: 'Bill of a day (tier and slot lines)', meter_charts: 'Register and balance', anomalies: 'Anomalies', no_anomalies: 'None recorded',
    readings: 'Readings', energy: 'Energy (kWh)', register_kwh: 'Register (kWh)', balance_yuan: 'Balance (¥)',
    status: 'Status', account: 'Account', type: 'Type', staff_only: 'This page is for residents; staff use the console.',
  },
  zh: {
    staff_title: 'Wattkeeper · 物业管理后台', resident_title: 'Wattkeeper · 我的电费',
    login: '登录', logout: '退出', login_name: '账号', password: '密码',
    lang: 'English', dashboard: '概览', tree: '小区', meter: '电表', audit: '操作日志',
    meters: '电表', online: '在线', offline: '离线', tripped: '已拉闸', closed: '已合闸',
    low_balance: '余额不足（< 10 元）', liability: '预存余额合计', accounts: '户',
    recent_events: '最新事件', updated: '更新于', search: '搜索房号、户名或表号',
    relay: '继电器', balance: '余额', holder: '户名', unit: '房号', address: '表号',
    last_seen: '最近通信', reading: '示数', commands: '控制命令', action: '操作',
    reason: '原因', state: '状态', latency: '耗时', time: '时间', kind: '事件', detail: '详情',
    relay_command: '拉合闸', act_trip: '拉闸（保持断电）', act_close: '合闸（保电）',
    act_auto: '自动（按余额）', hours: '小时', send: '发送', reason_required: '必须填写原因',
    sent_ok: '命令已受理', pick_meter: '请在“小区”中选择电表。', who: '操作人', before: '操作前', after: '操作后',
    power_on: '供电正常', power_off: '已停电', days_left: '预计可用天数', days: '天',
    usage_by_day: '每日用电量（千瓦时）', receipts: '收据', top_up: '充值', deduction: '扣费',
    verify: '验证', verified: '验证通过 ✓', verify_failed: '验证失败', log_key: '账本公钥（请与物业服务中心公示的核对）',
    amount: '金额', no_data: '暂无数据', wrong_login: '账号或密码错误',
    locked: '登录失败次数过多，已暂时锁定', rate_limited: '尝试过于频繁，请稍后再试',
    meter_bill: '某日电费明细（分档分时）', meter_charts: '示数与余额', anomalies: '异常', no_anomalies: '暂无异常记录',
    readings: '抄表记录', energy: '电量（千瓦时）', register_kwh: '示数（千瓦时）', balance_yuan: '余额（元）',
    status: '状态', account: '账户', type: '类型', staff_only: '此页面供住户使用，物业人员请使用管理后台。',
  },
};

let lang = localStorage.getItem('wk_lang') || (navigator.language.startsWith('zh') ? 'zh' : 'en');

export function t(key) {
  return (dict[lang] && dict[lang][key]) || dict.en[key] || key;
}

export function current() { return lang; }

// Adds a module's own strings: add({ en: {...}, zh: {...} }). A key already taken by another
// module is an error (two pages must not fight over one word).
export function add(more) {
  for (const l of Object.keys(more)) {
    if (!dict[l]) throw new Error(`i18n: unknown language ${l}`);
    for (const [k, v] of Object.entries(more[l])) {
      if (k in dict[l] && dict[l][k] !== v) throw new Error(`i18n: key ${k} defined twice`);
      dict[l][k] = v;
    }
  }
}

export function apply(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll('[data-i18n-ph]')) e.placeholder = t(e.dataset.i18nPh);
}

// Switches the language, stores it and calls onChange() so that code-made text is redrawn.
export function toggle(onChange) {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('wk_lang', lang);
  apply();
  if (onChange) onChange();
}
