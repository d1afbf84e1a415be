"""The threads API end to end, on SQLite and PostgreSQL: keys, threads, the signed log with
seq conflicts, messages (latest 50, paging, idempotent retries, plaintext refused), read
markers, removal, notifications, and that no plaintext ever reaches the server."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.threads.models import EpochWrap, IdentityKey, Message, Thread, ThreadEvent, ThreadParty
from cooperation_client.protocol.events import event_hash
from tests.functional.test_threads_api_kit import Api, Dev, b64, envelope, event_payload, publish_keys, unb64


@pytest.fixture
def world(client, auth, users, app):  # type: ignore[no-untyped-def]
    """Signed-in API clients with published keys: NLD focal point, NLD member, SEN focal point,
    the Registry editor; one client per user (each its own cookie jar)."""
    out = {}
    for name in ("focal_nl", "member_nl", "focal_sn", "editor", "member_sn", "admin"):
        c = app.test_client()
        from tests.conftest import AuthActions

        actions = AuthActions(c)
        actions.login(users[name])
        api = Api(c, actions.csrf("/dashboard"))
        dev = publish_keys(api) if name != "admin" else Dev()
        out[name] = (api, dev, users[name])
    return out


def _create(world, owner: str, parties: list[str], members: list[str]) -> tuple[str, bytes]:
    api, dev, user = world[owner]
    r = api.post("/api/v1/threads", {"parties": parties})
    assert r.status_code == 201, r.get_json()
    tid = r.get_json()["id"]
    ids = [world[m][2].id for m in members]
    body = os.urandom(300)
    r = api.post(f"/api/v1/threads/{tid}/events", {**event_payload(dev, 0, bytes(32), "create", users=ids,
                                                                   epoch=1, members=ids, meta=os.urandom(96)),
                                                   "event": b64(body), "signature": b64(dev.sign_event(body))})
    assert r.status_code == 201, r.get_json()
    return tid, event_hash(body)


def _post(world, who: str, tid: str, epoch: int = 1, text: bytes = b"hello", **kw):  # type: ignore[no-untyped-def]
    api, dev, user = world[who]
    return api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(envelope(tid, epoch, user.id, dev, text, **kw))})


def test_keys_publish_fetch_and_identity_history(world, users):
    api, dev, user = world["focal_nl"]
    mine = api.get("/api/v1/keys").get_json()
    assert mine["identity"]["public_key"] == b64(dev.uik_public)
    assert [d["device_id"] for d in mine["devices"]] == [dev.device_id]
    assert mine["device_wraps"][0]["generation"] == 1
    # Same identity again: nothing changes. A new one is recorded, the old one kept.
    assert api.put("/api/v1/keys/identity", {"public_key": b64(dev.uik_public)}).status_code == 200
    new = Dev().uik_public
    r = api.put("/api/v1/keys/identity", {"public_key": b64(new)})
    assert r.status_code == 201 and r.get_json()["changed"] is True
    colleague = world["member_nl"][0].get(f"/api/v1/users/{user.id}/keys").get_json()
    assert colleague["identity"]["public_key"] == b64(new)
    assert len(colleague["identity_history"]) == 2 and colleague["identity_history"][0]["superseded_at"]
    assert db.session.scalar(select(func.count()).select_from(IdentityKey).where(IdentityKey.user_id == user.id)) == 2
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "keys.identity_changed")) == 1
    # Another State's user cannot look this user up (no shared thread): 404.
    assert world["focal_sn"][0].get(f"/api/v1/users/{user.id}/keys").status_code == 404
    # Recovery blob: stored as versions, the latest returned.
    for _ in range(2):
        assert api.put("/api/v1/keys/recovery", {"kind": "rk", "blob": b64(os.urandom(100))}).status_code == 201
    assert api.get("/api/v1/keys").get_json()["recovery"][0]["version"] == 2


@pytest.mark.parametrize("payload, needle", [
    ({"public_key": "AAAA"}, "32 bytes"),
    ({"public_key": "***"}, "base64url"),
    ({"public_key": 5}, "base64url"),
    ({"public_key": b64(bytes(32)), "extra": 1}, "Unknown fields"),
])
def test_identity_bad_input(world, payload, needle):
    api, dev, user = world["member_nl"]
    r = api.put("/api/v1/keys/identity", payload)
    assert r.status_code == 400 and needle in r.get_json()["error"]
    assert db.session.scalar(select(func.count()).select_from(IdentityKey).where(IdentityKey.user_id == user.id)) == 1


def test_device_and_generation_rules(world):
    api, dev, user = world["member_nl"]
    bad = {"device_id": "XYZ", "label": "x", "dh_public": b64(os.urandom(32)), "sig_public": b64(os.urandom(32)),
           "certificate": b64(b"c")}
    assert "device_id" in api.post("/api/v1/keys/devices", bad).get_json()["error"]
    dup = {**bad, "device_id": dev.device_id}
    assert api.post("/api/v1/keys/devices", dup).status_code == 409
    huge = {**bad, "device_id": secrets.token_hex(16), "certificate": b64(os.urandom(5000))}
    assert api.post("/api/v1/keys/devices", huge).status_code == 413
    # Generation 1 exists: publishing 1 again conflicts, 3 skips one.
    gen = {"generation": 1, "dh_public": b64(os.urandom(32)), "sig_public": b64(os.urandom(32)),
           "record": b64(b"r"), "wraps": [{"device_id": dev.device_id, "wrap": b64(os.urandom(80))}]}
    assert api.post("/api/v1/keys/generations", gen).get_json()["expected_generation"] == 2
    # A wrap for someone else's device is refused.
    other = world["member_sn"][1].device_id
    r = api.post("/api/v1/keys/generations", {**gen, "generation": 2,
                                              "wraps": [{"device_id": other, "wrap": b64(b"w" * 80)}]})
    assert r.status_code == 400
    # Revoke: a revoked device can no longer sign messages or events.
    assert api.post(f"/api/v1/keys/devices/{other}/revoke", {"revocation": b64(b"x")}).status_code == 404
    assert api.post(f"/api/v1/keys/devices/{dev.device_id}/revoke", {"revocation": b64(b"rev")}).status_code == 200
    assert api.post(f"/api/v1/keys/devices/{dev.device_id}/revoke", {"revocation": b64(b"rev")}).status_code == 409


def test_thread_log_seq_conflicts_and_acl(world, users):
    tid, head = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    api_nl, dev_nl, nl = world["focal_nl"]
    api_sn, dev_sn, sn = world["focal_sn"]
    info = api_sn.get(f"/api/v1/threads/{tid}").get_json()
    assert info["parties"] == ["NLD", "SEN"] and info["epoch"] == 1 and info["head"]["seq"] == 0
    assert {m["user_id"] for m in info["members"]} == {nl.id, sn.id}
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "threads.created")) == 1
    # The roster lists the parties' users who have keys (to add them).
    roster = api_nl.get(f"/api/v1/threads/{tid}/roster").get_json()["parties"]
    assert {u["user_id"] for p in roster for u in p["users"]} >= {world["member_sn"][2].id, world["member_nl"][2].id}
    # Two members append seq 1 on the same head: one wins, the other gets 409 with the new head.
    first = api_nl.post(f"/api/v1/threads/{tid}/events", event_payload(dev_nl, 1, head, "set_policy"))
    assert first.status_code == 201
    second = api_sn.post(f"/api/v1/threads/{tid}/events", event_payload(dev_sn, 1, head, "set_policy"))
    assert second.status_code == 409
    assert second.get_json()["head"]["seq"] == 1 and second.get_json()["head"]["hash"] == first.get_json()["hash"]
    # Right seq, wrong prev_hash: 409 too; nothing stored.
    assert api_sn.post(f"/api/v1/threads/{tid}/events",
                       event_payload(dev_sn, 2, os.urandom(32), "set_policy")).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(ThreadEvent).where(ThreadEvent.thread_id == tid)) == 2
    head = unb64(first.get_json()["hash"])
    # A bad signature, an epoch event without wraps, wraps that miss a member: 400, nothing changes.
    bad_sig = event_payload(dev_sn, 2, head, "set_policy")
    bad_sig["signature"] = b64(os.urandom(64))
    assert "signature" in api_sn.post(f"/api/v1/threads/{tid}/events", bad_sig).get_json()["error"]
    no_wraps = event_payload(dev_sn, 2, head, "rotate")
    assert api_sn.post(f"/api/v1/threads/{tid}/events", no_wraps).status_code == 400
    missing = event_payload(dev_sn, 2, head, "rotate", epoch=2, members=[sn.id])
    assert "exactly" in api_sn.post(f"/api/v1/threads/{tid}/events", missing).get_json()["error"]
    # Only the owning party adds a State; a State's user adds users of their own party.
    member_sn = world["member_sn"][2]
    add_sn = event_payload(dev_sn, 2, head, "add_user", users=[member_sn.id], epoch=2,
                           members=[nl.id, sn.id, member_sn.id])
    r = api_sn.post(f"/api/v1/threads/{tid}/events", add_sn)
    assert r.status_code == 201, r.get_json()
    assert db.session.scalar(select(Thread.epoch).where(Thread.id == tid)) == 2
    assert world["member_sn"][0].get(f"/api/v1/threads/{tid}").status_code == 200
    events = api_nl.get(f"/api/v1/threads/{tid}/events").get_json()["events"]
    assert [e["seq"] for e in events] == [0, 1, 2] and events[2]["type"] == "add_user"
    assert api_nl.get(f"/api/v1/threads/{tid}/events?after=1").get_json()["events"][0]["seq"] == 2
    epoch = api_nl.get(f"/api/v1/threads/{tid}/epochs/2").get_json()
    assert {w["user_id"] for w in epoch["wraps"]} == {nl.id, sn.id, member_sn.id}
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "threads.add_user")) == 1


def test_messages_latest_paging_idempotency_and_unread(world):
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    api_sn, dev_sn, sn = world["focal_sn"]
    ids = []
    for n in range(60):
        r = _post(world, "focal_nl", tid, text=f"message {n}".encode())
        assert r.status_code == 201, r.get_json()
        ids.append(r.get_json()["id"])
    page = api_sn.get(f"/api/v1/threads/{tid}/messages").get_json()
    assert [m["id"] for m in page["messages"]] == ids[::-1][:50] and page["next_before"] == ids[10]
    rest = api_sn.get(f"/api/v1/threads/{tid}/messages?before={page['next_before']}").get_json()
    assert [m["id"] for m in rest["messages"]] == ids[:10][::-1] and rest["next_before"] is None
    assert api_sn.get(f"/api/v1/threads/{tid}/messages?limit=5").get_json()["next_before"] == ids[55]
    assert api_sn.get(f"/api/v1/threads/{tid}/messages?limit=0").status_code == 400
    # Unread counts and the read marker.
    listing = api_sn.get("/api/v1/threads").get_json()["threads"]
    assert listing[0]["id"] == tid and listing[0]["unread"] == 60
    assert api_sn.post(f"/api/v1/threads/{tid}/read", {"up_to": ids[49]}).get_json()["unread"] == 10
    assert api_sn.post(f"/api/v1/threads/{tid}/read", {"up_to": ids[-1] + 1000}).status_code == 400
    assert api_sn.get(f"/api/v1/threads/{tid}").get_json()["unread"] == 10
    # A retry with the same msg_id and bytes returns the first copy; other bytes conflict.
    api, dev, user = world["focal_nl"]
    msg_id = os.urandom(16)
    data = envelope(tid, 1, user.id, dev, b"retry me", msg_id=msg_id)
    first = api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(data), "msg_id": msg_id.hex()})
    again = api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(data)})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    other = envelope(tid, 1, user.id, dev, b"something else", msg_id=msg_id)
    assert api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(other)}).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.thread_id == tid)) == 61


def test_plaintext_and_malformed_envelopes_refused(world):
    tid, _ = _create(world, "focal_nl", [], ["focal_nl"])
    api, dev, user = world["focal_nl"]
    good = envelope(tid, 1, user.id, dev, b"fine")
    cases = {
        "plaintext": b"Freeze the account at Bank X, reference ICC-01/02" * 10,
        "wrong magic": b"TEK2" + good[4:],
        "wrong suite": good[:4] + b"\x09" + good[5:],
        "not padded": good[:-64] + b"x" + good[-64:],
        "truncated": good[:100],
        "bad signature": good[:-64] + os.urandom(64),
        "other thread": envelope(secrets.token_hex(16), 1, user.id, dev, b"x"),
        "other sender": envelope(tid, 1, user.id + 1, dev, b"x"),
        "unknown device": envelope(tid, 1, user.id, Dev(), b"x"),
    }
    for name, data in cases.items():
        r = api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(data)})
        assert r.status_code == 400, (name, r.status_code)
        assert r.get_json()["error"], name
    assert api.post(f"/api/v1/threads/{tid}/messages", {"envelope": "plain text here!"}).status_code == 400
    assert api.post(f"/api/v1/threads/{tid}/messages", data="x", content_type="text/plain").status_code == 400
    assert api.post(f"/api/v1/threads/{tid}/messages",
                    {"envelope": b64(good), "msg_id": secrets.token_hex(16)}).status_code == 400
    stale = envelope(tid, 5, user.id, dev, b"future epoch")
    assert api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(stale)}).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    huge = b"x" * (3 * 1024 * 1024)
    assert api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(huge)}).status_code == 413


def test_removal_cuts_access_to_new_epochs(world):
    tid, head = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn", "member_sn"])
    api_nl, dev_nl, nl = world["focal_nl"]
    api_m, dev_m, msn = world["member_sn"]
    sn = world["focal_sn"][2]
    assert _post(world, "member_sn", tid).status_code == 201
    r = api_nl.post(f"/api/v1/threads/{tid}/events",
                    event_payload(dev_nl, 1, head, "remove_user", users=[msn.id], epoch=2, members=[nl.id, sn.id]))
    assert r.status_code == 201, r.get_json()
    assert _post(world, "focal_nl", tid, epoch=2).status_code == 201
    # The removed member: the thread, its new epoch's wraps and messages, and posting are 404.
    for path in (f"/api/v1/threads/{tid}", f"/api/v1/threads/{tid}/epochs/2", f"/api/v1/threads/{tid}/messages",
                 f"/api/v1/threads/{tid}/events"):
        assert api_m.get(path).status_code == 404, path
    assert _post(world, "member_sn", tid, epoch=2).status_code == 404
    assert tid not in [t["id"] for t in api_m.get("/api/v1/threads").get_json()["threads"]]
    # Their old message stays as stored, for the others.
    assert len(api_nl.get(f"/api/v1/threads/{tid}/messages").get_json()["messages"]) == 2
    # Removing the State removes its remaining users too.
    head = unb64(r.get_json()["hash"])
    r = api_nl.post(f"/api/v1/threads/{tid}/events",
                    event_payload(dev_nl, 2, head, "remove_state", party="SEN", epoch=3, members=[nl.id]))
    assert r.status_code == 201, r.get_json()
    assert world["focal_sn"][0].get(f"/api/v1/threads/{tid}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ThreadParty)
                             .where(ThreadParty.thread_id == tid, ThreadParty.removed_at.is_not(None))) == 1
    assert db.session.scalar(select(func.count()).select_from(EpochWrap).where(EpochWrap.epoch == 3)) == 1


def test_outsiders_get_404_everywhere(world, app):
    tid, _ = _create(world, "focal_nl", [], ["focal_nl", "member_nl"])
    msg = _post(world, "focal_nl", tid).get_json()["id"]
    api, dev, user = world["focal_nl"]
    att = api.post(f"/api/v1/threads/{tid}/attachments", {"size": 100, "part_size": 100}).get_json()["id"]
    assert api.put_raw(f"/api/v1/threads/{tid}/attachments/{att}/parts/0", os.urandom(100)).status_code == 200
    assert api.post(f"/api/v1/threads/{tid}/attachments/{att}/complete").status_code == 200
    base = f"/api/v1/threads/{tid}"
    gets = [base, f"{base}/roster", f"{base}/events", f"{base}/epochs/1", f"{base}/messages",
            f"{base}/attachments/{att}", f"{base}/attachments/{att}/content"]
    posts = [(f"{base}/events", event_payload(dev, 1, bytes(32), "set_policy")), (f"{base}/messages", {"envelope": "x"}),
             (f"{base}/read", {"up_to": msg}), (f"{base}/attachments", {"size": 1, "part_size": 1}),
             (f"{base}/attachments/{att}/complete", {})]
    for who in ("admin", "focal_sn", "member_sn", "editor"):
        other = world[who][0]
        for path in gets:
            assert other.get(path).status_code == 404, (who, path)
        for path, payload in posts:
            assert other.post(path, payload).status_code == 404, (who, path)
        assert other.put_raw(f"{base}/attachments/{att}/parts/0", os.urandom(100)).status_code == 404, who
        assert tid not in str(other.get("/api/v1/threads").get_json())
    # The Secretariat administrator cannot take part at all.
    assert world["admin"][0].post("/api/v1/threads", {"parties": []}).status_code == 404
    # Unknown ids answer exactly like others' threads.
    assert api.get(f"/api/v1/threads/{secrets.token_hex(16)}").status_code == 404
    assert api.get("/api/v1/threads/not-an-id").status_code == 404


def test_create_thread_bad_input(world):
    api, dev, user = world["focal_nl"]
    before = db.session.scalar(select(func.count()).select_from(Thread))
    for payload in ({"parties": "SEN"}, {"parties": ["sen"]}, {"parties": ["XXX"]}, {"topic": "x"}, [1]):
        r = api.post("/api/v1/threads", payload)
        assert r.status_code == 400 and r.get_json()["error"], payload
    assert db.session.scalar(select(func.count()).select_from(Thread)) == before


def test_per_event_notification_is_content_free(world, mailbox):
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    api_sn = world["focal_sn"][0]
    assert api_sn.put("/api/v1/notifications", {"mode": "event"}).get_json()["mode"] == "event"
    assert api_sn.put("/api/v1/notifications", {"mode": "loud"}).status_code == 400
    marker = secrets.token_hex(12).encode()
    assert _post(world, "focal_nl", tid, text=marker).status_code == 201
    mail = mailbox.wait_for(world["focal_sn"][2].email)
    text = mailbox.body(mail)
    assert "waiting" in text and tid not in text and marker.decode() not in text
    # No second mail until the recipient has read the thread.
    assert _post(world, "focal_nl", tid).status_code == 201
    assert len([m for m in mailbox.messages if world["focal_sn"][2].email in m["To"]]) == 1


def test_daily_digest_command(world, mailbox, app):
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    assert _post(world, "focal_nl", tid).status_code == 201
    result = app.test_cli_runner().invoke(args=["threads", "send-digests"])
    assert "Digests sent: 1" in result.output, result.output
    mail = mailbox.wait_for(world["focal_sn"][2].email)
    assert "waiting" in mailbox.body(mail)
    again = app.test_cli_runner().invoke(args=["threads", "send-digests"])
    assert "Digests sent: 0" in again.output


def test_canary_marker_never_reaches_the_server(world, app, caplog):
    """The test encrypts a random marker before posting: it must appear nowhere on the server
    side, neither in the database nor in the logs."""
    caplog.set_level("DEBUG")
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    marker = ("CANARY-" + secrets.token_hex(16)).encode()
    for _ in range(5):
        assert _post(world, "focal_nl", tid, text=marker + b" freeze account 12345").status_code == 201
    assert world["focal_sn"][0].get(f"/api/v1/threads/{tid}/messages").status_code == 200
    dump = _database_dump()
    assert marker not in dump and marker.hex().encode() not in dump
    assert len(dump) > 10_000  # the dump really holds the data
    assert marker.decode() not in caplog.text
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        db.session.commit()
        files = [Path(url[len("sqlite:///"):] + suffix) for suffix in ("", "-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert raw and marker not in raw


def _database_dump() -> bytes:
    """Every row of every table, as bytes (blobs raw, everything else as text)."""
    chunks = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()):
            for value in row:
                chunks.append(value if isinstance(value, bytes) else str(value).encode())
    db.session.commit()
    return b"\n".join(chunks)


def test_notification_mails_speak_their_recipients_language(world, mailbox, app):
    """The sender works in English; the recipient chose French: the per-event mail and the
    daily digest (sent by a command, with no request at all) are in French."""
    api_sn, _dev, user_sn = world["focal_sn"]
    user_sn.locale = "fr"
    _api, _dev2, member_nl = world["member_nl"]
    member_nl.locale = "fr"
    db.session.commit()
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn", "member_nl"])
    assert api_sn.put("/api/v1/notifications", {"mode": "event"}).status_code == 200
    assert _post(world, "focal_nl", tid).status_code == 201
    event_mail = mailbox.wait_for(user_sn.email)
    assert event_mail["Subject"] == "Nouvelle activité sur la Plateforme sécurisée de coopération"
    assert "Something new" not in mailbox.body(event_mail)
    result = app.test_cli_runner().invoke(args=["threads", "send-digests"])
    assert "Digests sent: 1" in result.output, result.output  # member_nl: digest is the default
    digest = mailbox.wait_for(member_nl.email)
    assert digest["Subject"] == "Nouvelle activité sur la Plateforme sécurisée de coopération"
    assert "Something new" not in mailbox.body(digest)
