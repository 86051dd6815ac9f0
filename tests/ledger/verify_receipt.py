#!/usr/bin/env python3
"""verify_receipt.py - an independent check of a Wattkeeper receipt, written only from
docs/ledger.md (no Wattkeeper code): RFC 9162 inclusion proof with hashlib, the C2SP signed
note with the `cryptography` package's Ed25519.

usage: verify_receipt.py RECEIPT.json LOG.pub     exit 0 = verified
"""
import base64, hashlib, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def node(l, r): return hashlib.sha256(b"\x01" + l + r).digest()

def verify_inclusion(index, size, leaf_hash, proof, root):  # RFC 9162 2.1.3.2
    if index >= size: return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0: fn >>= 1; sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root

receipt = json.load(open(sys.argv[1]))
name, keyid, keyb64 = open(sys.argv[2]).read().strip().split("+", 2)
key = base64.b64decode(keyb64)
assert key[0] == 1, "not an Ed25519 key"
assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == keyid, "key id"

# 1. the leaf bytes say what the record says
leaf = bytes.fromhex(receipt["leaf"])
ver, typ, idx, tid, deb, cred, amt, flags, t, rl = struct.unpack(">BBQ16sQQQIqH", leaf[:64])
reason = leaf[64:].decode()
rec = receipt["record"]
assert (ver, typ, len(leaf)) == (1, 1, 64 + rl)
assert (idx, tid.hex(), deb, cred, amt, flags, t, reason) == (
    rec["leaf_index"], rec["id"], rec["debit_account"], rec["credit_account"],
    rec["amount_fen"], rec["flags"], rec["time_s"], rec["reason"]), "record != leaf"

# 2. the leaf is in the tree with this root
leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
proof = [bytes.fromhex(h) for h in receipt["inclusion"]]
root = bytes.fromhex(receipt["root"])
assert idx == receipt["leaf_index"]
assert verify_inclusion(idx, receipt["tree_size"], leaf_hash, proof, root), "inclusion proof"

# 3. the log signed that root at that size
note = receipt["checkpoint"]
text, sigs = note.split("\n\n", 1)
text += "\n"
ok = False
for line in sigs.splitlines():
    dash, signer, sig = line.split(" ")
    raw = base64.b64decode(sig)
    if dash == "\u2014" and signer == name and raw[:4].hex() == keyid:
        Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], text.encode())
        ok = True
assert ok, "no signature by the log key"
origin, size, b64root = text.split("\n")[:3]
assert origin == name and int(size) == receipt["tree_size"] and base64.b64decode(b64root) == root
print(f"verified: {amt} fen, leaf {idx} of {size}, log {origin}")
