#!/usr/bin/env bash
# serve_test.sh - the main loop end to end with real parts: a private mosquitto with
# per-meter credentials and ACLs (scripts/broker), `wattkeeper serve` on an SQLite file, and
# `wattkeeper sim` with 24 meters at 60x. Checks:
#   - a zero-balance account trips at start; `wattkeeper credit` closes it and the close is
#     confirmed by the meter (status word 3), and the credit -> close latency is measured;
#   - every wallet = opening + credits - deductions, and the deductions of each meter equal
#     what `wattkeeper rate` computes for the same stored readings, to the fen;
#   - warnings at most once per level per account;
#   - restarting mosquitto and kill -9 of serve mid-run lose no energy and no money:
#     registers stay continuous, `ledger verify` passes, the money identity still holds;
#   - a forged command (bad MAC) injected on a down topic is refused by the meter and the
#     refusal is recorded as a foreign_command event.
source "${WK_SOURCE_DIR:?}/tests/e2e_lib.sh"

METERS=24 FIRST=240000000001 MASTER=serve-test-master
start_broker $METERS $FIRST $MASTER

# registry: one community, 2 buildings of homes and a row of shops; account 1 starts at 0.00
python3 - "$T/seed.json" $METERS $FIRST <<'PY'
import json, sys
path, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
units = {"B1": [], "B2": [], "Shops": []}
for i in range(n):
    b = "Shops" if i % 4 == 3 else ("B1" if i % 2 == 0 else "B2")
    units[b].append({"name": f"U{i + 1:03d}", "kind": "shop" if b == "Shops" else "home",
                     "meter": {"address": f"{first + i:012d}", "close_mode": "direct"},
                     "account": {"holder": f"holder {i + 1}", "kind": "tenant" if b == "Shops" else "resident",
                                 "balance": "0.00" if i == 0 else ("0.05" if i % 5 == 1 else "80.00")}})
doc = {"communities": [{"name": "Lakeside", "tariff": "zhejiang-residential",
        "buildings": [{"name": k, "units": v} for k, v in units.items()]}]}
open(path, "w").write(json.dumps(doc))
PY
"$BIN" seed --db "$T/wk.db" --master-key $MASTER --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
# seeding twice is harmless
"$BIN" seed --db "$T/wk.db" --master-key $MASTER --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
[ "$(q 'select count(*) from account')" = $METERS ] && ok || bad "seed twice created extra accounts"

cat >"$T/wk.ini" <<INI
[server]
db = $T/wk.db
http_listen = 127.0.0.1:0
data_dir = $T
log_level = info
[mqtt]
host = 127.0.0.1
port = $BPORT
username = headend
password = $HPW
client_id = wk-serve-test
keepalive = 10s
reconnect_min = 200ms
reconnect_max = 2s
[headend]
report_interval = 60s
tariff_dir = $SRC/examples/tariffs
command_deadline = 30s
command_retry_base = 1s
[policy]
friendly_from = 00:00
friendly_to = 00:00
friendly_weekends = false
[ledger]
key_file = $T/wk.db.logkey
checkpoint_interval = 2s
INI

start_serve() {
  "$BIN" serve --config "$T/wk.ini" >"$T/serve.out" 2>>"$T/serve.log" &
  SERVE=$!
  pids+=($SERVE)
  wait_for 20 'grep -q "http://" "$T/serve.out"' || { cat "$T/serve.log"; bad "serve did not start"; exit 1; }
  HPORT=$(sed -n 's|.*http://[0-9.]*:\([0-9]*\)/.*|\1|p' "$T/serve.out" | tail -1)
}
start_serve
# the simulated clock starts a day back at 10:00 on a weekday so shops are busy and meter
# clocks stay behind the platform's (command deadlines are platform time)
SIMSTART=$(python3 -c 'import time; t=int(time.time())-86400; d=(t+28800)//86400; print(d*86400-28800+10*3600)')
"$BIN" sim --broker 127.0.0.1:$BPORT --meters $METERS --first-address $FIRST --key $MASTER \
  --speed 60 --interval 60 --start $SIMSTART --seed 3 --vacant 0 --anomalous 0 \
  >"$T/sim.out" 2>"$T/sim.err" &
SIM=$!
pids+=($SIM)

A1=$(printf '%012d' $FIRST)
# account 1 (0.00) trips at start, confirmed by the meter
wait_for 30 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = tripped ]" && ok || bad "zero-balance meter did not trip"
[ "$(q "select state from command where meter_id=(select id from meter where address='$A1') order by id desc limit 1")" = confirmed ] && ok || bad "trip not confirmed"
curl -fsS "http://127.0.0.1:$HPORT/healthz" | grep -q '"status":"ok"' && ok || bad "healthz not ok"

