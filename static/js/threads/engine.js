// The end-to-end encrypted threads in the browser (PROTOCOL.md, §12 for the platform binding):
// this user's keys (enrolment, recovery, devices), the key directory with TOFU pins, thread logs
// replayed and verified, epoch keys, messages and attachments. The server only ever sees
// ciphertext, public keys and signed statements. Nothing here touches the DOM except through
// the progress callbacks the pages pass in.
import * as B from "../e2e/bytes.js";
import * as E from "../e2e/events.js";
import * as FP from "../e2e/fingerprints.js";
import * as K from "../e2e/keys.js";
import * as P from "../e2e/primitives.js";
import * as R from "../e2e/recovery.js";
import * as F from "../e2e/taf1.js";
import * as T from "../e2e/tek1.js";
import * as api from "./api.js";
import { t, UserError } from "./dom.js";
import * as store from "./keystore.js";

export const TOPICS = ["tracing", "identification", "freezing", "seizure", "forfeiture", "reparations", "other"];
export const HANDLING = ["participants-only", "national-authorities", "no-evidential-use", "court-only"];
const PART_SIZE = 4 * 1024 * 1024;   // upload parts; a multiple of nothing in particular, ≤ 64 MiB
const FLUSH_BYTES = 8 * 1024 * 1024; // a download is moved from JS memory into a Blob every 8 MiB
const MAX_RETRIES = 3;
const OPEN_CONCURRENCY = 32;         // messages verified and decrypted at once (WebCrypto is async)

// -- ids (PROTOCOL.md §12: user n is the 16-byte big-endian integer n) -------------------------
export function userBytes(id) {
  const out = new Uint8Array(16);
  let n = BigInt(id);
  for (let i = 15; i >= 0; i--) { out[i] = Number(n & 255n); n >>= 8n; }
  return out;
}
export const userHex = (id) => BigInt(id).toString(16).padStart(32, "0");
export const userIdFromHex = (text) => Number(BigInt(`0x${text}`));

const statementBytes = (statement) => B.jsonBytes(E.statementToJson(statement));
function statementFrom(bytes) {
  let obj;
  try { obj = JSON.parse(B.td.decode(bytes)); } catch { throw new B.ProtocolError("statement is not UTF-8 JSON"); }
  return E.statementFromJson(obj);
}
// A message id in a body's reply_to (PROTOCOL.md §12): 32 lowercase hex digits, as the header's
// msg_id is written everywhere else.
const MSG_ID = /^[0-9a-f]{32}$/;
// A 32-byte key or digest in a message body: 64 lowercase hex digits (PROTOCOL.md §12, as in the
// message vectors), nothing else.
const bytes32 = (value) => {
  if (typeof value !== "string" || !/^[0-9a-f]{64}$/.test(value)) throw new B.ProtocolError("invalid attachment key or digest");
  return B.unhex(value, 32);
};
const MESSAGE_PAGE = 200;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// A message body attachment's file name, safe to offer as a download name.
export function safeName(name) {
  const cleaned = String(name || "").replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim().slice(0, 200);
  return cleaned || "attachment";
}

// The recovery blob in format 1 (PROTOCOL.md §8), sealed with the blob key HKDF(RK,
// "TEK1/recovery") that browsers enrolled before format 2 keep as a non-extractable CryptoKey
// (keystore "reseal"): the same bytes recovery.js's sealAccountSecrets makes from RK. Only such a
// browser, whose account secrets lack the recovery public key, still writes format 1.
async function sealWithKey(blobKey, userId16, secretsBytes, version) {
  const nonce = B.randomBytes(12);
  const aad = B.concat(B.label("TEK1/recovery"), userId16, B.u32(version));
  return B.concat(Uint8Array.of(R.FORMAT_V1), B.u32(version), nonce, await P.aesGcmEncrypt(blobKey, nonce, secretsBytes, aad));
}
// The account secrets {"v":1, "uik_seed", "puks", "recovery"?} (PROTOCOL.md §8), byte-identical
// to Python's AccountSecrets.to_bytes: what the recovery blob holds and an approval hands over.
export function secretsBytes(secrets) {
  const obj = { v: 1, uik_seed: B.b64(secrets.uikSeed), puks: secrets.puks.map((p) => ({ gen: p.gen, secret: B.b64(p.secret) })) };
  if (secrets.recovery) obj.recovery = R.recoveryInfoToJson(secrets.recovery);
  return R.secretsToBytes(obj);
}

// =============================================================================================
// The session: this user in this browser
// =============================================================================================

export class Session {
  constructor(userId) {
    this.userId = Number(userId);
    this.uid = userBytes(this.userId);
    this.hex = userHex(this.userId);
    this.entries = new Map();   // userId → directory entry (verified), per page load
    this.pukCache = new Map();  // gen → perUserKey
    this.pins = null;
  }

  static async open(userId) {
    const session = new Session(userId);
    await session.refresh();
    return session;
  }

  // status: "unenrolled" (no keys anywhere), "needs-recovery" (keys on the server, not in this
  // browser), "ready". `problem` explains a needs-recovery that is not a plain new browser.
  async refresh() {
    this.own = await api.get("/keys");
    this.device = await store.loadDevice(this.userId);
    this.secrets = null;
    this.problem = null;
    this.entries.clear();
    this.pukCache.clear();
    const identity = this.own.identity;
    const active = this.own.devices.filter((d) => !d.revoked_at);
    const hasBlob = this.own.recovery.some((r) => r.kind === "rk");
    if (!identity || (active.length === 0 && !hasBlob)) {
      this.status = "unenrolled";
      return this;
    }
    const mine = this.device && this.own.devices.find((d) => d.device_id === B.hex(this.device.deviceId));
    if (!this.device || !mine) {
      this.status = "needs-recovery";
      return this;
    }
    if (mine.revoked_at) {
      await store.forget(this.userId, { keepPins: true });
      this.device = null;
      this.status = "needs-recovery";
      this.problem = "device-revoked";
      return this;
    }
    const secrets = await store.loadSecrets(this.userId).catch(() => null);
    if (!secrets) {
      this.status = "needs-recovery";
      return this;
    }
    this.uikPub = await P.publicFromSeed("Ed25519", secrets.uikSeed);
    if (!B.equal(this.uikPub, api.unb64u(identity.public_key))) {
      this.status = "needs-recovery";
      this.problem = "identity-mismatch";
      return this;
    }
    this.secrets = secrets;
    if (!(await this.catchUpPuks())) {
      this.status = "needs-recovery";
      this.problem = "device-left-out";
      return this;
    }
    this.status = "ready";
    return this;
  }

  requireReady() {
    if (this.status !== "ready") throw new UserError(t("keys-needed"));
  }

