#!/usr/bin/env bash
# dlt645_cli_test.sh - `wattkeeper dlt645 decode/encode`: worked frames of protocols.md to
# JSON, encode -> decode round trips, and bad frames rejected with a reason and exit 1.
set -euo pipefail
: "${WK_BIN:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { # has JSON NEEDLE
  case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac
}
out=$("$WK_BIN" dlt645 decode "FE FE FE FE 68 12 90 78 56 34 12 68 91 08 33 33 34 33 89 67 45 33 54 16")
has "$out" '"address":"123456789012"'
has "$out" '"control":"91"'
has "$out" '"di":"00010000"'
has "$out" '"value":1234.56,"unit":"kWh"'
out=$("$WK_BIN" dlt645 decode "68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16")
has "$out" '"value":100.1,"unit":"V"'
out=$("$WK_BIN" dlt645 decode "68 12 90 78 56 34 12 68 91 08 33 35 C3 33 78 56 34 33 B2 16")
has "$out" '"di":"00900200"'
has "$out" '"value":123.45,"unit":"yuan"'
out=$("$WK_BIN" dlt645 decode "68 12 90 78 56 34 12 68 91 07 33 34 35 35 56 84 33 FC 16")
has "$out" '"value":5.123,"unit":"A"'
out=$("$WK_BIN" dlt645 decode "68 12 90 78 56 34 12 68 91 06 36 38 33 37 43 33 6B 16")
has "$out" '"relay_open":true'
out=$("$WK_BIN" dlt645 decode "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 4C 89 3B 59 3C 59 CA 16")
has "$out" '"command":"trip"'
has "$out" '"deadline":"2026-09-26T08:56:19"'
out=$("$WK_BIN" dlt645 decode "68 AA AA AA AA AA AA 68 13 00 DF 16")
has "$out" '"function":"read_address"'

# encode reproduces the reference bytes
[ "$("$WK_BIN" dlt645 encode relay trip --addr 123456789012 --deadline 2026-09-26T08:56:19 --password 02000000)" = \
  "68 12 90 78 56 34 12 68 1C 10 35 33 33 33 33 33 33 33 4D 33 4C 89 3B 59 3C 59 CA 16" ] || fail "encode trip"
[ "$("$WK_BIN" dlt645 encode read 04000503 --addr 123456789012 --preamble 4)" = \
  "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 36 38 33 37 73 16" ] || fail "encode read status"
[ "$("$WK_BIN" dlt645 encode time 2026-01-02T03:04:05)" = \
  "68 99 99 99 99 99 99 68 08 06 38 37 36 35 34 59 DB 16" ] || fail "encode time"
[ "$("$WK_BIN" dlt645 encode error 1C 04 --addr 123456789012)" = "68 12 90 78 56 34 12 68 DC 01 37 9A 16" ] || fail "encode error"
# round trip of a block and of an authenticated command
out=$("$WK_BIN" dlt645 decode "$("$WK_BIN" dlt645 encode reply 0001FF00 1.50,0.20,0.30,0.40,0.60 --addr 42)")
has "$out" '"address":"000000000042"'
has "$out" '{"name":"t4","value":0.60,"unit":"kWh"}'
out=$("$WK_BIN" dlt645 decode "$("$WK_BIN" dlt645 encode relay close --addr 42 --deadline 2026-01-01T00:00:00 --key 0011 --counter 9)")
has "$out" '"password_level":"99"'
has "$out" '"counter":9'

# bad frames: exit 1 and a reason
bad() { # bad HEX REASON
  if err=$("$WK_BIN" dlt645 decode "$1" 2>&1 >/dev/null); then fail "accepted bad frame $1"; fi
  has "$err" "$2"
}
bad "68 12 90 78 56 34 12 68 11 04 33 33 34 33 69 16" "wrong checksum"
bad "68 12 90 78 56 34 12 68 11 04 33 33 34" "truncated"
bad "68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16 16" "oversized"
bad "68 1F 90 78 56 34 12 68 11 04 33 33 34 33 75 16" "wrong address"
bad "00 11 22" "garbage"
bad "zz" "hex"
if "$WK_BIN" dlt645 encode reply 00010000 -1 --addr 1 2>/dev/null; then fail "negative energy accepted"; fi
# several frames: one JSON line each, an undecodable one marked, exit 1
set +e
out=$("$WK_BIN" dlt645 decode "68 12 90 78 56 34 12 68 9C 00 22 16" "68 12 90 78 56 34 12 68 11 04 33 33 34 33 69 16" \
  "68 AA AA AA AA AA AA 68 13 00 DF 16" 2>/dev/null)
rc=$?
set -e
[ "$rc" = 1 ] || fail "multi decode with a bad frame must exit 1"
[ "$(echo "$out" | wc -l)" = 3 ] || fail "multi decode: want 3 lines, got: $out"
[ "$(echo "$out" | sed -n 2p)" = '{"invalid":"wrong checksum"}' ] || fail "multi decode line 2: $out"
echo "dlt645 cli: ok"
