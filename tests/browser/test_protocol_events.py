"""The browser twin of the thread log (static/js/e2e/events.js) against the Python twin
(cooperation_client.protocol.events) in Debian's Chromium: it rebuilds and replays the vector log
byte for byte, a log it builds with fresh non-extractable device keys replays in Python to the
same state (and its wraps, history links and title open there), and both twins refuse the same
bad logs with the same error.

One page serves the whole module: the modules are imported once from the live server's /static/
(127.0.0.1 is a secure context) and each test runs a few evaluations in it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from cooperation_client.protocol import epochs, events, keys, messages
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.statements import Signed, json_bytes, sign_statement
from cooperation_client.vectors import VECTORS_PATH, generate
from tests.browser.conftest import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

V = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["log"]
IDS = generate._ids()
NAMES = {value.hex(): name for name, value in IDS.items()}
THREAD = IDS["thread"]
LOG = [Signed.from_json(e) for e in V["events"]]

# Loaded once per page: the modules, and `dump`/`outcome` to hand states and errors to Python.
SETUP = """
async () => {
  window.B = await import('/static/js/e2e/bytes.js');
  window.K = await import('/static/js/e2e/keys.js');
  window.E = await import('/static/js/e2e/events.js');
  window.T = await import('/static/js/e2e/tek1.js');
  const toObj = (m) => Object.fromEntries([...m].map(([k, v]) => [String(k), v]));
  window.dump = (s) => ({thread_id: B.hex(s.threadId), seq: s.seq, head_hash: B.hex(s.headHash), epoch: s.epoch,
    owner_state: s.ownerState, states: [...s.states].sort(), members: toObj(s.members), policy: {...s.policy},
    meta: s.meta === null ? null : B.hex(s.meta), meta_epoch: s.metaEpoch,
    wraps: toObj(new Map([...s.wraps].map(([e, w]) => [e, toObj(new Map([...w].map(([u, x]) => [u, [x.gen, B.hex(x.blob)]])))]))),
    history: toObj(new Map([...s.history].map(([e, l]) => [e, B.hex(l)]))), heads: toObj(s.heads)});
  window.outcome = async (work) => {
    try { return {state: dump(await work())}; } catch (e) { return {error: e.name, message: e.message}; }
  };
  return typeof E.replay === 'function' && window.isSecureContext && !!crypto.subtle;
}
"""


@pytest.fixture(scope="module")
def events_page(browser, live_server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(live_server.url + "/static/js/e2e/events.js")
    assert page.evaluate(SETUP)
    yield page
    context.close()


def dump(state: events.ThreadState) -> dict[str, Any]:
    """A ThreadState in the same JSON shape as the page's `dump`."""
    return {"thread_id": state.thread_id.hex(), "seq": state.seq, "head_hash": state.head_hash.hex(),
            "epoch": state.epoch, "owner_state": state.owner_state, "states": sorted(state.states),
            "members": {u.hex(): s for u, s in state.members.items()}, "policy": dict(state.policy),
            "meta": None if state.meta is None else state.meta.hex(), "meta_epoch": state.meta_epoch,
            "wraps": {str(e): {u.hex(): [g, b.hex()] for u, (g, b) in w.items()} for e, w in state.wraps.items()},
            "history": {str(e): link.hex() for e, link in state.history.items()},
            "heads": {h.hex(): e for h, e in state.heads.items()}}


def outcome(statements: list[Signed], directory: events.Directory, thread: bytes = THREAD) -> dict[str, Any]:
    try:
        return {"state": dump(events.replay(statements, directory, thread))}
    except ProtocolError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def _directory() -> events.Directory:
    return events.Directory(
        {bytes.fromhex(u["user"]): events.UserInfo(u["state"], u["admin"]) for u in V["directory"]["users"]},
        {(bytes.fromhex(d["user"]), bytes.fromhex(d["device"])): bytes.fromhex(d["sig_public"])
         for d in V["directory"]["devices"]})


# -- 1. the vector log: rebuilt byte for byte, replayed to the same state ---------------------

