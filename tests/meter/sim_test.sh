#!/usr/bin/env bash
# sim_test.sh - integration test of `wattkeeper sim` against a real private mosquitto on a
# free loopback port: 300 meters (one MQTT client each) run 600 simulated seconds at 60x
# with 60 s reports. A subscriber on wk/m/+/up records every frame; then every frame must
# decode with `wattkeeper dlt645 decode`, come from the meter its topic names, and be
# consistent: forward registers non-decreasing per meter, tariffs summing to the total,
# exactly duration/interval reports per meter. Commands are injected on down topics: an
# authenticated trip (accepted, 9C, status word shows open), a forged one (bad MAC, DC with
# SERR 0004), a replay (DC with SERR 0002), a close-permit the simulated resident
# completes with the button, and a read. The broker checks per-meter passwords (written by
# `sim --write-credentials`, hashed by mosquitto_passwd) and a wrong one is refused. A
# second run in gateway mode with every fault on (drop/dup/reorder/delay, disconnects,
# skew) over 6 simulated hours must still produce only decodable frames and raise tamper
# and reverse-energy events.
set -euo pipefail
: "${WK_BIN:?}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start=1795363200 # 2026-11-23 00:00:00 +08:00
meters=300
duration=600
interval=60
first=240000000001
key=wattkeeper-test

# per-meter credentials: the broker accepts only the derived passwords (plus a monitor)
"$WK_BIN" sim --meters $meters --first-address $first --key $key --write-credentials "$work/passwd"
"$WK_BIN" sim --meters 200 --gateway 50 --key $key --write-credentials "$work/passwd.gw"
[ "$(wc -l <"$work/passwd")" = $meters ] || fail "credentials file"
grep -q '^gw00003:' "$work/passwd.gw" || fail "gateway credentials"
cat "$work/passwd.gw" >>"$work/passwd"
echo "monitor:monitor-secret" >>"$work/passwd"
mosquitto_passwd -U "$work/passwd"
M=(-u monitor -P monitor-secret)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous false
password_file $work/passwd
user $(id -un)
persistence false
max_queued_messages 100000
log_dest stderr
log_type error
CONF
mosquitto -c "$work/mosquitto.conf" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 50); do
  mosquitto_pub -h 127.0.0.1 -p "$port" "${M[@]}" -t wk/ping -m x 2>/dev/null && break
  sleep 0.1
done
mosquitto_pub -h 127.0.0.1 -p "$port" "${M[@]}" -t wk/ping -m x || fail "broker: $(cat "$work/broker.log")"

# a meter with a wrong password is refused; the others run
echo "240000000002:not-the-password" >"$work/creds"
"$WK_BIN" sim --broker "127.0.0.1:$port" --meters 3 --speed 60 --duration 60 --start $start \
  --key $key --credentials "$work/creds" >"$work/sim0.txt" 2>&1 || fail "sim with credentials file: $(cat "$work/sim0.txt")"
grep -q "clients=3 connected=2 " "$work/sim0.txt" || fail "wrong password not refused: $(cat "$work/sim0.txt")"
grep -Eq "connect_failures=[1-9]" "$work/sim0.txt" || fail "refusal not counted"

timeout 60 mosquitto_sub -h 127.0.0.1 -p "$port" "${M[@]}" -q 1 -t 'wk/m/+/up' -F '%t %x' >"$work/up.txt" &
pids+=($!)
sleep 0.5

"$WK_BIN" sim --broker "127.0.0.1:$port" --meters $meters --speed 60 --interval $interval \
  --duration $duration --start $start --seed 7 --key $key --button-max 60 --anomalous 10 \
  >"$work/sim.txt" 2>"$work/sim.err" &
simpid=$!
pids+=($simpid)

derive_key() { # derive_key ADDRESS -> hex of HMAC-SHA256(master, "WK645-KEY" || address)
  python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), b"WK645-KEY"+sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$key" "$1"
}
m1=240000000001
m2=240000000002
k1=$(derive_key $m1)
deadline=2026-11-23T01:00:00 # simulated time runs 00:00 .. 00:10
down() { # down ADDRESS HEX: publishes the binary frame (it may contain NUL bytes)
  echo "$2" | xxd -r -p >"$work/frame.bin"
  mosquitto_pub -h 127.0.0.1 -p "$port" "${M[@]}" -q 1 -t "wk/m/$1/down" -f "$work/frame.bin"
}
sleep 3 # the fleet is connected and reporting
down $m1 "$("$WK_BIN" dlt645 encode relay trip --addr $m1 --deadline $deadline --key "$k1" --counter 1 | tr -d ' ')"
down $m2 "$("$WK_BIN" dlt645 encode relay trip --addr $m2 --deadline $deadline --key 00112233 --counter 1 | tr -d ' ')"
down $m1 "$("$WK_BIN" dlt645 encode relay trip --addr $m1 --deadline $deadline --key "$k1" --counter 1 | tr -d ' ')"
sleep 1
down $m1 "$("$WK_BIN" dlt645 encode relay close-permit --addr $m1 --deadline $deadline --key "$k1" --counter 2 | tr -d ' ')"
down $m1 "$("$WK_BIN" dlt645 encode read 04000503 --addr $m1 | tr -d ' ')"
wait $simpid || fail "sim exited with $? ($(cat "$work/sim.err"))"
sleep 1
cat "$work/sim.txt"
grep -q "clients=$meters connected=$meters" "$work/sim.txt" || fail "not every meter connected"
grep -q "commands_executed=2 commands_rejected=2" "$work/sim.txt" || fail "command counts"
grep -Eq "button_presses=[1-9]" "$work/sim.txt" || fail "the resident never pressed the button"

