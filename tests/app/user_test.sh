#!/usr/bin/env bash
# user_test.sh - `wattkeeper user add` through the binary: creates logins with argon2id
# hashes, refuses a taken login, a bad role and a short password with a clear message and
# a non-zero exit, and reads the password only from WK_PASSWORD or stdin.
set -euo pipefail
BIN=${WK_BIN:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
WK_PASSWORD='correct horse battery' "$BIN" user add li.admin --role admin --company Lakeside --db "$T/wk.db" >/dev/null && ok || bad "add admin"
echo 'resident password 1' | "$BIN" user add zhang.san --role resident --account 7 --db "$T/wk.db" >/dev/null && ok || bad "add resident from stdin"
h=$(sqlite3 "$T/wk.db" "select pass_hash from app_user where login='zhang.san'")
[[ $h == '$argon2id$'* ]] && ok || bad "hash is not argon2id: $h"
sqlite3 "$T/wk.db" "select count(*) from app_user where pass_hash like '%horse%'" | grep -qx 0 && ok || bad "password stored"
set +e
WK_PASSWORD='correct horse battery' "$BIN" user add li.admin --role admin --company Lakeside --db "$T/wk.db" 2>"$T/e1"; r1=$?
WK_PASSWORD='correct horse battery' "$BIN" user add li.boss --role boss --company Lakeside --db "$T/wk.db" 2>"$T/e2"; r2=$?
WK_PASSWORD='short' "$BIN" user add li.two --role finance --company Lakeside --db "$T/wk.db" 2>"$T/e3"; r3=$?
set -e
[ $r1 = 1 ] && grep -q 'taken' "$T/e1" && ok || bad "taken login: rc=$r1 $(cat "$T/e1")"
[ $r2 = 2 ] && grep -q 'expected admin, finance' "$T/e2" && ok || bad "bad role: rc=$r2"
[ $r3 = 1 ] && grep -q 'password: expected 10..128' "$T/e3" && ok || bad "short password: rc=$r3"
[ "$(sqlite3 "$T/wk.db" 'select count(*) from app_user')" = 2 ] && ok || bad "rejected users were stored"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