JS_VECTOR_LOG = """
async ([V, steps]) => {
  const h = (x) => B.unhex(x), directory = E.Directory.from(V.directory);
  const log = [];
  let state = null;
  for (const s of steps) {
    const device = await K.deviceFromSeeds(h(s.device_id), h(s.dh_seed), h(s.sig_seed));
    const body = {...s.body};
    if (s.keys) {
      const r = s.keys;
      body.keys = await E.keysRecord({epochKey: h(r.epoch_key), threadId: h(V.thread_id), epoch: r.epoch,
        recipients: new Map(await Promise.all(r.members.map(async (u) =>
          [u, {gen: 1, dhPub: (await K.perUserKey(h(u), 1, h(V.puk_secrets[u]))).dhPub}]))),
        previousKey: r.previous_key ? h(r.previous_key) : null,
        ephemeralSeeds: new Map(Object.entries(r.ephemeral_seeds).map(([u, x]) => [u, h(x)])),
        historyNonce: h(r.history_nonce)});
    }
    const common = {actor: s.actor, deviceId: device.deviceId, deviceKey: device.sig, tsMs: s.ts_ms};
    const st = state === null
      ? await E.makeEvent(s.type, body, {...common, threadId: h(V.thread_id), seq: 0, prevHash: E.ZERO_HASH, epoch: 1})
      : await E.nextEvent(state, s.type, body, common);
    log.push(st);
    state = await E.replay(log, directory, V.thread_id);
  }
  const received = V.events.map((j) => E.statementFromJson(j));
  const hashes = [];
  for (const st of received) hashes.push(B.hex(await E.eventHash(st.payload)));
  const states = [];
  for (let n = 1; n <= received.length; n++) states.push(dump(await E.replay(received.slice(0, n), directory, h(V.thread_id))));
  return {built: log.map(E.statementToJson), sigAlias: log.every((s) => s.sig === s.signature), hashes, states};
}
"""


def _vector_steps() -> list[dict[str, Any]]:
    """How generate._log made each event: actor, device seeds, body, and the recipe of its epoch
    record (keys, recipients, ephemeral seeds, history nonce), for the page to redo it."""
    steps = []
    for statement in LOG:
        payload = json.loads(statement.payload)
        who, body = NAMES[payload["actor"]], dict(payload["body"])
        step = {"actor": payload["actor"], "type": payload["type"], "ts_ms": payload["ts_ms"],
                "device_id": IDS[f"dev_{who}"].hex(), "dh_seed": generate.seed(f"device/{who}/dh").hex(),
                "sig_seed": generate.seed(f"device/{who}/sig").hex(), "keys": None}
        if "keys" in body:
            record, epoch = body.pop("keys"), payload["epoch"]
            members = [w["user"] for w in record["wraps"]]
            step["keys"] = {
                "epoch": epoch, "members": members, "epoch_key": generate.seed(f"log/epoch{epoch}").hex(),
                "previous_key": generate.seed(f"log/epoch{epoch - 1}").hex() if record["history"] else None,
                "ephemeral_seeds": {u: generate.seed(f"log/eph{epoch}/{NAMES[u]}").hex() for u in members},
                "history_nonce": generate.seed(f"log/hist{epoch}", 12).hex()}
        step["body"] = body
        steps.append(step)
    return steps


def test_browser_rebuilds_and_replays_the_vector_log(events_page):
    got = events_page.evaluate(JS_VECTOR_LOG, [V, _vector_steps()])
    assert got["built"] == V["events"]  # keysRecord + makeEvent/nextEvent: identical bytes and signatures
    assert got["sigAlias"] is True
    assert got["hashes"] == V["event_hashes"]
    directory = _directory()
    assert got["states"] == [dump(events.replay(LOG[:n], directory, THREAD)) for n in range(1, len(LOG) + 1)]
    final = got["states"][-1]
    assert (final["seq"], final["epoch"], final["head_hash"], final["states"], sorted(final["members"]),
            final["policy"]) == (V["final"]["seq"], V["final"]["epoch"], V["final"]["head_hash"], V["final"]["states"],
                                 V["final"]["members"], V["final"]["policy"])


# -- 2. a log the browser builds with fresh keys, replayed by Python --------------------------

