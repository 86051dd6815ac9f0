// 20_accounts.mjs - the staff console's Accounts section (web/staff/accounts.js) in headless
// Chromium against the live serve of tests/web/browser_test.sh, as a service user would use
// it: the list and search, the account panel, a vacancy on and off (unit 103), a move-out
// refunded at the counter and a move-in on the same shop (S2), a form error naming the field,
// a shop transfer (S1 -> the new S2 account). Every result is checked against the API.
// Leaves unit 101 (10_core.mjs) alone. Screenshots: accounts-*.png.
// usage: node 20_accounts.mjs BASE_URL SHOTS_DIR ; env PW. Exit 0 = passed.
import { check, api, run, newPage, staffLogin, shot } from './lib.mjs';

async function accountOf(page, unit, status = 'open') {
  const all = (await api(page, '/api/v1/accounts?limit=200')).items;
  return all.filter((a) => a.unit === unit && a.status === status).sort((a, b) => b.id - a.id)[0];
}
async function pick(page, id) {
  await page.click(`#acc-rows tr[data-account="${id}"] a`);
  await page.waitForFunction((i) => document.querySelector('#acc-info td') &&
    document.querySelector('#acc-info td').textContent === String(i), id);
}
async function submit(page, form) { // submits and waits for the result or the error
  await page.click(`#${form} button[type=submit]`);
  await page.waitForFunction((f) => document.getElementById(f + '-ok').textContent !== '' ||
    document.getElementById(f + '-error').textContent !== '', form, { timeout: 20000 });
}

