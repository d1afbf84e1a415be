// The signed, hash-chained thread log and the rules every client applies to it (PROTOCOL.md §6):
// the browser twin of cooperation_client/protocol/events.py, held to the same vectors and rules.
//
// An event is a signed statement (kind "event") made by a member's certified device:
//   {"v":1, "thread":hex16, "seq":n, "prev":hex32, "type":..., "actor":hex16, "device":hex16,
//    "epoch":e, "ts_ms":t, "body":{...}}
// prev = SHA-256("TEK1/event" ‖ previous payload), all zeros for seq 0. Verifiers check the
// signature over the bytes received, then parse; they never re-serialise. Signers emit sorted,
// compact JSON (bytes.js jsonBytes), byte-identical to the Python twin.
//
// Representation (Python uses bytes where this module uses strings):
//  * User and device ids are lowercase 32-character hex strings (their JSON form) wherever they
//    are Map keys or returned values. Every function taking an id also accepts a 16-byte
//    Uint8Array. Directory.devices keys are `${userHex}:${deviceHex}`.
//  * Thread ids, hashes, public keys, wraps, history links and metadata blobs are Uint8Array.
//  * Statements are {kind, payload: Uint8Array, signature: Uint8Array}, as keys.js's
//    statementFromJson yields; makeEvent's result also carries the signature as `sig`. apply and
//    replay accept either field, and the transport form {kind, payload: base64, sig: base64}.
//  * ThreadState is a frozen plain object: {threadId: Uint8Array, seq, headHash: Uint8Array,
//    epoch, ownerState, states: Set<string>, members: Map<userHex, State>, policy:
//    {share_history, members_add_colleagues}, meta: Uint8Array|null, metaEpoch,
//    wraps: Map<epoch, Map<userHex, {gen, blob}>>, history: Map<epoch, Uint8Array>,
//    heads: Map<hashHex, epoch>} (heads: every head the log has had, see knowsHead).
//    apply never changes the state it is given; treat the Maps and Sets as read-only.
//  Errors are bytes.js's ProtocolError (malformed input) and VerificationError (a signature, chain
//  or authorisation rule failed), with the Python twin's messages. One known difference: Python's
//  json.loads accepts NaN/Infinity in a payload, JSON.parse refuses the event (ProtocolError).
import { b64, hex, jsonBytes, ProtocolError, unb64, VerificationError } from "./bytes.js";
import { eventHash, historyLink, wrapEpochKey } from "./keys.js";
import { sign, signedDigest, verify } from "./primitives.js";

export { eventHash } from "./keys.js";

export const EVENT_TYPES = Object.freeze(["create", "add_state", "remove_state", "add_user", "remove_user", "rotate",
  "set_policy", "rename"]);
// Events after which the thread key must change: readers leave or join, or a member asked.
export const EPOCH_OPENING = new Set(["create", "add_state", "remove_state", "add_user", "remove_user", "rotate"]);
export const ZERO_HASH = new Uint8Array(32);
export const DEFAULT_POLICY = Object.freeze({ share_history: true, members_add_colleagues: false });
const WRAP_LEN = 80;      // HPKE enc(32) ‖ epoch key(32) ‖ tag(16)
const HISTORY_LEN = 60;   // nonce(12) ‖ previous key(32) ‖ tag(16)
const MAX_STATEMENT = 1 << 20;
const KINDS = new Set(["user-cert", "device-cert", "device-revoke", "puk-record", "event"]);
const ZERO_HEX = hex(ZERO_HASH);

// -- ids, base64, JSON: strict, with the Python twin's acceptance rules ------------------------

const ID_HEX = /^[0-9a-f]{32}$/;
// A user, device or thread id as lowercase hex, from 16 bytes or lowercase hex.
export function idHex(value, what = "id") {
  if (value instanceof Uint8Array && value.length === 16) return hex(value);
  if (typeof value === "string" && ID_HEX.test(value)) return value;
  throw new ProtocolError(`${what} must be 16 bytes`);
}
function idBytes(value, what) {
  const text = idHex(value, what);
  return value instanceof Uint8Array ? value : fromHex(text);
}
function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// encoding.hexd: lowercase hex of exactly `length` bytes; kept as the hex string.
function hexd(text, length) {
  if (typeof text !== "string" || text.length !== 2 * length || !/^[0-9a-f]*$/.test(text)) {
    throw new ProtocolError("invalid hex id");
  }
  return text;
}

