// The suite 1 key hierarchy in the browser (PROTOCOL.md §3): device keys, per-user keys (PUK)
// and their wraps, thread epoch keys and what derives from them, signed statements.
import { concat, hex, jsonBytes, label, parseJson, ProtocolError, u32, unb64, unhex, VerificationError } from "./bytes.js";
import * as hpke from "./hpke.js";
import { aesGcmDecrypt, aesGcmEncrypt, hkdf, importPrivate, publicFromSeed, randomBytes, sha256, sign, signedDigest, verify } from "./primitives.js";

function id16(value, what = "id") {
  if (!(value instanceof Uint8Array) || value.length !== 16) throw new ProtocolError(`${what} must be 16 bytes`);
  return value;
}
function epochNumber(epoch) {
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > 0xffffffff) throw new ProtocolError("epoch out of range");
  return epoch;
}

// -- device keys: generated non-extractable, kept in IndexedDB by the caller ------------------
export async function generateDevice() {
  const dh = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  const sig = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  return { deviceId: randomBytes(16), dh: dh.privateKey, sig: sig.privateKey,
    dhPub: new Uint8Array(await crypto.subtle.exportKey("raw", dh.publicKey)),
    sigPub: new Uint8Array(await crypto.subtle.exportKey("raw", sig.publicKey)) };
}
// From seeds (restored backups, test vectors); the imported private keys are non-extractable.
export async function deviceFromSeeds(deviceId, dhSeed, sigSeed) {
  return { deviceId: id16(deviceId, "device id"), dh: await importPrivate("X25519", dhSeed),
    sig: await importPrivate("Ed25519", sigSeed), dhPub: await publicFromSeed("X25519", dhSeed),
    sigPub: await publicFromSeed("Ed25519", sigSeed) };
}

// -- per-user keys: one 32-byte secret per generation yields both key pairs -------------------
export async function perUserKey(userId, gen, secret) {
  id16(userId, "user id");
  if (!Number.isInteger(gen) || gen < 1 || secret.length !== 32) throw new ProtocolError("invalid per-user key");
  const seed = (purpose) => hkdf(secret, { salt: userId, info: concat(label(`TEK1/puk-${purpose}`), u32(gen)) });
  const dhSeed = await seed("dh"), sigSeed = await seed("sig");
  return { userId, gen, secret, dh: await importPrivate("X25519", dhSeed), sig: await importPrivate("Ed25519", sigSeed),
    dhPub: await publicFromSeed("X25519", dhSeed), sigPub: await publicFromSeed("Ed25519", sigSeed) };
}
export const pukWrapInfo = (userId, gen, deviceId) => concat(label("TEK1/puk"), id16(userId), u32(gen), id16(deviceId));
export const wrapPukForDevice = (puk, device, ephemeralSeed) =>
  hpke.seal(device.dhPub, pukWrapInfo(puk.userId, puk.gen, device.deviceId), puk.secret, ephemeralSeed);
export async function unwrapPuk(device, userId, gen, blob) {
  return perUserKey(userId, gen, await hpke.open(device.dh, device.dhPub, pukWrapInfo(userId, gen, device.deviceId), blob));
}
async function prevLinkParts(newer) {
  const key = await hkdf(newer.secret, { salt: newer.userId, info: concat(label("TEK1/puk-prev"), u32(newer.gen)) });
  return { key, aad: concat(label("TEK1/puk-prev"), newer.userId, u32(newer.gen)) };
}
export async function linkPrevious(newer, previous, nonce = randomBytes(12)) {
  if (previous.gen + 1 !== newer.gen) throw new ProtocolError("previous generation must directly precede");
  const { key, aad } = await prevLinkParts(newer);
  return concat(nonce, await aesGcmEncrypt(key, nonce, previous.secret, aad));
}
export async function openPrevious(newer, link) {
  if (newer.gen < 2 || link.length !== 60) throw new ProtocolError("invalid previous-generation link");
  const { key, aad } = await prevLinkParts(newer);
  return perUserKey(newer.userId, newer.gen - 1, await aesGcmDecrypt(key, link.subarray(0, 12), link.subarray(12), aad));
}

