# web_env.sh - sourced by tests/api/web_test.sh and tests/web/browser_test.sh: starts a
# private mosquitto, seeds two property companies (Acme Property: Lakeside, 5 units; Birch
# Estates: Hillview, 3 units; one community without a company), adds staff and resident
# logins (password $PW), starts the payment stand-in `wattkeeper paysim serve` (base URL in
# $PS, keys in $T/paysim), `wattkeeper serve` with the sandbox channels (port in $HPORT,
# web_dir = the source tree's web/) and `wattkeeper sim` at 60x, and waits for charged readings. Defines $T,
# q() (sqlite3 on the database), acct() (account id of a unit name) and the cleanup trap;
# the caller sets rc=0 on success so that $T is removed.
BIN=${WK_BIN:?} SRC=${WK_SOURCE_DIR:?}
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$SRC/scripts/broker" stop "$T/broker" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  if [ "${rc:-1}" != 0 ] || [ "${KEEP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
rc=1
wait_for() { # wait_for SECONDS 'shell condition'
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt $until ]; do eval "$2" && return 0; sleep 0.2; done
  return 1
}

METERS=8 FIRST=250000000001 MASTER=web-test-master
out=$("$SRC/scripts/broker" start "$T/broker" --meters $METERS --first-address $FIRST --master $MASTER)
BPORT=$(echo "$out" | sed -n 's/.*port=\([0-9]*\).*/\1/p')
HPW=$(echo "$out" | sed -n 's/.*headend_password=\([0-9a-f]*\).*/\1/p')

# Acme owns Lakeside (2 buildings, 5 units), Birch owns Hillview (3 units); one community
# without a company (nobody sees it).
python3 - "$T/seed.json" $FIRST <<'PY'
import json, sys
path, first = sys.argv[1], int(sys.argv[2])
n = 0
def unit(name, kind="home", bal="50.00"):
    global n
    u = {"name": name, "kind": kind, "meter": {"address": f"{first + n:012d}", "close_mode": "direct"},
         "account": {"holder": f"holder {name}", "kind": "tenant" if kind == "shop" else "resident", "balance": bal}}
    n += 1
    return u
doc = {"communities": [
  {"name": "Lakeside", "company": "Acme Property", "tariff": "zhejiang-residential",
   "buildings": [{"name": "B1", "units": [unit("101"), unit("102", bal="0.00"), unit("103")]},
                 {"name": "Shops", "units": [unit("S1", "shop"), unit("S2", "shop")]}]},
  {"name": "Hillview", "company": "Birch Estates", "tariff": "zhejiang-residential",
   "buildings": [{"name": "H1", "units": [unit("1-1"), unit("1-2"), unit("1-3")]}]},
  {"name": "Orphan", "tariff": "zhejiang-residential",
   "buildings": [{"name": "O1", "units": [{"name": "x", "kind": "home"}]}]}]}
open(path, "w").write(json.dumps(doc))
PY
"$BIN" seed --db "$T/wk.db" --master-key $MASTER --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
q() { sqlite3 -cmd ".timeout 5000" "$T/wk.db" "$1"; }
acct() { q "select a.id from account a join unit u on u.id=a.unit_id where u.name='$1'"; }
export PW=correct-horse-1 PW2=correct-horse-2
adduser() { WK_PASSWORD=$PW "$BIN" user add "$@" --db "$T/wk.db" >/dev/null; }
adduser acme-admin --role admin --company "Acme Property"
adduser acme-tech --role technician --company "Acme Property"
adduser birch-admin --role admin --company "Birch Estates"
adduser res-101 --role resident --account "$(acct 101)"
adduser res-102 --role resident --account "$(acct 102)"
adduser res-h11 --role resident --account "$(acct 1-1)"
adduser locky --role finance --company "Acme Property"
adduser pwchange --role service --company "Acme Property"

# the payment channels' stand-in (docs/payments.md): keys serve trusts, and its HTTP side
# (prepay, the confirm page a resident "pays" on, notifications, query and refund API)
"$BIN" paysim keys --dir "$T/paysim" >/dev/null
SPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" paysim serve --dir "$T/paysim" --port 0 >"$T/paysim.out" 2>"$T/paysim.err" &
pids+=($!)
wait_for 10 'grep -q "http://" "$T/paysim.out"' || { cat "$T/paysim.err"; echo "FAIL: paysim serve did not start"; exit 1; }
PS=$(sed -n 's|.*\(http://127.0.0.1:[0-9]*\)/.*|\1|p' "$T/paysim.out")

cat >"$T/wk.ini" <<INI
[server]
db = $T/wk.db
http_listen = 127.0.0.1:$SPORT
data_dir = $T
web_dir = $SRC/web
log_level = warn
[mqtt]
host = 127.0.0.1
port = $BPORT
username = headend
password = $HPW
client_id = wk-web-test
[headend]
report_interval = 60s
tariff_dir = $SRC/examples/tariffs
[policy]
friendly_from = 00:00
friendly_to = 00:00
friendly_weekends = false
[ledger]
key_file = $T/wk.db.logkey
INI
cat "$T/paysim/pay.ini" >>"$T/wk.ini"
export WK_PAY_WECHAT_API_BASE=$PS WK_PAY_ALIPAY_GATEWAY=$PS/gateway.do WK_PAY_NOTIFY_BASE_URL=http://127.0.0.1:$SPORT
"$BIN" serve --config "$T/wk.ini" >"$T/serve.out" 2>>"$T/serve.log" &
SERVE=$!
pids+=($SERVE)
wait_for 20 'grep -q "http://" "$T/serve.out"' || { cat "$T/serve.log"; echo "FAIL: serve did not start"; exit 1; }
HPORT=$(sed -n 's|.*http://[0-9.]*:\([0-9]*\)/.*|\1|p' "$T/serve.out" | tail -1)
# as in tests/headend/serve_test.sh: a day back at 10:00 (+08:00), meter clocks behind the platform
SIMSTART=$(python3 -c 'import time; t=int(time.time())-86400; d=(t+28800)//86400; print(d*86400-28800+10*3600)')
"$BIN" sim --broker 127.0.0.1:$BPORT --meters $METERS --first-address $FIRST --key $MASTER \
  --speed 60 --interval 60 --start $SIMSTART --seed 5 --vacant 0 --anomalous 0 \
  >"$T/sim.out" 2>"$T/sim.err" &
pids+=($!)
wait_for 30 '[ "$(q "select count(distinct account_id) from reading where energy_wh > 0")" -ge 4 ]' ||
  { echo "FAIL: no readings from the simulated meters"; exit 1; }


# Stops serve with SIGTERM and fails unless it exits 0 with no sanitizer report in its log
# (under WK_SANITIZE this is where leaks of the HTTP handlers would show).
stop_serve() {
  kill -TERM "$SERVE"
  local st=0
  wait "$SERVE" || st=$?
  if [ "$st" != 0 ] || grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$T/serve.log"; then
    echo "FAIL: serve exited $st"; grep -A20 -E "Sanitizer|runtime error" "$T/serve.log" | head -40
    return 1
  fi
}
