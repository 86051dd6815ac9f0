// 40_tariffs.mjs - the staff "Tariffs" section in headless Chromium (run by
// tests/web/browser_test.sh after 10_core.mjs, same server). As a person would: open the
// tab, see the tariffs of the company's communities, open one and read its price matrix
// (equal to the API's), submit a version with a bad price and see the parser's JSON path
// next to the form, submit a valid one and see it listed; then render a bill card
// (web/assets/bill.js) and compare its total with the API. The shared tariff of the test
// set-up (zhejiang-residential, used by Acme and Birch) is read-only, so a community of
// Acme on beijing-residential is added to the database first (and removed at the end).
// usage: node 40_tariffs.mjs BASE_URL SHOTS_DIR ; env PW, WK_TEST_DB.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { shots, check, api, run, newPage, staffLogin, shot } from './lib.mjs';

const DB = process.env.WK_TEST_DB;
const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', DB, q]).toString().trim();
const ANNEX = 'Acme Tariff Annex (browser test)';
sql(`insert into community (name, tariff, revenue_account_id, company_id)
     select '${ANNEX}', 'beijing-residential', revenue_account_id, company_id from community where name = 'Lakeside'`);
const cst = (ms) => new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);
const effective = cst(Date.now() + 7 * 86400 * 1000);

await run(async (browser) => {
  // 401 before login, 400 of the bad version: expected answers the page shows in place
  const page = await newPage(browser, 'tariffs', { viewport: { width: 1280, height: 900 }, allow: /status of (401|400)/ });
  await staffLogin(page, 'acme-admin', () => page.evaluate(() => localStorage.setItem('wk_lang', 'en')));
  await page.click('button[data-tab=tariffs]');
  await page.waitForSelector('#tariffs-list tr[data-tariff]');
  const names = await page.$$eval('#tariffs-list tr[data-tariff]', (rs) => rs.map((r) => r.dataset.tariff));
  const listed = (await api(page, '/api/v1/tariffs')).items.map((x) => x.name);
  check(JSON.stringify(names) === JSON.stringify(listed), `the list shows the API's tariffs: ${names}`);
  check(names.includes('zhejiang-residential') && names.includes('beijing-residential'), 'both tariffs listed');

  // the price matrix of the shared tariff (read only)
  await page.click('#tariffs-list tr[data-tariff="zhejiang-residential"] a');
  await page.waitForSelector('#tariffs-matrix');
  const zj = await api(page, '/api/v1/tariffs/zhejiang-residential');
  const cells = await page.$$eval('#tariffs-matrix tbody tr', (rs) => rs.map((r) =>
    [r.dataset.slot, ...[...r.querySelectorAll('td.num')].map((td) => td.textContent)]));
  const want = zj.versions[zj.current_version].matrix.map((row) => [row.slot, ...row.prices.map((p) => p.price_yuan)]);
  check(JSON.stringify(cells) === JSON.stringify(want), `matrix = API: ${JSON.stringify(cells)}`);
  check(JSON.stringify(cells) === JSON.stringify([['peak', '0.5680', '0.6180', '0.8680'], ['valley', '0.2880', '0.3380', '0.5880']]),
    'Zhejiang prices: base + tier increments');
  check(await page.textContent('#tariffs-thresholds') === '2760 / 4800', 'tier thresholds shown');
  check(await page.$('#tariffs-form') === null, 'a shared tariff has no add form');
  await shot(page, 'tariffs-matrix.png');

  // add a version: an error in place, then a good one
  await page.click('#tariffs-list tr[data-tariff="beijing-residential"] a');
  await page.waitForSelector('#tariffs-form');
  check(await page.inputValue('#tariffs-date') === cst(Date.now() + 86400 * 1000), 'date defaults to tomorrow');
  const prefill = JSON.parse(await page.inputValue('#tariffs-json'));
  check(prefill.prices.matrix.flat[0] === '0.4883' && !('effective_from' in prefill),
    'the form is prefilled with the latest version');
  prefill.prices.matrix.flat[0] = 'abc';
  await page.fill('#tariffs-json', JSON.stringify(prefill, null, 2));
  await page.fill('#tariffs-date', effective);
  await page.click('#tariffs-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('tariffs-error').textContent !== '');
  const msg = await page.textContent('#tariffs-form #tariffs-error');
  check(msg.startsWith('version.prices.matrix.flat[0]'), `the error names the JSON path in place: ${msg}`);
  check(await page.getAttribute('#tariffs-json', 'aria-invalid') === 'true', 'the JSON field is marked');
  await shot(page, 'tariffs-error.png');
  const before = (await api(page, '/api/v1/tariffs/beijing-residential')).versions.length;
  check(before === 1, 'the bad version changed nothing');
  prefill.prices.matrix.flat = ['0.5000', '0.5500', '0.8000'];
  await page.fill('#tariffs-json', JSON.stringify(prefill, null, 2));
  await page.fill('#tariffs-reason', 'browser test');
  await page.click('#tariffs-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('tariffs-ok')?.textContent !== '');
  const tabs = await page.$$eval('#tariffs-versions button', (bs) => bs.map((b) => b.textContent));
  check(tabs.length === 2 && tabs[1].startsWith(effective), `the new version is listed: ${tabs}`);
  const dates = await page.textContent('#tariffs-list tr[data-tariff="beijing-residential"] .tariffs-dates');
  check(dates.includes(effective), `the list shows the new date: ${dates}`);
  const shown = await page.$$eval('#tariffs-matrix tbody td.num', (tds) => tds.map((t) => t.textContent));
  check(JSON.stringify(shown) === JSON.stringify(['0.5000', '0.5500', '0.8000']), `new matrix shown: ${shown}`);
  const after = await api(page, '/api/v1/tariffs/beijing-residential');
  check(after.versions.length === 2 && after.engine_versions[1].startsWith(effective), 'the API and the head-end have it');
  await shot(page, 'tariffs-added.png');

  // the bill card of today for one account
  const acct = (await api(page, '/api/v1/accounts?limit=1')).items[0];
  const today = cst(Date.now());
  const bill = await api(page, `/api/v1/bills/${acct.id}?date=${today}`);
  await page.evaluate(async ([id, d]) => {
    const box = document.createElement('div');
    box.id = 'bill-check';
    document.querySelector('main').prepend(box);
    const m = await import('/assets/bill.js');
    await m.billCard(box, id, d);
  }, [acct.id, today]);
  await page.waitForSelector('#bill-check .bill-total');
  check(await page.textContent('#bill-check .bill-total') === '¥' + bill.total, `bill card total = API ${bill.total}`);
  const lineRows = await page.$$eval('#bill-check table.bill-lines tbody tr', (rs) => rs.length);
  check(lineRows === bill.lines.length, `one row per line (${lineRows})`);
  await page.locator('#bill-check').screenshot({ path: join(shots, 'tariffs-bill.png') });

  // zh-CN at phone width: the words of the glossary, nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#lang');
  await page.click('button[data-tab=tariffs]');
  await page.click('#tariffs-list tr[data-tariff="zhejiang-residential"] a');
  await page.waitForFunction(() => document.querySelector('#tariffs-matrix td')?.textContent === '峰');
  check(await page.textContent('button[data-tab=tariffs]') === '电价', 'the tab is 电价 in Chinese');
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `fits a phone (${wide} px)`);
  await shot(page, 'tariffs-phone-zh.png');
  await page.context().close();
}, async () => {
  sql(`delete from community where name = '${ANNEX}'`);
});