// encoding.b64d: standard base64 with padding, nothing else (atob alone is lenient).
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
function b64d(text, length) {
  if (typeof text !== "string" || !B64.test(text)) throw new ProtocolError("invalid base64");
  const out = unb64(text);
  if (length !== undefined && out.length !== length) throw new ProtocolError(`expected ${length} bytes, got ${out.length}`);
  return out;
}

// Python's json.loads tells 1 from 1.0; integer fields must be JSON integers. A number written
// with a fraction or exponent becomes a JsonFloat (needs JSON.parse source text access), which
// no integer, string or boolean check accepts. A BOM is refused, as Python refuses it.
class JsonFloat {
  constructor(value) { this.value = value; Object.freeze(this); }
}
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
function parsePayload(bytes) {
  return JSON.parse(utf8.decode(bytes), (key, value, context) =>
    (typeof value === "number" && typeof context?.source === "string" && /[.eE]/.test(context.source)
      ? new JsonFloat(value) : value));
}
const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof JsonFloat);
// dict.get: own properties only, so nothing is read from Object.prototype.
const get = (obj, key, fallback) => (Object.hasOwn(obj, key) ? obj[key] : fallback);

function int(value, what) {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ProtocolError(`${what} must be a non-negative integer`);
  }
  return value;
}

function need(condition, message) {
  if (!condition) throw new VerificationError(message);
}

// -- statements in transport form --------------------------------------------------------------

