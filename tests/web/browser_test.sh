#!/usr/bin/env bash
# browser_test.sh - the staff console and the resident page in Debian's headless Chromium
# (playwright-core from the lockfile, installed by scripts/setup), against a live serve with
# simulated meters and the payment stand-in (tests/api/web_env.sh). Runs every
# tests/web/NN_*.mjs in name order against the same server, each with its own browser
# (tests/web/lib.mjs is what they share).
# Writes the screenshots to docs/screenshots/ in the source tree (WK_SHOTS to put them
# elsewhere).
set -euo pipefail
BIN=${WK_BIN:?} SRC=${WK_SOURCE_DIR:?}
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium missing (run scripts/setup)"; exit 1; }
[ -d "$SRC/node_modules/playwright-core" ] && [ -e "$SRC/web/vendor/echarts/echarts.min.js" ] ||
  { echo "FAIL: node_modules missing (run scripts/setup: npm ci)"; exit 1; }
source "$SRC/tests/api/web_env.sh"
SHOTS=${WK_SHOTS:-$SRC/docs/screenshots}
mkdir -p "$SHOTS"
export WK_TEST_DB=$T/wk.db WK_PAYSIM=$PS
for f in "$SRC"/tests/web/[0-9][0-9]_*.mjs; do
  echo "== $(basename "$f")"
  timeout 300 node "$f" "http://127.0.0.1:$HPORT" "$SHOTS"
done
stop_serve
rc=0
