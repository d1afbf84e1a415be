// WebCrypto wrappers fixing suite 1's parameters: X25519, Ed25519, HKDF-SHA256, HMAC-SHA256,
// AES-256-GCM, SHA-256/512. Sizes are enforced here because WebCrypto accepts, for example,
// 8-byte AES-GCM nonces. Private keys are imported non-extractable.
import { concat, label, ProtocolError, VerificationError } from "./bytes.js";

export { randomBytes } from "./bytes.js";

const S = crypto.subtle;
// PKCS#8 prefixes for a raw 32-byte seed: WebCrypto cannot import private keys as "raw".
const PKCS8 = {
  Ed25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20),
  X25519: Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20),
};

function need(bytes, length, what) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new ProtocolError(`${what} must be ${length} bytes`);
}

export const sha256 = async (data) => new Uint8Array(await S.digest("SHA-256", data));
export const sha512 = async (data) => new Uint8Array(await S.digest("SHA-512", data));

export async function hkdf(ikm, { salt, info, length = 32 }) {
  const key = await S.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await S.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8));
}

// WebCrypto refuses an empty HMAC key; RFC 5869 makes HashLen zero bytes equivalent.
export async function hmac(keyBytes, data) {
  const key = await S.importKey("raw", keyBytes.length ? keyBytes : new Uint8Array(32),
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await S.sign("HMAC", key, data));
}

export async function aesKey(raw, usages = ["encrypt", "decrypt"]) {
  need(raw, 32, "AES-256-GCM key");
  return S.importKey("raw", raw, "AES-GCM", false, usages);
}
async function asKey(key) { return key instanceof Uint8Array ? aesKey(key) : key; }

export async function aesGcmEncrypt(key, nonce, plaintext, aad) {
  need(nonce, 12, "AES-GCM nonce");
  return new Uint8Array(await S.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, await asKey(key), plaintext));
}
export async function aesGcmDecrypt(key, nonce, ciphertext, aad) {
  need(nonce, 12, "AES-GCM nonce");
  if (ciphertext.length < 16) throw new VerificationError("ciphertext shorter than its tag");
  try {
    return new Uint8Array(await S.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, await asKey(key), ciphertext));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new VerificationError("authentication failed");
  }
}

export async function importPrivate(alg, seed, extractable = false) {
  need(seed, 32, `${alg} seed`);
  const usages = alg === "Ed25519" ? ["sign"] : ["deriveBits"];
  return S.importKey("pkcs8", concat(PKCS8[alg], seed), { name: alg }, extractable, usages);
}
export async function importPublic(alg, raw) {
  need(raw, 32, `${alg} public key`);
  return S.importKey("raw", raw, { name: alg }, true, alg === "Ed25519" ? ["verify"] : []);
}
export const exportPublic = async (key) => new Uint8Array(await S.exportKey("raw", key));

// The public half of a seed: import extractable once, export as JWK, re-import the public part.
export async function publicFromSeed(alg, seed) {
  const jwk = await S.exportKey("jwk", await importPrivate(alg, seed, true));
  const pub = await S.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, { name: alg }, true,
    alg === "Ed25519" ? ["verify"] : []);
  return exportPublic(pub);
}

export async function x25519(privateKey, peerPublic) {
  try {
    return new Uint8Array(await S.deriveBits({ name: "X25519", public: await importPublic("X25519", peerPublic) }, privateKey, 256));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("invalid X25519 public key");
  }
}

export const sign = async (privateKey, message) => new Uint8Array(await S.sign({ name: "Ed25519" }, privateKey, message));

// Imported Ed25519 public keys by their bytes: a thread page verifies hundreds of messages signed
// by the same few devices, and each import is one more WebCrypto round trip. Public keys only;
// the oldest entry goes when the map is full; a failed import is not kept.
const verifyKeys = new Map();
const VERIFY_KEYS_MAX = 256;
function verifyKey(publicRaw) {
  const id = String.fromCharCode(...publicRaw);
  let key = verifyKeys.get(id);
  if (!key) {
    key = importPublic("Ed25519", publicRaw);
    if (verifyKeys.size >= VERIFY_KEYS_MAX) verifyKeys.delete(verifyKeys.keys().next().value);
    verifyKeys.set(id, key);
    key.catch(() => { if (verifyKeys.get(id) === key) verifyKeys.delete(id); });
  }
  return key;
}

export async function verify(publicRaw, signature, message) {
  if (publicRaw.length !== 32 || signature.length !== 64) throw new VerificationError("bad signature or key length");
  const ok = await S.verify({ name: "Ed25519" }, await verifyKey(publicRaw), signature, message);
  if (!ok) throw new VerificationError("invalid signature");
}

// "TEK1/<purpose>-sig" ‖ SHA-256(data): what every suite 1 signature covers.
export const signedDigest = async (purpose, data) => concat(label(`TEK1/${purpose}-sig`), await sha256(data));
