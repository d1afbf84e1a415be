// Approving a new device from an existing one (PROTOCOL.md §8a), twin of
// cooperation_client/protocol/approval.py: the verification code both devices show, the HPKE
// seal of the account secrets to the new device's request key, and the approver's signature.
import { concat, label, ProtocolError, VerificationError } from "./bytes.js";
import * as hpke from "./hpke.js";
import { sha256, sign, signedDigest, verify } from "./primitives.js";

export const CODE_GROUPS = 6;  // 30 digits, as a user fingerprint (§9)

function need(value, length, what) {
  if (!(value instanceof Uint8Array) || value.length !== length) throw new ProtocolError(`${what} must be ${length} bytes`);
  return value;
}

// user_id ‖ request_id ‖ uik_pub ‖ dh_pub ‖ sig_pub
export function requestBinding({ userId, requestId, uikPub, dhPub, sigPub }) {
  return concat(need(userId, 16, "user id"), need(requestId, 16, "request id"), need(uikPub, 32, "identity key"),
    need(dhPub, 32, "X25519 key"), need(sigPub, 32, "Ed25519 key"));
}

// 30 digits: SHA-256("TEK1/fp/approval" ‖ binding), 6 groups of 5 (5 bytes mod 100,000).
export async function approvalCode(request) {
  const digest = await sha256(concat(label("TEK1/fp/approval"), requestBinding(request)));
  let out = "";
  for (let i = 0; i < CODE_GROUPS; i++) {
    let v = 0n;
    for (let j = 0; j < 5; j++) v = (v << 8n) | BigInt(digest[5 * i + j]);
    out += (v % 100000n).toString().padStart(5, "0");
  }
  return out;
}

export const sealInfo = (request) => concat(label("TEK1/approval"), requestBinding(request));
const signatureInput = (request, approverDevice, sealed) =>
  signedDigest("approval", concat(sealInfo(request), need(approverDevice, 16, "device id"), sealed));

// The account-secrets bytes sealed to the request's X25519 key, signed by the approving device.
export async function sealSecrets(secretsBytes, request, { approverDevice, approverKey }) {
  const sealed = await hpke.seal(request.dhPub, sealInfo(request), secretsBytes);
  const signature = await sign(approverKey, await signatureInput(request, approverDevice, sealed));
  return { sealed, signature };
}

export async function verifyApproval(approverSigPub, signature, request, { approverDevice, sealed }) {
  await verify(approverSigPub, signature, await signatureInput(request, approverDevice, sealed));
}

// The new device opens the seal with its (non-extractable) X25519 key. The caller must still
// check that the UIK seed inside yields request.uikPub.
export async function openSecrets(dhKey, request, sealed) {
  try {
    return await hpke.open(dhKey, request.dhPub, sealInfo(request), sealed);
  } catch {
    throw new VerificationError("the approval was not sealed for this request");
  }
}
