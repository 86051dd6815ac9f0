#!/usr/bin/env bash
# rate_test.sh - `wattkeeper rate` through the binary: the shipped examples rate, --json and
# text agree, a hand-worked bill comes out to the fen, splitting the readings changes
# nothing, and every kind of bad input is rejected with the file, line and reason, a
# non-zero exit and nothing on stdout.
set -euo pipefail
BIN=${WK_BIN:?} SRC=${WK_SOURCE_DIR:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
json_total() { python3 -c 'import json,sys; print(json.load(sys.stdin)["total_fen"])'; }

# --- the documented example works, text and JSON agree
"$BIN" rate --tariff "$SRC/examples/tariffs/zhejiang-residential.json" \
  --readings "$SRC/examples/readings/zhejiang-household.csv" >"$T/out.txt" 2>"$T/err.txt"
grep -q '^total 1285.04 yuan (128504 fen)' "$T/out.txt" && ok || bad "example text total"
grep -q 'unverified' "$T/err.txt" && ok || bad "unverified tariff warning missing"
j=$("$BIN" rate --json --tariff "$SRC/examples/tariffs/zhejiang-residential.json" \
  --readings "$SRC/examples/readings/zhejiang-household.csv" 2>/dev/null | json_total)
[ "$j" = 128504 ] && ok || bad "example json total $j"

# --- hand-worked: Zhejiang flat, 3000 kWh in a year = 1626.00
printf 'time,meter,total_kwh\n2026-01-01T00:00:00+08:00,m1,100.00\n2026-12-31T00:00:00+08:00,m1,3100.00\n' >"$T/one.csv"
j=$("$BIN" rate --json --tariff "$SRC/examples/tariffs/zhejiang-residential-flat.json" --readings "$T/one.csv" | json_total)
[ "$j" = 162600 ] && ok || bad "zhejiang 3000 kWh gave $j"

# --- the same consumption read daily (uneven amounts) gives the same bill, for 3 meters
python3 - "$T/daily.csv" <<'PY'
import datetime, random, sys
random.seed(5)
base = datetime.datetime(2026, 1, 1)
fmt = lambda d: (base + datetime.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S+08:00")
kwh = lambda r: f"{r // 100}.{r % 100:02d}"  # r in 0.01 kWh
rows = ["time,meter,total_kwh"]
for m in ("a", "b", "c"):
    days = sorted(random.sample(range(1, 364), 40))
    parts = [random.randint(0, 100) for _ in days]
    rows.append(f"{fmt(0)},{m},100.00")
    acc = 0
    for d, part in zip(days, parts):
        acc += part
        rows.append(f"{fmt(d)},{m},{kwh(10000 + 300000 * acc // sum(parts))}")
    rows.append(f"{fmt(364)},{m},3100.00")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
j=$("$BIN" rate --json --tariff "$SRC/examples/tariffs/zhejiang-residential-flat.json" --readings "$T/daily.csv" | json_total)
[ "$j" = $((3 * 162600)) ] && ok || bad "split bill $j != 3 x 162600"

# --- move-in proration through the CLI: 1 Sep, 1000 kWh by year end = 542.00
printf 'time,meter,total_kwh\n2026-09-01T00:00:00+08:00,m1,0.00\n2026-12-31T00:00:00+08:00,m1,1000.00\n' >"$T/movein.csv"
j=$("$BIN" rate --json --move-in 2026-09-01T00:00:00+08:00 --tariff "$SRC/examples/tariffs/zhejiang-residential-flat.json" --readings "$T/movein.csv" | json_total)
[ "$j" = 54200 ] && ok || bad "move-in bill $j"

# --- every example tariff rates a day of readings without error
printf 'time,meter,total_kwh\n2026-07-15T00:00:00+08:00,m1,10.00\n2026-07-16T00:00:00+08:00,m1,34.00\n' >"$T/day.csv"
for f in "$SRC"/examples/tariffs/*.json; do
  "$BIN" rate --tariff "$f" --readings "$T/day.csv" >/dev/null 2>&1 && ok || bad "example $f"
done

# --- bad readings: each rejected with file, line and reason; nothing on stdout
expect_reject() { # name csv-content expected-stderr-fragment [tariff]
  local name=$1 content=$2 want=$3 tariff=${4:-$SRC/examples/tariffs/zhejiang-residential-flat.json}
  printf '%b' "$content" >"$T/$name.csv"
  set +e
  "$BIN" rate --tariff "$tariff" --readings "$T/$name.csv" >"$T/$name.out" 2>"$T/$name.err"
  local rc=$?
  set -e
  if [ $rc -eq 0 ]; then bad "$name accepted"; return; fi
  if [ -s "$T/$name.out" ]; then bad "$name printed to stdout"; return; fi
  grep -qF -- "$want" "$T/$name.err" && ok || bad "$name: stderr '$(cat "$T/$name.err")' lacks '$want'"
}
H='time,meter,total_kwh\n'
expect_reject backwards "${H}2026-01-02T00:00:00+08:00,m,1.00\n2026-01-01T00:00:00+08:00,m,2.00\n" "backwards.csv: line 3: time goes backwards"
expect_reject decrease "${H}2026-01-01T00:00:00+08:00,m,5.00\n2026-01-02T00:00:00+08:00,m,2.00\n" "line 3: total_kwh decreased from 5.00 to 2.00 without a rollover or exchange record"
expect_reject duplicate "${H}2026-01-01T00:00:00+08:00,m,1.00\n2026-01-01T00:00:00+08:00,m,2.00\n" "line 3: duplicate timestamp"
expect_reject number "${H}2026-01-01T00:00:00+08:00,m,1.00\n2026-01-02T00:00:00+08:00,m,2,5\n" "line 3: 4 fields, expected 3"
expect_reject number2 "${H}2026-01-01T00:00:00+08:00,m,1.00\n2026-01-02T00:00:00+08:00,m,2.5.1\n" "line 3: total_kwh: \"2.5.1\" is not a decimal number"
expect_reject precision "${H}2026-01-01T00:00:00+08:00,m,1.0001\n" "line 2: total_kwh: \"1.0001\" has more than 3 decimal places"
expect_reject negative "${H}2026-01-01T00:00:00+08:00,m,-1.00\n" "line 2: total_kwh: must not be negative"
expect_reject nocolumn "time,meter\n2026-01-01T00:00:00+08:00,m\n" "line 1: missing column total_kwh"
expect_reject unknowncol "time,meter,total_kwh,colour\n" "unknown column \"colour\""
expect_reject partialtou "time,meter,total_kwh,t1_kwh\n" "give all of t1_kwh..t4_kwh or none"
expect_reject nooffset "${H}2026-01-01T00:00:00,m,1.00\n" "line 2: time: \"2026-01-01T00:00:00\" has no UTC offset"
expect_reject badtime "${H}2026-13-01T00:00:00+08:00,m,1.00\n" "line 2: time:"
expect_reject event "time,meter,total_kwh,event\n2026-01-01T00:00:00+08:00,m,1.00,swap\n" "line 2: event: \"swap\""
expect_reject empty "" "empty file"
expect_reject notariff "${H}2020-01-01T00:00:00+08:00,m,1.00\n2020-01-02T00:00:00+08:00,m,2.00\n" "line 3: no tariff version in force at 2020-01-01"
expect_reject tou_mismatch "time,meter,total_kwh,t1_kwh,t2_kwh,t3_kwh,t4_kwh\n2026-01-01T00:00:00+08:00,m,10.00,0,5.00,0,5.00\n2026-01-02T00:00:00+08:00,m,20.00,0,15.00,0,15.00\n" "line 3: TOU registers advanced by 20000 Wh in total but total_kwh by 10000 Wh" "$SRC/examples/tariffs/zhejiang-residential.json"
# registers in a slot the tariff does not price (sharp on a peak/valley tariff): rated by
# the tariff's own time map, the same as without registers, with a note
printf 'time,meter,total_kwh,t1_kwh,t2_kwh,t3_kwh,t4_kwh\n2026-01-01T00:00:00+08:00,m,10.00,0,5.00,0,5.00\n2026-01-02T00:00:00+08:00,m,20.00,10.00,5.00,0,5.00\n' >"$T/unpriced.csv"
printf 'time,meter,total_kwh\n2026-01-01T00:00:00+08:00,m,10.00\n2026-01-02T00:00:00+08:00,m,20.00\n' >"$T/noregs.csv"
zr=$SRC/examples/tariffs/zhejiang-residential.json
if "$BIN" rate --tariff "$zr" --readings "$T/unpriced.csv" >"$T/unpriced.out" 2>"$T/unpriced.err"; then
  grep -q "does not price" "$T/unpriced.out" && ok || bad "unpriced slot: no note"
  [ "$("$BIN" rate --json --tariff "$zr" --readings "$T/unpriced.csv" | json_total)" = \
    "$("$BIN" rate --json --tariff "$zr" --readings "$T/noregs.csv" | json_total)" ] && ok ||
    bad "unpriced slot not rated like a meter without registers"
else bad "unpriced slot refused: $(cat "$T/unpriced.err")"; fi

# rollover and exchange rows are accepted and priced as documented
printf 'time,meter,total_kwh,event\n2026-01-01T00:00:00+08:00,m,999990.00,\n2026-01-02T00:00:00+08:00,m,10.00,\n2026-01-03T00:00:00+08:00,m,500.00,\n2026-01-03T00:00:00+08:00,m,0.00,exchange\n2026-01-04T00:00:00+08:00,m,10.00,\n' >"$T/roll.csv"
j=$("$BIN" rate --json --tariff "$SRC/examples/tariffs/zhejiang-residential-flat.json" --readings "$T/roll.csv" | json_total)
# 20 kWh across the wrap + 490 kWh + 10 kWh on the new meter = 520 kWh x 0.538 = 279.76
[ "$j" = 27976 ] && ok || bad "rollover/exchange total $j"

# --- bad tariff: file and key named, non-zero exit, nothing on stdout
printf '{"name":"x","source":"s","versions":[{"effective_from":"2026-01-01T00:00:00+08:00","tiers":{"cycle":"none"},"prices":{"matrix":{"flat":["-1"]}}}]}' >"$T/neg.json"
set +e
"$BIN" rate --tariff "$T/neg.json" --readings "$T/one.csv" >"$T/neg.out" 2>"$T/neg.err"
rc=$?
set -e
[ $rc -ne 0 ] && [ ! -s "$T/neg.out" ] && grep -qF 'neg.json: versions[0].prices.matrix.flat[0]: price must be 0..20 yuan/kWh' "$T/neg.err" && ok || bad "negative price: rc=$rc $(cat "$T/neg.err")"
set +e
"$BIN" rate --tariff "$T/missing.json" --readings "$T/one.csv" >/dev/null 2>"$T/miss.err"
rc=$?
"$BIN" rate --readings "$T/one.csv" >/dev/null 2>&1
rc2=$?
set -e
[ $rc -eq 1 ] && grep -q 'missing.json: No such file' "$T/miss.err" && ok || bad "missing file rc=$rc"
[ $rc2 -eq 2 ] && ok || bad "usage error rc=$rc2"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
