// admin.js - people and integrations (company admins see users; every staff member manages
// their own API tokens): the company's logins, adding one, restricting staff to some
// communities, unlocking, and API tokens (created once, shown once, revocable).
import { add, t } from '/assets/i18n.js';

add({
  en: {
    admin_tab: 'People & API', admin_users: 'Logins', admin_login: 'Login', admin_role: 'Role',
    admin_communities: 'Communities', admin_all: 'all', admin_locked: 'locked until', admin_add: 'Add a login',
    admin_account: 'Account id (residents)', admin_add_btn: 'Add', admin_added: 'Login added',
    admin_assign: 'Save communities', admin_unlock: 'Unlock', admin_tokens: 'API tokens',
    admin_token_name: 'Name', admin_token_days: 'Valid for (days)', admin_token_new: 'Create token',
    admin_token_once: 'Copy it now: it is shown only once.', admin_revoke: 'Revoke', admin_active: 'active',
    admin_revoked: 'revoked', admin_expires: 'Expires', admin_owner: 'Owner',
  },
  zh: {
    admin_tab: '人员与接口', admin_users: '账号', admin_login: '账号', admin_role: '角色',
    admin_communities: '负责小区', admin_all: '全部', admin_locked: '锁定至', admin_add: '新增账号',
    admin_account: '户号（住户）', admin_add_btn: '新增', admin_added: '账号已新增',
    admin_assign: '保存小区', admin_unlock: '解锁', admin_tokens: 'API 令牌',
    admin_token_name: '名称', admin_token_days: '有效期（天）', admin_token_new: '生成令牌',
    admin_token_once: '请立即复制：令牌只显示这一次。', admin_revoke: '吊销', admin_active: '有效',
    admin_revoked: '已吊销', admin_expires: '到期', admin_owner: '所属人',
  },
});

let ctx = null;
let sec = null;
const roles = ['admin', 'finance', 'service', 'technician', 'resident'];

function errText(e) { return (e.field ? e.field + ': ' : '') + e.message; }

function mount(section, c) {
  ctx = c;
  sec = section;
  const { el } = c.api;
  const isAdmin = c.user.role === 'admin';
  section.append(
    isAdmin ? el('div', { class: 'card' },
      el('h2', { 'data-i18n': 'admin_users' }),
      el('table', {}, el('thead', {}, el('tr', {},
        el('th', { 'data-i18n': 'admin_login' }), el('th', { 'data-i18n': 'admin_role' }),
        el('th', { 'data-i18n': 'admin_communities' }), el('th', {}))),
      el('tbody', { id: 'admin-users' })),
      el('p', { class: 'error', id: 'admin-users-error' })) : '',
    isAdmin ? el('form', { class: 'card', id: 'admin-add-form' },
      el('h2', { 'data-i18n': 'admin_add' }),
      el('div', { class: 'row' },
        el('div', {}, el('label', { for: 'admin-new-login', 'data-i18n': 'admin_login' }), el('input', { id: 'admin-new-login', autocomplete: 'off' })),
        el('div', {}, el('label', { for: 'admin-new-password', 'data-i18n': 'password' }), el('input', { id: 'admin-new-password', type: 'password', autocomplete: 'new-password' })),
        el('div', {}, el('label', { for: 'admin-new-role', 'data-i18n': 'admin_role' }),
          el('select', { id: 'admin-new-role' }, ...roles.map((r) => el('option', { value: r }, r)))),
        el('div', {}, el('label', { for: 'admin-new-account', 'data-i18n': 'admin_account' }), el('input', { id: 'admin-new-account', type: 'number', min: 1 }))),
      el('p', { class: 'error', id: 'admin-add-error' }), el('p', { class: 'ok', id: 'admin-add-ok' }),
      el('button', { type: 'submit', 'data-i18n': 'admin_add_btn' })) : '',
    el('div', { class: 'card' },
      el('h2', { 'data-i18n': 'admin_tokens' }),
      el('form', { id: 'admin-token-form', class: 'row' },
        el('div', {}, el('label', { for: 'admin-token-name', 'data-i18n': 'admin_token_name' }), el('input', { id: 'admin-token-name', maxlength: 64 })),
        el('div', {}, el('label', { for: 'admin-token-days', 'data-i18n': 'admin_token_days' }), el('input', { id: 'admin-token-days', type: 'number', min: 1, max: 366, value: 90 })),
        el('div', {}, el('button', { type: 'submit', 'data-i18n': 'admin_token_new' }))),
      el('p', { class: 'error', id: 'admin-token-error' }),
      el('div', { id: 'admin-token-shown', class: 'hidden' },
        el('p', { class: 'warn', 'data-i18n': 'admin_token_once' }), el('p', { class: 'mono', id: 'admin-token-value' })),
      el('table', {}, el('thead', {}, el('tr', {},
        el('th', { 'data-i18n': 'admin_token_name' }), el('th', { 'data-i18n': 'admin_owner' }),
        el('th', { 'data-i18n': 'admin_expires' }), el('th', { 'data-i18n': 'state' }), el('th', {}))),
      el('tbody', { id: 'admin-tokens' }))));
  if (isAdmin) section.querySelector('#admin-add-form').addEventListener('submit', addUser);
  section.querySelector('#admin-token-form').addEventListener('submit', addToken);
}

