// browser.mjs - the pages in Debian's headless Chromium, driven by playwright-core, against
// a live `wattkeeper serve` started by tests/web/browser_test.sh. Checks, as a person would:
//   staff (desktop): login, the dashboard shows the live numbers of the API and updates
//   itself, the tree finds a unit, a relay command without a reason is refused in place, one
//   with a reason goes through and the page follows it to "confirmed", zh-CN/English switch;
//   resident (phone viewport): login, balance equal to the API's, power status, the usage
//   chart is drawn, a receipt verifies in the page (WebCrypto), a tampered one fails.
// Screenshots of the main pages go to $SHOTS (docs/screenshots/ in the source tree).
// usage: node browser.mjs BASE_URL SHOTS_DIR ; env PW = the demo password. Exit 0 = passed.
import { check, api, run, newPage, submitLogin, staffLogin, residentLogin, shot } from './lib.mjs';

await run(async (browser) => {
  // ---------------------------------------------------------------- staff
  // a 401 from /api/v1/me before login is how the page learns it must show the form
  const staff = await newPage(browser, 'staff', { allow: /status of 401/ });
  await staffLogin(staff, 'acme-admin', async () => {
    await submitLogin(staff, 'acme-admin', 'not-the-password');
    await staff.waitForFunction(() => document.getElementById('login-error').textContent !== '');
    check(/wrong/i.test(await staff.textContent('#login-error')), 'a wrong password is shown in place');
  });
  await staff.waitForFunction(() => /^\d+$/.test(document.getElementById('s-meters').textContent));
  const meters = (await api(staff, '/api/v1/meters?limit=200')).items;
  check(await staff.textContent('#s-meters') === String(meters.length), 'dashboard: meter count = API');
  check(await staff.textContent('#s-tripped') === String(meters.filter((m) => m.relay === 'tripped').length),
    'dashboard: tripped count = API');
  const first = await staff.textContent('#s-updated');
  await staff.waitForFunction((f) => document.getElementById('s-updated').textContent !== f, first, { timeout: 10000 });
  check(true, 'dashboard updates itself');
  await staff.waitForFunction(() => document.querySelectorAll('#events tr').length > 0);
  await shot(staff, 'staff-dashboard.png');

  await staff.click('button[data-tab=tree]');
  await staff.waitForSelector('#tree li[data-search]');
  await staff.fill('#search', '101');
  const visible = await staff.$$eval('#tree li[data-search]', (ls) => ls.filter((l) => !l.classList.contains('hidden')).length);
  check(visible === 1, `search for 101 leaves one unit (${visible})`);
  await shot(staff, 'staff-tree.png');
  await staff.click('#tree li[data-search*="101"] a');
  await staff.waitForSelector('#meter-page:not(.hidden)');
  await staff.waitForFunction(() => document.getElementById('meter-title').textContent.includes('Meter'));
  // the meter page: readings with their deductions = the API's, both charts drawn
  await staff.waitForSelector('#meter-readings tr');
  const acct101 = (await api(staff, '/api/v1/accounts?limit=200')).items.find((a) => a.unit === '101');
  const rd = (await api(staff, `/api/v1/accounts/${acct101.id}/readings?limit=200`)).items;
  const newestRow = await staff.$$eval('#meter-readings tr:first-child td', (tds) => tds.map((td) => td.textContent));
  // (readings keep arriving: find the page's newest row among the API's)
  const same = rd.find((r) => (r.total_wh / 1000).toFixed(2) === newestRow[1]);
  check(same && newestRow[3] === '¥' + same.deduction && rd.indexOf(same) <= 3,
    `newest reading row = API (${newestRow} vs ${same && same.deduction})`);
  check(await staff.$('#meter-register-chart canvas') !== null && await staff.$('#meter-balance-chart canvas') !== null,
    'register and balance charts drawn');
  await staff.waitForSelector('#meter-bill .bill[data-total-fen]');
  // readings keep arriving: the bill drawn between two API answers lies between them
  const billDay = await staff.inputValue('#meter-bill-date');
  const billUrl = `/api/v1/bills/${acct101.id}?date=${billDay}`;
  await staff.$eval('#meter-bill .bill', (b) => { b.dataset.old = '1'; });
  const bill1 = await api(staff, billUrl);
  await staff.$eval('#meter-bill-date', (e) => e.dispatchEvent(new Event('change')));
  await staff.waitForSelector('#meter-bill .bill[data-total-fen]:not([data-old])');
  const bill2 = await api(staff, billUrl);
  const billShown = Number(await staff.$eval('#meter-bill .bill', (b) => b.dataset.totalFen));
  check(bill1.total_fen > 0 && bill1.total_fen <= billShown && billShown <= bill2.total_fen,
    `the meter page's bill of ${billDay} = API (${bill1.total_fen} <= ${billShown} <= ${bill2.total_fen})`);

  const commandsBefore = (await api(staff, '/api/v1/commands?limit=200')).items.length;
  await staff.selectOption('#relay-action', 'trip');
  await staff.click('#relay-form button[type=submit]');
  check(/reason/i.test(await staff.textContent('#relay-error')), 'a missing reason is refused in place');
  check((await api(staff, '/api/v1/commands?limit=200')).items.length === commandsBefore, 'no command without a reason');
  await staff.fill('#relay-reason', 'browser test: meter box inspection');
  await staff.click('#relay-form button[type=submit]');
  await staff.waitForFunction(() => document.getElementById('relay-ok').textContent !== '', null, { timeout: 15000 });
  await staff.waitForFunction(() => {
    const s = document.querySelector('#meter-commands .cmd-state');
    return s && s.textContent === 'confirmed';
  }, null, { timeout: 40000 });
  check(true, 'the trip goes through and is confirmed by the meter');
  const cmd = (await api(staff, '/api/v1/commands?limit=1')).items[0];
  check(cmd.action === 'trip' && cmd.state === 'confirmed', 'API: the last command is the confirmed trip');
  const audit = (await api(staff, '/api/v1/audit?limit=1')).items[0];
  check(audit && audit.reason === 'browser test: meter box inspection' && audit.login === 'acme-admin',
    'audited with who and why');
  await staff.waitForFunction(() => document.getElementById('meter-relay').textContent === 'Tripped', null, { timeout: 15000 });
  await shot(staff, 'staff-meter.png');
  // back to automatic, so the resident's power returns
  await staff.selectOption('#relay-action', 'auto');
  await staff.fill('#relay-reason', 'browser test: inspection done');
  await staff.click('#relay-form button[type=submit]');
  await staff.waitForFunction(() => document.getElementById('meter-relay').textContent === 'Closed', null, { timeout: 40000 });
  await staff.click('button[data-tab=audit]');
  await staff.waitForFunction(() => document.querySelectorAll('#audit tr').length >= 2);
  await staff.click('#lang');
  check((await staff.textContent('header h1')).includes('物业管理后台'), 'switches to zh-CN');
  check(await staff.getAttribute('html', 'lang') === 'zh-CN', 'html lang is zh-CN');
  await shot(staff, 'staff-audit-zh.png');
  await staff.click('button[data-tab=dashboard]');
  await staff.waitForTimeout(500);
  await shot(staff, 'staff-dashboard-zh.png');
  await staff.context().close();

  // ---------------------------------------------------------------- resident (phone)
  const res = await newPage(browser, 'resident', { phone: true, locale: 'zh-CN', allow: /status of 401/ });
  await residentLogin(res, 'res-101', async () => {
    check((await res.textContent('header h1')).includes('我的电费'), 'a zh-CN browser gets Chinese');
  });
  await res.waitForFunction(() => document.getElementById('balance').textContent !== '–');
  const me = await api(res, '/api/v1/me');
  const acct = await api(res, `/api/v1/accounts/${me.account_id}`);
  const shown = (await res.textContent('#balance')).replace(/,/g, '');
  check(shown === acct.balance || Math.abs(Math.round(parseFloat(shown) * 100) - acct.balance_fen) < 200,
    `balance shown ${shown} = API ${acct.balance}`);
  check((await res.textContent('#status')).length > 0, 'power status shown');
  await res.waitForSelector('#chart canvas');
  check(await res.$$eval('#chart canvas', (c) => c.length > 0 && c[0].width > 0), 'usage chart drawn');
  const width = await res.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `fits the phone width (${width} px)`);
  await res.waitForSelector('#receipts button.verify');
  const firstRow = res.locator('#receipts tr').first();
  await firstRow.locator('button.verify').click();
  await res.waitForFunction(() => {
    const r = document.querySelector('#receipts tr .verify-result');
    return r && r.dataset.ok;
  }, null, { timeout: 15000 });
  check(await firstRow.locator('.verify-result').getAttribute('data-ok') === 'true',
    'a receipt verifies in the page: ' + await firstRow.locator('.verify-result').textContent());
  await shot(res, 'resident-phone.png');

  // tampered receipts: the amount in the record, then the checkpoint signature
  for (const [what, tamper] of [
    ['record amount', (j) => { j.record.amount_fen += 100; }],
    ['checkpoint signature', (j) => { j.checkpoint = j.checkpoint.replace(/(\u2014 \S+ )(\S)/, (m, a, c) => a + (c === 'A' ? 'B' : 'A')); }],
    ['inclusion proof', (j) => { if (j.inclusion.length) j.inclusion[0] = j.inclusion[0].replace(/^./, (c) => (c === '0' ? '1' : '0')); else j.root = '00'.repeat(32); }],
  ]) {
    await res.route('**/api/v1/receipts/*', async (route) => {
      const r = await route.fetch();
      const j = await r.json();
      tamper(j);
      await route.fulfill({ response: r, json: j });
    });
    const row = res.locator('#receipts tr').nth(1);
    await row.locator('button.verify').click();
    await res.waitForFunction(() => {
      const r = document.querySelectorAll('#receipts tr .verify-result')[1];
      return r && r.dataset.ok && !r.textContent.startsWith('…');
    }, null, { timeout: 15000 });
    check(await row.locator('.verify-result').getAttribute('data-ok') === 'false',
      `a receipt with a tampered ${what} fails: ` + await row.locator('.verify-result').textContent());
    await res.unroute('**/api/v1/receipts/*');
    if (what === 'record amount') await shot(res, 'resident-tampered.png');
  }
  await res.context().close();
});