python3 - "$WK_BIN" "$work/up.txt" $meters $first $((duration / interval)) <<'PY'
import json, subprocess, sys
wk, path, meters, first, want_reports = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lines = [l.split() for l in open(path)]
uniq = sorted({h for _, h in lines})
cache = {}
for i in range(0, len(uniq), 400): # many frames per process: one JSON line each
    batch = uniq[i:i + 400]
    r = subprocess.run([wk, "dlt645", "decode", *batch], capture_output=True, text=True)
    out = r.stdout.splitlines()
    if len(out) != len(batch):
        sys.exit(f"FAIL: {len(batch)} frames gave {len(out)} JSON lines")
    for h, o in zip(batch, out):
        j = json.loads(o)
        if "invalid" in j:
            sys.exit(f"FAIL: frame {h} does not decode: {j['invalid']}")
        cache[h] = j
def decode(hexs):
    return cache[hexs]
reports, last, seen = {}, {}, []
for topic, hexs in lines:
    addr = topic.split("/")[2]
    j = decode(hexs)
    if j["address"] != addr:
        sys.exit(f"FAIL: {topic} carries a frame from {j['address']}")
    seen.append((addr, j))
    if j.get("di") == "0001FF00" and j["control"] == "91":
        v = [x["value"] for x in j["values"]]
        total, tariffs = v[0], v[1:]
        if sum(tariffs) > total + 1e-9 or total - sum(tariffs) > 0.04 + 1e-9:
            sys.exit(f"FAIL: {addr} tariffs {tariffs} do not add up to {total}")
        if addr in last and total < last[addr]:
            sys.exit(f"FAIL: {addr} register went backwards {last[addr]} -> {total}")
        last[addr] = total
        reports[addr] = reports.get(addr, 0) + 1
if len(reports) != meters:
    sys.exit(f"FAIL: reports from {len(reports)} meters, want {meters}")
bad = {a: n for a, n in reports.items() if n != want_reports}
if bad:
    sys.exit(f"FAIL: report counts differ from {want_reports}: {list(bad.items())[:5]}")
if not any(v > 0 for v in last.values()):
    sys.exit("FAIL: no energy registered at all")
m1, m2 = str(first).zfill(12), str(first + 1).zfill(12)
def frames(addr, pred):
    return [j for a, j in seen if a == addr and pred(j)]
if not frames(m1, lambda j: j["control"] == "9C"):
    sys.exit("FAIL: no 9C for the authenticated trip")
if not frames(m2, lambda j: j["control"] == "DC" and j.get("serr") == "0004"):
    sys.exit("FAIL: forged command not refused with SERR 0004 (MAC)")
if not frames(m1, lambda j: j["control"] == "DC" and j.get("serr") == "0002"):
    sys.exit("FAIL: replayed counter not refused with SERR 0002")
st = frames(m1, lambda j: j.get("di") == "04000503")
if not any(j["status3"]["relay_open"] for j in st) or st[-1]["status3"]["relay_open"]:
    sys.exit(f"FAIL: status word 3 did not show open then closed: {[j['status3'] for j in st]}")
print(f"sim checker: {len(seen)} frames from {len(reports)} meters, {want_reports} reports each, all consistent")
PY

# gateway mode with every fault switched on, 6 simulated hours from 08:00 with every unit
# anomalous: frames still decode, faults and edge anomalies show in the summary
timeout 40 mosquitto_sub -h 127.0.0.1 -p "$port" "${M[@]}" -q 1 -t 'wk/m/+/up' -F '%t %x' >"$work/up2.txt" &
pids+=($!)
sleep 0.5
"$WK_BIN" sim --broker "127.0.0.1:$port" --meters 200 --gateway 50 --speed 3600 --interval 900 \
  --duration 21600 --start $((start + 8 * 3600)) --seed 9 --key $key --vacant 0 --anomalous 100 \
  --drop 0.05 --dup 0.05 --reorder 0.05 --delay 0.05 --delay-max 600 --disconnect-every 1800 \
  --skew 30 >"$work/sim2.txt" 2>&1 || fail "gateway sim failed: $(cat "$work/sim2.txt")"
sleep 1
cat "$work/sim2.txt"
grep -q "clients=4 " "$work/sim2.txt" || fail "gateway mode should use 4 connections"
grep -Eq "duplicated=[1-9].*reordered=[1-9].*disconnects=[1-9]" "$work/sim2.txt" ||
  fail "faults were not injected"
grep -Eq "cover=[0-9]*[1-9]" "$work/sim2.txt" || grep -Eq "magnet=[0-9]*[1-9]" "$work/sim2.txt" ||
  fail "no tamper events"
grep -Eq "reverse=[0-9]*[1-9]" "$work/sim2.txt" || fail "no reverse-energy events from solar units"
n=$(wc -l <"$work/up2.txt")
[ "$n" -gt 3000 ] || fail "gateway run delivered only $n frames"
python3 - "$WK_BIN" "$work/up2.txt" <<'PY'
import json, subprocess, sys
wk, path = sys.argv[1], sys.argv[2]
lines = [l.split() for l in open(path)]
events = 0
for i in range(0, len(lines), 400):
    batch = lines[i:i + 400]
    r = subprocess.run([wk, "dlt645", "decode", *[h for _, h in batch]], capture_output=True, text=True)
    for (topic, h), o in zip(batch, r.stdout.splitlines()):
        j = json.loads(o)
        if "invalid" in j or j["address"] != topic.split("/")[2]:
            sys.exit(f"FAIL: bad frame on {topic}: {h} -> {o}")
        events += j.get("di") == "03A00001"
    if r.returncode != 0:
        sys.exit("FAIL: a gateway frame does not decode")
if events == 0:
    sys.exit("FAIL: no event frames arrived")
print(f"gateway checker: {len(lines)} frames decode, {events} event frames")
PY
echo "sim test: ok"
