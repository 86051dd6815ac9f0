#!/usr/bin/env bash
# pay_serve_test.sh - payments end to end through HTTP against a real `wattkeeper serve`
# (private mosquitto, simulated meters), with `wattkeeper paysim` playing the channels:
#   - a sandbox WeChat top-up for a tripped meter's account credits once and the relay
#     closes (confirmed by the simulated meter);
#   - 32 concurrent copies of the same notification all get 204 and credit exactly once;
#     a re-signed duplicate (a channel retry) is acknowledged and credits nothing;
#   - rejections answer WeChat's FAIL body with 4xx and change nothing: tampered body,
#     probe signature, unknown serial, stale timestamp, unknown order, amount != order;
#   - Alipay: "success" once, duplicate "success" without credit; an authentic TRADE_CLOSED
#     is acknowledged, recorded once and closes the order, never credited; tampered: "fail";
#   - an injected failure inside the credit's transaction is not acknowledged (5xx) and
#     the channel's retry is credited once the fault is gone;
#   - the resident's flow: order -> Native prepay (merchant-signed) -> code_url -> confirm
#     page -> signed notification -> credited once;
#   - an order whose notification was lost (paysim serve, drop_notify) is found paid by
#     the order query (merchant-signed request, signed answer) and credited once, for
#     WeChat Pay and for Alipay (alipay.trade.query);
#   - reconciliation of a WeChat bill (BOM, CRLF, backticks, summary) finds each planted
#     discrepancy, credits the lost notification once (flagged), and a second import
#     changes nothing; a GBK Alipay bill reconciles clean;
#   - channel refunds (POST /api/v1/refunds -> WeChat /v3/refund/domestic/refunds and
#     alipay.trade.refund at paysim, merchant-signed, answers verified): booked once as
#     wallet -> clearing:<channel>, a repeat is answered from the booking, refusals
#     (ours and the channel's) book nothing;
#   - `wattkeeper ledger verify` passes and the clearing accounts equal the credits.
source "${WK_SOURCE_DIR:?}/tests/e2e_lib.sh"

METERS=2 FIRST=250000000001 MASTER=pay-test-master
start_broker $METERS $FIRST $MASTER
cat >"$T/seed.json" <<JSON
{"communities": [{"name": "Lakeside", "tariff": "zhejiang-residential", "buildings": [{"name": "B1", "units": [
 {"name": "U001", "kind": "home", "meter": {"address": "$FIRST", "close_mode": "direct"},
  "account": {"holder": "holder 1", "kind": "resident", "balance": "0.00"}},
 {"name": "U002", "kind": "home", "meter": {"address": "$((FIRST + 1))", "close_mode": "direct"},
  "account": {"holder": "holder 2", "kind": "resident", "balance": "80.00"}}]}]}]}
JSON
"$BIN" seed --db "$T/wk.db" --master-key $MASTER --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
"$BIN" paysim keys --dir "$T/paysim" >/dev/null
# a second first-start keeps the keys serve trusts
cp "$T/paysim/wechat-public.pem" "$T/wpub.before"
"$BIN" paysim keys --dir "$T/paysim" >/dev/null
cmp -s "$T/paysim/wechat-public.pem" "$T/wpub.before" && ok || bad "paysim keys regenerated"

SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/wk.ini" <<INI
[server]
db = $T/wk.db
http_listen = 127.0.0.1:$SPORT
data_dir = $T
log_level = info
[mqtt]
host = 127.0.0.1
port = $BPORT
username = headend
password = $HPW
client_id = wk-pay-test
keepalive = 10s
reconnect_min = 200ms
reconnect_max = 2s
[headend]
report_interval = 60s
tariff_dir = $SRC/examples/tariffs
[policy]
friendly_from = 00:00
friendly_to = 00:00
friendly_weekends = false
[ledger]
key_file = $T/wk.db.logkey
checkpoint_interval = 2s
INI
cat "$T/paysim/pay.ini" >>"$T/wk.ini"

