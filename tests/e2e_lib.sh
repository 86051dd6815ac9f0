# e2e_lib.sh - sourced by the end-to-end shell tests (serve, payments, notifications):
# a private work directory, background processes stopped on exit, the pass/fail
# counters, a database query helper, polling, and a private mosquitto with per-meter
# credentials (scripts/broker). Needs WK_BIN and WK_SOURCE_DIR.
set -euo pipefail
BIN=${WK_BIN:?} SRC=${WK_SOURCE_DIR:?}
# own prefix: other tools clean up /tmp/tmp.* behind our back on shared machines
T=$(mktemp -d "${TMPDIR:-/tmp}/wk-e2e.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$SRC/scripts/broker" stop "$T/broker" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  if [ "${fails:-0}" != 0 ] || [ "${KEEP:-}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
q() { sqlite3 -cmd ".timeout 5000" "$T/wk.db" "$1"; }
wait_for() { # wait_for SECONDS 'shell condition'
  local until=$((SECONDS + $1))
  while [ $SECONDS -lt $until ]; do eval "$2" && return 0; sleep 0.2; done
  return 1
}
start_broker() { # start_broker METERS FIRST_ADDRESS MASTER: sets BPORT and HPW
  local out
  out=$("$SRC/scripts/broker" start "$T/broker" --meters "$1" --first-address "$2" --master "$3")
  BPORT=$(echo "$out" | sed -n 's/.*port=\([0-9]*\).*/\1/p')
  HPW=$(echo "$out" | sed -n 's/.*headend_password=\([0-9a-f]*\).*/\1/p')
}
