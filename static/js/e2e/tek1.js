// TEK1 message envelopes (PROTOCOL.md §5), the browser twin of
// cooperation_client/protocol/{envelope,messages}.py:
//   header = "TEK1" | u8 suite=1 | u8 type | thread_id[16] | u32 epoch | head_hash[32] | msg_id[16]
//            | sender_user[16] | sender_device[16] | u64 client_ts_ms | nonce[12]      (126 bytes)
//   stored = header | AES-256-GCM(k_msg, nonce, pad(JSON body), aad=header) | Ed25519 sig(64)
import { concat, isBucket, jsonBytes, label, pad, parseJson, ProtocolError, readU32, readU64, u32, u64, unpad, VerificationError } from "./bytes.js";
import { messageKey } from "./keys.js";
import { aesGcmDecrypt, aesGcmEncrypt, randomBytes, sha256, sign, verify as verifySignature } from "./primitives.js";

export const HEADER_LEN = 126;
export const MESSAGE_TYPES = { 1: "message", 2: "edit", 3: "redaction" };
const MAGIC = label("TEK1");
const FIELDS = [["threadId", 16], ["headHash", 32], ["msgId", 16], ["senderUser", 16], ["senderDevice", 16], ["nonce", 12]];

export function encodeHeader(h) {
  if (!MESSAGE_TYPES[h.type] || !Number.isInteger(h.epoch) || h.epoch < 1 || h.epoch > 0xffffffff) {
    throw new ProtocolError("invalid header field");
  }
  for (const [name, size] of FIELDS) if (!(h[name] instanceof Uint8Array) || h[name].length !== size) throw new ProtocolError(`${name} has the wrong length`);
  return concat(MAGIC, Uint8Array.of(1, h.type), h.threadId, u32(h.epoch), h.headHash, h.msgId, h.senderUser,
    h.senderDevice, u64(h.clientTsMs), h.nonce);
}

export function parseHeader(data) {
  if (data.length < HEADER_LEN) throw new ProtocolError("envelope shorter than its header");
  for (let i = 0; i < 4; i++) if (data[i] !== MAGIC[i]) throw new ProtocolError("not a TEK1 envelope");
  if (data[4] !== 1) throw new ProtocolError("unsupported suite");
  if (!MESSAGE_TYPES[data[5]]) throw new ProtocolError("unknown message type");
  const epoch = readU32(data, 22);
  if (epoch < 1) throw new ProtocolError("epoch must be at least 1");
  const at = (o, n) => data.slice(o, o + n);
  return { suite: 1, type: data[5], threadId: at(6, 16), epoch, headHash: at(26, 32), msgId: at(58, 16),
    senderUser: at(74, 16), senderDevice: at(90, 16), clientTsMs: readU64(data, 106), nonce: at(114, 12) };
}

export function split(data) {
  const header = parseHeader(data);
  const bodyLen = data.length - HEADER_LEN - 64;
  if (bodyLen < 16 || !isBucket(bodyLen - 16)) throw new ProtocolError("ciphertext length is not a padding bucket");
  return { header, headerBytes: data.subarray(0, HEADER_LEN), ciphertext: data.subarray(HEADER_LEN, data.length - 64),
    signature: data.subarray(data.length - 64) };
}

const signedBytes = async (headerBytes, ciphertext) => concat(label("TEK1/msg-sig"), await sha256(concat(headerBytes, ciphertext)));

// device: {deviceId, sig (Ed25519 private CryptoKey)}. `nonce` only for test vectors.
export async function seal(body, { epochKey, device, threadId, epoch, headHash, msgId, senderUser, clientTsMs,
  type = 1, nonce = randomBytes(12) }) {
  const header = encodeHeader({ type, threadId, epoch, headHash, msgId, senderUser, senderDevice: device.deviceId,
    clientTsMs, nonce });
  const ct = await aesGcmEncrypt(await messageKey(epochKey, threadId, epoch), nonce, pad(jsonBytes(body)), header);
  return concat(header, ct, await sign(device.sig, await signedBytes(header, ct)));
}

// Structure and signature only (messages.verify): whether a certified device signed these bytes,
// for a reader that cannot decrypt them. Returns the split envelope.
export async function verify(data, senderSigPub) {
  const env = split(data);
  await verifySignature(senderSigPub, env.signature, await signedBytes(env.headerBytes, env.ciphertext));
  return env;
}

// senderSigPub / epochKey: raw bytes, or async functions of the parsed header (looked up only
// after the structure checks passed). Verifies the signature before decrypting.
// msgKey (instead of epochKey): an async function of the header giving the epoch's message key
// as an AES-GCM CryptoKey, for a reader that derives it once per epoch and opens many messages.
export async function open(data, { senderSigPub, epochKey, msgKey }) {
  const env = split(data);
  const pub = typeof senderSigPub === "function" ? await senderSigPub(env.header) : senderSigPub;
  await verifySignature(pub, env.signature, await signedBytes(env.headerBytes, env.ciphertext));
  let key;
  if (msgKey) {
    key = await msgKey(env.header);
  } else {
    const epochSecret = typeof epochKey === "function" ? await epochKey(env.header) : epochKey;
    key = await messageKey(epochSecret, env.header.threadId, env.header.epoch);
  }
  const plaintext = await aesGcmDecrypt(key, env.header.nonce, env.ciphertext, env.headerBytes);
  let body;
  try { body = parseJson(unpad(plaintext)); } catch { throw new VerificationError("message body is not valid"); }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new ProtocolError("message body must be a JSON object");
  return { header: env.header, body };
}
