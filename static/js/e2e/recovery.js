// Recovery Key (52 base32 characters in groups of 4) and the recovery blob of the account
// secrets (PROTOCOL.md §8), twin of cooperation_client/protocol/recovery.py. Format 2 is an HPKE
// seal to the recovery public key (X25519 from HKDF(RK, "TEK1/recovery-kem")), which travels
// inside the account secrets with its binding to the identity key (HMAC under HKDF(RK,
// "TEK1/recovery-bind")): every device holding the account secrets re-seals without the
// Recovery Key, and only the Recovery Key opens. Format 1 (AES-GCM under HKDF(RK,
// "TEK1/recovery")) is still read.
import { b64, concat, equal, jsonBytes, label, parseJson, ProtocolError, u32, unb64, VerificationError } from "./bytes.js";
import * as hpke from "./hpke.js";
import { aesGcmDecrypt, aesGcmEncrypt, hkdf, hmac, importPrivate, publicFromSeed, randomBytes } from "./primitives.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOOKALIKES = { 0: "O", 1: "I", 8: "B" };

export const newRecoveryKey = () => randomBytes(32);

export function formatRecoveryKey(key) {
  if (key.length !== 32) throw new ProtocolError("recovery key must be 32 bytes");
  let bits = 0, value = 0, out = "";
  for (const byte of key) {
    value = (value << 8) | byte; bits += 8;
    while (bits >= 5) { out += ALPHABET[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out.match(/.{1,4}/g).join(" ");
}

export function parseRecoveryKey(text) {
  const compact = [...text.toUpperCase()].map((c) => LOOKALIKES[c] || c).filter((c) => !" -\t\n".includes(c)).join("");
  if (compact.length !== 52) throw new ProtocolError("a recovery key has 52 characters");
  const out = new Uint8Array(32);
  let bits = 0, value = 0, o = 0;
  for (const c of compact) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw new ProtocolError("the recovery key contains invalid characters");
    value = ((value << 5) | v) & 0xffff; bits += 5;
    if (bits >= 8) { if (o < 32) out[o++] = (value >>> (bits - 8)) & 255; bits -= 8; }
  }
  if (formatRecoveryKey(out).replaceAll(" ", "") !== compact) throw new ProtocolError("the recovery key is not valid");
  return out;
}

export const FORMAT_V1 = 1, FORMAT_V2 = 2;

function derive(recoveryKey, purpose) {
  if (!(recoveryKey instanceof Uint8Array) || recoveryKey.length !== 32) throw new ProtocolError("recovery key must be 32 bytes");
  return hkdf(recoveryKey, { salt: new Uint8Array(0), info: label(`TEK1/${purpose}`) });
}

// "TEK1/recovery-bind" ‖ user_id ‖ uik_pub ‖ recovery_pub
function bindingInput(userId, uikPub, recoveryPub) {
  if (userId.length !== 16 || uikPub.length !== 32 || recoveryPub.length !== 32) throw new ProtocolError("invalid binding input");
  return concat(label("TEK1/recovery-bind"), userId, uikPub, recoveryPub);
}

// {pub, bind}: the recovery public key of this Recovery Key and its binding to the user's
// identity key, as carried in the account secrets. The private key is not kept.
export async function recoveryInfo(recoveryKey, userId, uikPub) {
  const seed = await derive(recoveryKey, "recovery-kem");
  const pub = await publicFromSeed("X25519", seed);
  seed.fill(0);
  const bindKey = await derive(recoveryKey, "recovery-bind");
  const bind = await hmac(bindKey, bindingInput(userId, uikPub, pub));
  bindKey.fill(0);
  return { pub, bind };
}

export const recoveryInfoToJson = (info) => ({ bind: b64(info.bind), pub: b64(info.pub) });
export function recoveryInfoFromJson(obj) {
  if (!obj || typeof obj !== "object") throw new ProtocolError("recovery information is malformed");
  return { pub: unb64(obj.pub, 32), bind: unb64(obj.bind, 32) };
}

export const blobInfo = (userId, version) => concat(label("TEK1/recovery-blob"), userId, u32(version));

// Format 2: u8 2 ‖ u32 version ‖ HPKE(recoveryPub, info, secrets). recoveryPub is the one inside
// the account secrets, never one from the server. `ephemeralSeed`: test vectors only.
export async function sealRecoveryBlob(userId, secretsBytes, recoveryPub, { version, ephemeralSeed }) {
  const sealed = await hpke.seal(recoveryPub, blobInfo(userId, version), secretsBytes, ephemeralSeed);
  return concat(Uint8Array.of(FORMAT_V2), u32(version), sealed);
}

async function v1Parts(recoveryKey, userId, version) {
  return { key: await derive(recoveryKey, "recovery"), aad: concat(label("TEK1/recovery"), userId, u32(version)) };
}

// Format 1 (the test vectors; browsers enrolled before format 2 re-seal it with their stored key).
// secretsBytes: the UTF-8 JSON {"puks":[{"gen","secret"}],"uik_seed","v":1} as in Python.
export async function sealAccountSecrets(recoveryKey, userId, secretsBytes, { version, nonce = randomBytes(12) }) {
  const { key, aad } = await v1Parts(recoveryKey, userId, version);
  return concat(Uint8Array.of(FORMAT_V1), u32(version), nonce, await aesGcmEncrypt(key, nonce, secretsBytes, aad));
}

// Either format: {format, version, bytes, secrets (the parsed JSON), recovery}. `recovery` is
// always the information derived from the Recovery Key (a format 2 blob must hold exactly it),
// so whoever opens a format 1 blob seals format 2 next.
export async function openAccountSecrets(recoveryKey, userId, blob) {
  if (!(blob instanceof Uint8Array) || blob.length < 5 || ![FORMAT_V1, FORMAT_V2].includes(blob[0])) throw new ProtocolError("not a recovery blob");
  const format = blob[0];
  const version = new DataView(blob.buffer, blob.byteOffset + 1, 4).getUint32(0);
  let plaintext;
  if (format === FORMAT_V1) {
    if (blob.length < 33) throw new ProtocolError("not a recovery blob");
    const { key, aad } = await v1Parts(recoveryKey, userId, version);
    try { plaintext = await aesGcmDecrypt(key, blob.subarray(5, 17), blob.subarray(17), aad); }
    catch { throw new VerificationError("wrong recovery key, or the blob was altered"); }
  } else {
    const seed = await derive(recoveryKey, "recovery-kem");
    const kem = await importPrivate("X25519", seed);
    const pub = await publicFromSeed("X25519", seed);
    seed.fill(0);
    try { plaintext = await hpke.open(kem, pub, blobInfo(userId, version), blob.subarray(5)); }
    catch (e) {
      if (e instanceof VerificationError) throw new VerificationError("wrong recovery key, or the blob was altered");
      throw e;
    }
  }
  const secrets = parseJson(plaintext);
  if (!secrets || typeof secrets !== "object" || typeof secrets.uik_seed !== "string" || !Array.isArray(secrets.puks)) {
    throw new ProtocolError("account secrets are malformed");
  }
  const recovery = await recoveryInfo(recoveryKey, userId, await publicFromSeed("Ed25519", unb64(secrets.uik_seed, 32)));
  if (format === FORMAT_V2) {
    // Sealed to this Recovery Key's public key, but not bound by it to this identity key: made by
    // someone who learnt the public key, not by one of the user's devices.
    const inside = secrets.recovery ? recoveryInfoFromJson(secrets.recovery) : null;
    if (!inside || !equal(inside.pub, recovery.pub) || !equal(inside.bind, recovery.bind)) {
      throw new VerificationError("the recovery blob is not bound to its identity key");
    }
  }
  return { format, version, bytes: plaintext, secrets, recovery };
}
export const secretsToBytes = (obj) => jsonBytes(obj);