# the channel's HTTP side (prepay, confirm page, notifications, query API)
"$BIN" paysim serve --dir "$T/paysim" --port 0 >"$T/paysim.out" 2>"$T/paysim.err" &
pids+=($!)
wait_for 10 'grep -q "http://" "$T/paysim.out"' || { cat "$T/paysim.err"; bad "paysim serve did not start"; exit 1; }
PS=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$T/paysim.out")
WK_PAY_WECHAT_API_BASE=$PS WK_PAY_ALIPAY_GATEWAY=$PS/gateway.do WK_PAY_NOTIFY_BASE_URL=http://127.0.0.1:$SPORT "$BIN" serve --config "$T/wk.ini" >"$T/serve.out" 2>>"$T/serve.log" &
pids+=($!)
wait_for 20 'grep -q "http://" "$T/serve.out"' || { cat "$T/serve.log"; bad "serve did not start"; exit 1; }
HPORT=$(sed -n 's|.*http://[0-9.]*:\([0-9]*\)/.*|\1|p' "$T/serve.out" | tail -1)
H=http://127.0.0.1:$HPORT
TOKEN=$(cat "$T/wk.db.admin-token")
SIMSTART=$(python3 -c 'import time; t=int(time.time())-86400; d=(t+28800)//86400; print(d*86400-28800+10*3600)')
"$BIN" sim --broker 127.0.0.1:$BPORT --meters $METERS --first-address $FIRST --key $MASTER \
  --speed 60 --interval 60 --start $SIMSTART --seed 5 --vacant 0 --anomalous 0 >"$T/sim.out" 2>"$T/sim.err" &
pids+=($!)

A1=$FIRST
wait_for 30 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = tripped ]" && ok || bad "zero-balance meter did not trip"

order() { # order ACCOUNT AMOUNT_FEN CHANNEL -> out_trade_no
  curl -sS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"account_id\":$1,\"amount_fen\":$2,\"channel\":\"$3\"}" "$H/api/v1/orders" |
    sed -n 's/.*"out_trade_no":"\([^"]*\)".*/\1/p'
}
credits_of() { # number of ledger credits booked for a channel transaction
  q "select count(*) from ledger_transfer t join pay_payment p on p.transfer_id = t.id where p.txn_id = '$1'"
}
status() { curl -s -o "$T/resp" -w '%{http_code}' "$@"; }

# ---- orders API ----
[ "$(status -X POST -H 'Content-Type: application/json' -d '{"account_id":1,"amount_fen":5000,"channel":"wechat"}' "$H/api/v1/orders")" = 401 ] && ok || bad "order without token accepted"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" -d '{"account_id":1,"amount_fen":50,"channel":"wechat"}' "$H/api/v1/orders")" = 400 ] &&
  grep -q '"field":"amount_fen"' "$T/resp" && ok || bad "order below min_amount not refused: $(cat "$T/resp")"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" -d '{"account_id":99,"amount_fen":5000,"channel":"wechat"}' "$H/api/v1/orders")" = 404 ] && ok || bad "order for unknown account"
[ "$(q 'select count(*) from pay_order')" = 0 ] && ok || bad "refused orders were stored"

# ---- WeChat: top-up of the tripped account closes its relay ----
O1=$(order 1 5000 wechat)
[ -n "$O1" ] && ok || bad "order not created"
[ "$(status -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O1")" = 200 ] && grep -q '"state":"created"' "$T/resp" && ok || bad "order not readable"
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O1" --amount-fen 5000 \
  --txn 4200000000000000000000000001 --url "$H/pay/wechat/notify" >"$T/n1.out" && ok || { cat "$T/n1.out"; bad "wechat notification not acknowledged"; }
grep -q "HTTP 204" "$T/n1.out" && ok || bad "wechat ack is not 204"
[ "$(credits_of 4200000000000000000000000001)" = 1 ] && ok || bad "top-up not credited once"
[ "$(q "select state from pay_order where out_trade_no='$O1'")" = credited ] && ok || bad "order not credited"
wait_for 20 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = closed ]" && ok || bad "top-up did not close the relay"
[ "$(q "select state from command where meter_id=(select id from meter where address='$A1') and action='close'")" = confirmed ] && ok || bad "close not confirmed by the meter"

# ---- 32 concurrent copies of one notification ----
O2=$(order 2 1000 wechat)
TX2=4200000000000000000000000002
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O2" --amount-fen 1000 --txn $TX2 --out "$T/n2"
for i in $(seq 1 32); do
  curl -s -o /dev/null -w '%{http_code}\n' -H @"$T/n2.headers" --data-binary @"$T/n2.body" "$H/pay/wechat/notify" >"$T/c.$i" &
