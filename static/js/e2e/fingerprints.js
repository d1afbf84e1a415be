// Fingerprints and safety numbers (PROTOCOL.md §9), twin of protocol/fingerprints.py.
import { concat, label, lp, te } from "./bytes.js";
import { sha256, sha512 } from "./primitives.js";

export const ITERATIONS = 5200;

// 5 digits per 5 bytes: a 40-bit big-endian integer mod 100,000.
function digits(data, groups) {
  let out = "";
  for (let i = 0; i < groups; i++) {
    let v = 0n;
    for (let j = 0; j < 5; j++) v = (v << 8n) | BigInt(data[5 * i + j]);
    out += (v % 100000n).toString().padStart(5, "0");
  }
  return out;
}
export const group = (d) => d.match(/.{1,5}/g).join(" ");

export async function stateFingerprint(stateCode, authorityPub) {
  return digits(await sha512(concat(label("TEK1/fp/state"), lp(te.encode(stateCode)), authorityPub)), 12);
}

export async function userFingerprint(userId, uikPub) {
  let digest = await sha512(concat(label("TEK1/fp/user"), userId, uikPub));
  for (let i = 0; i < ITERATIONS; i++) digest = await sha512(concat(digest, uikPub));
  return digits(digest, 6);
}

export async function safetyNumber(a, b) {
  return [await userFingerprint(...a), await userFingerprint(...b)].sort().join("");
}

function compare(x, y) {
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
export async function threadSafetyCode(threadId, headHash, members) {
  const entries = [];
  for (const [user, uikPub] of members) entries.push(concat(user, await sha256(uikPub)));
  entries.sort(compare);
  return digits(await sha512(concat(label("TEK1/fp/thread"), threadId, headHash, ...entries)), 4);
}
