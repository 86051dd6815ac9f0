// 60_resident.mjs - the resident's page on a phone (390x844) as res-102, whose balance is 0
// and whose meter is tripped: sees the balance, the power cut and the usage chart (by day
// and by month), tops up ¥50 through the channel: the sandbox's confirm page (wattkeeper
// paysim serve) opens in a new page and the resident pays there; the page follows the order
// to "credited", the wallet moved by exactly 5000 fen (SQLite), and the status flips to
// power on once the simulated meter confirmed the close. The new top-up's receipt verifies
// in the page and a tampered copy fails. Notification settings: a wrong number is refused
// naming the field, a right one is listed, then deleted. The pay link is also shown as a QR
// code (decoded with zbarimg from zbar-tools, as a phone camera would).
// Screenshots: SHOTS/resident-topup-*.png.
// usage: node 60_resident.mjs BASE_URL SHOTS_DIR ; env PW, WK_TEST_DB, WK_PAYSIM. Exit 0 = passed.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { shots, check, api, run, newPage, residentLogin, shot } from './lib.mjs';

const DB = process.env.WK_TEST_DB, PAYSIM = process.env.WK_PAYSIM;
const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', DB, q]).toString().trim();

await run(async (browser) => {
  const res = await newPage(browser, 'resident', { phone: true, allow: /status of (401|400)/ });
  const ctx = res.context();
  await residentLogin(res, 'res-102');
  await res.waitForFunction(() => document.getElementById('balance').textContent !== '–');
  const account = Number(sql("select a.id from account a join unit u on u.id=a.unit_id where u.name='102'"));
  const meter = Number(sql("select m.id from meter m join unit u on u.id=m.unit_id where u.name='102'"));
  const sum0 = await api(res, '/api/v1/me/summary');
  check(sum0.account_id === account, 'the page is res-102\'s account');
  check((await res.textContent('#balance')).replace(/,/g, '') === sum0.balance, `balance shown = API ${sum0.balance}`);
  check(sum0.balance_fen <= 0, `res-102 starts without money (${sum0.balance})`);
  await res.waitForFunction(() => document.getElementById('status').dataset.relay === 'tripped', null, { timeout: 30000 });
  check(/cut/i.test(await res.textContent('#status')), 'the power cut is shown');
  await res.waitForSelector('#chart canvas');
  check(await res.$$eval('#chart canvas', (c) => c.length > 0 && c[0].width > 0), 'usage chart drawn');
  await res.click('#usage-month');
  await res.waitForFunction(() => document.getElementById('chart').dataset.by === 'month');
  const month = await api(res, '/api/v1/me/usage?by=month');
  check(await res.$eval('#chart', (c) => c.dataset.total) === String(month.total_energy_wh), 'monthly chart = API total');
  await res.click('#usage-day');
  await res.waitForFunction(() => document.getElementById('chart').dataset.by === 'day');
  check(await res.evaluate(() => document.documentElement.scrollWidth) <= 390, 'fits the phone width');
  // the bill of a day: today's, equal to the API's (tier and slot lines)
  await res.waitForSelector('#bill .bill[data-total-fen]');
  const billDay = await res.inputValue('#bill-date');
  const bill = await api(res, `/api/v1/bills/${account}?date=${billDay}`);
  check(await res.$eval('#bill .bill', (b) => b.dataset.totalFen) === String(bill.total_fen),
    `the day's bill in the page = API (${bill.total})`);
  check(await res.$$eval('#bill table.bill-lines tbody tr', (r) => r.length) === bill.lines.length,
    'one row per tier/slot line');
  await shot(res, 'resident-topup-before.png');

  // ---- top-up ¥50 through the sandbox
  const credits0 = Number(sql(`select la.credits_fen from account a join ledger_account la on la.id=a.wallet_account_id where a.id=${account}`));
  const orders0 = Number(sql(`select count(*) from pay_order where account_id=${account}`));
  check(await res.isDisabled('#topup-go'), 'Pay is disabled until an amount is picked');
  await res.click('.amount-btn[data-fen="5000"]');
  await res.click('#topup-go');
  await res.waitForSelector('#topup-order:not(.hidden)');
  const href = await res.getAttribute('#topup-link', 'href');
  check(href && href.startsWith(PAYSIM + '/sim/confirm?'), `the pay link opens the sandbox: ${href}`);
  const no = await res.textContent('#topup-no');
  check(Number(sql(`select count(*) from pay_order where account_id=${account}`)) === orders0 + 1 &&
    sql(`select amount_fen||' '||state from pay_order where out_trade_no='${no.replace(/[^A-Za-z0-9]/g, '')}'`) === '5000 created',
    'one order of 5000 fen for the own account');
  check(await res.getAttribute('#topup-state', 'data-state') === 'created', 'waiting for the payment');
  check(await res.$$eval('#topup-qr svg path', (p) => p.length === 1 && p[0].getAttribute('d').length > 100),
    'the payment code is shown as a QR code');
  { // decode the QR code as a phone would (zbarimg: scripts/setup installs zbar-tools)
    const png = join(shots, '.qr-check.png');
    await res.locator('#topup-qr svg').screenshot({ path: png });
    let got = '';
    try { got = execFileSync('zbarimg', ['-q', '--raw', png], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { got = ''; }
    rmSync(png, { force: true });
    check(got === href, `the QR code decodes to the pay link (${got})`);
  }
  await shot(res, 'resident-topup-order.png');
  const [pay] = await Promise.all([ctx.waitForEvent('page'), res.click('#topup-link')]);
  await pay.waitForLoadState();
  check((await pay.textContent('body')).includes('SANDBOX'), 'the sandbox confirm page opened');
  await shot(pay, 'resident-topup-sandbox.png');
  await Promise.all([pay.waitForNavigation(), pay.click('button[type=submit]')]);
  check((await pay.textContent('body')).includes('acknowledged'), 'the sandbox notified serve: ' + (await pay.textContent('body')).slice(0, 160));
  await pay.close();
  await res.waitForFunction(() => document.getElementById('topup-state').dataset.state === 'credited', null, { timeout: 30000 });
  check(true, 'the page shows the order credited');
  const credits1 = Number(sql(`select la.credits_fen from account a join ledger_account la on la.id=a.wallet_account_id where a.id=${account}`));
  check(credits1 - credits0 === 5000, `the wallet's credits moved by exactly 5000 fen (${credits1 - credits0})`);
  await res.waitForFunction(() => document.getElementById('status').dataset.relay === 'closed', null, { timeout: 60000 });
  check(/power on/i.test(await res.textContent('#status')), 'the status flips to power on');
  check(sql(`select count(*) from command where meter_id=${meter} and action='close' and state='confirmed'`) !== '0',
    'the meter confirmed the close');
  const sum1 = await api(res, '/api/v1/me/summary');
  check(sum1.balance_fen > 0 && sum1.balance_fen <= sum0.balance_fen + 5000, `balance now ${sum1.balance}`);
  await shot(res, 'resident-topup-credited.png');

  // ---- the new receipt verifies; a tampered copy fails
  const order = await api(res, `/api/v1/me/topups/${no}`);
  check(order.credited && /^[0-9a-f]{32}$/.test(order.transfer_id || ''), 'the order names its receipt');
  const row = res.locator(`#receipts tr[data-transfer="${order.transfer_id}"]`);
  await row.waitFor({ timeout: 15000 });
  check((await row.textContent()).includes('+50.00'), 'the top-up is in the receipts');
  const verifyRow = async () => {
    await row.locator('.verify-result').evaluate((e) => { delete e.dataset.ok; });
    await row.locator('button.verify').click();
    await res.waitForFunction((id) => {
      const r = document.querySelector(`#receipts tr[data-transfer="${id}"] .verify-result`);
      return r && r.dataset.ok && !r.textContent.startsWith('…');
    }, order.transfer_id, { timeout: 15000 });
    return row.locator('.verify-result').getAttribute('data-ok');
  };
  check(await verifyRow() === 'true', 'the new receipt verifies in the page: ' + await row.locator('.verify-result').textContent());
  await res.route('**/api/v1/receipts/*', async (route) => {
    const r = await route.fetch();
    const j = await r.json();
    j.record.amount_fen += 100; // ¥51 instead of ¥50
    await route.fulfill({ response: r, json: j });
  });
  check(await verifyRow() === 'false', 'a tampered receipt fails: ' + await row.locator('.verify-result').textContent());
  await res.unroute('**/api/v1/receipts/*');
  await row.scrollIntoViewIfNeeded();
  await shot(res, 'resident-topup-tampered.png');

  // ---- notification settings
  await res.selectOption('#contact-channel', 'sms');
  await res.fill('#contact-address', '12345');
  await res.click('#contact-form button[type=submit]');
  await res.waitForFunction(() => document.getElementById('contact-error').textContent !== '');
  check(await res.getAttribute('#contact-error', 'data-field') === 'address' &&
    await res.$eval('#contact-address', (e) => e.classList.contains('invalid')), 'a wrong number is refused naming the field');
  await res.fill('#contact-address', '13812345678');
  await res.selectOption('#contact-language', 'en');
  await res.uncheck('#contact-events input[value=credit]'); // receipts by e-mail only, say
  await res.click('#contact-form button[type=submit]');
  await res.waitForSelector('#contacts li[data-channel=sms]');
  check((await res.textContent('#contacts')).includes('+8613812345678'), 'the number is listed with +86');
  check(sql(`select count(*) from notify_contact where account_id=${account} and channel='sms' and address='+8613812345678' and enabled=1 and lang='en' and events_off=16`) === '1',
    'stored for the notification worker (without receipts)');
  check((await res.textContent('#contacts li[data-channel=sms]')).includes('Power cut') &&
    !(await res.textContent('#contacts li[data-channel=sms]')).includes('receipts'), 'the chosen events are listed');
  await shot(res, 'resident-topup-contacts.png');
  await res.click('#contacts li[data-channel=sms] button.delete');
  await res.waitForFunction(() => !document.querySelector('#contacts li[data-channel=sms]'));
  check(sql(`select enabled from notify_contact where account_id=${account} and address='+8613812345678'`) === '0', 'deleted');
  check(await res.evaluate(() => document.documentElement.scrollWidth) <= 390, 'still fits the phone width');
  await ctx.close();
});
