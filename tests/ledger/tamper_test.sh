#!/usr/bin/env bash
# tamper_test.sh - the ledger CLI end to end, and `wattkeeper ledger verify` catching every
# kind of tampering done with the sqlite3 shell: an edited record, a deleted row,
# reordered leaves, a swapped checkpoint, an edited interior log node, a balance edit.
# Also: bad input is rejected naming the field with no state change, retries book once,
# receipts verify offline and fail when edited. Needs WK_BIN and the sqlite3 CLI.
set -euo pipefail
W=${WK_BIN:?WK_BIN not set}
: "${WK_SOURCE_DIR:?WK_SOURCE_DIR not set}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
db=l.db

# expect_reject FIELD CMD...: the command fails, stderr names FIELD, the DB is unchanged.
expect_reject() {
  local field=$1; shift
  local before after
  before=$(sqlite3 "$db" "SELECT count(*), total(debits_fen), total(credits_fen) FROM ledger_account JOIN (SELECT count(*) FROM ledger_transfer)")
  if "$@" >out 2>err; then fail "accepted: $*"; fi
  grep -q -- "$field" err || { cat err; fail "error for '$*' does not name $field"; }
  after=$(sqlite3 "$db" "SELECT count(*), total(debits_fen), total(credits_fen) FROM ledger_account JOIN (SELECT count(*) FROM ledger_transfer)")
  [ "$before" = "$after" ] || fail "state changed by rejected: $*"
}

$W migrate --db "sqlite:$db" | grep -Eq "^migrate: [1-9][0-9]* migrations? applied" || fail "migrate"
$W migrate --db "$db" | grep -q "0 migrations applied" || fail "migrate twice"
wallet=$($W ledger account add wallet:301 --kind wallet --db $db 2>/dev/null)
clearing=$($W ledger account add clearing:wechat --kind clearing --db $db)
revenue=$($W ledger account add revenue --kind revenue --db $db)
shop=$($W ledger account add wallet:shop --kind wallet --overdraft 200 --db $db)
[ "$(stat -c %a $db.logkey)" = 600 ] || fail "log key mode"
$W ledger log-key --db $db >log.pub
grep -Eq '^wattkeeper\.local/ledger\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$' log.pub || fail "log-key format: $(cat log.pub)"

id() { printf '%032x' "$1"; }
for i in $(seq 1 20); do
  out=$($W ledger transfer --db $db --from $clearing --to $wallet --amount $((100 * i)) --id "$(id $i)" --reason "top-up $i")
  [ "$out" = "$(id $i)" ] || fail "transfer printed '$out'"
done
# retries book once
$W ledger transfer --db $db --from $clearing --to $wallet --amount 300 --id "$(id 3)" --reason "top-up 3" >/dev/null
[ "$(sqlite3 $db 'SELECT count(*) FROM ledger_transfer')" = 20 ] || fail "retry booked twice"
bal=$(sqlite3 $db "SELECT credits_fen - debits_fen FROM ledger_account WHERE id = $wallet")
[ "$bal" = 21000 ] || fail "wallet balance $bal"
$W ledger transfer --db $db --from wallet:301 --to revenue --amount 1000 --id "$(id 100)" --reason "deduction" >/dev/null

expect_reject "--id" $W ledger transfer --db $db --from $clearing --to $wallet --amount 301 --id "$(id 3)" --reason "top-up 3"
expect_reject "--amount" $W ledger transfer --db $db --from $clearing --to $wallet --amount 0 --id "$(id 50)" --reason x
expect_reject "--amount" $W ledger transfer --db $db --from $clearing --to $wallet --amount -5 --id "$(id 50)" --reason x
expect_reject "--amount" $W ledger transfer --db $db --from $clearing --to $wallet --amount 1.5 --id "$(id 50)" --reason x
expect_reject "--amount" $W ledger transfer --db $db --from $shop --to $revenue --amount 201 --id "$(id 50)" --reason x
expect_reject "--from" $W ledger transfer --db $db --from 999 --to $wallet --amount 5 --id "$(id 50)" --reason x
expect_reject "--to" $W ledger transfer --db $db --from $clearing --to nobody --amount 5 --id "$(id 50)" --reason x
expect_reject "--id" $W ledger transfer --db $db --from $clearing --to $wallet --amount 5 --id xyz --reason x
expect_reject "--reason" $W ledger transfer --db $db --from $clearing --to $wallet --amount 5 --id "$(id 50)"
expect_reject "--kind" $W ledger account add w2 --kind bank --db $db
expect_reject "--overdraft" $W ledger account add w2 --kind wallet --overdraft -3 --db $db
expect_reject "name" $W ledger account add wallet:301 --kind wallet --db $db
expect_reject "--db" $W ledger show 1 --db "ftp://x"
# the floor can be overridden explicitly
$W ledger transfer --db $db --from $shop --to $revenue --amount 201 --id "$(id 51)" --reason "meter" --allow-overdraft >/dev/null

$W ledger show wallet:301 --db $db >show.txt
grep -q "balance_fen=20000" show.txt || { cat show.txt; fail "show balance"; }
[ "$(grep -c 'top-up' show.txt)" = 20 ] || fail "show postings"