JS_BUILD_LOG = """
async ([threadHex, people, pukPubs]) => {
  const h = (x) => B.unhex(x), tid = h(threadHex), directory = new E.Directory(), devices = {};
  for (const [name, p] of Object.entries(people)) {
    devices[name] = await K.generateDevice();  // non-extractable, as a real browser profile
    directory.addUser(p.user, p.state, p.admin).addDevice(p.user, devices[name].deviceId, devices[name].sigPub);
  }
  const id = (name) => people[name].user;
  const epochKeys = {};
  const record = async (epoch, names, history) => {
    epochKeys[epoch] = K.newEpochKey();
    return E.keysRecord({epochKey: epochKeys[epoch], threadId: tid, epoch,
      recipients: new Map(names.map((n) => [id(n), {gen: 1, dhPub: h(pukPubs[n])}])),
      previousKey: history ? epochKeys[epoch - 1] : null});
  };
  const log = [], rejected = {};
  let state = null, ts = 1767225600000;
  const as = (name) => ({actor: h(id(name)), deviceId: devices[name].deviceId, deviceKey: devices[name].sig, tsMs: ts++});
  const step = async (name, type, body) => {
    const st = state === null
      ? await E.makeEvent(type, body, {...as(name), threadId: tid, seq: 0, prevHash: E.ZERO_HASH, epoch: 1})
      : await E.nextEvent(state, type, body, as(name));
    state = state === null ? await E.replay([st], directory, tid) : await E.apply(state, st, directory);
    log.push(st);
  };
  const member = (n) => ({user: id(n), state: people[n].state});
  epochKeys[1] = K.newEpochKey();
  const meta1 = await K.encryptMeta(epochKeys[1], {v: 1, title: 'Gel des avoirs – Dakar', topic: 'freezing', court_ref: null}, {threadId: tid, epoch: 1});
  await step('nl_admin', 'create', {owner_state: 'NLD', states: ['NLD'], members: [member('nl_admin'), member('nl_member')],
    policy: {...E.DEFAULT_POLICY}, meta: B.b64(meta1),
    keys: await E.keysRecord({epochKey: epochKeys[1], threadId: tid, epoch: 1,
      recipients: {[id('nl_admin')]: {gen: 1, dhPub: h(pukPubs.nl_admin)}, [id('nl_member')]: {gen: 1, dhPub: h(pukPubs.nl_member)}}})});
  await step('nl_admin', 'add_state', {state: 'SEN', members: [member('sn_admin')],
    keys: await record(2, ['nl_admin', 'nl_member', 'sn_admin'], true)});
  await step('sn_admin', 'add_user', {user: id('sn_member'), state: 'SEN',
    keys: await record(3, ['nl_admin', 'nl_member', 'sn_admin', 'sn_member'], true)});
  // A removal whose new key still reaches the removed user: refused here (and by Python).
  const leaky = await E.nextEvent(state, 'remove_user', {user: id('sn_member'),
    keys: await record(4, ['nl_admin', 'nl_member', 'sn_admin', 'sn_member'], true)}, as('nl_admin'));
  rejected.leaky = {statement: E.statementToJson(leaky), js: await outcome(() => E.apply(state, leaky, directory))};
  await step('nl_admin', 'remove_user', {user: id('sn_member'), keys: await record(4, ['nl_admin', 'nl_member', 'sn_admin'], true)});
  // An outsider (the removed user) rotating: refused.
  const outsider = await E.nextEvent(state, 'rotate', {keys: await record(5, ['nl_admin', 'nl_member', 'sn_admin'], true)}, as('sn_member'));
  rejected.outsider = {statement: E.statementToJson(outsider), js: await outcome(() => E.apply(state, outsider, directory))};
  await step('nl_member', 'rotate', {reason: 'scheduled', keys: await record(5, ['nl_admin', 'nl_member', 'sn_admin'], true)});
  const meta5 = await K.encryptMeta(epochKeys[5], {v: 1, title: 'Renamed – Saisie', topic: 'seizure', court_ref: 'ICC-01/22'},
    {threadId: tid, epoch: 5});
  await step('sn_admin', 'rename', {meta: B.b64(meta5)});
  await step('nl_admin', 'set_policy', {policy: {share_history: false, members_add_colleagues: true}});
  await step('nl_admin', 'remove_state', {state: 'SEN', keys: await record(6, ['nl_admin', 'nl_member'], false)});
  const hexKeys = Object.fromEntries(Object.entries(epochKeys).map(([e, k]) => [e, B.hex(k)]));
  const devs = Object.fromEntries(Object.entries(devices).map(([n, d]) => [n, {device: B.hex(d.deviceId), sig_public: B.hex(d.sigPub)}]));
  return {log: log.map(E.statementToJson), state: dump(state), devices: devs, epochKeys: hexKeys, rejected,
    canSend: E.canSend(state, id('nl_member'), directory), needing: [...E.membersNeedingRotation(state, directory)]};
}
"""


