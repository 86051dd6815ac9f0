// 30_payments.mjs - the console's payments section in headless Chromium (run by
// tests/web/browser_test.sh after 10_core.mjs, same server): a company admin finds an account
// by its unit, books a counter top-up typed in yuan (a malformed amount and a missing
// reason are refused in place, naming the field), the payment appears in the list with the
// exact amount and the wallet moved by exactly that; it is refunded in part through the
// refund form and the refund appears; a sandbox bill from `wattkeeper paysim bill` is
// uploaded and its run shows in the results table. Uses an Acme unit other than 101.
// Screenshots: payments-counter.png, payments-list.png, payments-refund.png,
// payments-reconciliation.png.
// usage: node 30_payments.mjs BASE_URL SHOTS_DIR ; env PW, WK_TEST_DB, WK_BIN (optional).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { base, check, api, run, newPage, staffLogin, shot } from './lib.mjs';

await run(async (browser) => {
  // 401 before login and the 4xx answers the test provokes are expected
  const page = await newPage(browser, 'payments', { viewport: { width: 1280, height: 900 } });
  await staffLogin(page, 'acme-admin');
  await page.click('button[data-tab=payments]');
  await page.waitForSelector('#tab-payments:not(.hidden) #pay-counter-form');

  // an open Acme account, not unit 101 (10_core's)
  const accounts = (await api(page, '/api/v1/accounts?status=open&limit=200')).items;
  const acct = accounts.find((a) => a.unit === '103') || accounts.find((a) => a.unit !== '101');
  check(acct, 'an account to top up');
  await page.fill('#pay-find', acct.unit);
  await page.waitForFunction((id) => [...document.querySelectorAll('#pay-account option')].some((o) => o.value === String(id)), acct.id);
  await page.selectOption('#pay-account', String(acct.id));

  const before = (await api(page, `/api/v1/payments?account=${acct.id}&limit=200`)).items.length;
  await page.fill('#pay-amount', '12.345');
  await page.fill('#pay-reason', 'browser test: paid in cash');
  await page.click('#pay-counter-form button[type=submit]');
  check(/^Amount \(yuan\): .*two decimals/.test(await page.textContent('#pay-counter-form .error[data-field=amount_fen]')),
    'a malformed amount is refused in place');
  await page.fill('#pay-amount', '12.34');
  await page.fill('#pay-reason', '');
  await page.click('#pay-counter-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#pay-counter-form .error[data-field=reason]').textContent !== '');
  check(/^Note \/ reason: /.test(await page.textContent('#pay-counter-form .error[data-field=reason]')),
    'a missing reason is refused by the API and shown at the reason field, naming it');
  check((await api(page, `/api/v1/payments?account=${acct.id}&limit=200`)).items.length === before,
    'no payment booked by the refused attempts');
  await page.fill('#pay-reason', 'browser test: paid in cash');
  await page.selectOption('#pay-method', 'cash');
  await page.click('#pay-counter-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('pay-ok').textContent !== '', null, { timeout: 15000 });
  check((await page.textContent('#pay-ok')).includes('12.34'), 'booked: ' + await page.textContent('#pay-ok'));
  await shot(page, 'payments-counter.png');

  const pays = (await api(page, `/api/v1/payments?account=${acct.id}&channel=counter&limit=200`)).items;
  const p = pays.find((x) => x.reason === 'browser test: paid in cash');
  check(p && p.amount_fen === 1234 && p.amount === '12.34' && p.method === 'cash' && p.operator === 'acme-admin',
    'API: the counter payment of exactly 1234 fen');
  const audit = (await api(page, '/api/v1/audit?action=counter_payment&limit=5')).items.find((a) => a.object_id === acct.id);
  check(audit && audit.after.balance_fen - audit.before.balance_fen === 1234 && audit.login === 'acme-admin',
    'audited: the wallet moved by exactly 1234 fen');
  await page.waitForSelector(`#pay-rows tr[data-id="${p.id}"]`);
  check((await page.textContent(`#pay-rows tr[data-id="${p.id}"]`)).includes('12.34'), 'the payment appears in the list');
  await shot(page, 'payments-list.png');

  // refund part of it at the counter
  await page.click(`#pay-rows button[data-refund="${p.id}"]`);
  await page.waitForSelector('#pay-refund-form');
  await page.fill('#pay-refund-amount', '2.34');
  await page.fill('#pay-refund-reason', 'browser test: overpaid');
  await shot(page, 'payments-refund.png');
  await page.click('#pay-refund-form button[type=submit]');
  await page.waitForSelector('#pay-refund-form', { state: 'detached', timeout: 15000 });
  const refund = (await api(page, '/api/v1/refunds?channel=counter&limit=200')).items.find((r) => r.payment_id === p.id);
  check(refund && refund.amount_fen === 234 && refund.reason === 'browser test: overpaid', 'API: the refund of 234 fen');
  await page.waitForSelector(`#ref-rows tr[data-id="${refund && refund.id}"]`);
  check((await page.textContent(`#pay-rows tr[data-id="${p.id}"]`)).includes('2.34'), 'the list shows what was refunded');
  const again = await api(page, `/api/v1/payments/${p.id}`);
  check(again.refunded_fen === 234 && again.refundable_fen === 1000, 'refundable 10.00 left');

  // reconciliation: a WeChat payment (order with the admin token, paid at paysim, found by
  // the order query), then a sandbox bill of today's WeChat payments uploaded in the page
  const bin = process.env.WK_BIN;
  const db = process.env.WK_TEST_DB;
  const ps = process.env.WK_PAYSIM;
  if (check(bin && db && ps && existsSync(join(dirname(db), 'paysim')), 'WK_BIN, WK_PAYSIM and the paysim keys are there')) {
    const token = readFileSync(db + '.admin-token', 'utf8').trim();
    const auth = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' };
    const order = await (await fetch(base + '/api/v1/orders', { method: 'POST', headers: auth,
      body: JSON.stringify({ account_id: acct.id, amount_fen: 700, channel: 'wechat' }) })).json();
    await fetch(ps + '/sim/pay', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `channel=wechat&order=${order.out_trade_no}&amount_fen=700&drop_notify=1` });
    const q = await (await fetch(base + `/api/v1/orders/${order.out_trade_no}/query`, { method: 'POST', headers: auth })).json();
    check(q.state === 'credited', 'a WeChat payment credited: ' + JSON.stringify(q));
    await page.click('button[data-tab=dashboard]');
    await page.click('button[data-tab=payments]');
    await page.waitForFunction((no) => [...document.querySelectorAll('#pay-rows tr')].some((r) => r.textContent.includes(no)),
      order.out_trade_no);
    check(true, 'the WeChat payment appears in the list');
    const day = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
    const bill = join(dirname(db), 'browser-wechat.bill');
    execFileSync(bin, ['paysim', 'bill', '--dir', join(dirname(db), 'paysim'), '--channel', 'wechat', '--date', day,
      '--out', bill]);
    const runs = (await api(page, '/api/v1/reconciliations')).items.length;
    await page.selectOption('#rec-channel', 'wechat');
    await page.setInputFiles('#rec-file', bill);
    await page.click('#rec-form button[type=submit]');
    await page.waitForSelector('#rec-counts', { timeout: 30000 });
    const list = (await api(page, '/api/v1/reconciliations')).items;
    check(list.length === runs + 1 && list[0].channel === 'wechat' && list[0].uploaded_by === 'acme-admin',
      'the run is stored');
    check(list[0].bill_payments >= 1 && list[0].date_from === day, `the bill's payments: ${JSON.stringify(list[0])}`);
    check((await page.textContent('#rec-counts')).includes(`matched=${list[0].matched}`), 'the run is shown');
    await page.waitForSelector(`#rec-rows tr[data-id="${list[0].id}"]`);
    await shot(page, 'payments-reconciliation.png');
  }
  // phone width: the section still fits
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const width = await page.evaluate(() => document.querySelector('#pay-counter-form').scrollWidth);
  check(width <= 390, `the top-up form fits a phone (${width} px)`);
  await page.context().close();
});
