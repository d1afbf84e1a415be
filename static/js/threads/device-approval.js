// A new browser approved from an existing one (PROTOCOL.md §8a), on top of the Session of
// engine.js. The new browser generates its device keys (non-extractable), asks, shows the
// verification code and waits; the existing browser lists the requests with the code it derives
// itself, and on the person's word seals the account secrets to the request's key, signed by its
// own device key. The new browser checks that the identity key inside is the one bound into its
// code and that the approver is a device certified by it, then certifies itself with that
// identity key under the request's id. The server only relays; the request is gone afterwards.
//
// The account secrets carry the recovery public key (PROTOCOL.md §8): the approved browser re-seals
// the recovery blob after a revocation like any other, without the Recovery Key. It publishes no
// new key generation (nothing needs one: it holds every generation's secret, and the next one,
// after a revocation, is wrapped to it like to every certified device).
import * as A from "../e2e/approval.js";
import * as B from "../e2e/bytes.js";
import * as FP from "../e2e/fingerprints.js";
import * as K from "../e2e/keys.js";
import * as P from "../e2e/primitives.js";
import * as R from "../e2e/recovery.js";
import * as api from "./api.js";
import { t, UserError } from "./dom.js";
import { secretsBytes } from "./engine.js";
import * as store from "./keystore.js";

const code = async (request) => FP.group(await A.approvalCode(request));

// -- the new browser -----------------------------------------------------------------------------

function requestOf(session, pending) {
  return { userId: session.uid, requestId: pending.deviceId, uikPub: pending.uikPub, dhPub: pending.dhPub,
    sigPub: pending.sigPub };
}

// {label, code, expiresAt} of this browser's open request, or null.
export async function pendingRequest(session) {
  const pending = await store.loadPending(session.userId);
  if (!pending) return null;
  return { label: pending.label, expiresAt: pending.expiresAt, code: await code(requestOf(session, pending)) };
}

// Ask: device keys made here (non-extractable), their public halves sent. The identity key the
// platform shows now is bound into the code, so a substituted one gives another code.
export async function requestApproval(session, labelText) {
  if (session.status !== "needs-recovery" || !session.own.identity) throw new UserError(t("approval-not-possible"));
  const uikPub = api.unb64u(session.own.identity.public_key);
  const device = await K.generateDevice();
  const row = await api.post("/keys/approvals", { request_id: B.hex(device.deviceId), label: labelText,
    dh_public: api.b64u(device.dhPub), sig_public: api.b64u(device.sigPub) });
  await store.savePending(session.userId, { ...device, label: labelText, uikPub, expiresAt: row.expires_at });
  return pendingRequest(session);
}

// One look at the request: "waiting", "done" (this browser now has the keys) or "gone"
// (refused, cancelled or expired: the server no longer has it).
export async function checkApproval(session) {
  const pending = await store.loadPending(session.userId);
  if (!pending) return "gone";
  let row;
  try {
    row = await api.get(`/keys/approvals/${B.hex(pending.deviceId)}`);
  } catch (error) {
    if (error.status !== 404) throw error;
    await store.clearPending(session.userId);
    return "gone";
  }
  if (row.status !== "approved") return "waiting";
  await complete(session, pending, row);
  return "done";
}

