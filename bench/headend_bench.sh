#!/usr/bin/env bash
# headend_bench.sh - the head-end's three targets of issue 5, measured end to end with a
# real mosquitto, `wattkeeper serve` on SQLite and `wattkeeper sim`, all on this machine:
#   throughput  highest sustained frames/s decoded, rated, booked and committed
#   latency     credit -> confirmed close, p50/p99/max, with 10,000 meters connected and
#               about 2,000 frames/s of background load
#   rss         serve's resident memory per known meter at 100,000 meters
# usage: bench/headend_bench.sh BUILD_DIR [throughput|latency|rss ...]
# Prints one result line per measurement; docs/benchmarks.md records them.
set -euo pipefail
BUILD=${1:?build dir}
shift
parts=${*:-throughput latency rss}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BUILD" && pwd)/wattkeeper
T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
q() { sqlite3 -cmd ".timeout 10000" "$1" "$2"; }
metric() { curl -s "http://127.0.0.1:$HPORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

broker() { # anonymous broker for the bench (the ACL'd one is scripts/broker)
  BPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$T/mosquitto.conf" <<CONF
user $(id -un)
listener $BPORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
set_tcp_nodelay true
max_queued_messages 1000000
log_dest none
CONF
  mosquitto -c "$T/mosquitto.conf" &
  BROKER=$!
  pids+=($BROKER)
  sleep 0.5
}

seed() { # seed DB N ZERO: N meters from 240000000001, the first ZERO accounts at 0.00
  python3 - "$T/seed.json" "$2" "$3" <<'PY'
import json, sys
path, n, zero = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
units = [{"name": f"U{i:06d}", "kind": "home",
          "meter": {"address": f"{240000000001 + i:012d}", "close_mode": "direct"},
          "account": {"holder": f"h{i}", "balance": "0.00" if i < zero else "100000.00"}} for i in range(n)]
json.dump({"communities": [{"name": "Bench", "tariff": "zhejiang-residential-flat",
           "buildings": [{"name": "B", "units": units}]}]}, open(path, "w"))
PY
  "$BIN" seed --db "$1" --master-key bench --tariff-dir "$SRC/examples/tariffs" "$T/seed.json" >/dev/null
}

serve() { # serve DB
  cat >"$T/wk.ini" <<INI
[server]
db = $1
http_listen = 127.0.0.1:0
data_dir = $T
log_level = warn
[mqtt]
host = 127.0.0.1
port = $BPORT
client_id = bench-$RANDOM
[headend]
report_interval = 60s
tariff_dir = $SRC/examples/tariffs
batch_max = 1024
[policy]
friendly_from = 00:00
friendly_to = 00:00
friendly_weekends = false
[ledger]
key_file = $1.logkey
INI
  "$BIN" serve --config "$T/wk.ini" >"$T/serve.out" 2>"$T/serve.log" &
  SERVE=$!
  pids+=($SERVE)
  for _ in $(seq 200); do grep -q http:// "$T/serve.out" 2>/dev/null && break; sleep 0.1; done
  HPORT=$(sed -n 's|.*http://[0-9.]*:\([0-9]*\)/.*|\1|p' "$T/serve.out")
}

cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }

if [[ " $parts " == *" throughput "* ]]; then
  for speed in 60 120 240; do
    broker
    rm -f "$T"/tp.db*
    seed "$T/tp.db" 10000 0
    serve "$T/tp.db"
    start=$(( $(date +%s) - 86400 ))
    "$BIN" sim --broker 127.0.0.1:$BPORT --meters 10000 --gateway 100 --key bench --speed $speed \
      --interval 60 --start $start --vacant 0 >"$T/sim.out" 2>&1 &
    SIM=$!
    pids+=($SIM)
    sleep 6
    f0=$(metric wk_frames_total); r0=$(metric wk_readings_total); c0=$(cpu_s $SERVE); t0=$(date +%s.%N)
    b0=$(cpu_s $BROKER); s0=$(cpu_s $SIM)
    sleep 20
    f1=$(metric wk_frames_total); r1=$(metric wk_readings_total); c1=$(cpu_s $SERVE); t1=$(date +%s.%N)
    b1=$(cpu_s $BROKER); s1=$(cpu_s $SIM)
    python3 -c "