await run(async (browser) => {
  // 4xx answers the test provokes on purpose show up as console errors of the fetch
  const page = await newPage(browser, 'accounts', { viewport: { width: 1280, height: 900 }, allow: /status of (401|400|403|409)/ });
  page.on('dialog', (d) => d.accept());
  await staffLogin(page, 'pwchange'); // a service user
  await page.click('button[data-tab=accounts]');
  await page.waitForSelector('#acc-rows tr');
  const open = (await api(page, '/api/v1/accounts?status=open&limit=200')).items;
  check(await page.$$eval('#acc-rows tr', (r) => r.length) === open.length, 'the list holds the open accounts of the API');
  await shot(page, 'accounts-list.png');

  // ---- search and the panel
  await page.fill('#acc-search', 'S2');
  check(await page.$$eval('#acc-rows tr', (r) => r.length) === 1, 'search for S2 leaves one account');
  const s2 = await accountOf(page, 'S2');
  await pick(page, s2.id);
  const shown = (await page.textContent('#acc-balance')).replace(/[¥,]/g, '');
  const now = await api(page, `/api/v1/accounts/${s2.id}`);
  check(Math.abs(Math.round(parseFloat(shown) * 100) - now.balance_fen) < 200, `panel balance ${shown} ≈ API ${now.balance}`);
  check((await page.textContent('#acc-status-text')).includes('Open'), 'status shown');

  // ---- vacancy on and off (unit 103)
  await page.fill('#acc-search', '103');
  const a103 = await accountOf(page, '103');
  await pick(page, a103.id);
  await page.selectOption('#acc-vacancy-value', 'true');
  await submit(page, 'acc-vacancy');
  check(/^reason:/.test(await page.textContent('#acc-vacancy-error')), 'a missing reason is refused next to the form');
  check((await api(page, `/api/v1/accounts/${a103.id}`)).vacant === false, 'nothing changed');
  await page.fill('#acc-vacancy-reason', 'browser test: owner abroad');
  await submit(page, 'acc-vacancy');
  check((await page.textContent('#acc-vacancy-ok')).includes('Vacant'), 'vacancy result shown');
  check((await api(page, `/api/v1/accounts/${a103.id}`)).vacant === true, 'API: vacant');
  await page.waitForFunction(() => document.getElementById('acc-status-text').textContent.includes('Vacant'));
  await shot(page, 'accounts-vacancy.png');
  check(await page.inputValue('#acc-vacancy-value') === 'false', 'the form now offers to end the vacancy');
  await page.fill('#acc-vacancy-reason', 'browser test: owner back');
  await submit(page, 'acc-vacancy');
  check((await api(page, `/api/v1/accounts/${a103.id}`)).vacant === false, 'API: vacancy ended');

  // ---- move-out of S2, refunded at the counter
  await page.fill('#acc-search', 'S2');
  await pick(page, s2.id);
  await page.selectOption('#acc-moveout-settle', 'refund_cash');
  await page.fill('#acc-moveout-reason', 'browser test: shop lease ended');
  await submit(page, 'acc-moveout');
  const moOk = await page.textContent('#acc-moveout-ok');
  check(/settled ¥\d+\.\d\d/.test(moOk), `move-out result shown: ${moOk} ${await page.textContent('#acc-moveout-error')}`);
  const closed = await api(page, `/api/v1/accounts/${s2.id}`);
  check(closed.status === 'closed' && closed.balance_fen === 0 && closed.vacant === true, 'API: closed, 0.00, vacant');
  check(!(await page.isVisible('#acc-moveout')) && await page.isVisible('#acc-closed-note'), 'the panel shows the closed account');
  check((await page.textContent('#acc-result')) === moOk, 'the settlement stays visible in the panel');
  let tripped = false; // the meter confirms the trip of the hold; the tab reloads on show
  for (let i = 0; i < 40 && !tripped; i++) {
    tripped = (await page.textContent('#acc-info')).includes('Tripped');
    if (!tripped) { await page.waitForTimeout(500); await page.click('button[data-tab=accounts]'); }
  }
  check(tripped, 'the panel shows the relay held open');
  await page.selectOption('#acc-status', '');
  await shot(page, 'accounts-moveout.png');

  // ---- move-in on S2: first an error naming the field, then the account
  const units = (await api(page, '/api/v1/units?limit=200')).items;
  const uS2 = units.find((u) => u.name === 'S2');
  check(await page.$$eval('#acc-open-unit option', (o, id) => o.some((x) => x.value === String(id)), uS2.id),
    'S2 is offered as a unit without an open account');
  await page.selectOption('#acc-open-unit', String(uS2.id));
  await page.selectOption('#acc-open-kind', 'tenant');
  await page.fill('#acc-open-reason', 'browser test: new lease');
  await submit(page, 'acc-open');
  check(/^holder:/.test(await page.textContent('#acc-open-error')), 'the API error names the field (holder)');
  check(!(await accountOf(page, 'S2')), 'nothing opened');
  await page.fill('#acc-open-holder', 'Tea House Ltd');
  await page.fill('#acc-open-phone', '+8613900000002');
  await page.fill('#acc-open-reason', 'browser test: new lease');
  await submit(page, 'acc-open');
  const opened = await accountOf(page, 'S2');
  check(opened && opened.holder === 'Tea House Ltd' && opened.kind === 'tenant' && opened.balance_fen === 0,
    `API: the new account is open: ${JSON.stringify(opened)}`);
  check((await page.textContent('#acc-open-ok')).includes(`${opened && opened.id}`), 'the result names the new account');
  await page.waitForFunction((i) => document.querySelector('#acc-info td').textContent === String(i), opened.id);
  await shot(page, 'accounts-open.png');

  // ---- shop transfer: an error naming the field, then 5.00 from S1 to the new S2 account
  await page.fill('#acc-transfer-amount', '1.00');
  await page.fill('#acc-transfer-reason', 'browser test: nothing there');
  await submit(page, 'acc-transfer');
  check(/^amount_fen:/.test(await page.textContent('#acc-transfer-error')), 'over the balance: error names amount_fen');
  await page.fill('#acc-search', 'S1');
  const s1 = await accountOf(page, 'S1');
  await pick(page, s1.id);
  await page.selectOption('#acc-transfer-to', String(opened.id));
  await page.fill('#acc-transfer-amount', '5.00');
  await page.fill('#acc-transfer-reason', 'browser test: deposit for the new shop');
  await submit(page, 'acc-transfer');
  check((await page.textContent('#acc-transfer-ok')).includes('¥5.00'), `transfer result shown: ${await page.textContent('#acc-transfer-error')}`);
  const tr = (await api(page, `/api/v1/accounts/${opened.id}/transfers`)).items;
  check(tr.some((x) => x.amount_fen === 500 && x.direction === 'in' && /deposit for the new shop/.test(x.reason)),
    'API: the new account received exactly 5.00');
  await shot(page, 'accounts-transfer.png');

  const audit = (await api(page, '/api/v1/audit?limit=50'));
  check(audit.error && audit.error.code === 'forbidden', 'the service user cannot read the audit log (admins only)');

  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('button[data-tab=accounts]').textContent === '开户/销户');
  await shot(page, 'accounts-zh.png');

  // ---- phone width
  await page.setViewportSize({ width: 390, height: 844 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 400, `fits a phone's width (${width} px)`);
  await page.context().close();
});
