// Byte helpers shared by the TEK1 modules: big-endian integers, hex/base64, concatenation,
// random bytes, and the signer-side JSON serialisation (sorted keys, compact, UTF-8).
export const te = new TextEncoder();
export const td = new TextDecoder("utf-8", { fatal: true });

export class ProtocolError extends Error {
  constructor(message) { super(message); this.name = "ProtocolError"; }
}
// Any signature, tag, chain or rule failure: callers refuse and show it, never display partly.
export class VerificationError extends ProtocolError {
  constructor(message) { super(message); this.name = "VerificationError"; }
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) { out.set(p, offset); offset += p.length; }
  return out;
}

export const u8 = (n) => Uint8Array.of(n & 255);
export const u16 = (n) => Uint8Array.of((n >>> 8) & 255, n & 255);
export const u32 = (n) => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
export function u64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}
export const readU32 = (b, at) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
export const readU64 = (b, at) => Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at));
export const label = (text) => te.encode(text);

export function lp(data) {
  if (data.length > 0xffff) throw new ProtocolError("field too long");
  return concat(u16(data.length), data);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
export function unhex(text, length) {
  if (typeof text !== "string" || !/^([0-9a-f]{2})*$/.test(text)) throw new ProtocolError("invalid hex");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  if (length !== undefined && out.length !== length) throw new ProtocolError(`expected ${length} bytes`);
  return out;
}

export function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
export function unb64(text, length) {
  let raw;
  try { raw = atob(text); } catch { throw new ProtocolError("invalid base64"); }
  const out = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  if (length !== undefined && out.length !== length) throw new ProtocolError(`expected ${length} bytes`);
  return out;
}

// crypto.getRandomValues refuses more than 65,536 bytes per call.
export function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// Signers emit sorted compact JSON, byte-identical to Python's
// json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False). Verifiers never
// re-serialise: they check the signature over the bytes received.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}
export const jsonBytes = (obj) => te.encode(JSON.stringify(sortKeys(obj)));
export function parseJson(bytes) {
  try { return JSON.parse(td.decode(bytes)); } catch { throw new ProtocolError("not UTF-8 JSON"); }
}

// -- padding: 0x80 then zeros, to a multiple of 256 below 4 KiB, else the next power of two --
const SMALL_STEP = 256, SMALL_LIMIT = 4096, MAX_PADDED = 1 << 20;
export function paddedLength(length) {
  const need = length + 1;
  if (need <= SMALL_LIMIT) return Math.max(SMALL_STEP, Math.ceil(need / SMALL_STEP) * SMALL_STEP);
  let bucket = SMALL_LIMIT;
  while (bucket < need) bucket *= 2;
  if (bucket > MAX_PADDED) throw new ProtocolError("message body too large");
  return bucket;
}
export function isBucket(size) {
  if (size <= SMALL_LIMIT) return size >= SMALL_STEP && size % SMALL_STEP === 0;
  return size <= MAX_PADDED && (size & (size - 1)) === 0;
}
export function pad(data) {
  const out = new Uint8Array(paddedLength(data.length));
  out.set(data);
  out[data.length] = 0x80;
  return out;
}
export function unpad(data) {
  if (!isBucket(data.length)) throw new ProtocolError("padded body has an invalid size");
  let end = data.length - 1;
  while (end >= 0 && data[end] === 0) end--;
  if (end < 0 || data[end] !== 0x80 || paddedLength(end) !== data.length) throw new ProtocolError("invalid padding");
  return data.subarray(0, end);
}