// -- thread epoch keys ----------------------------------------------------------------------
export const newEpochKey = () => randomBytes(32);
const derived = (name) => (epochKey, threadId, epoch) =>
  hkdf(epochKey, { salt: id16(threadId), info: concat(label(name), u32(epochNumber(epoch))) });
export const messageKey = derived("TEK1 msg");
export const metaKey = derived("TEK1 meta");
const historyKey = derived("TEK1 hist");

export const wrapInfo = (threadId, epoch, userId, gen) =>
  concat(label("TEK1/wrap"), id16(threadId), u32(epochNumber(epoch)), id16(userId), u32(gen));
export function wrapEpochKey(epochKey, { threadId, epoch, userId, pukGen, pukDhPub, ephemeralSeed }) {
  if (epochKey.length !== 32) throw new ProtocolError("epoch key must be 32 bytes");
  return hpke.seal(pukDhPub, wrapInfo(threadId, epoch, userId, pukGen), epochKey, ephemeralSeed);
}
export async function unwrapEpochKey(puk, { threadId, epoch, blob }) {
  const key = await hpke.open(puk.dh, puk.dhPub, wrapInfo(threadId, epoch, puk.userId, puk.gen), blob);
  if (key.length !== 32) throw new ProtocolError("wrapped epoch key has the wrong length");
  return key;
}
export async function historyLink(epochKey, previousKey, { threadId, epoch, nonce = randomBytes(12) }) {
  const aad = concat(label("TEK1/hist"), threadId, u32(epoch));
  return concat(nonce, await aesGcmEncrypt(await historyKey(epochKey, threadId, epoch), nonce, previousKey, aad));
}
export async function openHistoryLink(epochKey, link, { threadId, epoch }) {
  if (link.length !== 60) throw new ProtocolError("invalid history link");
  const aad = concat(label("TEK1/hist"), threadId, u32(epoch));
  return aesGcmDecrypt(await historyKey(epochKey, threadId, epoch), link.subarray(0, 12), link.subarray(12), aad);
}
export async function encryptMeta(epochKey, meta, { threadId, epoch, nonce = randomBytes(12) }) {
  const aad = concat(label("TEK1/meta"), id16(threadId), u32(epoch));
  return concat(nonce, await aesGcmEncrypt(await metaKey(epochKey, threadId, epoch), nonce, jsonBytes(meta), aad));
}
export async function decryptMeta(epochKey, blob, { threadId, epoch }) {
  if (blob.length < 28) throw new ProtocolError("metadata blob too short");
  const aad = concat(label("TEK1/meta"), id16(threadId), u32(epoch));
  const meta = parseJson(await aesGcmDecrypt(await metaKey(epochKey, threadId, epoch), blob.subarray(0, 12), blob.subarray(12), aad));
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) throw new ProtocolError("metadata must be a JSON object");
  return meta;
}

// -- signed statements: verify the exact bytes received, then parse --------------------------
const KINDS = new Set(["user-cert", "device-cert", "device-revoke", "puk-record", "event"]);
export async function signStatement(kind, obj, privateKey) {
  if (!KINDS.has(kind)) throw new ProtocolError("unknown statement kind");
  const payload = jsonBytes(obj);
  return { kind, payload, signature: await sign(privateKey, await signedDigest(kind, payload)) };
}
export async function verifyStatement(statement, kind, publicRaw) {
  if (statement.kind !== kind) throw new ProtocolError(`expected a ${kind} statement`);
  await verify(publicRaw, statement.signature, await signedDigest(kind, statement.payload));
  const obj = parseJson(statement.payload);
  if (!obj || obj.v !== 1) throw new ProtocolError("unsupported statement version");
  return obj;
}
export const statementFromJson = (j) => {
  if (!KINDS.has(j.kind)) throw new ProtocolError("unknown statement kind");
  return { kind: j.kind, payload: unb64(j.payload), signature: unb64(j.sig, 64) };
};
export const eventHash = (payload) => sha256(concat(label("TEK1/event"), payload));

export async function verifyDeviceCert(cert, uikPub, userId) {
  const body = await verifyStatement(cert, "device-cert", uikPub);
  if (body.user !== hex(userId)) throw new VerificationError("device certificate names another user");
  return { deviceId: unhex(body.device, 16), dhPub: unb64(body.dh_pub, 32), sigPub: unb64(body.sig_pub, 32) };
}
