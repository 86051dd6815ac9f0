#!/usr/bin/env bash
# notify_test.sh - notifications end to end with real parts: a private mosquitto
# (scripts/broker), `wattkeeper serve` with [notify] on, `wattkeeper sim`, and local
# receivers (tests/notify/receivers.py): an HTTP server that checks the webhook and SMS
# signatures and plays a WeChat API, and an aiosmtpd SMTP server that requires STARTTLS.
# Checks:
#   - a resident whose balance crosses both warning levels, trips and tops up
#     (`wattkeeper credit` through serve) gets exactly warn1, warn2, trip, credit, close,
#     in that order, on the webhook (en) and by e-mail (zh-CN, over STARTTLS);
#   - the webhook fails its first requests (503) and recovers: each message is accepted
#     once, and a failing message holds back the later ones (order kept);
#   - a staff contact of the community gets the foreign_command alert by SMS (signed);
#   - a WeChat contact gets a top-up receipt as a template message;
#   - kill -9 of serve while a webhook request is in flight loses nothing: after a restart
#     every notification is sent and the receiver accepted every key (a resend carries the
#     same Idempotency-Key);
#   - /metrics counts notifications by channel and outcome.
source "${WK_SOURCE_DIR:?}/tests/e2e_lib.sh"
PY=/usr/bin/python3 # Debian's, with python3-aiosmtpd
jcol() { # jcol FILE FIELD [FILTER-EXPR]: one value per line of a JSON-lines file
  "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if eval(sys.argv[3] if len(sys.argv) > 3 else "True", {}, {"o": o}):
        print(o.get(sys.argv[2]))' "$@" 2>/dev/null || true
}

"$PY" -c 'import aiosmtpd' || { echo "python3-aiosmtpd missing (scripts/setup)"; exit 1; }

# receivers
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
echo 3 >"$T/fail_hook" # the webhook fails its first 3 requests, then recovers
"$PY" "$SRC/tests/notify/receivers.py" "$T" hook-secret-1 sms-secret-2 wxapp1 wxsecret3 \
  >"$T/receivers.log" 2>&1 &
pids+=($!)
wait_for 15 '[ -f "$T/ports" ]' || { cat "$T/receivers.log"; bad "receivers did not start"; exit 1; }
RPORT=$(sed -n 's/.*http=\([0-9]*\).*/\1/p' "$T/ports")
SPORT=$(sed -n 's/.*smtp=\([0-9]*\).*/\1/p' "$T/ports")

METERS=3 FIRST=250000000001 MASTER=notify-test-master
start_broker $METERS $FIRST $MASTER

# account 1 starts just above the first warning level
"$PY" - "$T/seed.json" $METERS $FIRST <<'PY'
import json, sys
path, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
units = [{"name": f"U{i + 1:02d}", "kind": "home",
          "meter": {"address": f"{first + i:012d}", "close_mode": "direct"},
          "account": {"holder": f"holder {i + 1}", "kind": "resident",
                      "balance": "0.60" if i == 0 else "80.00"}} for i in range(n)]
doc = {"communities": [{"name": "Riverside", "tariff": "zhejiang-residential-flat",
        "buildings": [{"name": "B7", "units": units}]}]}
open(path, "w").write(json.dumps(doc))
PY
"$BIN" seed --db "$T/wk.db" --master-key $MASTER --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
N="$BIN notify contact --db $T/wk.db"
$N --account 1 --channel webhook --address "http://127.0.0.1:$RPORT/hook" --lang en >/dev/null && ok || bad "webhook contact"
$N --account 1 --channel email --address resident1@example.com --lang zh-CN >/dev/null && ok || bad "email contact"
$N --account 2 --channel wechat --address oWX-openid-2 --lang zh-CN >/dev/null && ok || bad "wechat contact"
$N --community Riverside --channel sms --address +8613800000000 --lang zh-CN >/dev/null && ok || bad "staff contact"
# bad contacts are refused
$N --account 1 --channel email --address not-an-address 2>/dev/null && bad "bad e-mail accepted" || ok
$N --account 1 --channel webhook --address "http://127.0.0.1:$RPORT/hook" 2>/dev/null && bad "duplicate contact accepted" || ok
$N --community Nowhere --channel sms --address 123 2>/dev/null && bad "unknown community accepted" || ok

cat >"$T/wk.ini" <<INI
[server]
db = $T/wk.db
http_listen = 127.0.0.1:0
data_dir = $T
[mqtt]
host = 127.0.0.1
port = $BPORT
username = headend
password = $HPW
client_id = wk-notify-test
keepalive = 10s
reconnect_min = 200ms
reconnect_max = 2s
[headend]
report_interval = 60s
tariff_dir = $SRC/examples/tariffs
[policy]
warn1 = 0.40
warn2 = 0.20
hysteresis = 0.10
friendly_from = 00:00
friendly_to = 00:00
friendly_weekends = false
[ledger]
key_file = $T/wk.db.logkey
[notify]
enabled = true
templates_dir = $SRC/examples/notify/templates
poll_interval = 100ms
retry_base = 200ms
retry_max = 2s
max_attempts = 10
send_timeout = 5s
webhook_secret = hook-secret-1
smtp_url = smtp://127.0.0.1:$SPORT
smtp_from = power@riverside.example
smtp_starttls = true
smtp_ca_file = $T/cert.pem
sms_url = http://127.0.0.1:$RPORT/sms
sms_key_id = riverside
sms_secret = sms-secret-2
wechat_base_url = http://127.0.0.1:$RPORT
wechat_appid = wxapp1
wechat_secret = wxsecret3
INI

