#!/usr/bin/env bash
# reports_test.sh - the staff reports and the live event stream through real HTTP against a
# real `wattkeeper serve` (tests/api/web_env.sh). Payments are made through the payment
# stand-in and the admin-token routes (WeChat, Alipay, counter, refunds, credits); then the
# simulator is stopped so that the numbers hold still, and tests/api/reports_check.py
# compares every report with numbers it computes itself from the SQLite file, checks the
# CSV exports against the JSON, validation, roles and tenancy, and the Server-Sent Events
# stream (a state change arrives within seconds; Last-Event-ID resumes; logout ends it;
# at most 64 streams). serve must then stop cleanly on SIGTERM with streams open.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
SIM=${pids[${#pids[@]}-1]}
python3 "$SRC/tests/api/reports_check.py" --port "$HPORT" --db "$T/wk.db" --ini "$T/wk.ini" \
  --bin "$BIN" --paysim "$PS" --sim-pid "$SIM"
# streams open while serve stops: SIGTERM must still end it promptly and cleanly
python3 - "$HPORT" >"$T/hold.out" 2>&1 <<'PY' &
import json, os, re, socket, sys, time, urllib.request
port = int(sys.argv[1])
r = urllib.request.urlopen(urllib.request.Request(
    f"http://127.0.0.1:{port}/api/v1/login", method="POST", headers={"Content-Type": "application/json"},
    data=json.dumps({"login": "acme-tech", "password": os.environ["PW"]}).encode()))
tok = re.search(r"wk_session=([0-9a-f]{64})", r.headers["Set-Cookie"]).group(1)
time.sleep(3)  # the checker's last streams are gone by then
socks = []
for i in range(3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
               f"Cookie: wk_session={tok}\r\n\r\n").encode())
    socks.append(s)
for s in socks:
    assert b"200 OK" in s.recv(4096)
print("streams open", flush=True)
time.sleep(30)
PY
HOLD=$!
wait_for 15 'grep -q "streams open" "$T/hold.out"' || { cat "$T/hold.out"; echo "FAIL: no streams open before the stop"; exit 1; }
start=$SECONDS
stop_serve
kill "$HOLD" 2>/dev/null || true
[ $((SECONDS - start)) -le 5 ] || { echo "FAIL: serve took $((SECONDS - start)) s to stop"; exit 1; }
rc=0
