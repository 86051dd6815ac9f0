// api.js - the pages' one way to the JSON API: same-origin fetch with the session cookie
// (HttpOnly, never visible here), the CSRF token kept in memory for state changes, and the
// API's error bodies turned into exceptions that name the field.

let csrf = null;

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http';
    this.field = e.field || null;
  }
}

export async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);

export async function login(loginName, password) {
  const me = await call('POST', '/api/v1/login', { login: loginName, password });
  csrf = me.csrf;
  return me;
}

// The current user after a reload (the cookie survives, the CSRF token comes back here);
// null when not logged in.
export async function me() {
  try {
    const u = await get('/api/v1/me');
    csrf = u.csrf;
    return u;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function logout() {
  try { await call('POST', '/api/v1/logout'); } finally { csrf = null; }
}

// Every item of a paged list (at most `pages` pages of 200), following next_after /
// next_before.
export async function all(path, pages = 20) {
  const items = [];
  let url = path + (path.includes('?') ? '&' : '?') + 'limit=200';
  for (let i = 0; i < pages; i++) {
    const r = await get(url);
    items.push(...r.items);
    const key = Object.keys(r).find((k) => k.startsWith('next_') && r[k] !== null);
    if (!key) break;
    url = path + (path.includes('?') ? '&' : '?') + `limit=200&${key.slice(5)}=${r[key]}`;
  }
  return items;
}

// Money: fen (integer) to "1,234.56" without floating point.
export function yuan(fen) {
  const neg = fen < 0;
  let f = Math.abs(fen);
  const cents = String(f % 100).padStart(2, '0');
  const whole = String(Math.floor(f / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (neg ? '-' : '') + whole + '.' + cents;
}

export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

// Local time in China (UTC+8), the platform's business time zone.
export function cst(ms) {
  const d = new Date(ms + 8 * 3600 * 1000);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}