done
wait_for 20 '[ "$(cat "$T"/c.* 2>/dev/null | grep -c .)" = 32 ]' || true
sleep 0.3
[ "$(cat "$T"/c.* | grep -c '^204$')" = 32 ] && ok || bad "not all 32 copies acknowledged: $(sort "$T"/c.* | uniq -c | tr '\n' ' ')"
[ "$(credits_of $TX2)" = 1 ] && ok || bad "32 copies credited $(credits_of $TX2) times"
[ "$(q "select count(*) from pay_payment where txn_id='$TX2'")" = 1 ] && ok || bad "duplicate payment rows"
# a channel retry is a new, re-signed delivery of the same transaction
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O2" --amount-fen 1000 --txn $TX2 --url "$H/pay/wechat/notify" >/dev/null && ok || bad "retry of a credited payment not acknowledged"
[ "$(credits_of $TX2)" = 1 ] && ok || bad "retry credited again"

# ---- rejections: FAIL body, 4xx, nothing changes ----
before=$(q "select count(*) from pay_payment")||true
failbody() { grep -q '"code":"FAIL"' "$T/resp"; }
O3=$(order 2 2000 wechat)
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O3" --amount-fen 2000 --txn 4200000000000000000000000003 --out "$T/n3"
sed 's/"id":"EV-/"id":"EX-/' "$T/n3.body" >"$T/n3.tampered"
[ "$(status -H @"$T/n3.headers" --data-binary @"$T/n3.tampered" "$H/pay/wechat/notify")" = 401 ] && failbody && ok || bad "tampered body not refused with 401 FAIL"
sed 's/^Wechatpay-Signature: .*/Wechatpay-Signature: WECHATPAY\/SIGNTEST\/dGVzdA==/' "$T/n3.headers" >"$T/n3.probe"
[ "$(status -H @"$T/n3.probe" --data-binary @"$T/n3.body" "$H/pay/wechat/notify")" = 401 ] && failbody && ok || bad "probe signature not refused"
sed 's/^Wechatpay-Serial: .*/Wechatpay-Serial: 5157F09EFDC096DE15EBE81A47057A7232F1B8E1/' "$T/n3.headers" >"$T/n3.serial"
[ "$(status -H @"$T/n3.serial" --data-binary @"$T/n3.body" "$H/pay/wechat/notify")" = 401 ] && ok || bad "unknown serial not refused"
OLD=$(( $(date +%s) - 400 ))
sed "s/^Wechatpay-Timestamp: .*/Wechatpay-Timestamp: $OLD/" "$T/n3.headers" >"$T/n3.old"
[ "$(status -H @"$T/n3.old" --data-binary @"$T/n3.body" "$H/pay/wechat/notify")" = 401 ] && ok || bad "stale timestamp not refused"
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order WKNOSUCHORDER000000 --amount-fen 2000 --txn 4200000000000000000000000004 --out "$T/n4"
[ "$(status -H @"$T/n4.headers" --data-binary @"$T/n4.body" "$H/pay/wechat/notify")" = 404 ] && failbody && ok || bad "unknown order not refused"
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O3" --amount-fen 1 --txn 4200000000000000000000000005 --out "$T/n5"
[ "$(status -H @"$T/n5.headers" --data-binary @"$T/n5.body" "$H/pay/wechat/notify")" = 409 ] && failbody && ok || bad "amount != order not refused"
[ "$(q "select count(*) from pay_payment")" = "$before" ] && ok || bad "a rejected notification changed state"
[ "$(q "select state from pay_order where out_trade_no='$O3'")" = created ] && ok || bad "rejected notification moved the order"

