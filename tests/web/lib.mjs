// lib.mjs - what the browser tests share (tests/web/NN_*.mjs, run by browser_test.sh):
// argv (BASE_URL SHOTS_DIR), Debian's Chromium with the flags CI needs, check() counters,
// page-error capture, staff and resident login, the API as a page's session sees it, and the exit code.
import { chromium } from 'playwright-core';
import { join } from 'node:path';

export const [base, shots] = process.argv.slice(2);
export const PW = process.env.PW;
const n = { passes: 0, fails: 0 };
export const errors = [];

export function check(cond, what) {
  if (cond) n.passes++; else { n.fails++; console.log('FAIL:', what); }
  return cond;
}

export function shot(page, name) {
  return page.screenshot({ path: join(shots, name), fullPage: true });
}

// playwright gives every launch a new empty --user-data-dir of its own and removes it
export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60000,
  });
}

// A new page in its own context that records page errors and console errors, except the
// browser's note on the answers that match opts.allow (default: any 4xx, the API's refusals
// such as the 401 of /api/v1/me before login or a 400 naming a field, that the page shows in
// place and the tests check there). opts.phone: a phone's viewport (390x844, touch); the
// other opts are the context's (viewport, locale, acceptDownloads...).
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export async function newPage(browser, name, opts = {}) {
  const { allow = /status of 4\d\d/, phone = false, ...ctxOpts } = opts;
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US',
    ...(phone ? PHONE : {}), ...ctxOpts });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !allow.test(m.text())) errors.push(`${name} console: ${m.text()}`); });
  return page;
}

// Fills the login form of the page in front (staff or resident) and submits it.
export async function submitLogin(page, login, pw = PW) {
  await page.fill('#login-name', login);
  await page.fill('#login-password', pw);
  await page.click('#login-form button[type=submit]');
}

// Logs in on /staff/ or /resident/ (where); before() runs once the login page is loaded.
async function loginAt(where, page, login, before) {
  await page.goto(base + where);
  if (before) await before();
  await submitLogin(page, login);
  await page.waitForSelector('#app:not(.hidden)');
}

export function staffLogin(page, login, before) {
  return loginAt('/staff/', page, login, before);
}

export function residentLogin(page, login, before) {
  return loginAt('/resident/', page, login, before);
}

export function api(page, path) {
  return page.evaluate(async (p) => (await fetch(p)).json(), path);
}

// Closes the browser, runs cleanup() if given, and exits 0 only when every check passed and
// no page error happened.
export async function finish(browser, cleanup) {
  await browser.close();
  if (cleanup) await cleanup();
  for (const e of errors) check(false, e);
  console.log(`${n.passes} browser checks passed, ${n.fails} failed`);
  process.exit(n.fails ? 1 : 0);
}

// Launches Chromium, runs body(browser) (an exception is a failed check), then finish().
export async function run(body, cleanup) {
  const browser = await launch();
  try {
    await body(browser);
  } catch (e) {
    check(false, 'browser run: ' + (e.stack || e));
  } finally {
    await finish(browser, cleanup);
  }
}