def test_browser_built_log_replays_in_python(events_page):
    people = {"nl_admin": ("NLD", True), "nl_member": ("NLD", False), "sn_admin": ("SEN", True),
              "sn_member": ("SEN", False)}
    users = {name: os.urandom(16) for name in people}
    puks = {name: keys.PerUserKey.generate(users[name], 1) for name in people}
    thread = os.urandom(16)
    got = events_page.evaluate(JS_BUILD_LOG, [
        thread.hex(), {n: {"user": users[n].hex(), "state": s, "admin": a} for n, (s, a) in people.items()},
        {n: puk.dh_pub.hex() for n, puk in puks.items()}])

    directory = events.Directory(
        {users[n]: events.UserInfo(s, a) for n, (s, a) in people.items()},
        {(users[n], bytes.fromhex(d["device"])): bytes.fromhex(d["sig_public"]) for n, d in got["devices"].items()})
    log = [Signed.from_json(s) for s in got["log"]]
    state = events.replay(log, directory, thread)
    assert dump(state) == got["state"]
    assert [json.loads(s.payload)["type"] for s in log] == [
        "create", "add_state", "add_user", "remove_user", "rotate", "rename", "set_policy", "remove_state"]
    assert state.seq == 7 and state.epoch == 6 and state.states == {"NLD"}
    assert set(state.members) == {users["nl_admin"], users["nl_member"]}
    assert state.policy == {"share_history": False, "members_add_colleagues": True}
    assert got["canSend"] is True and got["needing"] == []
    for statement in log:  # the browser's bytes are what Python itself would sign: sorted, compact
        assert json_bytes(json.loads(statement.payload)) == statement.payload

    # Every wrap opens for its member, every history link walks back, the title decrypts.
    epoch_keys = {int(e): bytes.fromhex(k) for e, k in got["epochKeys"].items()}
    by_id = {users[n]: n for n in people}
    for epoch, wraps in state.wraps.items():
        for user, (gen, blob) in wraps.items():
            assert epochs.unwrap_epoch_key(puks[by_id[user]], thread_id=thread, epoch=epoch, blob=blob) == epoch_keys[epoch]
    assert sorted(state.history) == [2, 3, 4, 5]
    for epoch, link in state.history.items():
        assert epochs.open_history_link(epoch_keys[epoch], link, thread_id=thread, epoch=epoch) == epoch_keys[epoch - 1]
    assert state.meta is not None and state.meta_epoch == 5
    assert epochs.decrypt_meta(epoch_keys[5], state.meta, thread_id=thread, epoch=5)["title"] == "Renamed – Saisie"

    # The events the browser refused, Python refuses with the same error.
    for name, expect in (("leaky", "epoch key wrapped for a set other than the members"),
                         ("outsider", "only members change a thread")):
        case = got["rejected"][name]
        bad = Signed.from_json(case["statement"])
        prefix = log[:3] if name == "leaky" else log[:4]
        assert case["js"] == outcome([*prefix, bad], directory, thread) == {"error": "VerificationError", "message": expect}


# -- 3. bad logs: both twins refuse them, with the same error ---------------------------------

def _state(upto: int) -> events.ThreadState:
    return events.replay(LOG[:upto], _directory(), THREAD)


def _event(state: events.ThreadState, actor: str, event_type: str, body: dict, key=None) -> Signed:  # type: ignore[no-untyped-def]
    device = generate._device(IDS, actor)
    return events.next_event(state, event_type, body, actor=IDS[actor], device_id=device.device_id,
                             device_key=key or device.sig, ts_ms=1)


