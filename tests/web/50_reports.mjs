// 50_reports.mjs - the live dashboard and the reports page in headless Chromium (run by
// tests/web/browser_test.sh after 10_core.mjs, against the same server). Checks, as a
// person would: the dashboard is fed live by the event stream; a counter payment and a
// credit made elsewhere change today's collections, the money held and the recent events
// on the open page without a reload; the reports page shows the three reports (numbers
// equal to the API's), draws the collections chart, switches to months, and its
// "Export CSV" link downloads a CSV file. Screenshots: dashboard-live.png, reports-*.png.
// usage: node 50_reports.mjs BASE_URL SHOTS_DIR ; env PW, WK_TEST_DB. Exit 0 = passed.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { base, check, api, run, newPage, staffLogin, shot } from './lib.mjs';

const ADMIN = readFileSync(process.env.WK_TEST_DB + '.admin-token', 'utf8').trim();
async function admin(path, body) { // the admin-token routes (another desk, not this page)
  const r = await fetch(base + path, {
    method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.text() };
}
const fen = (s) => Math.round(Number(s.replace(/[¥,]/g, '')) * 100); // a shown amount, for comparison

await run(async (browser) => {
  const page = await newPage(browser, 'reports', { viewport: { width: 1280, height: 900 }, acceptDownloads: true,
    allow: /status of 401/ });
  await staffLogin(page, 'acme-admin');
  await page.waitForFunction(() => document.getElementById('s-mode').textContent === 'live', null, { timeout: 15000 });
  check(true, 'the dashboard is live (event stream open)');
  await page.waitForFunction(() => /^¥/.test(document.getElementById('s-collections').textContent));
  const d0 = await api(page, '/api/v1/reports/dashboard');
  check(await page.textContent('#s-meters') === String(d0.meters), 'meters = API');
  check(/%$/.test(await page.textContent('#s-arrears')) &&
    (await page.textContent('#s-arrears-n')).startsWith(`${d0.arrears_accounts} of ${d0.open_accounts}`), 'arrears rate tile');

  // state changes made elsewhere reach the open page without a reload
  await page.evaluate(() => { window.__notReloaded = true; });
  const coll0 = fen(await page.textContent('#s-collections'));
  const acct = (await api(page, '/api/v1/accounts?status=open&limit=1')).items[0].id;
  let r = await admin('/api/v1/counter/payments', {
    account_id: acct, amount_fen: 2500, method: 'cash', operator: 'browser', reason: 'live dashboard test',
    id: randomBytes(16).toString('hex'),
  });
  check(r.status === 201, 'counter payment: ' + r.status + ' ' + r.body);
  await page.waitForFunction((c) => {
    const v = Math.round(Number(document.getElementById('s-collections').textContent.replace(/[¥,]/g, '')) * 100);
    return v === c + 2500;
  }, coll0, { timeout: 10000 }).then(() => check(true, ''), () => check(false, "today's collections did not rise by 25.00 live"));
  r = await admin(`/api/v1/accounts/${acct}/credits`, { amount_fen: 777, id: randomBytes(16).toString('hex'), reason: 'live test' });
  check(r.status === 200 || r.status === 201, 'credit: ' + r.status);
  await page.waitForFunction(() => [...document.querySelectorAll('#events tr td:nth-child(2)')].some((td) => td.textContent === 'credit'),
    null, { timeout: 10000 }).then(() => check(true, ''), () => check(false, 'the credit event did not appear live'));
  check(await page.evaluate(() => window.__notReloaded === true), 'no reload happened');
  const d1 = await api(page, '/api/v1/reports/dashboard');
  await page.waitForFunction((want) => document.getElementById('s-collections').textContent === want,
    '¥' + d1.collections_today, { timeout: 5000 }).catch(() => {});
  check(fen(await page.textContent('#s-collections')) === d1.collections_today_fen, 'collections tile = API');
  await shot(page, 'dashboard-live.png');

  // the reports page (the simulated meters keep being charged: the money held only falls
  // while the page loads, so the shown value lies between the API's before and after)
  const liab0 = await api(page, '/api/v1/reports/liability');
  await page.click('button[data-tab=reports]');
  await page.waitForSelector('#rep-coll-table tbody tr');
  await page.waitForSelector('#rep-liab-table tbody tr');
  await page.waitForSelector('#rep-cons-table tbody tr');
  const coll = await api(page, '/api/v1/reports/collections?' + await page.evaluate(() =>
    new URLSearchParams({ by: 'day', from: document.getElementById('rep-from').value, to: document.getElementById('rep-to').value })));
  const collTotal = await page.locator('#rep-coll-table tbody tr').last().locator('td').nth(3).textContent();
  check(collTotal === coll.total.amount, `collections total shown ${collTotal} = API ${coll.total.amount}`);
  const liab1 = await api(page, '/api/v1/reports/liability');
  const held = fen(await page.locator('#rep-liab-table tbody tr').last().locator('td').nth(2).textContent());
  check(liab1.total.held_fen <= held && held <= liab0.total.held_fen,
    `liability shown ${held} within the API's ${liab1.total.held_fen}..${liab0.total.held_fen}`);
  await page.waitForFunction(() => document.querySelector('#rep-chart canvas'), null, { timeout: 10000 })
    .then(() => check(true, ''), () => check(false, 'the collections chart was not drawn'));
  await shot(page, 'reports-day.png');

  // the CSV link downloads the report as a file
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#rep-coll a.csv-link')]);
  check(/^wattkeeper-collections-daily-.*\.csv$/.test(dl.suggestedFilename()), 'csv file name: ' + dl.suggestedFilename());
  const text = readFileSync(await dl.path(), 'utf8');
  check(text.startsWith('\ufeffperiod,channel,count,amount,refund_count,refunds,net\r\n'), 'csv header (after the BOM): ' + text.slice(0, 80));
  check(text.includes(',counter,'), 'csv holds the counter payment');

  // per month
  await page.selectOption('#rep-by', 'month');
  await page.click('#rep-form button[type=submit]');
  await page.waitForFunction(() => /^\d{4}-\d{2}$/.test(document.querySelector('#rep-coll-table tbody td')?.textContent || ''),
    null, { timeout: 10000 }).then(() => check(true, ''), () => check(false, 'monthly rows'));
  await shot(page, 'reports-month.png');

  // phone width: the page still works
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'reports-phone.png');
  await page.context().close();
});