  get deviceHex() { return B.hex(this.device.deviceId); }

  // -- own key generations ---------------------------------------------------------------------

  // The verified PUK records of this user: gen → {dhPub, sigPub, prevLink}.
  async ownRecords(uikPub = this.uikPub) {
    const out = new Map();
    for (const g of this.own.generations) {
      const body = await K.verifyStatement(statementFrom(api.unb64u(g.record)), "puk-record", uikPub);
      if (body.user !== this.hex || body.gen !== g.generation) throw new B.VerificationError("PUK record does not match");
      out.set(body.gen, { dhPub: B.unb64(body.dh_pub, 32), sigPub: B.unb64(body.sig_pub, 32),
        prevLink: body.prev_link ? B.unb64(body.prev_link) : null });
    }
    return out;
  }

  // Generations published by another of this user's devices since this one last looked:
  // unwrap the newest for this device, then walk the links back. False if this device was left
  // out of the newest generation (then it must be recovered).
  async catchUpPuks() {
    const records = await this.ownRecords();
    const latest = Math.max(0, ...records.keys());
    const known = Math.max(0, ...this.secrets.puks.map((p) => p.gen));
    if (latest <= known) return true;
    const wrap = this.own.device_wraps.find((w) => w.generation === latest && w.device_id === this.deviceHex);
    if (!wrap) return false;
    let puk = await K.unwrapPuk(this.device, this.uid, latest, api.unb64u(wrap.wrap));
    if (!B.equal(puk.dhPub, records.get(latest).dhPub)) throw new B.VerificationError("PUK does not match its record");
    const found = [puk];
    while (puk.gen > known + 1) {
      const link = records.get(puk.gen).prevLink;
      if (!link) throw new B.VerificationError("missing previous-generation link");
      puk = await K.openPrevious(puk, link);
      found.push(puk);
    }
    this.secrets.puks.push(...found.map((p) => ({ gen: p.gen, secret: p.secret })));
    await store.saveSecrets(this.userId, this.secrets);
    return true;
  }

  get pukGen() { return Math.max(...this.secrets.puks.map((p) => p.gen)); }

  async puk(gen) {
    if (!this.pukCache.has(gen)) {
      const entry = this.secrets.puks.find((p) => p.gen === gen);
      if (!entry) return null;
      this.pukCache.set(gen, await K.perUserKey(this.uid, gen, entry.secret));
    }
    return this.pukCache.get(gen);
  }

  async uik() { return P.importPrivate("Ed25519", this.secrets.uikSeed); }

  async certifyAndRegister(uik, device, labelText) {
    const cert = await K.signStatement("device-cert", { v: 1, user: this.hex, device: B.hex(device.deviceId),
      dh_pub: B.b64(device.dhPub), sig_pub: B.b64(device.sigPub), label: labelText, created_ms: Date.now() }, uik);
    await api.post("/keys/devices", { device_id: B.hex(device.deviceId), label: labelText, dh_public: api.b64u(device.dhPub),
      sig_public: api.b64u(device.sigPub), certificate: api.b64u(statementBytes(cert)) });
  }

  // Publish PUK generation `gen` (linked back to gen-1 if any), wrapped to `devices`
  // ({deviceId, dhPub}); returns the new {gen, secret}.
  async publishGeneration(uik, gen, previous, devices) {
    const puk = await K.perUserKey(this.uid, gen, B.randomBytes(32));
    const link = previous ? await K.linkPrevious(puk, previous) : null;
    const record = await K.signStatement("puk-record", { v: 1, user: this.hex, gen, dh_pub: B.b64(puk.dhPub),
      sig_pub: B.b64(puk.sigPub), prev_link: link ? B.b64(link) : null }, uik);
    const wraps = [];
    for (const device of devices) {
      wraps.push({ device_id: B.hex(device.deviceId), wrap: api.b64u(await K.wrapPukForDevice(puk, device)) });
    }
    await api.post("/keys/generations", { generation: gen, dh_public: api.b64u(puk.dhPub), sig_public: api.b64u(puk.sigPub),
      record: api.b64u(statementBytes(record)), wraps });
    return { gen, secret: puk.secret };
  }

  // This user's active devices whose certificates verify under the UIK (others get nothing).
  async certifiedDevices(uikPub, except = null) {
    const out = [];
    for (const d of this.own.devices) {
      if (d.revoked_at || d.device_id === except) continue;
      try {
        const cert = await K.verifyDeviceCert(statementFrom(api.unb64u(d.certificate)), uikPub, this.uid);
        if (B.hex(cert.deviceId) === d.device_id) out.push(cert);
      } catch { /* an uncertified device gets no key */ }
    }
    return out;
  }

  // Re-seal the recovery blob with `secrets` as its next version (PROTOCOL.md §8): format 2, to
  // the recovery public key inside the account secrets (never one from the server); a browser
  // enrolled before format 2 without it uses its stored format 1 key. False if this browser can
  // do neither (then the Recovery Key, entered once, fixes it: updateRecovery).
  async storeRecovery(secrets) {
    const current = this.own.recovery.find((r) => r.kind === "rk");
    const version = (current ? current.version : 0) + 1;
    let blob;
    if (secrets.recovery) {
      blob = await R.sealRecoveryBlob(this.uid, secretsBytes(secrets), secrets.recovery.pub, { version });
    } else {
      const legacyKey = await store.loadResealKey(this.userId);
      if (!legacyKey) return false;
      blob = await sealWithKey(legacyKey, this.uid, secretsBytes(secrets), version);
    }
    await api.put("/keys/recovery", { kind: "rk", blob: api.b64u(blob) });
    return true;
  }

  // This browser's account secrets lack the recovery public key: the Recovery Key should be
  // entered here once (updateRecovery), or this browser, and those it approves, cannot re-seal
  // the recovery blob in format 2 after a change of devices.
  get needsRecoveryUpdate() { return this.status === "ready" && !this.secrets.recovery; }

  // -- enrolment, recovery, devices --------------------------------------------------------------

  // First device of this user: UIK, device keys, PUK 1, the Recovery Key. Returns the Recovery
  // Key, formatted, to be shown once.
  async enrol(labelText) {
    if (this.status !== "unenrolled") throw new UserError(t("already-enrolled"));
    const device = await K.generateDevice();
    const uikSeed = B.randomBytes(32);
    const uik = await P.importPrivate("Ed25519", uikSeed);
    const uikPub = await P.publicFromSeed("Ed25519", uikSeed);
    await api.put("/keys/identity", { public_key: api.b64u(uikPub) });
    await this.certifyAndRegister(uik, device, labelText);
    this.own = await api.get("/keys");
    const latest = Math.max(0, ...this.own.generations.map((g) => g.generation));
    const puk = await this.publishGeneration(uik, latest + 1, null, [device]);
    const rk = R.newRecoveryKey();
    const secrets = { uikSeed, puks: [puk], recovery: await R.recoveryInfo(rk, this.uid, uikPub) };
    await this.storeRecovery(secrets);
    await store.saveDevice(this.userId, { ...device, label: labelText });
    await store.saveSecrets(this.userId, secrets);
    const shown = R.formatRecoveryKey(rk);
    rk.fill(0);
    await this.refresh();
    return shown;
  }