start_serve() {
  "$BIN" serve --config "$T/wk.ini" >"$T/serve.out" 2>>"$T/serve.log" &
  SERVE=$!
  pids+=($SERVE)
  wait_for 20 'grep -q "http://" "$T/serve.out"' || { cat "$T/serve.log"; bad "serve did not start"; exit 1; }
  HPORT=$(sed -n 's|.*http://[0-9.]*:\([0-9]*\)/.*|\1|p' "$T/serve.out" | tail -1)
}
start_serve
SIMSTART=$("$PY" -c 'import time; t=int(time.time())-86400; d=(t+28800)//86400; print(d*86400-28800+10*3600)')
"$BIN" sim --broker 127.0.0.1:$BPORT --meters $METERS --first-address $FIRST --key $MASTER \
  --speed 300 --interval 60 --start $SIMSTART --seed 5 --vacant 0 --shops 0 --anomalous 0 \
  >"$T/sim.out" 2>"$T/sim.err" &
SIM=$!
pids+=($SIM)

A1=$(printf '%012d' $FIRST)
wait_for 150 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = tripped ]" && ok || bad "account 1 did not trip"
CREDIT="$BIN credit --server http://127.0.0.1:\$HPORT --token-file $T/wk.db.admin-token"
eval "$CREDIT" --account 1 --amount 50.00 --id 00000000000000000000000000000101 >/dev/null && ok || bad "credit 1 failed"
wait_for 20 "[ \"\$(q \"select relay from meter where address='$A1'\")\" = closed ]" && ok || bad "credit did not close the relay"

# the resident's five messages, in order, on both channels
WANT="warn1 warn2 trip credit close"
wait_for 30 "[ \"\$(jcol $T/hook.jsonl event 'o[\"status\"] == 200' | tr '\n' ' ')\" = \"$WANT \" ]" && ok ||
  bad "webhook got '$(jcol $T/hook.jsonl event 'o["status"] == 200' | tr '\n' ' ')', want '$WANT'"
wait_for 20 "[ \"\$(jcol $T/mail.jsonl event | tr '\n' ' ')\" = \"$WANT \" ]" && ok ||
  bad "e-mail got '$(jcol $T/mail.jsonl event | tr '\n' ' ')', want '$WANT'"
# the failing receiver: 3 refusals of the first message, then each message accepted once
[ "$(jcol $T/hook.jsonl event 'o["status"] == 503' | tr '\n' ' ')" = "warn1 warn1 warn1 " ] && ok ||
  bad "503s went to '$(jcol $T/hook.jsonl event 'o["status"] == 503' | tr '\n' ' ')' (want warn1 x3: later messages wait)"
[ "$(jcol $T/hook.jsonl key 'o["status"] == 200' | sort | uniq -d | wc -l)" = 0 ] && ok || bad "a webhook message was accepted twice"
[ "$(jcol $T/hook.jsonl key 'o["status"] == 401' | wc -l)" = 0 ] && ok || bad "a webhook signature did not verify"
[ "$(q "select attempts from notification where kind='warn1' and channel='webhook'")" = 4 ] && ok || bad "warn1 webhook attempts != 4"
# content: English wording on the webhook, Chinese over STARTTLS by e-mail, Message-ID = key
jcol $T/hook.jsonl text 'o["event"] == "warn2" and o["status"] == 200' | grep -q 'down to ¥0\.[0-9][0-9]' && ok || bad "warn2 text: $(jcol $T/hook.jsonl text 'o["event"] == "warn2"')"
jcol $T/hook.jsonl subject 'o["event"] == "credit" and o["status"] == 200' | grep -q 'Top-up received: ¥50.00' && ok || bad "receipt subject"
jcol $T/mail.jsonl subject 'o["event"] == "credit"' | grep -q '充值成功：50.00 元' && ok || bad "zh-CN receipt subject: $(jcol $T/mail.jsonl subject)"
jcol $T/mail.jsonl text 'o["event"] == "trip"' | grep -q '余额不足' && ok || bad "zh-CN trip text"
[ "$(jcol $T/mail.jsonl tls | sort -u)" = True ] && ok || bad "e-mail not over STARTTLS"
MID=$(q "select '<' || idem_key || '@riverside.example>' from notification where kind='credit' and channel='email'")
jcol $T/mail.jsonl message_id 'o["event"] == "credit"' | grep -qx "$MID" && ok || bad "Message-ID is not the idempotency key"

