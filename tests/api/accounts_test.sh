#!/usr/bin/env bash
# accounts_test.sh - the staff account lifecycle over HTTP (docs/api.md "Accounts") against
# a real `wattkeeper serve` with a private mosquitto and `wattkeeper sim` (web_env.sh):
# open (move-in), move-out settlement (refund at the counter, carry-over, keep), vacancy,
# shop transfer. tests/api/accounts_check.py checks exact money through the ledger, the
# relay hold, the new holder starting from the meter's register, validation naming the
# field, roles, the access-control sweep, CSRF, audit rows and that the admin token's
# /credits still works; then `wattkeeper ledger verify` must pass.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
python3 "$SRC/tests/api/accounts_check.py" --port "$HPORT" --db "$T/wk.db" \
  --token-file "$T/wk.db.admin-token"
stop_serve
"$BIN" ledger verify --db "$T/wk.db" --log-key-file "$T/wk.db.logkey" >"$T/verify.out" 2>&1 ||
  { cat "$T/verify.out"; echo "FAIL: ledger verify"; exit 1; }
echo "ok: ledger verify"
rc=0
