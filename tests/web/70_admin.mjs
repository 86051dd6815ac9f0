// 70_admin.mjs - the "People & API" section of the staff console: a company admin adds a
// login (a refused one shows its error in place), restricts it to a community, and a staff
// member creates an API token that is shown once and works against the API, then revokes
// it. Screenshots: admin-people.png.
import { base, check, run, newPage, staffLogin, shot } from './lib.mjs';

await run(async (browser) => {
  const page = await newPage(browser, 'admin');
  await staffLogin(page, 'acme-admin');
  await page.click('button[data-tab=admin]');
  await page.waitForSelector('#admin-users tr[data-login=acme-tech]');
  // refused: a short password, the error names the field in place
  await page.fill('#admin-new-login', 'browser-svc');
  await page.fill('#admin-new-password', 'short');
  await page.selectOption('#admin-new-role', 'service');
  await page.click('#admin-add-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('admin-add-error').textContent !== '');
  check(/^password:/.test(await page.textContent('#admin-add-error')), 'the refused field is named in place');
  check(await page.$('#admin-users tr[data-login=browser-svc]') === null, 'nothing added');
  await page.fill('#admin-new-password', 'a-long-enough-password');
  await page.click('#admin-add-form button[type=submit]');
  await page.waitForSelector('#admin-users tr[data-login=browser-svc]');
  check(true, 'the new login is listed');
  // restrict it to the first community
  const row = '#admin-users tr[data-login=browser-svc]';
  await page.check(`${row} input[type=checkbox] >> nth=0`);
  await page.click(`${row} button[data-assign]`);
  await page.waitForFunction((r) => !document.querySelector(r).textContent.includes('all ·'), row);
  const u = await page.evaluate(async () => (await (await fetch('/api/v1/users?limit=200')).json()).items
    .find((x) => x.login === 'browser-svc'));
  check(u && Array.isArray(u.communities) && u.communities.length === 1, 'restricted to one community');
  // an API token: shown once, works with Authorization: Bearer, then revoked
  await page.fill('#admin-token-name', 'browser erp');
  await page.click('#admin-token-form button[type=submit]');
  await page.waitForSelector('#admin-token-shown:not(.hidden)');
  const tok = (await page.textContent('#admin-token-value')).trim();
  check(/^wkt_[0-9a-f]{64}$/.test(tok), 'the token is shown');
  const status = async () => (await fetch(base + '/api/v1/meters', { headers: { Authorization: 'Bearer ' + tok } })).status;
  check(await status() === 200, 'the token works from outside the browser');
  await shot(page, 'admin-people.png');
  await page.click('#admin-tokens tr[data-token="browser erp"] button');
  await page.waitForFunction(() => !document.querySelector('#admin-tokens tr[data-token="browser erp"] button'));
  check(await status() === 401, 'the revoked token is refused');
});
