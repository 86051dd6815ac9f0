// lib.mjs - what the browser tests share (tests/web/NN_*.mjs, run by browser_test.sh):
// argv (BASE_URL SHOTS_DIR), Debian's Chromium with the flags CI needs, check() counters,
// page-error capture, staff login, the API as a page's session sees it, and the exit code.
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
// browser's note on a 4xx answer: those are the API's refusals (401 of /api/v1/me before
// login, a 400 naming a field) that the page shows in place and the tests check there.
export async function newPage(browser, name, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'en-US', ...opts });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(`${name} console: ${m.text()}`); });
  return page;
}

export async function staffLogin(page, login) {
  await page.goto(base + '/staff/');
  await page.fill('#login-name', login);
  await page.fill('#login-password', PW);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app:not(.hidden)');
}

export function api(page, path) {
  return page.evaluate(async (p) => (await fetch(p)).json(), path);
}

// Closes the browser and exits 0 only when every check passed and no page error happened.
export async function finish(browser) {
  await browser.close();
  for (const e of errors) check(false, e);
  console.log(`${n.passes} browser checks passed, ${n.fails} failed`);
  process.exit(n.fails ? 1 : 0);
}