# staff alert by SMS: a forged command moves nothing and is reported as foreign_command
FORGED=$("$BIN" dlt645 encode relay trip --addr $A1 --key 00000000000000000000000000000000 --counter 999999 --deadline 2099-01-01T00:00:00 2>/dev/null || true)
"$PY" -c 'import sys; open(sys.argv[1],"wb").write(bytes.fromhex(sys.argv[2]))' "$T/forged.bin" "$FORGED"
mosquitto_pub -h 127.0.0.1 -p $BPORT -u headend -P $HPW -q 1 -t "wk/m/$A1/down" -f "$T/forged.bin"
wait_for 20 "jcol $T/sms.jsonl event | grep -q foreign_command" && ok || bad "no foreign_command SMS to staff"
[ "$(jcol $T/sms.jsonl ok | sort -u)" = True ] && ok || bad "an SMS signature did not verify"
jcol $T/sms.jsonl text 'o["event"] == "foreign_command"' | grep -q "电表 $A1" && ok || bad "staff SMS text"

# WeChat receipt for account 2
eval "$CREDIT" --account 2 --amount 12.34 --id 00000000000000000000000000000201 >/dev/null && ok || bad "credit 2 failed"
wait_for 20 "jcol $T/wechat.jsonl template_id | grep -q wk-receipt" && ok || bad "no WeChat receipt"
jcol $T/wechat.jsonl first | grep -q '充值成功：12.34 元' && ok || bad "WeChat receipt text"
[ "$(jcol $T/wechat.jsonl touser | sort -u)" = oWX-openid-2 ] && ok || bad "WeChat receipt went elsewhere"

# metrics by channel and outcome (of this process: counters start again after the kill -9 below)
M=$(curl -fsS "http://127.0.0.1:$HPORT/metrics")
# (grep reads a here-string: `echo "$M" | grep -q` under pipefail fails when grep stops early)
grep -q '^wk_notifications_total{channel="email",outcome="sent"} [1-9]' <<<"$M" && ok || bad "no email sent metric"
grep -q '^wk_notifications_total{channel="webhook",outcome="retry"} [1-9]' <<<"$M" && ok || bad "no webhook retry metric"

# kill -9 mid-delivery: the webhook answers slowly; kill serve while a request is in flight
echo 3 >"$T/slow_hook"
before=$(jcol $T/hook.jsonl key | wc -l)
starts=$(wc -l <"$T/hook_start.jsonl")
eval "$CREDIT" --account 1 --amount 1.00 --id 00000000000000000000000000000102 >/dev/null && ok || bad "credit 3 failed"
eval "$CREDIT" --account 1 --amount 2.00 --id 00000000000000000000000000000103 >/dev/null && ok || bad "credit 4 failed"
wait_for 20 "[ \$(wc -l <$T/hook_start.jsonl) -gt $starts ]" || bad "no webhook request in flight"
kill -9 $SERVE
wait $SERVE 2>/dev/null || true
INFLIGHT=$(jcol $T/hook_start.jsonl key | tail -1)
echo 0 >"$T/slow_hook"
start_serve
wait_for 40 "[ \"\$(q \"select count(*) from notification where state <> 'sent'\")\" = 0 ]" && ok ||
  bad "unsent after kill -9: $(q "select id, kind, channel, state, attempts, last_error from notification where state <> 'sent'")"
# every event that reaches a contact has its rows (nothing lost between event and outbox)
missing=$(q "select count(*) from event e where e.kind in ('warn1','warn2','decide_trip','decide_close','credit')
             and e.account_id = 1 and (select count(*) from notification n where n.event_id = e.id) <> 2")
[ "$missing" = 0 ] && ok || bad "$missing resident events without their 2 notifications"
# the receiver accepted every webhook key, each once counted by key
keys_db=$(q "select idem_key from notification where channel='webhook' order by 1" | tr '\n' ' ')
keys_rx=$(jcol $T/hook.jsonl key 'o["status"] == 200' | sort -u | tr '\n' ' ')
[ "$keys_db" = "$keys_rx" ] && ok || bad "webhook keys differ: db '$keys_db' receiver '$keys_rx'"
[ "$(jcol $T/hook.jsonl event 'o["status"] == 200 and not o["dup"]' | tr '\n' ' ')" = "$WANT credit credit " ] && ok ||
  bad "webhook sequence after kill -9: $(jcol $T/hook.jsonl event 'o["status"] == 200 and not o["dup"]' | tr '\n' ' ')"
[ "$(jcol $T/hook_start.jsonl key | grep -c "^$INFLIGHT\$")" -ge 2 ] && ok || bad "the message in flight at kill -9 was not resent with its key"
echo "webhook requests: $(jcol $T/hook.jsonl key | wc -l) ($(jcol $T/hook.jsonl key 'o.get("dup")' | wc -l) resends of a delivered key)"


kill -TERM $SIM; wait $SIM 2>/dev/null || true
kill -TERM $SERVE
wait $SERVE && ok || bad "serve did not stop cleanly"
grep -q 'hook-secret-1\|sms-secret-2\|wxsecret3' "$T/serve.log" && bad "a secret reached the log" || ok
echo "$passes passed, $fails failed"
[ $fails = 0 ]