def _record(state: events.ThreadState, members: list[str], history: bool | None = None) -> dict:
    share = state.policy["share_history"] if history is None else history
    return events.keys_record(epoch_key=bytes(32), thread_id=THREAD, epoch=state.epoch + 1,
                              recipients={IDS[m]: (1, generate._puk(IDS, m).dh_pub) for m in members},
                              previous_key=bytes(32) if share else None)


def _resigned(statement: Signed, who: str, change) -> Signed:  # type: ignore[no-untyped-def]
    """The same event with its payload object changed, validly signed by `who`'s device."""
    obj = json.loads(statement.payload)
    change(obj)
    return sign_statement("event", obj, generate._device(IDS, who).sig)


def _cases() -> dict[str, tuple[list[Signed], str | None]]:
    """name → (log, expected error class or None for a valid log)."""
    s1, s3, s8 = _state(1), _state(3), _state(8)  # s3: nl_admin, sn_admin, nl_member; s8: no history shared
    three = ["nl_admin", "sn_admin", "nl_member"]
    flipped = bytearray(LOG[1].signature)
    flipped[0] ^= 1
    nl_admin = generate._device(IDS, "nl_admin")
    cert_shaped = sign_statement("device-cert", json.loads(LOG[1].payload), nl_admin.sig)
    rotate = _event(s3, "nl_admin", "rotate", {"keys": _record(s3, three)})
    no_padding = json.loads(rotate.payload)
    no_padding["body"]["keys"]["wraps"][0]["blob"] = no_padding["body"]["keys"]["wraps"][0]["blob"].rstrip("=")
    wrong_prev = events.make_event("rotate", {"keys": _record(s3, three)}, thread_id=THREAD, seq=3, prev_hash=bytes(32),
                                   actor=IDS["nl_admin"], device_id=nl_admin.device_id, device_key=nl_admin.sig,
                                   epoch=4, ts_ms=1)
    skipped_epoch = events.make_event("rotate", {"keys": _record(s3, three)}, thread_id=THREAD, seq=3,
                                      prev_hash=s3.head_hash, actor=IDS["nl_admin"], device_id=nl_admin.device_id,
                                      device_key=nl_admin.sig, epoch=5, ts_ms=1)
    second_create = _event(s3, "nl_admin", "create", json.loads(LOG[0].payload)["body"])
    unknown_device = events.make_event("rotate", {"keys": _record(s3, three)}, thread_id=THREAD, seq=3,
                                       prev_hash=s3.head_hash, actor=IDS["nl_admin"], device_id=IDS["dev_sn_admin"],
                                       device_key=generate._device(IDS, "sn_admin").sig, epoch=4, ts_ms=1)
    head3 = LOG[:3]
    return {
        "valid log": (LOG, None),
        "forged payload": ([LOG[0], LOG[1], Signed("event", LOG[2].payload.replace(b'"add_user"', b'"rotate"'),
                                                   LOG[2].signature)], "VerificationError"),
        "flipped signature": ([LOG[0], Signed("event", LOG[1].payload, bytes(flipped))], "VerificationError"),
        "missing event": ([LOG[0], LOG[2]], "VerificationError"),
        "replayed event": ([LOG[0], LOG[1], LOG[1]], "VerificationError"),
        "no create": (LOG[1:], "VerificationError"),
        "wrong prev": ([*head3, wrong_prev], "VerificationError"),
        "second create": ([*head3, second_create], "VerificationError"),
        "skipped epoch": ([*head3, skipped_epoch], "VerificationError"),
        "uncertified key": ([*head3, _event(s3, "nl_admin", "rotate", {"keys": _record(s3, three)},
                                            key=generate._device(IDS, "sn_member").sig)], "VerificationError"),
        "device of another user": ([*head3, unknown_device], "VerificationError"),
        "non-member actor": ([*head3, _event(s3, "sn_member", "rotate", {"keys": _record(s3, three)})],
                             "VerificationError"),
        "non-admin adds a State": ([*head3, _event(s3, "nl_member", "add_state", {
            "state": "DEU", "members": [{"user": IDS["nl_member"].hex(), "state": "NLD"}],
            "keys": _record(s3, three)})], "VerificationError"),
        "removed user still wrapped": ([*head3, _event(s3, "nl_admin", "remove_user", {
            "user": IDS["nl_member"].hex(), "keys": _record(s3, three)})], "VerificationError"),
        "member left out of the wraps": ([*head3, _event(s3, "nl_admin", "rotate", {
            "keys": _record(s3, ["nl_admin", "sn_admin"])})], "VerificationError"),
        "last member leaves": ([LOG[0], _event(s1, "nl_admin", "remove_user", {
            "user": IDS["nl_admin"].hex(), "keys": _record(s1, [])})], "VerificationError"),
        "history link missing": ([*head3, _event(s3, "nl_admin", "rotate", {"keys": _record(s3, three, False)})],
                                 "VerificationError"),
        "history link not allowed": ([*LOG[:8], _event(s8, "nl_admin", "rotate", {
            "keys": _record(s8, ["nl_admin", "sn_admin", "nl_member"], True)})], "VerificationError"),
        "other State's admin removes": ([*head3, _event(s3, "sn_admin", "remove_user", {
            "user": IDS["nl_member"].hex(), "keys": _record(s3, ["nl_admin", "sn_admin"])})], "VerificationError"),
        "owner admin removes": ([*head3, _event(s3, "nl_admin", "remove_user", {
            "user": IDS["nl_member"].hex(), "keys": _record(s3, ["nl_admin", "sn_admin"])})], None),
        "non-owner sets policy": ([*head3, _event(s3, "sn_admin", "set_policy", {
            "policy": {"share_history": False, "members_add_colleagues": True}})], "VerificationError"),
        "invalid policy": ([*head3, _event(s3, "nl_admin", "set_policy", {"policy": {"share_history": 1}})],
                           "ProtocolError"),
        "member adds another State's user": ([*head3, _event(s3, "nl_member", "add_user", {
            "user": IDS["sn_member"].hex(), "state": "SEN",
            "keys": _record(s3, ["nl_admin", "sn_admin", "nl_member", "sn_member"])})], "VerificationError"),
        "statement of another kind": ([LOG[0], cert_shaped], "ProtocolError"),
        "relabelled statement": ([LOG[0], Signed("event", cert_shaped.payload, cert_shaped.signature)],
                                 "VerificationError"),
        "float seq": ([LOG[0], _resigned(LOG[1], "nl_admin", lambda o: o.update(seq=1.0))], "ProtocolError"),
        "unpadded base64 wrap": ([*head3, sign_statement("event", no_padding, nl_admin.sig)], "ProtocolError"),
        "uppercase actor id": ([LOG[0], _resigned(LOG[1], "nl_admin", lambda o: o.update(actor=o["actor"].upper()))],
                               "ProtocolError"),
    }