  // A new browser of an enrolled user: open the recovery blob with the Recovery Key, certify
  // this device, publish the next PUK generation for every active device, itself included.
  async recover(recoveryText, labelText) {
    let rk;
    try { rk = R.parseRecoveryKey(recoveryText); } catch { throw new UserError(t("rk-invalid")); }
    const entry = this.own.recovery.find((r) => r.kind === "rk");
    if (!entry) throw new UserError(t("rk-none"));
    let opened;
    try { opened = await R.openAccountSecrets(rk, this.uid, api.unb64u(entry.blob)); } catch { throw new UserError(t("rk-wrong")); }
    // With the recovery public key derived from RK: a format 1 blob is re-sealed as format 2.
    const secrets = { uikSeed: B.unb64(opened.secrets.uik_seed, 32),
      puks: opened.secrets.puks.map((p) => ({ gen: p.gen, secret: B.unb64(p.secret, 32) })), recovery: opened.recovery };
    rk.fill(0);
    const uikPub = await P.publicFromSeed("Ed25519", secrets.uikSeed);
    if (!this.own.identity || !B.equal(uikPub, api.unb64u(this.own.identity.public_key))) {
      throw new UserError(t("rk-other-identity"));
    }
    const records = await this.ownRecords(uikPub);
    const latest = Math.max(0, ...records.keys());
    const known = Math.max(0, ...secrets.puks.map((p) => p.gen));
    if (known < latest) throw new UserError(t("rk-stale"));
    const uik = await P.importPrivate("Ed25519", secrets.uikSeed);
    const device = await K.generateDevice();
    await this.certifyAndRegister(uik, device, labelText);
    this.own = await api.get("/keys");
    const previous = await K.perUserKey(this.uid, latest, secrets.puks.find((p) => p.gen === latest).secret);
    const devices = await this.certifiedDevices(uikPub);
    secrets.puks.push(await this.publishGeneration(uik, latest + 1, previous, devices));
    await this.storeRecovery(secrets);
    await store.saveDevice(this.userId, { ...device, label: labelText });
    await store.saveSecrets(this.userId, secrets);
    await this.refresh();
  }

  // A browser whose account secrets lack the recovery public key (enrolled before the recovery
  // blob's format 2, or approved by such a browser): the Recovery Key, entered once, must open
  // the stored blob (so it is the right one); its public key then joins this browser's account
  // secrets, and the blob is re-sealed at once with every generation this browser holds.
  async updateRecovery(recoveryText) {
    this.requireReady();
    let rk;
    try { rk = R.parseRecoveryKey(recoveryText); } catch { throw new UserError(t("rk-invalid")); }
    await this.refresh();
    this.requireReady();
    const entry = this.own.recovery.find((r) => r.kind === "rk");
    if (!entry) throw new UserError(t("rk-none"));
    let opened;
    try { opened = await R.openAccountSecrets(rk, this.uid, api.unb64u(entry.blob)); } catch { throw new UserError(t("rk-wrong")); }
    rk.fill(0);
    if (!B.equal(await P.publicFromSeed("Ed25519", B.unb64(opened.secrets.uik_seed, 32)), this.uikPub)) {
      throw new UserError(t("rk-other-identity"));
    }
    this.secrets.recovery = opened.recovery;
    await store.saveSecrets(this.userId, this.secrets);
    await this.storeRecovery(this.secrets);
    await store.forgetResealKey(this.userId);  // format 2 from now on
    await this.refresh();
  }

  devices() {
    return this.own.devices.map((d) => ({ id: d.device_id, label: d.label, createdAt: d.created_at, revokedAt: d.revoked_at,
      current: this.device ? d.device_id === this.deviceHex : false }));
  }

  // Revoke one of this user's devices (signed by the UIK), then move to a new PUK generation
  // wrapped to the remaining devices only, so the revoked one cannot read what comes next, and
  // re-seal the recovery blob with it. Returns false if the blob could not be re-sealed.
  async revokeDevice(deviceId) {
    this.requireReady();
    let resealed = true;
    const uik = await this.uik();
    const revocation = await K.signStatement("device-revoke", { v: 1, user: this.hex, device: deviceId,
      revoked_ms: Date.now() }, uik);
    await api.post(`/keys/devices/${deviceId}/revoke`, { revocation: api.b64u(statementBytes(revocation)) });
    this.own = await api.get("/keys");
    const remaining = await this.certifiedDevices(this.uikPub, deviceId);
    const thisOne = deviceId === this.deviceHex;
    if (remaining.length > 0) {
      const latest = this.pukGen;
      const next = await this.publishGeneration(uik, latest + 1, await this.puk(latest), remaining);
      this.secrets.puks.push(next);
      if (!thisOne) await store.saveSecrets(this.userId, this.secrets);
      // Any device holding the account secrets re-seals (format 2): otherwise the blob would lack
      // generation g+1, and recovery refuses a blob older than the newest generation.
      resealed = await this.storeRecovery(this.secrets);
    }
    if (thisOne) await store.forget(this.userId, { keepPins: true });
    await this.refresh();
    return resealed;
  }

  // -- the directory -----------------------------------------------------------------------------

  async loadPins() {
    if (this.pins === null) this.pins = await store.loadPins(this.userId);
    return this.pins;
  }

  // A verified directory entry for a user: the UIK pinned on first use (or this browser's own),
  // the devices certified by it, the current PUK generation, and whether the server now shows
  // another identity key (changedUik). Null if the user has no keys.
  async entry(userId) {
    userId = Number(userId);
    if (this.entries.has(userId)) return this.entries.get(userId);
    const promise = this.buildEntry(userId);
    this.entries.set(userId, promise);
    return promise;
  }

  async buildEntry(userId) {
    let data = null;
    if (userId === this.userId) {
      data = this.own;
    } else {
      try { data = await api.get(`/users/${userId}/keys`); } catch (error) { if (error.status !== 404) throw error; }
    }
    return this.verifyEntry(userId, data);
  }