async function complete(session, pending, row) {
  const request = requestOf(session, pending);
  const sealed = api.unb64u(row.sealed), signature = api.unb64u(row.signature);
  let secrets;
  try {
    const opened = B.parseJson(await A.openSecrets(pending.dh, request, sealed));
    secrets = { uikSeed: B.unb64(opened.uik_seed, 32), puks: opened.puks.map((p) => ({ gen: p.gen, secret: B.unb64(p.secret, 32) })) };
    // The recovery public key comes only from here, the secrets the approver sealed and signed
    // (absent if the approver was enrolled before the recovery blob's format 2).
    if (opened.recovery !== undefined && opened.recovery !== null) secrets.recovery = R.recoveryInfoFromJson(opened.recovery);
  } catch {
    throw new UserError(t("approval-invalid"));
  }
  // The identity key inside must be the one this browser's code was made with (the one the
  // person compared); only a device holding its seed can have sealed this.
  const uikPub = await P.publicFromSeed("Ed25519", secrets.uikSeed);
  if (!B.equal(uikPub, pending.uikPub)) throw new UserError(t("approval-invalid"));
  session.own = await api.get("/keys");
  if (!session.own.identity || !B.equal(uikPub, api.unb64u(session.own.identity.public_key))) {
    throw new UserError(t("rk-other-identity"));
  }
  // The approver: an active device of this user, certified by this identity key, whose
  // signature covers the seal, the request and itself.
  const approver = (await session.certifiedDevices(uikPub)).find((d) => B.hex(d.deviceId) === row.approver_device_id);
  try {
    if (!approver) throw new B.VerificationError("unknown approver");
    await A.verifyApproval(approver.sigPub, signature, request, { approverDevice: approver.deviceId, sealed });
  } catch {
    throw new UserError(t("approval-invalid"));
  }
  // Every published generation must be in there, the newest matching its signed record.
  const records = await session.ownRecords(uikPub);
  const latest = Math.max(0, ...records.keys());
  const newest = secrets.puks.find((p) => p.gen === latest);
  if (!newest) throw new UserError(t("approval-stale"));
  const puk = await K.perUserKey(session.uid, latest, newest.secret);
  if (!B.equal(puk.dhPub, records.get(latest).dhPub)) throw new UserError(t("approval-invalid"));
  const uik = await P.importPrivate("Ed25519", secrets.uikSeed);
  const device = { deviceId: pending.deviceId, dh: pending.dh, sig: pending.sig, dhPub: pending.dhPub, sigPub: pending.sigPub };
  await session.certifyAndRegister(uik, device, pending.label);  // the server drops the request now
  await store.saveDevice(session.userId, { ...device, label: pending.label });
  await store.saveSecrets(session.userId, secrets);
  await store.clearPending(session.userId);
  await session.refresh();
}

// Cancel this browser's request (or forget one the server no longer has).
export async function cancelApproval(session) {
  const pending = await store.loadPending(session.userId);
  if (!pending) return;
  try {
    await api.post(`/keys/approvals/${B.hex(pending.deviceId)}/refuse`);
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  await store.clearPending(session.userId);
}

// -- an existing browser with the keys -------------------------------------------------------------

// The user's waiting browsers, each with the code this browser derives from the keys it received
// and its own identity key. `request` is what approve() seals to: exactly what the code shows.
export async function approvalRequests(session) {
  session.requireReady();
  const { approvals } = await api.get("/keys/approvals");
  const out = [];
  for (const a of approvals) {
    const request = { userId: session.uid, requestId: B.unhex(a.request_id, 16), uikPub: session.uikPub,
      dhPub: api.unb64u(a.dh_public), sigPub: api.unb64u(a.sig_public) };
    out.push({ id: a.request_id, label: a.label, createdAt: a.created_at, status: a.status, request,
      code: await code(request) });
  }
  return out;
}

// Seal the account secrets (caught up to the newest generation) to the request's key.
export async function approve(session, item) {
  session.requireReady();
  await session.refresh();
  session.requireReady();
  if (!B.equal(item.request.uikPub, session.uikPub)) throw new UserError(t("approval-invalid"));
  const { sealed, signature } = await A.sealSecrets(secretsBytes(session.secrets), item.request,
    { approverDevice: session.device.deviceId, approverKey: session.device.sig });
  await api.post(`/keys/approvals/${item.id}/approve`, { device_id: session.deviceHex, sealed: api.b64u(sealed),
    signature: api.b64u(signature) });
}

export async function refuse(session, item) {
  await api.post(`/keys/approvals/${item.id}/refuse`);
}