JS_OUTCOMES = """
async ([V, cases, threads]) => {
  const directory = E.Directory.from(V.directory), out = {};
  for (const [name, log] of Object.entries(cases)) out[name] = await outcome(() => E.replay(log, directory, V.thread_id));
  for (const [name, tid] of Object.entries(threads)) out[name] = await outcome(() => E.replay(V.events, directory, tid));
  // Lazy rotation: a member whose certificate is gone blocks sending until rotated out.
  const s3 = await E.replay(V.events.slice(0, 3), directory, V.thread_id);
  const admin = V.directory.users[0].user, gone = V.directory.users[2].user;
  const before = E.canSend(s3, admin, directory);
  const reduced = E.Directory.from({users: V.directory.users.filter((u) => u.user !== gone), devices: V.directory.devices});
  out.rotation = {before, after: E.canSend(s3, B.unhex(admin), reduced), needing: [...E.membersNeedingRotation(s3, reduced)],
    outsider: E.canSend(s3, V.directory.users[3].user, directory)};
  return out;
}
"""


def test_both_twins_refuse_the_same_bad_logs(events_page):
    cases = _cases()
    threads = {"other thread": (b"\x01" * 16).hex()}
    got = events_page.evaluate(JS_OUTCOMES, [V, {n: [s.to_json() for s in log] for n, (log, _) in cases.items()}, threads])
    directory = _directory()
    for name, (log, expected) in cases.items():
        python = outcome(log, directory)
        assert got[name] == python, name
        assert python.get("error") == expected, (name, python)
    assert got["other thread"] == outcome(LOG, directory, b"\x01" * 16) == {
        "error": "VerificationError", "message": "event belongs to another thread"}

    s3 = _state(3)
    reduced = _directory()
    del reduced.users[IDS["sn_admin"]]
    assert got["rotation"] == {
        "before": events.can_send(s3, IDS["nl_admin"], directory),
        "after": events.can_send(s3, IDS["nl_admin"], reduced),
        "needing": [u.hex() for u in events.members_needing_rotation(s3, reduced)],
        "outsider": events.can_send(s3, IDS["sn_member"], directory)}
    assert got["rotation"] == {"before": True, "after": False, "needing": [IDS["sn_admin"].hex()], "outsider": False}