async function show() {
  if (ctx.user.role === 'admin') await loadUsers();
  await loadTokens();
}

async function loadUsers() {
  const { api } = ctx;
  const { el } = api;
  const [users, communities] = await Promise.all([api.all('/api/v1/users'), api.all('/api/v1/communities')]);
  const rows = users.map((u) => {
    const cell = el('td', {});
    if (u.role !== 'resident') {
      const boxes = communities.map((c) => el('label', { class: 'inline' },
        el('input', { type: 'checkbox', value: c.id, checked: u.communities && u.communities.includes(c.id), style: 'width:auto' }), ' ', c.name));
      const save = el('button', { class: 'secondary', 'data-assign': u.login, onclick: async () => {
        const ids = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => Number(i.value));
        try { await api.post(`/api/v1/users/${u.id}/communities`, { communities: ids }); await loadUsers(); } catch (e) { sec.querySelector('#admin-users-error').textContent = errText(e); }
      } }, t('admin_assign'));
      cell.append(...boxes, save);
      if (!u.communities) cell.prepend(el('span', { class: 'muted' }, t('admin_all') + ' · '));
    } else cell.append(el('span', { class: 'muted' }, `${t('account')} ${u.account_id}`));
    const locked = u.locked_until_s * 1000 > Date.now();
    return el('tr', { 'data-login': u.login }, el('td', {}, u.login), el('td', {}, u.role), cell,
      el('td', {}, locked ? el('button', { class: 'secondary', onclick: async () => {
        await api.post(`/api/v1/users/${u.id}/unlock`, {}); await loadUsers();
      } }, t('admin_unlock')) : ''));
  });
  sec.querySelector('#admin-users').replaceChildren(...rows);
}

async function addUser(ev) {
  ev.preventDefault();
  const q = (id) => sec.querySelector(id);
  q('#admin-add-error').textContent = '';
  q('#admin-add-ok').textContent = '';
  const body = { login: q('#admin-new-login').value.trim(), password: q('#admin-new-password').value, role: q('#admin-new-role').value };
  if (body.role === 'resident') body.account_id = Number(q('#admin-new-account').value);
  try {
    await ctx.api.post('/api/v1/users', body);
    q('#admin-add-ok').textContent = t('admin_added');
    q('#admin-new-password').value = '';
    await loadUsers();
  } catch (e) { q('#admin-add-error').textContent = errText(e); }
}

async function loadTokens() {
  const { api } = ctx;
  const { el } = api;
  const r = await api.get('/api/v1/tokens');
  sec.querySelector('#admin-tokens').replaceChildren(...r.items.map((x) => el('tr', { 'data-token': x.name },
    el('td', {}, x.name), el('td', {}, x.login), el('td', {}, api.cst(x.expires_s * 1000)),
    el('td', { class: x.active ? 'ok' : 'muted' }, t(x.active ? 'admin_active' : 'admin_revoked')),
    el('td', {}, x.active ? el('button', { class: 'secondary', onclick: async () => {
      await api.post(`/api/v1/tokens/${x.id}/revoke`, {}); await loadTokens();
    } }, t('admin_revoke')) : ''))));
}

async function addToken(ev) {
  ev.preventDefault();
  const q = (id) => sec.querySelector(id);
  q('#admin-token-error').textContent = '';
  try {
    const r = await ctx.api.post('/api/v1/tokens', { name: q('#admin-token-name').value.trim(), ttl_days: Number(q('#admin-token-days').value) });
    q('#admin-token-value').textContent = r.token;
    q('#admin-token-shown').classList.remove('hidden');
    await loadTokens();
  } catch (e) { q('#admin-token-error').textContent = errText(e); }
}

export default { tab: 'admin', label: 'admin_tab', mount, show };