  // `data` has the shape of GET /users/{id}/keys (or null: the server does not show the user).
  async verifyEntry(userId, data) {
    const pins = await this.loadPins();
    const pin = pins[userId];
    const id16 = userBytes(userId);
    if (data === null) return pin ? this.entryFromPin(userId, pin) : null;
    const serverUik = data.identity ? api.unb64u(data.identity.public_key) : null;
    let trusted;
    if (userId === this.userId) {
      trusted = this.uikPub;
    } else if (pin) {
      trusted = B.unb64(pin.uik, 32);
    } else if (serverUik) {
      trusted = serverUik;  // trust on first use
    } else {
      return null;
    }
    const entry = { userId, hex: userHex(userId), id16, name: data.name, party: data.party, admin: Boolean(data.admin),
      uikPub: trusted, changedUik: serverUik && !B.equal(serverUik, trusted) ? serverUik : null,
      confirmed: Boolean(pin?.verified), devices: new Map(), puk: null, fromCache: false };
    // Devices certified by the trusted identity key, or by one this browser trusted before an
    // accepted change (what they signed then stays verifiable); nothing else counts.
    const certifiers = [trusted, ...(userId === this.userId ? [] : (pin?.previous || []).map((k) => B.unb64(k, 32)))];
    for (const d of data.devices) {
      for (const uik of certifiers) {
        try {
          const cert = await K.verifyDeviceCert(statementFrom(api.unb64u(d.certificate)), uik, id16);
          if (B.hex(cert.deviceId) !== d.device_id) continue;
          entry.devices.set(d.device_id, { sigPub: cert.sigPub, revoked: Boolean(d.revoked_at) });
          break;
        } catch { /* not certified by this key */ }
      }
    }
    for (const g of data.generations) {
      try {
        const body = await K.verifyStatement(statementFrom(api.unb64u(g.record)), "puk-record", trusted);
        if (body.user !== entry.hex || body.gen !== g.generation) continue;
        if (!entry.puk || body.gen > entry.puk.gen) entry.puk = { gen: body.gen, dhPub: B.unb64(body.dh_pub, 32) };
      } catch { /* ignored, as above */ }
    }
    if (userId !== this.userId) {
      const devices = { ...(pin?.devices || {}) };
      for (const [hexId, d] of entry.devices) devices[hexId] = B.b64(d.sigPub);
      pins[userId] = { uik: B.b64(trusted), verified: Boolean(pin?.verified), firstSeenMs: pin?.firstSeenMs || Date.now(),
        name: entry.name, party: entry.party, admin: entry.admin, devices, previous: pin?.previous || [] };
      await store.savePins(this.userId, pins);
    }
    return entry;
  }

  // A user the server no longer shows us: what this browser verified earlier.
  entryFromPin(userId, pin) {
    const devices = new Map(Object.entries(pin.devices || {}).map(([id, key]) => [id, { sigPub: B.unb64(key, 32), revoked: false }]));
    return { userId, hex: userHex(userId), id16: userBytes(userId), name: pin.name, party: pin.party, admin: Boolean(pin.admin),
      uikPub: B.unb64(pin.uik, 32), changedUik: null, confirmed: Boolean(pin.verified), devices, puk: null, fromCache: true };
  }

  // After comparing safety numbers: trust the identity key the server now shows.
  async acceptKey(userId) {
    const pins = await this.loadPins();
    const entry = await this.entry(userId);
    if (!entry?.changedUik) return;
    const old = pins[userId];
    const previous = [...new Set([...(old?.previous || []), ...(old ? [old.uik] : [])])];
    pins[userId] = { uik: B.b64(entry.changedUik), verified: false, firstSeenMs: Date.now(), name: entry.name,
      party: entry.party, admin: entry.admin, devices: old?.devices || {}, previous };
    await store.savePins(this.userId, pins);
    this.entries.delete(Number(userId));
  }

  async markConfirmed(userId) {
    const pins = await this.loadPins();
    if (pins[userId]) {
      pins[userId].verified = true;
      await store.savePins(this.userId, pins);
    }
    this.entries.delete(Number(userId));
  }

  async safetyNumber(userId, uikPub = null) {
    const entry = await this.entry(userId);
    return FP.group(await FP.safetyNumber([this.uid, this.uikPub], [entry.id16, uikPub || entry.uikPub]));
  }

  // Users with published keys of a thread's parties (GET .../roster), verified like entries
  // (identity pinned on first use, PUK record signed by it), for wrapping keys to them. The
  // roster carries no devices: these entries are not cached as directory entries.
  async verifiedRoster(parties) {
    const out = [];
    for (const party of parties) {
      for (const u of party.users) {
        const data = { name: u.name, party: party.party, admin: u.admin, devices: [],
          identity: u.identity ? { public_key: u.identity } : null, generations: [{ generation: u.generation, record: u.record }] };
        const entry = await this.verifyEntry(Number(u.user_id), data).catch(() => null);
        out.push({ party: party.party, userId: Number(u.user_id), name: u.name, admin: u.admin, entry,
          usable: Boolean(entry && entry.puk && !entry.changedUik && entry.puk.gen === u.generation) });
      }
    }
    return out;
  }

  thread(threadId) { return new ThreadView(this, threadId); }

  // -- creating a thread -------------------------------------------------------------------------

  // include(person) (optional): whom of the parties' users to make members, e.g. only the
  // designated focal points of a State (travel reports); the others are left out, not "skipped".
  async createThread({ title, topic, courtRef, parties, shareHistory, include = null }, report = () => {}) {
    this.requireReady();
    if (!TOPICS.includes(topic)) throw new UserError(t("choose-topic"));
    const created = await api.post("/threads", { parties });
    const threadId = created.id;
    const tid = B.unhex(threadId, 16);
    report(t("preparing-keys"));
    const roster = await api.get(`/threads/${threadId}/roster`);
    const people = await this.verifiedRoster(roster.parties);
    const me = await this.entry(this.userId);
    const members = new Map([[this.hex, { entry: me, party: me.party }]]);
    const skipped = [];
    for (const person of people) {
      if (person.userId === this.userId) continue;
      if (include && !include(person)) continue;
      if (person.usable) members.set(person.entry.hex, { entry: person.entry, party: person.party });
      else skipped.push(person.name);
    }
    const states = [...new Set([me.party, ...roster.parties.map((p) => p.party)])];
    const epochKey = K.newEpochKey();
    const meta = await K.encryptMeta(epochKey, { v: 1, title, topic, court_ref: courtRef || null }, { threadId: tid, epoch: 1 });
    const recipients = new Map();
    for (const [h, m] of members) {
      recipients.set(h, h === this.hex ? { gen: this.pukGen, dhPub: (await this.puk(this.pukGen)).dhPub }
        : { gen: m.entry.puk.gen, dhPub: m.entry.puk.dhPub });
    }
    const keys = await E.keysRecord({ epochKey, threadId: tid, epoch: 1, recipients });
    const body = { owner_state: me.party, states, members: [...members].map(([h, m]) => ({ user: h, state: m.party })),
      policy: { share_history: Boolean(shareHistory), members_add_colleagues: false }, keys, meta: B.b64(meta) };
    const statement = await E.makeEvent("create", body, { threadId: tid, seq: 0, prevHash: E.ZERO_HASH, actor: this.uid,
      deviceId: this.device.deviceId, deviceKey: this.device.sig, epoch: 1, tsMs: Date.now() });
    await api.post(`/threads/${threadId}/events`, {
      seq: 0, prev_hash: api.b64u(E.ZERO_HASH), type: "create", device_id: this.deviceHex,
      event: api.b64u(statement.payload), signature: api.b64u(statement.signature),
      users: [...members.keys()].map(userIdFromHex), meta: api.b64u(meta), epoch: epochJson(1, keys) });
    return { threadId, skipped };
  }
}