$W ledger checkpoint --db $db >cp1.txt
grep -q '^22$' cp1.txt || fail "checkpoint size"
$W ledger receipt "$(id 7)" --db $db >r7.json
$W receipt verify r7.json --log-key log.pub >/dev/null || fail "receipt verify"
sed 's/"amount_fen": 700/"amount_fen": 701/' r7.json >r7bad.json
cmp -s r7.json r7bad.json && fail "receipt edit did not apply"
if $W receipt verify r7bad.json --log-key log.pub 2>/dev/null; then fail "edited receipt verified"; fi
python3 - r7.json <<'PY' >r7leaf.json
import json, sys
r = json.load(open(sys.argv[1]))
r["inclusion"][0] = "00" * 32
print(json.dumps(r))
PY
if $W receipt verify r7leaf.json --log-key log.pub 2>/dev/null; then fail "bad proof verified"; fi
# an independent verifier written from docs/ledger.md alone (hashlib + cryptography)
if python3 -c 'import cryptography' 2>/dev/null; then
  python3 "$WK_SOURCE_DIR/tests/ledger/verify_receipt.py" r7.json log.pub >/dev/null || fail "independent verifier"
  if python3 "$WK_SOURCE_DIR/tests/ledger/verify_receipt.py" r7bad.json log.pub 2>/dev/null; then
    fail "independent verifier accepted an edited receipt"; fi
else
  echo "tamper_test: python3-cryptography missing, independent verifier skipped"
fi
echo "otherlog+00000000+AAAA" >bad.pub
if $W receipt verify r7.json --log-key bad.pub 2>/dev/null; then fail "bad key accepted"; fi
# a log key readable by others is refused
chmod 644 $db.logkey
if $W ledger checkpoint --db $db >/dev/null 2>err; then fail "world-readable key accepted"; fi
grep -q "chmod 600" err || fail "key mode message"
chmod 600 $db.logkey
$W ledger transfer --db $db --from $clearing --to $wallet --amount 5 --id "$(id 60)" --reason "after" >/dev/null
$W ledger checkpoint --db $db >/dev/null
$W ledger verify --db $db >/dev/null || fail "verify of an intact ledger"
$W ledger verify --db $db --log-key log.pub >/dev/null || fail "verify with the public key"
cp $db pristine.db
cp $db.logkey pristine.db.logkey

# tamper CASE SQL EXPECT: apply SQL to a fresh copy, verify must fail naming EXPECT.
tamper() {
  local name=$1 sql=$2 expect=$3
  cp pristine.db t.db; cp pristine.db.logkey t.db.logkey
  rm -f t.db-wal t.db-shm
  sqlite3 t.db "DROP TRIGGER IF EXISTS ledger_transfer_no_update; DROP TRIGGER IF EXISTS ledger_transfer_no_delete;
                DROP TRIGGER IF EXISTS ledger_node_no_update; DROP TRIGGER IF EXISTS ledger_node_no_delete;
                DROP TRIGGER IF EXISTS ledger_checkpoint_no_update; DROP TRIGGER IF EXISTS ledger_checkpoint_no_delete;
                $sql"
  if $W ledger verify --db t.db >out 2>err; then fail "tamper '$name' not detected"; fi
  grep -q -- "$expect" err || { cat err; fail "tamper '$name': message does not name '$expect'"; }
  echo "caught $name: $(cat err)"
}
tamper "edit reason" "UPDATE ledger_transfer SET reason = 'top-up 99' WHERE leaf_index = 5" "leaf 5"
tamper "edit amount+balances" "UPDATE ledger_transfer SET amount_fen = 1 WHERE leaf_index = 4;
  UPDATE ledger_account SET debits_fen = debits_fen - 499 WHERE id = $clearing;
  UPDATE ledger_account SET credits_fen = credits_fen - 499 WHERE id = $wallet" "leaf 4"
tamper "edit amount only" "UPDATE ledger_transfer SET amount_fen = 1 WHERE leaf_index = 4" "account $wallet (wallet:301)"
tamper "edit balance" "UPDATE ledger_account SET credits_fen = credits_fen + 100 WHERE id = $wallet" "account $wallet"
tamper "delete row" "DELETE FROM ledger_transfer WHERE leaf_index = 9;
  UPDATE ledger_account SET debits_fen = debits_fen - 1000 WHERE id = $clearing;
  UPDATE ledger_account SET credits_fen = credits_fen - 1000 WHERE id = $wallet" "leaf 9"
tamper "delete last row" "DELETE FROM ledger_transfer WHERE leaf_index = 22;
  UPDATE ledger_account SET debits_fen = debits_fen - 5 WHERE id = $clearing;
  UPDATE ledger_account SET credits_fen = credits_fen - 5 WHERE id = $wallet; DELETE FROM ledger_node WHERE level = 0 AND idx = 22" "checkpoint 23"
tamper "reorder leaves" "UPDATE ledger_transfer SET leaf_index = 1000000 WHERE leaf_index = 2;
  UPDATE ledger_transfer SET leaf_index = 2 WHERE leaf_index = 3;
  UPDATE ledger_transfer SET leaf_index = 3 WHERE leaf_index = 1000000" "leaf 2"
tamper "swap checkpoints" "UPDATE ledger_checkpoint SET note = (SELECT note FROM ledger_checkpoint WHERE tree_size = 22) WHERE tree_size = 23" "checkpoint 23"
tamper "forged checkpoint root" "UPDATE ledger_checkpoint SET root = zeroblob(32) WHERE tree_size = 22" "checkpoint 22"
tamper "edit interior node" "UPDATE ledger_node SET hash = zeroblob(32) WHERE level = 2 AND idx = 1" "level 2, index 1"
tamper "delete checkpoint signature" "UPDATE ledger_checkpoint SET note = substr(note, 1, instr(note, char(10) || char(10))) WHERE tree_size = 22" "checkpoint 22"
echo "tamper_test: all checks passed"