# ---- Alipay ----
O6=$(order 2 1234 alipay)
TX6=2026112822001400000000000006
"$BIN" paysim notify --dir "$T/paysim" --channel alipay --order "$O6" --amount-fen 1234 --txn $TX6 --out "$T/a6"
[ "$(curl -s -H @"$T/a6.headers" --data-binary @"$T/a6.body" "$H/pay/alipay/notify")" = success ] && ok || bad "alipay not answered success"
[ "$(curl -s -H @"$T/a6.headers" --data-binary @"$T/a6.body" "$H/pay/alipay/notify")" = success ] && ok || bad "alipay duplicate not answered success"
[ "$(credits_of $TX6)" = 1 ] && ok || bad "alipay credited $(credits_of $TX6) times"
O7=$(order 2 500 alipay)
"$BIN" paysim notify --dir "$T/paysim" --channel alipay --order "$O7" --amount-fen 500 --txn 2026112822001400000000000007 --state TRADE_CLOSED --out "$T/a7"
# an authentic TRADE_CLOSED is acknowledged (Alipay stops resending) and recorded, never credited
[ "$(curl -s -H @"$T/a7.headers" --data-binary @"$T/a7.body" "$H/pay/alipay/notify")" = success ] && ok || bad "TRADE_CLOSED not acknowledged"
[ "$(curl -s -H @"$T/a7.headers" --data-binary @"$T/a7.body" "$H/pay/alipay/notify")" = success ] && ok || bad "repeated TRADE_CLOSED not acknowledged"
[ "$(q "select count(*) from pay_payment where out_trade_no='$O7'")" = 0 ] && ok || bad "TRADE_CLOSED credited"
[ "$(q "select state from pay_order where out_trade_no='$O7'")" = closed ] && ok || bad "TRADE_CLOSED did not close the order"
[ "$(q "select count(*) from pay_notice where channel='alipay' and kind='TRADE_CLOSED' and ref='2026112822001400000000000007'")" = 1 ] && ok || bad "TRADE_CLOSED not recorded once"
sed 's/total_amount=5.00/total_amount=9.00/' "$T/a7.body" >"$T/a7.tampered"
[ "$(curl -s -H @"$T/a7.headers" --data-binary @"$T/a7.tampered" "$H/pay/alipay/notify")" = fail ] && ok || bad "tampered alipay not refused"

# ---- injected failure inside the credit transaction: not acknowledged, retried, credited ----
O8=$(order 2 800 wechat)
TX8=4200000000000000000000000008
q "CREATE TRIGGER inject_fail BEFORE INSERT ON pay_payment BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O8" --amount-fen 800 --txn $TX8 \
  --url "$H/pay/wechat/notify" --attempts 30 --retry-ms 300 >"$T/n8.out" &
P8=$!
wait_for 15 'grep -qE "not acknowledged HTTP [45][0-9][0-9]" "$T/n8.out"' && ok || bad "injected failure was acknowledged: $(cat "$T/n8.out")"
[ "$(q "select count(*) from pay_payment where txn_id='$TX8'")" = 0 ] && ok || bad "failed delivery left a payment"
[ "$(q "select state from pay_order where out_trade_no='$O8'")" = created ] && ok || bad "failed delivery moved the order"
q "DROP TRIGGER inject_fail;"
wait $P8 && ok || bad "retry never acknowledged: $(cat "$T/n8.out")"
[ "$(credits_of $TX8)" = 1 ] && ok || bad "retry after the failure credited $(credits_of $TX8) times"
echo "injected failure: $(grep -c 'not acknowledged' "$T/n8.out") unacknowledged deliveries, then $(grep -c '^attempt.*: acknowledged' "$T/n8.out") acknowledged"

# ---- order query: the payer paid at the channel, the notification was lost ----
O10=$(order 2 700 wechat)
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O10/query")" = 200 ] &&
  grep -q '"state":"created","channel_state":"NOTPAY","credited_now":false' "$T/resp" && ok || bad "query of an unpaid order: $(cat "$T/resp")"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/WKNEVERPREPAID0000/query")" = 404 ] && ok || bad "query of an unknown order: $(cat "$T/resp")"
curl -s "$PS/sim/confirm?order=$O10&amount_fen=700" | grep -q "Confirm payment" && ok || bad "no confirm page"
curl -s -d "order=$O10&amount_fen=700&drop_notify=1" "$PS/sim/pay" >"$T/pay10.json"
grep -q '"notification":"not sent' "$T/pay10.json" && ok || bad "paysim pay: $(cat "$T/pay10.json")"
TX10=$(sed -n 's/.*"transaction_id":"\([0-9]*\)".*/\1/p' "$T/pay10.json")
[ "$(q "select state from pay_order where out_trade_no='$O10'")" = created ] && ok || bad "order moved without a notification"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O10/query")" = 200 ] &&
  grep -q '"state":"credited","channel_state":"SUCCESS","credited_now":true' "$T/resp" && ok || bad "query did not credit: $(cat "$T/resp")"