function epochJson(number, keys) {
  return { number, wraps: keys.wraps.map((w) => ({ user_id: userIdFromHex(w.user), generation: w.gen,
    wrap: api.b64u(B.unb64(w.blob)) })) };
}

class NoKey extends Error {}

// =============================================================================================
// One thread: its verified log, keys, messages and attachments
// =============================================================================================

export class ThreadView {
  constructor(session, threadId) {
    this.session = session;
    this.id = threadId;
    this.tid = B.unhex(threadId, 16);
    this.epochKeys = new Map();
    this.messageKeys = new Map();     // epoch → Promise of its message key (AES-GCM CryptoKey) or null
    this.pendingUploads = new Map();  // File → upload state, reused when a send is retried
  }

  // Fetch the whole log, verify it against the directory and replay it.
  // fresh: look the participants' keys up again (a page showing one thread); the list page
  // shares one lookup per person across its threads.
  async load({ fresh = true } = {}) {
    const s = this.session;
    if (fresh) s.entries.clear();
    // Keys found stay valid; "no key" may change with the log (a new wrap or history link).
    for (const [epoch, key] of this.epochKeys) if (key === null) this.epochKeys.delete(epoch);
    this.messageKeys.clear();
    this.info = await api.get(`/threads/${this.id}`);
    const statements = [];
    let after = -1;
    for (;;) {
      const page = await api.get(`/threads/${this.id}/events?limit=500${after >= 0 ? `&after=${after}` : ""}`);
      for (const e of page.events) statements.push({ kind: "event", payload: api.unb64u(e.event), signature: api.unb64u(e.signature) });
      if (page.events.length < 500) break;
      after = page.events[page.events.length - 1].seq;
    }
    // Everyone the log names, looked up before the log is verified (only verified keys count).
    const named = new Set([s.userId, ...this.info.members.map((m) => m.user_id)]);
    for (const st of statements) {
      try {
        const obj = JSON.parse(B.td.decode(st.payload));
        const body = obj.body || {};
        for (const h of [obj.actor, body.user, ...(body.members || []).map((m) => m.user), ...(body.keys?.wraps || []).map((w) => w.user)]) {
          if (typeof h === "string" && /^[0-9a-f]{32}$/.test(h)) named.add(userIdFromHex(h));
        }
      } catch { /* a malformed event fails the replay below */ }
    }
    const entries = await Promise.all([...named].map((id) => s.entry(id)));
    this.directory = new E.Directory();
    this.people = new Map();
    for (const entry of entries) {
      if (!entry) continue;
      this.people.set(entry.hex, entry);
      this.directory.addUser(entry.hex, entry.party, entry.admin);
      for (const [deviceHex, d] of entry.devices) this.directory.addDevice(entry.hex, deviceHex, d.sigPub);
    }
    try {
      this.state = await E.replay(statements, this.directory, this.tid);
    } catch (error) {
      const failure = new UserError(t("log-invalid"));
      failure.cause = error;
      throw failure;
    }
    this.me = this.people.get(s.hex);
    return this;
  }

  // K_e: unwrapped with this user's PUK, else through the history link of epoch e+1.
  async epochKey(epoch) {
    if (this.epochKeys.has(epoch)) return this.epochKeys.get(epoch);
    let key = null;
    const wrap = this.state.wraps.get(epoch)?.get(this.session.hex);
    if (wrap) {
      const puk = await this.session.puk(wrap.gen);
      if (puk) key = await K.unwrapEpochKey(puk, { threadId: this.tid, epoch, blob: wrap.blob });
    } else if (epoch < this.state.epoch && this.state.history.has(epoch + 1)) {
      const newer = await this.epochKey(epoch + 1);
      if (newer) key = await K.openHistoryLink(newer, this.state.history.get(epoch + 1), { threadId: this.tid, epoch: epoch + 1 });
    }
    this.epochKeys.set(epoch, key);
    return key;
  }

  // The key that opens epoch `epoch`'s messages, derived from K_e once per epoch and imported
  // non-extractable; null without K_e. Shared by the messages opened at the same time.
  messageKey(epoch) {
    let promise = this.messageKeys.get(epoch);
    if (!promise) {
      promise = (async () => {
        const key = await this.epochKey(epoch);
        if (!key) return null;
        const raw = await K.messageKey(key, this.tid, epoch);
        try { return await P.aesKey(raw, ["decrypt"]); } finally { raw.fill(0); }
      })();
      this.messageKeys.set(epoch, promise);
      promise.catch(() => { if (this.messageKeys.get(epoch) === promise) this.messageKeys.delete(epoch); });
    }
    return promise;
  }

  async meta() {
    if (!this.state.meta) return null;
    const key = await this.epochKey(this.state.metaEpoch);
    if (!key) return null;
    return K.decryptMeta(key, this.state.meta, { threadId: this.tid, epoch: this.state.metaEpoch });
  }

  // -- what the person may do, by the log's rules (PROTOCOL.md §6) -------------------------------
  get isOwnerAdmin() { return Boolean(this.me?.admin && this.me.party === this.state.ownerState); }
  canAddState() { return this.isOwnerAdmin; }
  canRemoveState(party) { return this.isOwnerAdmin && party !== this.state.ownerState; }
  canAddUser(party) {
    return this.isOwnerAdmin || (this.me?.party === party && (this.me.admin || this.state.policy.members_add_colleagues));
  }
  canRemoveUser(userHexId) {
    const party = this.state.members.get(userHexId);
    return userHexId === this.session.hex || Boolean(this.me?.admin && this.me.party === party) || this.isOwnerAdmin;
  }

