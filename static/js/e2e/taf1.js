// TAF1 chunked attachments (PROTOCOL.md §7), twin of cooperation_client/protocol/attachments.py.
//   header(16) = "TAF1" | 1 | 1 | log2_chunk | 0 | nonce_prefix[7] | 0
//   chunk_i    = AES-256-GCM(file_key, prefix ‖ u32(i) ‖ u8(final), pt_i, aad=header)
//   digest     = SHA-256("TAF1/digest" ‖ header ‖ SHA-256(chunk_0) ‖ … ‖ SHA-256(chunk_n))
// Files are read with Blob.slice() one chunk at a time, so memory stays O(chunk).
import { concat, label, ProtocolError, u32, VerificationError } from "./bytes.js";
import { aesGcmDecrypt, aesGcmEncrypt, aesKey, randomBytes, sha256 } from "./primitives.js";

export const HEADER_LEN = 16;
export const DEFAULT_LOG2 = 20;
const MIN_LOG2 = 12, MAX_LOG2 = 24, TAG = 16;

export function parseHeader(h) {
  if (h.length < HEADER_LEN || h[0] !== 0x54 || h[1] !== 0x41 || h[2] !== 0x46 || h[3] !== 0x31) throw new ProtocolError("not a TAF1 file");
  if (h[4] !== 1 || h[5] !== 1 || h[7] !== 0 || h[15] !== 0) throw new ProtocolError("unsupported TAF1 version or algorithm");
  if (h[6] < MIN_LOG2 || h[6] > MAX_LOG2) throw new ProtocolError("TAF1 chunk size out of range");
  return { log2Chunk: h[6], chunkSize: 2 ** h[6], noncePrefix: h.slice(8, 15) };
}
const encodeHeader = (log2, prefix) => concat(label("TAF1"), Uint8Array.of(1, 1, log2, 0), prefix, Uint8Array.of(0));
const nonce = (prefix, i, final) => concat(prefix, u32(i), Uint8Array.of(final ? 1 : 0));
export const ciphertextSize = (size, log2 = DEFAULT_LOG2) => HEADER_LEN + size + TAG * Math.max(1, Math.ceil(size / 2 ** log2));

class Digest {
  constructor(header) { this.parts = [label("TAF1/digest"), header]; this.size = header.length; }
  async add(chunk) { this.parts.push(await sha256(chunk)); this.size += chunk.length; }
  value() { return sha256(concat(...this.parts)); }
}
const toBlob = (data) => (data instanceof Blob ? data : new Blob([data]));
const readSlice = async (blob, start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer());

// Encrypt a Blob/File (or Uint8Array); each ciphertext piece goes to `onChunk` (upload it, or
// collect it). Returns {plaintextSize, ciphertextSize, digest}.
export async function encrypt(rawKey, data, { onChunk, log2Chunk = DEFAULT_LOG2, noncePrefix = randomBytes(7) } = {}) {
  if (noncePrefix.length !== 7) throw new ProtocolError("nonce prefix must be 7 bytes");
  const header = encodeHeader(log2Chunk, noncePrefix);
  const { chunkSize } = parseHeader(header);
  const blob = toBlob(data), key = await aesKey(rawKey), digest = new Digest(header);
  await onChunk(header);
  const n = Math.max(1, Math.ceil(blob.size / chunkSize));
  for (let i = 0; i < n; i++) {
    const pt = await readSlice(blob, i * chunkSize, Math.min(blob.size, (i + 1) * chunkSize));
    const ct = await aesGcmEncrypt(key, nonce(noncePrefix, i, i === n - 1), pt, header);
    await digest.add(ct);
    await onChunk(ct);
  }
  return { plaintextSize: blob.size, ciphertextSize: digest.size, digest: await digest.value() };
}

// Decrypt a TAF1 Blob (e.g. from fetch().blob()); each authenticated plaintext chunk goes to
// `onChunk`. A failure after some chunks means the output so far must be discarded.
export async function decrypt(rawKey, data, { onChunk }) {
  const blob = toBlob(data);
  const header = await readSlice(blob, 0, HEADER_LEN);
  const { chunkSize, noncePrefix } = parseHeader(header);
  const full = chunkSize + TAG, body = blob.size - HEADER_LEN;
  const n = Math.max(1, Math.ceil(body / full));
  const key = await aesKey(rawKey), digest = new Digest(header);
  let plaintextSize = 0;
  for (let i = 0; i < n; i++) {
    const ct = await readSlice(blob, HEADER_LEN + i * full, Math.min(blob.size, HEADER_LEN + (i + 1) * full));
    const final = i === n - 1;
    if (ct.length < TAG || (final && i > 0 && ct.length === TAG)) throw new VerificationError("TAF1 file truncated");
    const pt = await aesGcmDecrypt(key, nonce(noncePrefix, i, final), ct, header);
    await digest.add(ct);
    plaintextSize += pt.length;
    await onChunk(pt);
  }
  return { plaintextSize, ciphertextSize: digest.size, digest: await digest.value() };
}

// Small files: whole buffers in and out.
export async function encryptBytes(rawKey, data, options = {}) {
  const parts = [];
  const result = await encrypt(rawKey, data, { ...options, onChunk: (c) => parts.push(c) });
  return { ...result, ciphertext: concat(...parts) };
}
export async function decryptBytes(rawKey, blob) {
  const parts = [];
  const result = await decrypt(rawKey, blob, { onChunk: (c) => parts.push(c) });
  return { ...result, plaintext: concat(...parts) };
}