dt=$t1-$t0
print(f'throughput offered={10000*$speed//60}/s frames={($f1-$f0)/dt:.0f}/s readings_booked={($r1-$r0)/dt:.0f}/s serve_cpu={($c1-$c0)/dt:.2f} broker_cpu={($b1-$b0)/dt:.2f} sim_cpu={($s1-$s0)/dt:.2f}')"
    kill $SIM $SERVE $BROKER 2>/dev/null || true
    wait $SIM $SERVE $BROKER 2>/dev/null || true
  done
fi

if [[ " $parts " == *" latency "* ]]; then
  broker
  seed "$T/lat.db" 10000 200
  serve "$T/lat.db"
  start=$(( $(date +%s) - 86400 ))
  # two sim processes of 5,000 per-meter clients (file descriptors), 2,000 frames/s in all
  for k in 0 1; do
    "$BIN" sim --broker 127.0.0.1:$BPORT --meters 5000 --first-address $((240000000001 + k * 5000)) \
      --key bench --speed 12 --interval 60 --start $start --seed $((k + 1)) --vacant 0 \
      >"$T/sim$k.out" 2>&1 &
    pids+=($!)
  done
  # the 200 zero-balance meters trip when they first report
  for _ in $(seq 120); do
    n=$(q "$T/lat.db" "select count(*) from command where action='trip' and state='confirmed'")
    [ "$n" -ge 200 ] && break
    sleep 1
  done
  echo "latency: $n of 200 zero-balance meters tripped (confirmed)"
  f0=$(metric wk_frames_total); t0=$(date +%s.%N)
  for a in $(seq 1 200); do
    "$BIN" credit --server http://127.0.0.1:$HPORT --token-file "$T/lat.db.admin-token" \
      --account $a --amount 1.00 >/dev/null
    sleep 0.05
  done
  f1=$(metric wk_frames_total); t1=$(date +%s.%N)
  sleep 3
  q "$T/lat.db" "select done_ms - cause_ms, done_ms - first_sent_ms, coalesce(acked_ms, done_ms) - first_sent_ms from command where action='close' and state='confirmed'" >"$T/lat.txt"
  python3 - "$T/lat.txt" "$(python3 -c "print(($f1-$f0)/($t1-$t0))")" "$(grep VmRSS /proc/$SERVE/status | awk '{print $2}')" <<'PY'
import sys
rows = [tuple(map(int, l.split("|"))) for l in open(sys.argv[1]) if l.strip()]
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
c = [r[0] for r in rows]; s = [r[1] for r in rows]; a = [r[2] for r in rows]
print(f"latency closes={len(rows)} background={float(sys.argv[2]):.0f} frames/s "
      f"credit->confirmed p50={pct(c,50)} p99={pct(c,99)} max={max(c)} ms; "
      f"send->confirmed p50={pct(s,50)} p99={pct(s,99)} max={max(s)} ms; "
      f"send->acked p50={pct(a,50)} p99={pct(a,99)} ms; serve_rss={int(sys.argv[3])//1024} MB")
PY
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
fi

if [[ " $parts " == *" rss "* ]]; then
  broker
  for n in 0 100000; do
    rm -f "$T"/rss.db*
    if [ $n -gt 0 ]; then seed "$T/rss.db" $n 0; else "$BIN" migrate --db "$T/rss.db" >/dev/null; fi
    serve "$T/rss.db"
    sleep 3
    rss=$(grep VmRSS /proc/$SERVE/status | awk '{print $2}')
    echo "rss meters=$n serve_rss_kb=$rss"
    eval "rss_$n=$rss"
    kill $SERVE; wait $SERVE 2>/dev/null || true
  done
  python3 -c "print(f'rss per known meter: {($rss_100000 - $rss_0) * 1024 / 100000:.1f} bytes')"
fi