  // Members whose identity key changed since this browser pinned it (blocking until accepted).
  keyChanges() {
    return [...this.state.members.keys()].map((h) => this.people.get(h)).filter((e) => e && e.changedUik);
  }

  // Why sending is refused right now, or null.
  sendBlocker() {
    if (!this.state.members.has(this.session.hex)) return t("not-member");
    if (this.keyChanges().length) return t("blocked-key-change");
    const stale = E.membersNeedingRotation(this.state, this.directory);
    if (stale.size) {
      const names = [...stale].map((h) => this.people.get(h)?.name || h).join(", ");
      return t("blocked-rotation", { names });
    }
    return null;
  }

  async safetyCode() {
    const members = [];
    for (const h of this.state.members.keys()) {
      const entry = this.people.get(h);
      if (entry) members.push([entry.id16, entry.uikPub]);
    }
    return FP.group(await FP.threadSafetyCode(this.tid, this.state.headHash, members));
  }

  // -- messages ------------------------------------------------------------------------------

  // The newest page of messages (older ones with `before`), oldest first, each verified then
  // decrypted: {kind: "message" | "unverified" | "no-key" | "unknown-head", ...}. A message whose
  // header names a log head this view lacks has `unknownHead` (PROTOCOL.md §6); the log was then
  // fetched again first (`refreshed`: the state, members and keys may have changed).
  // Pages of 200: a 1,000-message thread is on screen in five round trips (the target is under
  // 1 s, deploy/bench/bench_browser_render.py); verifying and decrypting 200 takes ~25 ms.
  // The verified messages fetched since the newest page was last fetched (the ones a page shows)
  // are kept by msg_id: replies are resolved against them only (replyTarget).
  async messages(before = null) {
    const query = before ? `&before=${before}` : "";
    const page = await api.get(`/threads/${this.id}/messages?limit=${MESSAGE_PAGE}${query}`);
    const refreshed = await this.catchUp(page.messages);
    const items = await this.openMessages(page.messages);
    items.reverse();
    if (!before || !this.verified) this.verified = new Map();
    for (const item of items) {
      if (item.kind === "message" && !this.verified.has(item.msgId)) this.verified.set(item.msgId, item);
    }
    return { items, nextBefore: page.next_before, refreshed };
  }

  // Fork and withholding detection (PROTOCOL.md §6): a message's header names the log head its
  // sender saw (epoch, head_hash). If one names a head this view's log lacks, the sender may simply
  // have seen newer events: the log is fetched again, once, before the messages are opened; what
  // is still unknown then is flagged (openMessage). The new log must extend the one it replaces
  // (the log is append-only); if not, the server showed this browser two different histories.
  // Only the 126-byte header is decoded here (168 base64url characters). True if fetched again.
  async catchUp(list) {
    const unknown = list.some((m) => {
      try {
        const h = T.parseHeader(api.unb64u(String(m.envelope).slice(0, 168)));
        return B.equal(h.threadId, this.tid) && !E.knowsHead(this.state, h.headHash, h.epoch);
      } catch { return false; }  // malformed: openMessage refuses it
    });
    if (!unknown) return false;
    const before = this.state;
    await this.load();
    if (!E.knowsHead(this.state, before.headHash, before.epoch)) throw new UserError(t("log-rewritten"));
    return true;
  }

  // A message this view cannot open whose header names a head its log lacks, yet signed by a
  // certified device of its sender: evidence that the sender saw a history this browser was not
  // given (the server cannot sign; an unsigned one stays "unverified"). The sender entry, or null.
  async signedAtUnknownHead(m, data) {
    try {
      const h = T.parseHeader(data);
      if (!B.equal(h.threadId, this.tid) || !B.equal(h.senderUser, userBytes(m.sender_id))) return null;
      if (E.knowsHead(this.state, h.headHash, h.epoch)) return null;
      const sender = this.people.get(B.hex(h.senderUser)) || await this.session.entry(m.sender_id);
      const device = sender?.devices.get(B.hex(h.senderDevice));
      if (!device) return null;
      await T.verify(data, device.sigPub);
      return sender;
    } catch {
      return null;
    }
  }

  // The message `item` replies to, or null when its reply_to names nothing the reader can trust
  // (PROTOCOL.md §12): the original must be a verified message of this thread among those
  // fetched, and earlier than the reply. An unverified, undecryptable, later or unknown original
  // is "a message not available", never quoted.
  replyTarget(item) {
    if (item?.kind !== "message" || !item.replyTo || !this.verified) return null;
    const original = this.verified.get(item.replyTo);
    if (!original || original === item || !(original.id < item.id)) return null;
    return original;
  }

