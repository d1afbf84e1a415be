// Recovery Key (52 base32 characters in groups of 4) and the account-secrets blob
// (PROTOCOL.md §8), twin of cooperation_client/protocol/recovery.py.
import { concat, jsonBytes, label, parseJson, ProtocolError, u32, VerificationError } from "./bytes.js";
import { aesGcmDecrypt, aesGcmEncrypt, hkdf, randomBytes } from "./primitives.js";

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

async function parts(recoveryKey, userId, version) {
  return { key: await hkdf(recoveryKey, { salt: new Uint8Array(0), info: label("TEK1/recovery") }),
    aad: concat(label("TEK1/recovery"), userId, u32(version)) };
}

// secretsBytes: the UTF-8 JSON {"puks":[{"gen","secret"}],"uik_seed","v":1} as in Python.
export async function sealAccountSecrets(recoveryKey, userId, secretsBytes, { version, nonce = randomBytes(12) }) {
  const { key, aad } = await parts(recoveryKey, userId, version);
  return concat(Uint8Array.of(1), u32(version), nonce, await aesGcmEncrypt(key, nonce, secretsBytes, aad));
}

export async function openAccountSecrets(recoveryKey, userId, blob) {
  if (blob.length < 33 || blob[0] !== 1) throw new ProtocolError("not a recovery blob");
  const version = new DataView(blob.buffer, blob.byteOffset + 1, 4).getUint32(0);
  const { key, aad } = await parts(recoveryKey, userId, version);
  let plaintext;
  try { plaintext = await aesGcmDecrypt(key, blob.subarray(5, 17), blob.subarray(17), aad); }
  catch { throw new VerificationError("wrong recovery key, or the blob was altered"); }
  return { version, bytes: plaintext, secrets: parseJson(plaintext) };
}
export const secretsToBytes = (obj) => jsonBytes(obj);
