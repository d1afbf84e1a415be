// HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM,
// single-shot, blob = enc(32) ‖ ct ‖ tag. Built from WebCrypto X25519 + HMAC + AES-GCM
// (WebCrypto has no HPKE); interoperates with Python cryptography's hpke.Suite.
import { concat, label, u16, ProtocolError, VerificationError } from "./bytes.js";
import { aesGcmDecrypt, aesGcmEncrypt, exportPublic, hmac, importPrivate, publicFromSeed, x25519 } from "./primitives.js";

const KEM_SUITE = concat(label("KEM"), u16(0x0020));
const HPKE_SUITE = concat(label("HPKE"), u16(0x0020), u16(0x0001), u16(0x0002));
const V1 = label("HPKE-v1");
const EMPTY = new Uint8Array(0);

const labeledExtract = (suite, salt, lbl, ikm) => hmac(salt, concat(V1, suite, label(lbl), ikm));
async function labeledExpand(suite, prk, lbl, info, length) {
  const labeledInfo = concat(u16(length), V1, suite, label(lbl), info);
  let block = EMPTY, okm = EMPTY;
  for (let i = 1; okm.length < length; i++) {
    block = await hmac(prk, concat(block, labeledInfo, Uint8Array.of(i)));
    okm = concat(okm, block);
  }
  return okm.slice(0, length);
}

async function sharedSecret(dh, enc, recipientPublic) {
  const prk = await labeledExtract(KEM_SUITE, EMPTY, "eae_prk", dh);
  return labeledExpand(KEM_SUITE, prk, "shared_secret", concat(enc, recipientPublic), 32);
}

async function keySchedule(shared, info) {
  const context = concat(Uint8Array.of(0), await labeledExtract(HPKE_SUITE, EMPTY, "psk_id_hash", EMPTY),
    await labeledExtract(HPKE_SUITE, EMPTY, "info_hash", info));
  const secret = await labeledExtract(HPKE_SUITE, shared, "secret", EMPTY);
  return { key: await labeledExpand(HPKE_SUITE, secret, "key", context, 32),
    nonce: await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12) };
}

// Seal to a raw X25519 public key. `ephemeralSeed` exists for test vectors only: reusing an
// ephemeral key would reuse an AES-GCM key and nonce.
export async function seal(recipientPublic, info, plaintext, ephemeralSeed) {
  let ephemeral, enc;
  if (ephemeralSeed) {
    ephemeral = await importPrivate("X25519", ephemeralSeed);
    enc = await publicFromSeed("X25519", ephemeralSeed);
  } else {
    const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
    ephemeral = pair.privateKey;
    enc = await exportPublic(pair.publicKey);
  }
  const shared = await sharedSecret(await x25519(ephemeral, recipientPublic), enc, recipientPublic);
  const { key, nonce } = await keySchedule(shared, info);
  return concat(enc, await aesGcmEncrypt(key, nonce, plaintext, EMPTY));
}

// Open with an X25519 private CryptoKey (non-extractable is fine) and its raw public key.
export async function open(recipientKey, recipientPublic, info, blob) {
  if (blob.length < 48) throw new ProtocolError("HPKE blob too short");
  const enc = blob.subarray(0, 32);
  let dh;
  try { dh = await x25519(recipientKey, enc); } catch { throw new VerificationError("HPKE open failed"); }
  const { key, nonce } = await keySchedule(await sharedSecret(dh, enc, recipientPublic), info);
  try { return await aesGcmDecrypt(key, nonce, blob.subarray(32), EMPTY); } catch { throw new VerificationError("HPKE open failed"); }
}