  // Messages as the API returns them, each verified then decrypted, in the same order. Up to
  // OPEN_CONCURRENCY at once: each one is a chain of WebCrypto calls that run off the main thread.
  async openMessages(list) {
    const items = new Array(list.length);
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const i = next++;
        items[i] = await this.openMessage(list[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, list.length) }, worker));
    return items;
  }

  async openMessage(m) {
    const base = { id: m.id, serverTime: Date.parse(m.created_at) };
    let sender = null, device = null, data = null;
    try {
      data = api.unb64u(m.envelope);
      const { header, body } = await T.open(data, {
        senderSigPub: async (h) => {
          if (!B.equal(h.threadId, this.tid)) throw new B.VerificationError("message of another thread");
          if (!B.equal(h.senderUser, userBytes(m.sender_id))) throw new B.VerificationError("sender mismatch");
          const senderHex = B.hex(h.senderUser);
          if (!this.state.wraps.get(h.epoch)?.has(senderHex)) throw new B.VerificationError("sender was not a member");
          sender = this.people.get(senderHex) || await this.session.entry(m.sender_id);
          device = sender?.devices.get(B.hex(h.senderDevice));
          if (!device) throw new B.VerificationError("unknown device");
          return device.sigPub;
        },
        msgKey: async (h) => {
          const key = await this.messageKey(h.epoch);
          if (!key) throw new NoKey();
          return key;
        },
      });
      const attachments = Array.isArray(body.attachments) ? body.attachments : [];
      const replyTo = body.reply_to ?? null;
      // A signed body of the wrong shape is refused like a bad signature; an unknown handling
      // code is shown as such (handling: null), not hidden.
      if (typeof body.text !== "string" || (replyTo !== null && !(typeof replyTo === "string" && MSG_ID.test(replyTo)))
          || !attachments.every((a) => a && typeof a.file_id === "string" && /^[0-9a-f]{32}$/.test(a.file_id)
            && Number.isSafeInteger(a.size) && a.size >= 0 && typeof a.key === "string" && typeof a.digest === "string"
            && Number.isInteger(a.chunk_log2) && a.chunk_log2 >= 12 && a.chunk_log2 <= 24)) {
        throw new B.VerificationError("message body is not valid");
      }
      return { ...base, kind: "message", msgId: B.hex(header.msgId), sender, revokedDevice: device.revoked,
        time: header.clientTsMs, epoch: header.epoch, text: body.text, replyTo,
        handling: HANDLING.includes(body.handling) ? body.handling : null, attachments,
        // Shown, with a warning: signed, a member's in this log, decrypted with this log's key.
        unknownHead: !E.knowsHead(this.state, header.headHash, header.epoch) };
    } catch (error) {
      const signer = data && await this.signedAtUnknownHead(m, data);
      if (signer) return { ...base, kind: "unknown-head", sender: signer, unknownHead: true };
      if (error instanceof NoKey) return { ...base, kind: "no-key", sender };
      return { ...base, kind: "unverified" };
    }
  }

  async markRead(upTo) {
    if (upTo > (this.info.read_up_to || 0)) await api.post(`/threads/${this.id}/read`, { up_to: upTo });
  }

  // Encrypt, sign and post a message (attachments uploaded first). A 409 (the thread moved to
  // a new epoch) reloads the log and seals again; a network failure resends the same bytes.
  // replyTo: the msgId of the verified message this one answers (PROTOCOL.md §12), or null.
  async send({ text, handling, files, replyTo = null }, ui = {}) {
    this.session.requireReady();
    if (!HANDLING.includes(handling)) throw new UserError(t("choose-handling"));
    if (replyTo !== null && !(typeof replyTo === "string" && MSG_ID.test(replyTo))) {
      throw new B.ProtocolError("reply_to is not a message id");
    }
    const blocker = this.sendBlocker();
    if (blocker) throw new UserError(blocker);
    await this.rotateIfStale();
    const attachments = [];
    for (const file of files) attachments.push(await this.upload(file, handling, ui));
    const body = { v: 1, text, reply_to: replyTo, handling, attachments };
    const msgId = B.randomBytes(16);
    for (let attempt = 0; ; attempt++) {
      const epoch = this.state.epoch;
      const envelope = await T.seal(body, { epochKey: await this.epochKey(epoch), device: this.session.device, threadId: this.tid,
        epoch, headHash: this.state.headHash, msgId, senderUser: this.session.uid, clientTsMs: Date.now() });
      try {
        const posted = await this.postEnvelope(envelope, msgId);
        for (const file of files) this.pendingUploads.delete(file);
        return posted;
      } catch (error) {
        if (error.status !== 409 || attempt >= MAX_RETRIES) throw error;
        await this.load();
        const again = this.sendBlocker();
        if (again) throw new UserError(again);
      }
    }
  }

  async postEnvelope(envelope, msgId) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api.post(`/threads/${this.id}/messages`, { envelope: api.b64u(envelope), msg_id: B.hex(msgId) });
      } catch (error) {
        if (error.status !== 0 || attempt >= MAX_RETRIES) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  // -- attachments -----------------------------------------------------------------------------

  // TAF1-encrypt a File chunk by chunk (Blob.slice) and upload the ciphertext in parts. The file
  // key and nonce prefix are kept for the File, so a retry produces the same bytes and sends only
  // the parts the server does not have yet (it is asked first). Returns the body's descriptor.
  async upload(file, handling, ui = {}) {
    let pending = this.pendingUploads.get(file);
    if (!pending) {
      const size = F.ciphertextSize(file.size, F.DEFAULT_LOG2);
      const attachment = await api.post(`/threads/${this.id}/attachments`, { size, part_size: Math.min(size, PART_SIZE) });
      pending = { attachment, key: B.randomBytes(32), prefix: B.randomBytes(7), digest: null };
      this.pendingUploads.set(file, pending);
    }
    const { attachment } = pending;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.uploadParts(file, pending, ui);
        break;
      } catch (error) {
        const retriable = error.status === 0 || error.status >= 500;
        if (!retriable || attempt >= MAX_RETRIES) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
    return { file_id: attachment.id, name: file.name, mime: file.type || "application/octet-stream", size: file.size,
      digest: B.hex(pending.digest), key: B.hex(pending.key), chunk_log2: F.DEFAULT_LOG2, handling };
  }

  async uploadParts(file, pending, ui) {
    const { attachment } = pending;
    const base = `/threads/${this.id}/attachments/${attachment.id}`;
    const status = await api.get(base);
    if (status.complete && pending.digest) return;
    const have = new Set(status.received || []);
    const partSize = attachment.part_size;
    const total = attachment.size;
    const encrypting = ui.progress?.(t("encrypting", { name: file.name }));
    const uploading = ui.progress?.(t("uploading", { name: file.name }));
    let buffer = new Uint8Array(Math.min(partSize, total));
    let filled = 0, number = 0, buffered = 0, sent = 0, read = 0;
    // One part on the wire while the next one is encrypted: encryption and upload overlap, and
    // memory holds two parts at most.
    let inFlight = null;
    const flush = async () => {
      const body = buffer.subarray(0, filled), length = filled, part = number;
      if (inFlight) await inFlight;
      const upload = have.has(part) ? Promise.resolve() : api.putRaw(`${base}/parts/${part}`, body);
      inFlight = upload.then(() => { sent += length; uploading?.update(sent, total); });
      inFlight.catch(() => {});  // observed by the next flush or the final wait, never lost
      number += 1;
      buffered += length;
      filled = 0;
      const left = total - buffered;
      if (left > 0) buffer = new Uint8Array(Math.min(partSize, left));
    };
    const result = await F.encrypt(pending.key, file, {
      noncePrefix: pending.prefix,
      onChunk: async (chunk) => {
        read += Math.max(0, chunk.length - 16);
        encrypting?.update(Math.min(read, file.size), file.size);
        let offset = 0;
        while (offset < chunk.length) {
          const take = Math.min(chunk.length - offset, buffer.length - filled);
          buffer.set(chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === buffer.length) await flush();
        }
      },
    });
    if (filled > 0) await flush();
    if (inFlight) await inFlight;
    if (result.ciphertextSize !== total) throw new B.ProtocolError("ciphertext size differs from the announced size");
    pending.digest = result.digest;
    encrypting?.finish();
    await api.post(`${base}/complete`, {});
    uploading?.finish(t("uploaded", { name: file.name }));
  }

  // Stream the ciphertext into a Blob (JS memory holds at most FLUSH_BYTES), decrypt it chunk by
  // chunk into a Blob of plaintext chunks, check size and digest against the signed body.
  // Returns {blob, name}; nothing is returned if any check fails.
  async download(descriptor, ui = {}) {
    const expected = F.ciphertextSize(descriptor.size, descriptor.chunk_log2);
    const response = await api.stream(`/threads/${this.id}/attachments/${descriptor.file_id}/content`);
    const downloading = ui.progress?.(t("downloading", { name: safeName(descriptor.name) }));
    const reader = response.body.getReader();
    let blob = new Blob([]), pieces = [], inMemory = 0, received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pieces.push(value);
      inMemory += value.length;
      received += value.length;
      downloading?.update(received, expected);
      if (received > expected) { await reader.cancel(); throw new B.VerificationError("the file is larger than announced"); }
      if (inMemory >= FLUSH_BYTES) { blob = new Blob([blob, ...pieces]); pieces = []; inMemory = 0; }
    }
    blob = new Blob([blob, ...pieces]);
    pieces = [];
    if (blob.size !== expected) throw new UserError(t("download-incomplete"));
    downloading?.finish();
    const decrypting = ui.progress?.(t("decrypting", { name: safeName(descriptor.name) }));
    const out = [];
    let plain = 0;
    const result = await F.decrypt(bytes32(descriptor.key), blob, {
      onChunk: (pt) => { out.push(new Blob([pt])); plain += pt.length; decrypting?.update(plain, descriptor.size); },
    });
    if (result.plaintextSize !== descriptor.size || !B.equal(result.digest, bytes32(descriptor.digest))) {
      throw new UserError(t("attachment-invalid"));
    }
    decrypting?.finish(t("decrypted", { name: safeName(descriptor.name) }));
    return { blob: new Blob(out, { type: "application/octet-stream" }), name: safeName(descriptor.name) };
  }

  // -- membership changes and rotation ------------------------------------------------------------

  // One epoch-opening event: the new key wrapped to exactly the members after it (never to a
  // removed one), checked locally with the same rules before it is sent. 409: reload and redo.
  async change(type, { party = null, userId = null } = {}) {
    this.session.requireReady();
    let appended = null;  // the state after this event, as this browser verified it
    for (let attempt = 0; ; attempt++) {
      const newcomers = new Map();
      let apiExtra = {};
      let body = {};
      const members = new Map(this.state.members);
      if (type === "add_state") {
        const roster = await api.get(`/threads/${this.id}/roster?party=${encodeURIComponent(party)}`);
        const people = (await this.session.verifiedRoster(roster.parties)).filter((p) => p.usable);
        if (!people.length) throw new UserError(t("nobody-enrolled"));
        for (const p of people) { newcomers.set(p.entry.hex, p.entry); members.set(p.entry.hex, party); }
        body = { state: party, members: people.map((p) => ({ user: p.entry.hex, state: party })) };
        apiExtra = { party, users: people.map((p) => p.userId) };
      } else if (type === "remove_state") {
        for (const [h, st] of this.state.members) if (st === party) members.delete(h);
        body = { state: party };
        apiExtra = { party };
      } else if (type === "add_user") {
        const roster = await api.get(`/threads/${this.id}/roster`);
        const person = (await this.session.verifiedRoster(roster.parties)).find((p) => p.userId === Number(userId));
        if (!person?.usable) throw new UserError(t("user-not-addable"));
        const entry = person.entry;
        newcomers.set(entry.hex, entry);
        members.set(entry.hex, entry.party);
        body = { user: entry.hex, state: entry.party };
        apiExtra = { users: [Number(userId)] };
      } else if (type === "remove_user") {
        members.delete(userHex(userId));
        body = { user: userHex(userId) };
        apiExtra = { users: [Number(userId)] };
      } else if (type !== "rotate") {
        throw new B.ProtocolError("unknown change");
      }
      const epoch = this.state.epoch + 1;
      const recipients = new Map();
      for (const h of members.keys()) {
        const entry = newcomers.get(h) || this.people.get(h);
        if (h === this.session.hex) {
          const gen = this.session.pukGen;
          recipients.set(h, { gen, dhPub: (await this.session.puk(gen)).dhPub });
        } else if (!entry?.puk || entry.changedUik) {
          throw new UserError(t("member-keys-missing", { name: entry?.name || h }));
        } else {
          recipients.set(h, { gen: entry.puk.gen, dhPub: entry.puk.dhPub });
        }
      }
      const epochKey = K.newEpochKey();
      let previousKey = null;
      if (this.state.policy.share_history) {
        previousKey = await this.epochKey(this.state.epoch);
        if (!previousKey) throw new UserError(t("no-current-key"));
      }
      body.keys = await E.keysRecord({ epochKey, threadId: this.tid, epoch, recipients, previousKey });
      const statement = await E.nextEvent(this.state, type, body, { actor: this.session.uid, deviceId: this.session.device.deviceId,
        deviceKey: this.session.device.sig, tsMs: Date.now() });
      for (const entry of newcomers.values()) this.directory.addUser(entry.hex, entry.party, entry.admin);
      appended = await E.apply(this.state, statement, this.directory);  // the same rules every reader applies
      try {
        await api.post(`/threads/${this.id}/events`, { seq: this.state.seq + 1, prev_hash: api.b64u(this.state.headHash), type,
          device_id: this.session.deviceHex, event: api.b64u(statement.payload), signature: api.b64u(statement.signature),
          ...apiExtra, epoch: epochJson(epoch, body.keys) });
        break;
      } catch (error) {
        if (error.status !== 409 || attempt >= MAX_RETRIES) throw error;
        await this.load();
      }
    }
    if (type === "remove_user" && Number(userId) === this.session.userId) return;
    await this.load();
    // The server accepted the event: a log without it is a history rewritten (PROTOCOL.md §6).
    if (!E.knowsHead(this.state, appended.headHash, appended.epoch)) throw new UserError(t("log-rewritten"));
  }

  // Lazy rotation (PROTOCOL.md §6): if a member moved to a newer PUK generation (a device was
  // revoked), open a new epoch before sending so the revoked device cannot read what follows.
  async rotateIfStale() {
    const wraps = this.state.wraps.get(this.state.epoch);
    let stale = wraps.get(this.session.hex)?.gen !== this.session.pukGen;
    for (const [h, wrap] of wraps) {
      const entry = this.people.get(h);
      if (h !== this.session.hex && entry?.puk && entry.puk.gen > wrap.gen) stale = true;
    }
    if (stale) await this.change("rotate");
  }

  // Users of the participating parties who have keys and are not members (to add).
  async candidates() {
    const roster = await api.get(`/threads/${this.id}/roster`);
    const people = await this.session.verifiedRoster(roster.parties);
    return people.filter((p) => p.usable && !this.state.members.has(p.entry.hex) && this.state.states.has(p.party)
      && this.canAddUser(p.party));
  }
}
