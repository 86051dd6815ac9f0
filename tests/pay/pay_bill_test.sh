#!/usr/bin/env bash
# pay_bill_test.sh - the daily bills `wattkeeper paysim bill` writes from what `paysim serve`
# processed reconcile clean against serve:
#   - WeChat: orders -> prepay -> confirm with the notification dropped -> credited by the
#     order query, a partial channel refund booked through POST /api/v1/refunds; the
#     tradebill CSV (BOM, CRLF, backticks, summary) has every payment and the refund, and
#     `wattkeeper reconcile` reports everything matched (the refund too), exit 0;
#   - Alipay: the same with the GBK business bill;
#   - Alipay precreate: an order's answer carries the qr_code of the signed
#     alipay.trade.precreate answer; it opens the payer's page; paid, the order is
#     credited with the precreate's amount;
#   - `wattkeeper ledger verify` passes.
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
client_id = wk-pay-bill-test
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

order() { # order ACCOUNT AMOUNT_FEN CHANNEL -> out_trade_no
  curl -sS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"account_id\":$1,\"amount_fen\":$2,\"channel\":\"$3\"}" "$H/api/v1/orders" |
    sed -n 's/.*"out_trade_no":"\([^"]*\)".*/\1/p'
}
status() { curl -s -o "$T/resp" -w '%{http_code}' "$@"; }
refund() { status -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$1" "$H/api/v1/refunds"; }
DAY=$(python3 -c 'import time; print(time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)))')
rec() { # rec CHANNEL FILE OUT -> exit status
  local rc=0
  "$BIN" reconcile --server "$H" --token-file "$T/wk.db.admin-token" --channel "$1" --bill "$2" >"$T/$3" 2>&1 || rc=$?
  return $rc
}
want() { grep -qx "$1" "$T/$2" && ok || { cat "$T/$2"; bad "want $1 in $2"; }; }

for CH in wechat alipay; do
  W1=$(order 2 1200 $CH); W2=$(order 2 800 $CH); W3=$(order 2 500 $CH)
  for W in "$W1:1200" "$W2:800" "$W3:500"; do
    curl -s -d "channel=$CH&order=${W%%:*}&amount_fen=${W##*:}&drop_notify=1" "$PS/sim/pay" >/dev/null
    [ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/${W%%:*}/query")" = 200 ] && ok || bad "$CH query: $(cat "$T/resp")"
  done
  [ "$(q "select count(*) from pay_order where out_trade_no in ('$W1','$W2','$W3') and state = 'credited'")" = 3 ] && ok || bad "$CH orders not all credited: $(q "select out_trade_no, state from pay_order")"
  [ "$(refund "{\"out_trade_no\":\"$W1\",\"amount_fen\":200,\"out_refund_no\":\"${CH}R1\",\"operator\":\"li\",\"reason\":\"partial\"}")" = 201 ] && ok || bad "$CH refund: $(cat "$T/resp")"
  "$BIN" paysim bill --dir "$T/paysim" --channel $CH --date "$DAY" --out "$T/$CH.bill" >"$T/$CH.bill.out" && ok || bad "$CH paysim bill failed"
  grep -q "3 payments, 1 refunds" "$T/$CH.bill.out" && ok || bad "$CH bill: $(cat "$T/$CH.bill.out")"
  rec $CH "$T/$CH.bill" $CH.r1 && ok || bad "$CH bill did not reconcile clean"
  want bill_payments=3 $CH.r1; want bill_refunds=1 $CH.r1; want matched=4 $CH.r1; want refunds_unmatched=0 $CH.r1
  want unknown_to_channel=0 $CH.r1; want credited_from_bill=0 $CH.r1
done
# Alipay precreate: the order's answer carries the signed qr_code, which opens the payer's page
curl -sS -X POST -H "Authorization: Bearer $TOKEN" -d '{"account_id":2,"amount_fen":700,"channel":"alipay"}' "$H/api/v1/orders" >"$T/qr.json"
QO=$(sed -n 's/.*"out_trade_no":"\([^"]*\)".*/\1/p' "$T/qr.json")
QR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("qr_code",""))' "$T/qr.json")
[ -n "$QO" ] && case "$QR" in *"order=$QO&amount_fen=700"*) true ;; *) false ;; esac && ok || bad "no qr_code from precreate: $(cat "$T/qr.json")"
curl -s "$QR" | grep -q "Confirm payment" && ok || bad "qr_code does not open the confirm page"
curl -s -d "channel=alipay&order=$QO&amount_fen=1&drop_notify=1" "$PS/sim/pay" >/dev/null
[ "$(status -X POST -H "Authorization: Bearer $TOKEN" "$H/api/v1/orders/$QO/query")" = 200 ] && ok || bad "precreated order query: $(cat "$T/resp")"
[ "$(q "select amount_fen from pay_payment where out_trade_no = '$QO'")" = 700 ] && ok || bad "precreated order not credited with the precreate's amount"
grep -q "precreate failed" "$T/serve.log" && bad "precreate failed: $(grep 'precreate failed' "$T/serve.log")" || ok
head -c 3 "$T/wechat.bill" | od -An -tx1 | grep -q "ef bb bf" && ok || bad "wechat bill without BOM"
grep -q '^`' "$T/wechat.bill" && grep -q $'\r$' "$T/wechat.bill" && ok || bad "wechat bill without backticks/CRLF"
iconv -f GBK -t UTF-8 "$T/alipay.bill" | grep -q '^#交易合计：3笔' && ok || bad "alipay bill is not GBK with its footer"
! grep -q '交易合计' "$T/alipay.bill" && ok || bad "alipay bill is UTF-8"
"$BIN" ledger verify --db "$T/wk.db" --log-key-file "$T/wk.db.logkey" >"$T/verify.out" 2>&1 && ok || { cat "$T/verify.out"; bad "ledger verify failed"; }

echo "pay_bill_test: $passes passed, $fails failed"
[ $fails = 0 ]
