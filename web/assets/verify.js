// verify.js - checks a Wattkeeper receipt in the browser, from docs/ledger.md alone (the
// same steps as `wattkeeper receipt verify` and tests/ledger/verify_receipt.py):
//   1. the log key (signed-note verifier form name+keyid+base64(0x01 || Ed25519 key)) is
//      well formed and its key id is SHA-256(name "\n" key)[:4];
//   2. the leaf bytes decode (version 1, type 1, big-endian fields) to exactly the record;
//   3. SHA-256(0x00 || leaf) is in the tree of `root` by the RFC 9162 inclusion proof;
//   4. the checkpoint is signed by that key (WebCrypto Ed25519) and names the same origin,
//      tree size and root.
// Returns {ok: true} or {ok: false, step, message}; never throws for bad input.

const enc = new TextEncoder();

function hex(h) {
  if (typeof h !== 'string' || h.length % 2 || !/^[0-9a-f]*$/i.test(h)) throw new Error('not hex');
  const a = new Uint8Array(h.length / 2);
  for (let i = 0; i < a.length; i++) a[i] = parseInt(h.substr(i * 2, 2), 16);
  return a;
}
const toHex = (a) => Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
function b64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
function cat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', cat(...parts)));
}

async function inclusion(index, size, leafHash, proof, root) { // RFC 9162 2.1.3.2
  if (index >= size) return false;
  let fn = index, sn = size - 1n, r = leafHash;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) || fn === sn) {
      r = await sha256(Uint8Array.of(1), p, r);
      while (!(fn & 1n) && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await sha256(Uint8Array.of(1), r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && eq(r, root);
}

function fail(step, message) { return { ok: false, step, message }; }

export async function verifyReceipt(receipt, verifierKey) {
  let name, keyid, key, leaf, rec;
  try { // 1. the key
    const k = verifierKey.trim(); // base64 may itself hold '+': split at the first two only
    const a = k.indexOf('+'), b = a < 0 ? -1 : k.indexOf('+', a + 1);
    if (a <= 0 || b < 0) return fail('key', 'log key: expected name+keyid+base64');
    name = k.slice(0, a);
    keyid = k.slice(a + 1, b);
    key = b64(k.slice(b + 1));
    if (key.length !== 33 || key[0] !== 1) return fail('key', 'log key: not an Ed25519 key');
    const id = await sha256(enc.encode(name + '\n'), key);
    if (toHex(id.slice(0, 4)) !== keyid) return fail('key', 'log key: key id does not match');
  } catch (e) { return fail('key', 'log key: ' + e.message); }
  try { // 2. leaf == record
    leaf = hex(receipt.leaf);
    rec = receipt.record;
    if (leaf.length < 64) return fail('leaf', 'leaf too short');
    const v = new DataView(leaf.buffer);
    const rl = v.getUint16(62);
    const reason = new TextDecoder('utf-8', { fatal: true }).decode(leaf.slice(64));
    const same = v.getUint8(0) === 1 && v.getUint8(1) === 1 && leaf.length === 64 + rl &&
      v.getBigUint64(2) === BigInt(rec.leaf_index) && toHex(leaf.slice(10, 26)) === rec.id &&
      v.getBigUint64(26) === BigInt(rec.debit_account) &&
      v.getBigUint64(34) === BigInt(rec.credit_account) &&
      v.getBigUint64(42) === BigInt(rec.amount_fen) && v.getUint32(50) === rec.flags &&
      v.getBigInt64(54) === BigInt(rec.time_s) && reason === rec.reason &&
      BigInt(rec.leaf_index) === BigInt(receipt.leaf_index);
    if (!same) return fail('record', 'the record does not match the signed leaf bytes');
  } catch (e) { return fail('leaf', 'leaf: ' + e.message); }
  let root;
  try { // 3. inclusion
    root = hex(receipt.root);
    const proof = receipt.inclusion.map(hex);
    const lh = await sha256(Uint8Array.of(0), leaf);
    if (!(await inclusion(BigInt(receipt.leaf_index), BigInt(receipt.tree_size), lh, proof, root)))
      return fail('inclusion', 'the inclusion proof does not lead to the root');
  } catch (e) { return fail('inclusion', 'inclusion: ' + e.message); }
  try { // 4. checkpoint
    const note = receipt.checkpoint;
    const cut = note.indexOf('\n\n');
    if (cut < 0) return fail('checkpoint', 'checkpoint: not a signed note');
    const text = note.slice(0, cut + 1);
    const pub = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
    let signed = false;
    for (const line of note.slice(cut + 2).split('\n')) {
      const f = line.split(' ');
      if (f.length !== 3 || f[0] !== '\u2014' || f[1] !== name) continue;
      const raw = b64(f[2]);
      if (raw.length !== 68 || toHex(raw.slice(0, 4)) !== keyid) continue;
      if (await crypto.subtle.verify('Ed25519', pub, raw.slice(4), enc.encode(text))) signed = true;
    }
    if (!signed) return fail('signature', 'no valid signature by the log key on the checkpoint');
    const [origin, size, rootB64] = text.split('\n');
    if (origin !== name || size !== String(receipt.tree_size) || !eq(b64(rootB64), root))
      return fail('checkpoint', 'the checkpoint names another log, size or root');
  } catch (e) { return fail('signature', 'checkpoint: ' + e.message); }
  return { ok: true };
}