export function statementFromJson(data) {
  if (!isDict(data) || !KINDS.has(data.kind)) throw new ProtocolError("unknown statement kind");
  return { kind: data.kind, payload: b64d(data.payload), signature: b64d(data.sig, 64) };
}
export function statementToJson(statement) {
  return { kind: statement.kind, payload: b64(statement.payload), sig: b64(statement.signature ?? statement.sig) };
}
function asStatement(statement) {
  if (isDict(statement) && typeof statement.payload === "string") return statementFromJson(statement);
  const signature = statement?.signature ?? statement?.sig;
  if (!(statement?.payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new ProtocolError("malformed event");
  }
  return { kind: statement.kind, payload: statement.payload, signature };
}

// -- who is who (built by the client from verified certificates) -------------------------------

// Users and devices whose certificate chains the client has verified. Nothing else counts.
export class Directory {
  constructor() {
    this.users = new Map();     // userHex → {state, admin}
    this.devices = new Map();   // `${userHex}:${deviceHex}` → Ed25519 public key (32 bytes)
  }

  // {users: [{user, state, admin}], devices: [{user, device, sig_public | sigPub}]}, ids and
  // keys as hex or bytes (the shape of the test vectors' directory).
  static from({ users = [], devices = [] } = {}) {
    const directory = new Directory();
    for (const u of users) directory.addUser(u.user, u.state, u.admin);
    for (const d of devices) directory.addDevice(d.user, d.device, d.sigPub ?? d.sig_public);
    return directory;
  }

  addUser(user, state, admin) {
    if (typeof state !== "string" || typeof admin !== "boolean") throw new ProtocolError("invalid directory entry");
    this.users.set(idHex(user, "user id"), Object.freeze({ state, admin }));
    return this;
  }

  addDevice(user, device, sigPub) {
    const key = typeof sigPub === "string" ? fromHex(hexd(sigPub, 32)) : sigPub;
    if (!(key instanceof Uint8Array) || key.length !== 32) throw new ProtocolError("invalid device key");
    this.devices.set(deviceKeyId(user, device), key);
    return this;
  }
}
export const deviceKeyId = (user, device) => `${idHex(user, "user id")}:${idHex(device, "device id")}`;

// -- building events ---------------------------------------------------------------------------

// The epoch record carried by an epoch-opening event: one wrap per member's current PUK
// (recipients: Map userHex → {gen, dhPub}), and the history link if the thread shares history
// (previousKey). ephemeralSeeds (Map userHex → seed) and historyNonce are for test vectors only.
export async function keysRecord({ epochKey, threadId, epoch, recipients, previousKey = null, ephemeralSeeds = null,
  historyNonce = undefined }) {
  const tid = idBytes(threadId, "thread id");
  const entries = (recipients instanceof Map ? [...recipients] : Object.entries(recipients))
    .map(([user, r]) => [idHex(user, "user id"), r]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const seeds = new Map((ephemeralSeeds instanceof Map ? [...ephemeralSeeds] : Object.entries(ephemeralSeeds ?? {}))
    .map(([user, seed]) => [idHex(user, "user id"), seed]));
  const wraps = [];
  for (const [i, [user, { gen, dhPub }]] of entries.entries()) {
    if (i > 0 && entries[i - 1][0] === user) throw new ProtocolError("duplicate recipient");
    if (!Number.isInteger(gen) || gen < 1 || gen > 0xffffffff) throw new ProtocolError("invalid PUK generation");
    const blob = await wrapEpochKey(epochKey, { threadId: tid, epoch, userId: fromHex(user), pukGen: gen, pukDhPub: dhPub,
      ephemeralSeed: seeds.get(user) });
    wraps.push({ user, gen, blob: b64(blob) });
  }
  const link = previousKey == null ? null
    : b64(await historyLink(epochKey, previousKey, { threadId: tid, epoch, nonce: historyNonce }));
  return { wraps, history: link };
}

function count(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProtocolError(`${what} must be a non-negative integer`);
  return value;
}

// deviceKey: the device's Ed25519 private CryptoKey (non-extractable is fine).
export async function makeEvent(type, body, { threadId, seq, prevHash, actor, deviceId, deviceKey, epoch, tsMs }) {
  if (!EVENT_TYPES.includes(type)) throw new ProtocolError("unknown event type");
  if (!(prevHash instanceof Uint8Array) || prevHash.length !== 32) throw new ProtocolError("prev hash must be 32 bytes");
  if (!isDict(body)) throw new ProtocolError("event body must be an object");
  const payload = jsonBytes({ v: 1, thread: idHex(threadId, "thread id"), seq: count(seq, "seq"), prev: hex(prevHash),
    type, actor: idHex(actor, "actor"), device: idHex(deviceId, "device id"), epoch: count(epoch, "epoch"),
    ts_ms: count(tsMs, "ts_ms"), body });
  const signature = await sign(deviceKey, await signedDigest("event", payload));
  return { kind: "event", payload, signature, sig: signature };
}

// The event that follows `state`'s head (epoch incremented if the type opens one).
export function nextEvent(state, type, body, { actor, deviceId, deviceKey, tsMs }) {
  const epoch = EPOCH_OPENING.has(type) ? state.epoch + 1 : state.epoch;
  return makeEvent(type, body, { threadId: state.threadId, seq: state.seq + 1, prevHash: state.headHash, actor, deviceId,
    deviceKey, epoch, tsMs });
}

// -- verifying ---------------------------------------------------------------------------------

// statements.verify_statement: kind, size, signature over the received bytes, then parse.
async function verifyEvent(statement, sigPub) {
  if (statement.kind !== "event") throw new ProtocolError("expected a event statement");
  if (statement.payload.length > MAX_STATEMENT) throw new ProtocolError("statement too large");
  await verify(sigPub, statement.signature, await signedDigest("event", statement.payload));
  let obj;
  try { obj = parsePayload(statement.payload); } catch { throw new ProtocolError("statement payload is not UTF-8 JSON"); }
  // Python compares obj.get("v") != 1, which true and 1.0 also pass.
  const v = isDict(obj) ? get(obj, "v") : undefined;
  if (!(v === 1 || v === true || (v instanceof JsonFloat && v.value === 1))) {
    throw new ProtocolError("unsupported statement version");
  }
  return obj;
}

// Check the signature with the actor's certified device key, then the envelope fields.
async function parse(raw, directory, threadHex) {
  const statement = asStatement(raw);
  let actor, device;
  try {
    const unverified = parsePayload(statement.payload);
    if (!isDict(unverified) || !Object.hasOwn(unverified, "actor") || !Object.hasOwn(unverified, "device")) throw new Error();
    actor = hexd(unverified.actor, 16);
    device = hexd(unverified.device, 16);
  } catch {
    throw new ProtocolError("malformed event");
  }
  const sigPub = directory.devices.get(`${actor}:${device}`);
  if (sigPub === undefined || !directory.users.has(actor)) {
    throw new VerificationError("event signed by an unknown or uncertified device");
  }
  const obj = await verifyEvent(statement, sigPub);
  const type = get(obj, "type");
  if (!EVENT_TYPES.includes(type) || !isDict(get(obj, "body"))) throw new ProtocolError("malformed event");
  if (threadHex !== null && hexd(get(obj, "thread", ""), 16) !== threadHex) {
    throw new VerificationError("event belongs to another thread");
  }
  const prev = hexd(get(obj, "prev", ""), 32);  // compared in apply/replay
  return { seq: int(get(obj, "seq"), "seq"), type, actor, device, epoch: int(get(obj, "epoch"), "epoch"),
    tsMs: int(get(obj, "ts_ms"), "ts_ms"), body: obj.body, prev, hash: await eventHash(statement.payload) };
}

function parsePolicy(value) {
  const names = isDict(value) ? Object.keys(value) : [];
  if (!isDict(value) || names.length !== 2 || !names.every((k) => Object.hasOwn(DEFAULT_POLICY, k))
      || !names.every((k) => typeof value[k] === "boolean")) {
    throw new ProtocolError("invalid policy");
  }
  return Object.freeze({ share_history: value.share_history, members_add_colleagues: value.members_add_colleagues });
}

// A list of {"user", "state"} whose States match the directory's certificates.
function roster(value, directory) {
  if (!Array.isArray(value) || value.length === 0) throw new ProtocolError("member list must be a non-empty list");
  const out = new Map();
  for (const entry of value) {
    if (!isDict(entry)) throw new ProtocolError("invalid member entry");
    const user = hexd(get(entry, "user", ""), 16), state = get(entry, "state");
    const info = directory.users.get(user);
    need(info !== undefined && info.state === state, "member not certified for the stated State");
    need(!out.has(user), "duplicate member");
    out.set(user, state);
  }
  return out;
}

// The epoch record must wrap the key to exactly the members the log implies.
function epochRecord(body, members, withHistory) {
  const record = get(body, "keys");
  if (!isDict(record) || !Array.isArray(get(record, "wraps"))) {
    throw new ProtocolError("epoch-opening event without an epoch record");
  }
  const wraps = new Map();
  for (const entry of record.wraps) {
    if (!isDict(entry)) throw new ProtocolError("invalid wrap entry");
    const user = hexd(get(entry, "user", ""), 16);
    const gen = int(get(entry, "gen"), "gen");
    need(gen >= 1 && !wraps.has(user), "invalid wrap entry");
    wraps.set(user, Object.freeze({ gen, blob: b64d(get(entry, "blob", ""), WRAP_LEN) }));
  }
  need(wraps.size === members.size && [...members.keys()].every((u) => wraps.has(u)),
    "epoch key wrapped for a set other than the members");
  const history = get(record, "history", null);
  if (withHistory) {
    need(typeof history === "string", "history link missing although the thread shares history");
    return { wraps, link: b64d(history, HISTORY_LEN) };
  }
  need(history === null, "history link present although the thread does not share history");
  return { wraps, link: null };
}

function ownerAdmin(state, actor, directory) {
  const info = directory.users.get(actor);
  return info.admin && info.state === state.ownerState;
}

function create(event, threadId, directory) {
  const body = event.body;
  need(event.seq === 0 && event.epoch === 1, "a thread starts with create at seq 0, epoch 1");
  const owner = directory.users.get(event.actor).state;
  need(get(body, "owner_state") === owner, "the creator's State must own the thread");
  const states = get(body, "states");
  if (!Array.isArray(states) || !states.every((s) => typeof s === "string") || new Set(states).size !== states.length) {
    throw new ProtocolError("invalid State list");
  }
  const members = roster(get(body, "members"), directory);
  need(states.includes(owner) && [...members.values()].every((s) => states.includes(s)),
    "members must belong to the thread's States");
  need(members.has(event.actor), "the creator must be a member");
  const policy = parsePolicy(get(body, "policy"));
  const { wraps } = epochRecord(body, members, false);
  const meta = typeof get(body, "meta") === "string" ? b64d(body.meta) : null;
  return Object.freeze({ threadId, seq: 0, headHash: event.hash, epoch: 1, ownerState: owner, states: new Set(states),
    members, policy, meta, metaEpoch: 1, wraps: new Map([[1, wraps]]), history: new Map(),
    heads: new Map([[hex(event.hash), 1]]) });
}

// The States and members after a membership event, if the actor was allowed to make it.
function membership(state, event, directory) {
  const body = event.body, states = new Set(state.states);
  let members = new Map(state.members);
  const actorInfo = directory.users.get(event.actor);
  const isOwnerAdmin = ownerAdmin(state, event.actor, directory);
  if (event.type === "add_state") {
    const added = get(body, "state");
    need(isOwnerAdmin, "only the owner State's administrators add States");
    need(typeof added === "string" && !states.has(added), "State already in the thread");
    const newcomers = roster(get(body, "members"), directory);
    need([...newcomers.values()].every((s) => s === added), "the roster must list users of the added State");
    states.add(added);
    for (const [user, st] of newcomers) members.set(user, st);
  } else if (event.type === "remove_state") {
    const gone = get(body, "state");
    need(isOwnerAdmin, "only the owner State's administrators remove States");
    need(states.has(gone) && gone !== state.ownerState, "cannot remove this State");
    states.delete(gone);
    members = new Map([...members].filter(([, st]) => st !== gone));
  } else if (event.type === "add_user") {
    const user = hexd(get(body, "user", ""), 16), userState = get(body, "state");
    const info = directory.users.get(user);
    need(info !== undefined && info.state === userState && states.has(userState), "user not addable");
    need(!members.has(user), "already a member");
    const colleague = actorInfo.state === userState && (actorInfo.admin || state.policy.members_add_colleagues);
    need(colleague || isOwnerAdmin, "not allowed to add this user");
    members.set(user, userState);
  } else if (event.type === "remove_user") {
    const user = hexd(get(body, "user", ""), 16);
    need(members.has(user), "not a member");
    const ownAdmin = actorInfo.admin && actorInfo.state === members.get(user);
    need(user === event.actor || ownAdmin || isOwnerAdmin, "not allowed to remove this user");
    members.delete(user);
  }
  need(members.size > 0, "a thread cannot lose its last member");
  return { states, members };
}

// Verify one event against the current state and return the state after it.
export async function apply(state, statement, directory) {
  const event = await parse(statement, directory, hex(state.threadId));
  need(event.seq === state.seq + 1 && event.prev === hex(state.headHash), "event does not extend the log head");
  need(state.members.has(event.actor), "only members change a thread");
  const opening = EPOCH_OPENING.has(event.type);
  need(event.epoch === state.epoch + (opening ? 1 : 0), "wrong epoch for this event");
  if (event.type === "create") throw new VerificationError("a thread is created only once");
  const next = { ...state, seq: event.seq, headHash: event.hash, epoch: event.epoch,
    heads: new Map(state.heads).set(hex(event.hash), event.epoch) };
  if (["add_state", "remove_state", "add_user", "remove_user"].includes(event.type)) {
    Object.assign(next, membership(state, event, directory));
  } else if (event.type === "set_policy") {
    need(ownerAdmin(state, event.actor, directory), "only the owner State's administrators set policy");
    next.policy = parsePolicy(get(event.body, "policy"));
  } else if (event.type === "rename") {
    next.meta = b64d(get(event.body, "meta", ""));
    next.metaEpoch = event.epoch;
  }
  if (opening) {
    const { wraps, link } = epochRecord(event.body, next.members, Boolean(state.policy.share_history));
    next.wraps = new Map(state.wraps).set(event.epoch, wraps);
    if (link !== null) next.history = new Map(state.history).set(event.epoch, link);
  }
  return Object.freeze(next);
}

// Verify a whole log from its create event; throws at the first bad event.
export async function replay(statements, directory, threadId) {
  const tid = idBytes(threadId, "thread id");
  const list = [...statements];
  if (list.length === 0) throw new ProtocolError("empty thread log");
  const event = await parse(list[0], directory, hex(tid));
  need(event.type === "create" && event.prev === ZERO_HEX, "the log must start with create");
  let state = create(event, tid, directory);
  for (const statement of list.slice(1)) state = await apply(state, statement, directory);
  return state;
}

// -- client-side checks before using an epoch --------------------------------------------------

// Members whose certificate is no longer valid (deactivated, identity reset): a client refuses
// to send in the current epoch until someone rotates them out (lazy rotation). A Set of userHex.
export function membersNeedingRotation(state, directory) {
  const out = new Set();
  for (const [user, st] of state.members) {
    const info = directory.users.get(user);
    if (info === undefined || info.state !== st) out.add(user);
  }
  return out;
}

export function canSend(state, user, directory) {
  const key = user instanceof Uint8Array ? hex(user) : user;
  return state.members.has(key) && membersNeedingRotation(state, directory).size === 0;
}

// -- fork and withholding detection (PROTOCOL.md §6) -------------------------------------------

// Whether (epoch, headHash) of a message header names a head of this verified log: an event whose
// hash is headHash and whose epoch (the epoch after it) is epoch. True when the sender's view of
// the log is a prefix of this one; false when the sender saw events this log lacks (ahead of it,
// or a history the server did not give this reader).
export function knowsHead(state, headHash, epoch) {
  if (!(headHash instanceof Uint8Array) || headHash.length !== 32) return false;
  return state.heads.get(hex(headHash)) === epoch;
}