# credit closes it through serve; the same id again books once
ID=00112233445566778899aabbccddeeff
"$BIN" credit --server http://127.0.0.1:$HPORT --token-file "$T/wk.db.admin-token" --account 1 --amount 50.00 --id $ID >/dev/null && ok || bad "credit failed"
"$BIN" credit --server http://127.0.0.1:$HPORT --token-file "$T/wk.db.admin-token" --account 1 --amount 50.00 --id $ID | grep -q '"existed":true' && ok || bad "repeated credit not idempotent"
wait_for 15 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = closed ]" && ok || bad "credit did not close the relay"
[ "$(q "select state from command where meter_id=(select id from meter where address='$A1') and action='close'")" = confirmed ] && ok || bad "close not confirmed"
LAT=$(q "select done_ms - cause_ms from command where meter_id=(select id from meter where address='$A1') and action='close'")
echo "credit -> confirmed close: ${LAT} ms"
# a wrong token is refused
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' -d '{}' "http://127.0.0.1:$HPORT/api/v1/accounts/1/credits")
[ "$code" = 401 ] && ok || bad "wrong token gave $code"

# forged command on a down topic (the head-end's credentials, a wrong key): refused
FORGED=$("$BIN" dlt645 encode relay trip --addr $A1 --key 00000000000000000000000000000000 --counter 999999 --deadline 2099-01-01T00:00:00 2>/dev/null || true)
if [ -n "$FORGED" ]; then
  python3 -c 'import sys; open(sys.argv[1],"wb").write(bytes.fromhex(sys.argv[2]))' "$T/forged.bin" "$FORGED"
  mosquitto_pub -h 127.0.0.1 -p $BPORT -u headend -P $HPW -q 1 -t "wk/m/$A1/down" -f "$T/forged.bin"
  wait_for 10 "[ \"\$(q \"select count(*) from event where kind='foreign_command'\")\" -ge 1 ]" && ok || bad "forged command not recorded"
  [ "$(q "select relay from meter where address='$A1'")" = closed ] && ok || bad "forged command changed the relay"
else
  bad "dlt645 encode relay is unavailable"
fi

# let meters report, then restart the broker and kill -9 serve mid-run
sleep 6
"$SRC/scripts/broker" stop "$T/broker" >/dev/null
sleep 1
"$SRC/scripts/broker" start "$T/broker" --meters $METERS --first-address $FIRST --master $MASTER --port $BPORT >/dev/null
sleep 4
kill -9 $SERVE
sleep 2
start_serve
sleep 8
kill -TERM $SIM
wait $SIM 2>/dev/null || true
sleep 2
kill -TERM $SERVE
wait $SERVE && ok || bad "serve did not stop cleanly on SIGTERM"

# money and energy
"$BIN" ledger verify --db "$T/wk.db" --log-key-file "$T/wk.db.logkey" >"$T/verify.out" 2>&1 && ok || { cat "$T/verify.out"; bad "ledger verify failed"; }
R=$(q "select count(*) from reading")
[ "$R" -gt $((METERS * 5)) ] && ok || bad "only $R readings stored"
# wallet = opening + credits - deductions, per account
bad_acc=$(q "
  select count(*) from account a join ledger_account w on w.id = a.wallet_account_id
  where (w.credits_fen - w.debits_fen) <> (
    (select coalesce(sum(amount_fen),0) from ledger_transfer where credit_account_id = w.id) -
    (select coalesce(sum(deduction_fen),0) from reading where account_id = a.id))")
[ "$bad_acc" = 0 ] && ok || bad "$bad_acc wallets differ from credits - deductions"
# deductions = wattkeeper rate on the same readings, meter by meter
mismatch=0
for i in $(seq 0 $((METERS - 1))); do
  A=$(printf '%012d' $((FIRST + i)))
  {
    echo "time,meter,total_kwh,t1_kwh,t2_kwh,t3_kwh,t4_kwh"
    q "select strftime('%Y-%m-%dT%H:%M:%S+08:00', time_s + 28800, 'unixepoch') || ',$A,' ||
              (total_wh/1000) || '.' || printf('%03d', total_wh%1000) || ',' ||
              (t1_wh/1000) || '.' || printf('%03d', t1_wh%1000) || ',' ||
              (t2_wh/1000) || '.' || printf('%03d', t2_wh%1000) || ',' ||
              (t3_wh/1000) || '.' || printf('%03d', t3_wh%1000) || ',' ||
              (t4_wh/1000) || '.' || printf('%03d', t4_wh%1000)
       from reading where meter_id = (select id from meter where address='$A') order by total_wh"
  } >"$T/r.csv"
  got=$(q "select coalesce(sum(deduction_fen),0) from reading where meter_id=(select id from meter where address='$A')")
  want=$("$BIN" rate --json --tariff "$SRC/examples/tariffs/zhejiang-residential.json" --readings "$T/r.csv" 2>/dev/null |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["total_fen"])')
  [ "$got" = "$want" ] || { echo "meter $A: booked $got, rate says $want"; mismatch=$((mismatch + 1)); }
done
[ $mismatch = 0 ] && ok || bad "$mismatch meters booked differently from wattkeeper rate"
# warnings: at most one per level per account (no top-up in between except account 1)
dup=$(q "select count(*) from (select account_id, kind, count(*) c from event where kind in ('warn1','warn2') group by 1,2 having c > 1)")
[ "$dup" = 0 ] && ok || bad "$dup repeated warnings"
# accounts that started at 0.05 ran out and tripped (at least one)
tripped=$(q "select count(*) from command where action='trip' and state='confirmed'")
[ "$tripped" -ge 2 ] && ok || bad "only $tripped confirmed trips"
echo "readings=$R trips_confirmed=$tripped"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