[ "$(credits_of $TX10)" = 1 ] && ok || bad "query credited $(credits_of $TX10) times"
[ "$(q "select source from pay_payment where txn_id='$TX10'")" = query ] && ok || bad "query credit not marked"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O10/query")" = 200 ] && grep -q '"credited_now":false' "$T/resp" && ok || bad "second query: $(cat "$T/resp")"
[ "$(credits_of $TX10)" = 1 ] && ok || bad "second query credited again"

# ---- reconciliation: planted discrepancies in the daily bills ----
O9=$(order 2 900 wechat) # paid at the channel, notification lost
TX1=4200000000000000000000000001
python3 - "$T/wx.csv" "$TX1:$O1:50.00" "$TX2:$O2:10.01" "4200000000000000000000000009:$O9:9.00" \
  "4200000000000000000000000010:WKNOSUCHORDER0000010:1.00" <<'PY'
import sys, time
out, rows = sys.argv[1], [a.split(":") for a in sys.argv[2:]]
day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
hdr = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
lines, total = [hdr], 0
for txn, otn, amt in rows:
    total += int(amt.replace(".", ""))
    f = [day + " 12:00:00", "wxsandbox0000001", "1900000001", "0", "", txn, otn, "openid", "NATIVE", "SUCCESS", "OTHERS", "CNY", amt, "0.00", "0", "0", "0.00", "0.00", "", "", "top-up", "", "0.00000", "0.60%", amt, "0.00", ""]
    lines.append(",".join("`" + x for x in f))
