#!/usr/bin/env bash
# tariffs_test.sh - tariffs in the database and the bill explanation through real HTTP
# against a real `wattkeeper serve` (tests/api/web_env.sh: Acme and Birch share
# zhejiang-residential). Adds one community per company on a tariff only that company
# uses (Acme: beijing-residential, Birch: guangdong-residential), then
# tests/api/tariffs_check.py checks the list and the price matrix against the example
# files, adding versions (validation naming the JSON path, dates, roles, tenancy, audit,
# the head-end reloading), and the bill of a day against the ledger's deductions.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
SIM=${pids[${#pids[@]}-1]}
rev=$(q "select revenue_account_id from community where name='Lakeside'")
q "insert into community (name, tariff, revenue_account_id, company_id) values
   ('Acme Annex', 'beijing-residential', $rev, (select id from company where name='Acme Property')),
   ('Birch Annex', 'guangdong-residential', $rev, (select id from company where name='Birch Estates'))"
python3 "$SRC/tests/api/tariffs_check.py" --port "$HPORT" --db "$T/wk.db" --src "$SRC" --sim-pid "$SIM" --bin "$BIN"
stop_serve
# a restart seeds again: nothing is added or overwritten (the versions staff added stay)
docs=$(q "select name, rev, origin, doc from tariff order by name" | sha256sum)
[ "$(q "select rev || ' ' || origin from tariff where name='beijing-residential'")" = "4 web" ] ||
  { echo "FAIL: beijing-residential should be at rev 4 (web)"; exit 1; }
"$BIN" serve --config "$T/wk.ini" >"$T/serve2.out" 2>>"$T/serve.log" &
SERVE=$!
pids+=($SERVE)
wait_for 20 'grep -q "http://" "$T/serve2.out"' || { cat "$T/serve.log"; echo "FAIL: serve did not restart"; exit 1; }
[ "$(q "select name, rev, origin, doc from tariff order by name" | sha256sum)" = "$docs" ] ||
  { echo "FAIL: a restart changed the stored tariffs"; exit 1; }
[ "$(q "select count(*) from tariff")" = 6 ] || { echo "FAIL: tariff rows after restart"; exit 1; }
stop_serve
echo "restart: tariffs unchanged"
rc=0