def test_vector_ids_match_the_directory():
    """The tests above index V's directory by position: users[0] = nl_admin, [2] = sn_admin, [3] = sn_member."""
    users = [u["user"] for u in V["directory"]["users"]]
    assert [NAMES[u] for u in users] == ["nl_admin", "nl_member", "sn_admin", "sn_member"]


# -- 4. fork and withholding detection: the heads a log knows (PROTOCOL.md §6) -----------------

JS_HEADS = """
async ([V, probes, envelope, senderKey, otherKey]) => {
  const directory = E.Directory.from(V.directory), known = [];
  let state = null;
  for (let n = 1; n <= V.events.length; n++) {
    state = await E.replay(V.events.slice(0, n), directory, V.thread_id);
    known.push(probes.map(([h, e]) => E.knowsHead(state, B.unhex(h), e)));
  }
  const env = await T.verify(B.unhex(envelope), B.unhex(senderKey));
  let forged;
  try { await T.verify(B.unhex(envelope), B.unhex(otherKey)); forged = 'accepted'; } catch (e) { forged = e.name; }
  return {known, message: E.knowsHead(state, env.header.headHash, env.header.epoch), forged};
}
"""


def test_both_twins_know_the_same_heads(events_page):
    """A message's (epoch, head_hash) must name an event of the reader's verified log whose epoch is
    the header's: every prefix of the vector log answers the same in both twins, knowing exactly its
    own events' heads with their epochs. A message sealed in Python at one of them verifies in the
    browser (tek1.verify: structure and signature only, for a message the reader cannot decrypt)."""
    hashes = [bytes.fromhex(h) for h in V["event_hashes"]]
    epochs_after = [json.loads(s.payload)["epoch"] for s in LOG]
    probes = [(h.hex(), e) for h, e in zip(hashes, epochs_after, strict=True)]
    probes += [(h.hex(), e + 1) for h, e in zip(hashes, epochs_after, strict=True)]  # right hash, wrong epoch
    probes += [(os.urandom(32).hex(), 1), (bytes(32).hex(), 1), ("00" * 31, 1)]  # unknown, zero, too short
    nl_admin, sn_admin = generate._device(IDS, "nl_admin"), generate._device(IDS, "sn_admin")
    envelope = messages.seal({"v": 1, "text": "x"}, epoch_key=bytes(32), device=nl_admin, thread_id=THREAD,
                             epoch=epochs_after[3], head_hash=hashes[3], msg_id=os.urandom(16),
                             sender_user=IDS["nl_admin"], client_ts_ms=1)
    got = events_page.evaluate(JS_HEADS, [V, probes, envelope.hex(), nl_admin.public().sig_pub.hex(),
                                          sn_admin.public().sig_pub.hex()])
    directory = _directory()
    expected = []
    for n in range(1, len(LOG) + 1):
        state = events.replay(LOG[:n], directory, THREAD)
        expected.append([events.knows_head(state, bytes.fromhex(h), e) for h, e in probes])
    assert got["known"] == expected
    for n, row in enumerate(expected, start=1):
        assert row == [i < n for i in range(len(LOG))] + [False] * (len(probes) - len(LOG))
    assert got["message"] is True and got["forged"] == "VerificationError"