# a refund at the channel that we never booked
f = [day + " 13:00:00", "wxsandbox0000001", "1900000001", "0", "", rows[0][0], rows[0][1], "openid", "NATIVE", "REFUND", "OTHERS", "CNY", "0.00", "0.00", "50000000000000000000000001", "RF1", "0.50", "0.00", "ORIGINAL", "SUCCESS", "top-up", "", "0.00000", "0.60%", "0.00", "0.50", ""]
lines.append(",".join("`" + x for x in f))
lines.append("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额")
lines.append("`%d.0,`%d.%02d,`0.50,`0.0,`0.00,`%d.%02d,`0.50" % (len(rows) + 1, total // 100, total % 100, total // 100, total % 100))
open(out, "wb").write(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
PY
rc=0; "$BIN" reconcile --server "$H" --token-file "$T/wk.db.admin-token" --channel wechat --bill "$T/wx.csv" >"$T/r1.out" || rc=$?
[ $rc = 3 ] && ok || { cat "$T/r1.out"; bad "reconcile exit $rc, want 3 (discrepancies)"; }
expect() { grep -qx "$1" "$T/$2" && ok || { cat "$T/$2"; bad "reconcile: want $1 in $2"; }; }
expect bill_payments=4 r1.out; expect bill_refunds=1 r1.out; expect matched=1 r1.out
expect credited_from_bill=1 r1.out; expect unattributable=1 r1.out; expect unknown_to_channel=2 r1.out # TX8, TX10
expect amount_mismatch=1 r1.out; expect refunds_unmatched=1 r1.out
grep -q "unknown_to_channel txn=$TX8" "$T/r1.out" && grep -q "unknown_to_channel txn=$TX10" "$T/r1.out" && ok || bad "the payments missing from the bill are not named"
grep -q "amount_mismatch txn=$TX2" "$T/r1.out" && ok || bad "the amount mismatch is not named"
[ "$(credits_of 4200000000000000000000000009)" = 1 ] && ok || bad "paid-not-credited was not credited"
[ "$(q "select source from pay_payment where txn_id='4200000000000000000000000009'")" = reconcile ] && ok || bad "reconciliation credit not flagged"
[ "$(q "select state from pay_order where out_trade_no='$O9'")" = credited ] && ok || bad "reconciled order not credited"
# importing the same bill again changes nothing
n_before=$(q "select count(*) from ledger_transfer")
rc=0; "$BIN" reconcile --server "$H" --token-file "$T/wk.db.admin-token" --channel wechat --bill "$T/wx.csv" >"$T/r2.out" || rc=$?
expect credited_from_bill=0 r2.out; expect matched=2 r2.out
[ "$(credits_of 4200000000000000000000000009)" = 1 ] && ok || bad "second import credited again"
# (readings may book deductions meanwhile: compare payment transfers only)
[ "$(q "select count(*) from pay_payment")" = 6 ] && ok || bad "second import added payments"
# the late notification of the reconciled payment is a duplicate
"$BIN" paysim notify --dir "$T/paysim" --channel wechat --order "$O9" --amount-fen 900 --txn 4200000000000000000000000009 --url "$H/pay/wechat/notify" >/dev/null && ok || bad "late notification not acknowledged"
[ "$(credits_of 4200000000000000000000000009)" = 1 ] && ok || bad "late notification credited again"
# Alipay business bill, GBK as the channel sends it
DAY=$(python3 -c 'import time; print(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)))')
{
  printf '#支付宝业务明细查询\n#账号：[20880000000000010156]\n'
  printf '#-----------------------------------------业务明细列表----------------------------------------\n'
  printf '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n'
  printf '%s\t,%s\t,交易,电费,%s 12:00:00,%s 12:00:05,,,,,buyer,12.34,12.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,\n' $TX6 "$O6" $DAY $DAY
  printf '#-----------------------------------------业务明细列表结束------------------------------------\n'
  printf '#交易合计：1笔，商家实收共12.34元，商家优惠共0.00元\n#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元\n'
} | iconv -f UTF-8 -t GBK >"$T/ali.csv"
"$BIN" reconcile --server "$H" --token-file "$T/wk.db.admin-token" --channel alipay --bill "$T/ali.csv" >"$T/r3.out" && ok || { cat "$T/r3.out"; bad "clean alipay bill reported discrepancies"; }
expect matched=1 r3.out
printf 'not a bill\n' >"$T/junk.csv"
rc=0; "$BIN" reconcile --server "$H" --token-file "$T/wk.db.admin-token" --channel wechat --bill "$T/junk.csv" >"$T/r4.out" 2>&1 || rc=$?
[ $rc = 1 ] && ok || bad "a malformed bill was accepted"

# ---- Alipay order query (alipay.trade.query, signed both ways) ----
O12=$(order 2 600 alipay)
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O12/query")" = 404 ] && ok || bad "alipay query of an unpaid order: $(cat "$T/resp")"
curl -s -d "channel=alipay&order=$O12&amount_fen=600&drop_notify=1" "$PS/sim/pay" >"$T/pay12.json"
TX12=$(sed -n 's/.*"transaction_id":"\([0-9]*\)".*/\1/p' "$T/pay12.json")
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O12/query")" = 200 ] &&
  grep -q '"state":"credited","channel_state":"TRADE_SUCCESS","credited_now":true' "$T/resp" && ok || bad "alipay query did not credit: $(cat "$T/resp")"
[ "$(credits_of "$TX12")" = 1 ] && ok || bad "alipay query credited $(credits_of "$TX12") times"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$O12/query")" = 200 ] && grep -q '"credited_now":false' "$T/resp" && ok || bad "second alipay query: $(cat "$T/resp")"

# ---- the resident's flow: order -> prepay code_url -> confirm page -> signed notification ----
curl -sS -X POST -H "Authorization: Bearer $TOKEN" -d '{"account_id":2,"amount_fen":1500,"channel":"wechat"}' "$H/api/v1/orders" >"$T/o11.json"
O11=$(sed -n 's/.*"out_trade_no":"\([^"]*\)".*/\1/p' "$T/o11.json")
CODE_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("code_url",""))' "$T/o11.json")
[ -n "$CODE_URL" ] && ok || bad "no code_url from the prepay: $(cat "$T/o11.json")"
curl -s "$CODE_URL" | grep -q "Confirm payment" && ok || bad "code_url does not open the confirm page"
curl -s -d "order=$O11&amount_fen=1500" "$PS/sim/pay" >"$T/pay11.json"
grep -q '"notification":"acknowledged"' "$T/pay11.json" && ok || bad "sandbox notification not acknowledged: $(cat "$T/pay11.json")"
TX11=$(sed -n 's/.*"transaction_id":"\([0-9]*\)".*/\1/p' "$T/pay11.json")
[ "$(credits_of "$TX11")" = 1 ] && ok || bad "prepay flow credited $(credits_of "$TX11") times"
[ "$(q "select state from pay_order where out_trade_no='$O11'")" = credited ] && ok || bad "prepay flow order not credited"

