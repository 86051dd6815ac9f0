#!/usr/bin/env bash
# payments_test.sh - the staff payment routes (src/app/serve_web_payments.c) through real HTTP
# against a real `wattkeeper serve` with the paysim channels (tests/api/web_env.sh):
# counter top-ups (exactly once, a tripped meter closes), payments/orders/refunds lists,
# refunds through the channel and at the counter (booked once), reconciliation runs stored
# from a paysim bill, roles, CSRF, the access-control sweep, audit rows and
# `wattkeeper ledger verify`; tests/api/payments_check.py does the checking.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
python3 "$SRC/tests/api/payments_check.py" --port "$HPORT" --db "$T/wk.db" --src "$SRC" --bin "$BIN" \
  --ps "$PS" --dir "$T"
stop_serve
rc=0
