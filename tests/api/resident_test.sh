#!/usr/bin/env bash
# resident_test.sh - the resident's own routes (src/app/serve_web_resident.c) through real
# HTTP against a real `wattkeeper serve` with the payment stand-in (`wattkeeper paysim
# serve`), private mosquitto and `wattkeeper sim` (tests/api/web_env.sh), with the
# notification worker on. tests/api/resident_check.py checks: top-up orders for the own
# account only, paying one at the sandbox credits exactly once and closes res-102's tripped
# meter, order states and 404 for other residents' orders, usage per day and month equal
# to sums over the readings table, the days-left formula, contacts (validation naming the
# field, isolation between residents, staff 403, the worker's table), CSRF, and that
# rejected requests change nothing.
set -euo pipefail
export WK_NOTIFY_ENABLED=true WK_NOTIFY_TEMPLATES_DIR=${WK_SOURCE_DIR:?}/examples/notify/templates
source "$(dirname "$0")/web_env.sh"
python3 "$SRC/tests/api/resident_check.py" --port "$HPORT" --db "$T/wk.db" --paysim "$PS"
stop_serve
rc=0