# ---- channel refunds ----
refund() { status -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1" "$H/api/v1/refunds"; }
refunds_booked() { q "select count(*) from ledger_transfer t join pay_refund r on r.transfer_id = t.id where r.out_refund_no = '$1'"; }
[ "$(status -X POST -d "{\"out_trade_no\":\"$O11\",\"amount_fen\":500,\"out_refund_no\":\"RF11a\",\"operator\":\"li\",\"reason\":\"x\"}" "$H/api/v1/refunds")" = 401 ] && ok || bad "refund without token accepted"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":500,\"out_refund_no\":\"RF11a\",\"reason\":\"x\"}")" = 400 ] &&
  grep -q '"field":"operator"' "$T/resp" && ok || bad "refund without operator: $(cat "$T/resp")"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":1501,\"out_refund_no\":\"RF11a\",\"operator\":\"li\",\"reason\":\"x\"}")" = 400 ] &&
  grep -q '"field":"amount_fen"' "$T/resp" && ok || bad "refund above the order: $(cat "$T/resp")"
[ "$(refund "{\"out_trade_no\":\"$O1\",\"amount_fen\":100,\"out_refund_no\":\"RF1\",\"operator\":\"li\",\"reason\":\"x\"}")" = 502 ] && ok || bad "a refund the channel refuses (order unknown to it): $(cat "$T/resp")"
[ "$(q 'select count(*) from pay_refund')" = 0 ] && ok || bad "refused refunds were booked"
W2=$(q "select credits_fen - debits_fen from ledger_account where id = (select wallet_account_id from account where id = 2)")
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":500,\"out_refund_no\":\"RF11a\",\"operator\":\"li\",\"reason\":\"tenant asked\"}")" = 201 ] &&
  grep -q '"status":"SUCCESS"' "$T/resp" && grep -q '"existed":false' "$T/resp" && ok || bad "wechat refund: $(cat "$T/resp")"
RID=$(sed -n 's/.*"refund_id":"\([0-9]*\)".*/\1/p' "$T/resp")
[ -n "$RID" ] && [ "$(q "select refund_id from pay_refund where out_refund_no = 'RF11a'")" = "$RID" ] && ok || bad "channel refund id not recorded"
[ "$(refunds_booked RF11a)" = 1 ] && ok || bad "wechat refund booked $(refunds_booked RF11a) times"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":500,\"out_refund_no\":\"RF11a\",\"operator\":\"li\",\"reason\":\"tenant asked\"}")" = 200 ] &&
  grep -q '"existed":true' "$T/resp" && grep -q "\"refund_id\":\"$RID\"" "$T/resp" && ok || bad "repeated refund: $(cat "$T/resp")"
[ "$(refunds_booked RF11a)" = 1 ] && ok || bad "repeated refund booked again"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":700,\"out_refund_no\":\"RF11a\",\"operator\":\"li\",\"reason\":\"x\"}")" = 409 ] &&
  grep -q '"field":"out_refund_no"' "$T/resp" && ok || bad "out_refund_no reused for another amount: $(cat "$T/resp")"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":1000,\"out_refund_no\":\"RF11b\",\"operator\":\"li\",\"reason\":\"rest\"}")" = 201 ] && ok || bad "second partial refund: $(cat "$T/resp")"
[ "$(refund "{\"out_trade_no\":\"$O11\",\"amount_fen\":1,\"out_refund_no\":\"RF11c\",\"operator\":\"li\",\"reason\":\"x\"}")" = 400 ] && ok || bad "refund beyond the order's remainder: $(cat "$T/resp")"
[ "$(q "select credits_fen - debits_fen from ledger_account where id = (select wallet_account_id from account where id = 2)")" -le $((W2 - 1500)) ] && ok || bad "wallet not debited by the refunds"
[ "$(refund "{\"out_trade_no\":\"$O12\",\"amount_fen\":600,\"out_refund_no\":\"AR12\",\"operator\":\"li\",\"reason\":\"duplicate top-up\"}")" = 201 ] &&
  grep -q "\"refund_id\":\"$TX12:AR12\"" "$T/resp" && ok || bad "alipay refund: $(cat "$T/resp")"
[ "$(refunds_booked AR12)" = 1 ] && ok || bad "alipay refund booked $(refunds_booked AR12) times"
[ "$(refund "{\"out_trade_no\":\"$O12\",\"amount_fen\":600,\"out_refund_no\":\"AR12\",\"operator\":\"li\",\"reason\":\"duplicate top-up\"}")" = 200 ] && ok || bad "repeated alipay refund: $(cat "$T/resp")"
[ "$(q 'select count(*) from pay_refund')" = 3 ] && ok || bad "refund rows: $(q 'select count(*) from pay_refund')"

# ---- counter payments, refunds, move-out settlement ----
post() { status -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1" "$H/api/v1/counter/$2"; }
CP='{"account_id":2,"amount_fen":3000,"method":"cash","operator":"li","reason":"paid at the office","id":"0123456789abcdef0123456789abcdef"}'
[ "$(post "$CP" payments)" = 201 ] && ok || bad "counter payment: $(cat "$T/resp")"
[ "$(post "$CP" payments)" = 200 ] && grep -q '"existed":true' "$T/resp" && ok || bad "repeated counter payment not idempotent"
[ "$(post '{"account_id":2,"amount_fen":3000,"method":"cash","operator":"","reason":"x","id":"0123456789abcdef0123456789abcdee"}' payments)" = 400 ] &&
  grep -q '"field":"operator"' "$T/resp" && ok || bad "counter payment without operator accepted"
[ "$(post '{"account_id":2,"amount_fen":500,"method":"cash","operator":"li","reason":"overpaid","id":"1123456789abcdef0123456789abcdef"}' refunds)" = 201 ] && ok || bad "refund: $(cat "$T/resp")"
[ "$(post '{"account_id":2,"amount_fen":99999999,"method":"cash","operator":"li","reason":"too much","id":"2123456789abcdef0123456789abcdef"}' refunds)" = 409 ] && ok || bad "over-refund not refused: $(cat "$T/resp")"
[ "$(q "select count(*) from pay_counter")" = 2 ] && ok || bad "refused counter actions left rows"
# move-out of account 1 after its meter's last report: stop the meters first
kill -9 "${pids[2]}" 2>/dev/null || true
sleep 1
[ "$(post '{"account_id":1,"method":"cash","operator":"li","reason":"moved out"}' settlements)" = 201 ] && ok || bad "settlement: $(cat "$T/resp")"
SETTLED=$(sed -n 's/.*"settled_fen":\([0-9]*\).*/\1/p' "$T/resp")
[ "$(q "select status from account where id = 1")" = closed ] && ok || bad "settled account not closed"
[ "$(q "select credits_fen - debits_fen from ledger_account where id = (select wallet_account_id from account where id = 1)")" = 0 ] && ok || bad "settled wallet not empty"
[ "$(q "select credits_fen - debits_fen from ledger_account where name = 'refund:cash'")" = $((500 + SETTLED)) ] && ok || bad "refund:cash differs"
[ "$(post '{"account_id":1,"method":"cash","operator":"li","reason":"again"}' settlements)" = 409 ] && ok || bad "second settlement not refused"
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" -d '{"account_id":1,"amount_fen":5000,"channel":"wechat"}' "$H/api/v1/orders")" = 409 ] && ok || bad "order for a closed account accepted"
echo "move-out settlement refunded $SETTLED fen"

# ---- money ----
"$BIN" ledger verify --db "$T/wk.db" --log-key-file "$T/wk.db.logkey" >"$T/verify.out" 2>&1 && ok || { cat "$T/verify.out"; bad "ledger verify failed"; }
[ "$(q "select debits_fen - credits_fen from ledger_account where name='clearing:wechat'")" = $((5000 + 1000 + 800 + 700 + 900 + 1500 - 1500)) ] && ok || bad "clearing:wechat differs from the credits"
[ "$(q "select debits_fen - credits_fen from ledger_account where name='clearing:alipay'")" = $((1234 + 600 - 600)) ] && ok || bad "clearing:alipay differs from the credits"
[ "$(q "select count(*) from pay_payment")" = 8 ] && ok || bad "payments: $(q 'select count(*) from pay_payment')"

echo "pay_serve_test: $passes passed, $fails failed"
[ $fails = 0 ]
