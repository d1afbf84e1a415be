"""The Python client (cooperation_client.client) against the real application in-process:
sign-in through the OAuth device flow, enrolment, a thread between two States with a message
and an attachment, removal, tampering, recovery, identity key changes, the CLI, and a canary
that no plaintext reaches the database or the attachment storage."""

from __future__ import annotations

import io
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.oauth.models import OAuthToken
from cooperation.threads.models import Attachment, EpochWrap, IdentityKey, Message, Thread, ThreadEvent
from cooperation_client.cli import main
from cooperation_client.client import Client, ClientError, KeyChanged, conversation, thread_ops
from cooperation_client.client.api import ApiError
from cooperation_client.client.thread_log import replay
from cooperation_client.protocol import events, messages
from cooperation_client.protocol.envelope import split
from cooperation_client.protocol.errors import VerificationError
from cooperation_client.protocol.recovery import format_recovery_key
from cooperation_client.protocol.statements import Signed
from tests.functional.oauth_helpers import Browser, register_client
from tests.functional.pyclient_helpers import (
    SERVER,
    Approver,
    sign_in,
    waited_interval,
    wsgi_transport,
)

KIB = 1024


@pytest.fixture(autouse=True)
def _cli_client_registered(app):  # type: ignore[no-untyped-def]
    register_client(app)


@pytest.fixture
def storage_root(app, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The app's attachment storage in this test's own directory."""
    root = tmp_path / "attachment-storage"
    monkeypatch.setitem(app.config, "THREADS_ATTACHMENT_ROOT", str(root))
    app.extensions.pop("cooperation.threads.storage", None)
    yield root
    app.extensions.pop("cooperation.threads.storage", None)


@pytest.fixture
def transport(app):  # type: ignore[no-untyped-def]
    return wsgi_transport(app)


@pytest.fixture
def pair(app, users, tmp_path, storage_root, transport):  # type: ignore[no-untyped-def]
    """NLD's and SEN's focal points, each signed in on an install of their own and enrolled;
    returns the two clients and their Recovery Keys."""
    nl = sign_in(app, users["focal_nl"], tmp_path / "nl", transport)
    sn = sign_in(app, users["focal_sn"], tmp_path / "sn", transport)
    keys = {"nl": nl.enrol(), "sn": sn.enrol()}
    yield nl, sn, keys
    nl.close()
    sn.close()


def _file(path: Path, size: int, marker: str = "") -> Path:
    path.write_bytes(os.urandom(size // 2) + marker.encode() + os.urandom(size - size // 2))
    return path


def _stored_bytes(app) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Every value of every row, as bytes (whatever the backend)."""
    values: list[bytes] = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            for value in row:
                values.append(value if isinstance(value, bytes) else str(value).encode("utf-8"))
    db.session.commit()
    return values


def _assert_absent(marker: str, app, storage_root: Path) -> None:  # type: ignore[no-untyped-def]
    needle = marker.encode()
    assert not [v for v in _stored_bytes(app) if needle in v]
    if db.engine.dialect.name == "sqlite":
        database = Path(db.engine.url.database or "")
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-journal")):
            if path.exists():
                assert needle not in path.read_bytes(), path
    parts = [p for p in storage_root.rglob("*") if p.is_file()]
    assert parts, "the attachment was stored"
    for path in parts:
        assert needle not in path.read_bytes() and needle not in str(path).encode(), path


def test_two_states_exchange_a_message_and_an_attachment(app, pair, tmp_path, storage_root):
    nl, sn, _ = pair
    marker = "canary" + secrets.token_hex(8)
    tid = nl.create_thread(title=f"Trace {marker}", topic="tracing", parties=["SEN"], court_ref=f"ICC {marker}")
    source = _file(tmp_path / f"bank-{marker}.pdf", 300 * KIB + 7, marker)
    msg_id = nl.post(tid, f"Records attached {marker} – €2.3m", handling="national-authorities",
                     attachments=[source], part_size=64 * KIB)
    assert db.session.scalar(select(Attachment.parts)) == 5  # sent in parts
    db.session.commit()

    listed = sn.threads()
    assert [(t.thread_id, t.title, t.topic, t.court_ref, t.unread) for t in listed] == [
        (tid, f"Trace {marker}", "tracing", f"ICC {marker}", 1)]
    [item] = sn.messages(tid, mark_read=True)
    assert item.ok and item.msg_id == msg_id and item.text == f"Records attached {marker} – €2.3m"
    assert item.sender_id == nl.user_id() and item.handling == "national-authorities"
    [ref] = item.attachments
    assert (ref.name, ref.mime, ref.size, ref.handling) == (source.name, "application/pdf", source.stat().st_size,
                                                            "national-authorities")
    out = sn.download(tid, ref.file_id, tmp_path / "received.pdf")
    assert out.read_bytes() == source.read_bytes()
    assert sn.threads()[0].unread == 0

    # Into a folder: the sender's file name, made safe.
    folder = tmp_path / "inbox"
    folder.mkdir()
    assert sn.download(tid, ref.file_id, folder).name == source.name
    members, code = sn.members(tid)
    assert {(m.user_id, m.state) for m in members} == {(nl.user_id(), "NLD"), (sn.user_id(), "SEN")}
    assert code == nl.members(tid)[1]  # the same thread safety code on both sides

    _assert_absent(marker, app, storage_root)


def test_a_removed_state_cannot_decrypt_what_follows(app, pair, users):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Freeze", topic="freezing", parties=["SEN"])
    nl.post(tid, "before", handling="participants-only")
    before = sn.thread(tid)
    assert [i.text for i in sn.messages(tid)] == ["before"]

    after = nl.remove_state(tid, "SEN")
    assert after.state.epoch == 2 and set(after.members().values()) == {"NLD"}
    assert set(after.state.wraps[2]) == {users["focal_nl"].id.to_bytes(16, "big")}  # wrapped to NLD only
    nl.post(tid, "after the removal", handling="participants-only")
    assert [i.text for i in nl.messages(tid)] == ["before", "after the removal"]

    with pytest.raises(ApiError) as refused:  # the server's ACL, the first layer
        sn.messages(tid)
    assert refused.value.status == 404

    # The cryptographic layer: even with the bytes, SEN has no key for epoch 2.
    raw = db.session.scalars(select(Message.envelope).order_by(Message.id.desc())).first()
    log = [Signed("event", e.body, e.signature) for e in db.session.scalars(
        select(ThreadEvent).where(ThreadEvent.thread_id == tid).order_by(ThreadEvent.seq))]
    db.session.commit()
    item = sn.open_envelope(before, raw)  # its old log lacks the head the sender saw: flagged (PROTOCOL.md §6)
    assert item.text is None and item.unknown_head and "cannot be decrypted here" in (item.warning or "")
    before.state = replay(tid, log, before.directory)  # SEN replays the new log: no wrap for it
    before.epoch_keys.clear()
    item = sn.open_envelope(before, raw)
    assert before.state.epoch == 2 and item.text is None and "No key for epoch 2" in (item.warning or "")
    header = split(raw).header
    sender_key = before.directory.devices[(header.sender_user, header.sender_device)]
    with pytest.raises(VerificationError):  # and the key SEN had does not open it
        messages.open_(raw, sender_sig_pub=sender_key, epoch_key=sn.epoch_keys().key(before, 1))


def test_a_tampered_envelope_is_a_warning_not_content(pair):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Seizure", topic="seizure", parties=["SEN"])
    first_id = nl.post(tid, "first", handling="participants-only")
    nl.post(tid, "second", handling="participants-only", reply_to=first_id)
    # A signed body whose reply_to is not a message id is malformed (PROTOCOL.md §12).
    conversation.post(nl.api, nl.book, nl.epoch_keys(), nl.thread, tid, {
        "v": 1, "text": "third", "reply_to": "\x1b[2J", "handling": "participants-only", "attachments": []})
    first = db.session.scalars(select(Message).order_by(Message.id)).first()
    altered = bytearray(first.envelope)
    altered[200] ^= 0x01  # one ciphertext byte
    db.session.execute(update(Message).where(Message.id == first.id).values(envelope=bytes(altered)))
    db.session.commit()
    items = sn.messages(tid)
    assert items[0].text is None and "signature or integrity" in (items[0].warning or "")
    assert items[1].ok and items[1].text == "second" and items[1].reply_to == first_id
    assert items[2].text is None and "reply_to invalid" in (items[2].warning or "")


def test_a_tampered_attachment_is_refused_and_nothing_is_written(pair, tmp_path, storage_root):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Docs", topic="other", parties=["SEN"])
    nl.post(tid, "file", handling="participants-only", attachments=[_file(tmp_path / "a.bin", 150 * KIB)],
            part_size=64 * KIB)
    [part] = [p for p in storage_root.rglob("000001.part")]
    data = bytearray(part.read_bytes())
    data[100] ^= 0x80
    part.write_bytes(bytes(data))
    ref = sn.messages(tid)[0].attachments[0]
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ClientError, match="integrity check"):
        sn.download(tid, ref.file_id, out / "a.bin")
    assert list(out.iterdir()) == []  # neither the target nor a partial temporary file


def test_recovery_on_a_new_install(app, users, pair, tmp_path, transport):
    nl, sn, keys = pair
    tid = nl.create_thread(title="Recovered", topic="forfeiture", parties=["SEN"])
    nl.post(tid, "sent from the first install", handling="court-only")

    fresh = sign_in(app, users["focal_nl"], tmp_path / "nl-new", transport)
    with pytest.raises(ClientError, match="Wrong Recovery Key"):
        fresh.recover(keys["sn"])  # a well-formed key, but not this user's
    with pytest.raises(ClientError, match="not a Recovery Key"):
        fresh.recover("ABCD-EFGH")
    assert fresh.store.keys() is None  # nothing half-set-up is left behind
    fresh.recover(keys["nl"].lower().replace(" ", "-"))  # typed loosely: still accepted
    assert max(fresh.keys().puks) == 2  # a new generation, linked back to the first
    assert [i.text for i in fresh.messages(tid)] == ["sent from the first install"]
    assert fresh.threads()[0].title == "Recovered"

    fresh.post(tid, "from the new install", handling="participants-only")
    assert fresh.thread(tid).state.epoch == 2  # lazy rotation: generation 1 was replaced, so a new epoch
    assert [i.text for i in sn.messages(tid)] == ["sent from the first install", "from the new install"]
    # The old install takes generation 2 from its wrap and still reads everything.
    again = Client.open(home=str(tmp_path / "nl"), transport=transport)
    assert max(again.keys().puks) == 2
    assert [i.text for i in again.messages(tid)][-1] == "from the new install"
    # The recovery blob was re-sealed with generation 2: a third install recovers it too.
    third = sign_in(app, users["focal_nl"], tmp_path / "nl-third", transport)
    third.recover(keys["nl"])
    assert max(third.keys().puks) == 3 and third.messages(tid)[-1].text == "from the new install"


def test_a_changed_identity_key_blocks_until_trusted(app, pair, users):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Pinned", topic="identification", parties=["SEN"])
    nl.post(tid, "hello", handling="participants-only")
    sn_id = users["focal_sn"].id
    first_number, pinned = nl.safety_number(sn_id)
    assert pinned and first_number == sn.safety_number(nl.user_id())[0]  # the same on both sides

    # The server (or someone who controls it) shows a different key for SEN's focal point.
    db.session.execute(update(IdentityKey).where(IdentityKey.user_id == sn_id).values(superseded_at=db.func.now()))
    db.session.add(IdentityKey(user_id=sn_id, public_key=os.urandom(32)))
    db.session.commit()
    fresh_nl = Client.open(home=str(nl.store.path), transport=nl.api.http._transport)
    # Reading goes on with what the pinned key certified; the new key is not used.
    assert [i.text for i in fresh_nl.messages(tid)] == ["hello"]
    assert fresh_nl.key_changes(fresh_nl.thread(tid)) == [sn_id]
    assert not {m.user_id: m.pinned for m in fresh_nl.members(tid)[0]}[sn_id]
    # Nothing is sent, and no key is given, to that user until the change is accepted.
    for action in (lambda: fresh_nl.post(tid, "x", handling="participants-only"), lambda: fresh_nl.rotate(tid)):
        with pytest.raises(KeyChanged, match=f"trust {sn_id}"):
            action()
    other = fresh_nl.create_thread(title="Without SEN's focal point", topic="other", parties=["SEN"])
    assert fresh_nl.last_skipped == [users["focal_sn"].full_name]
    assert set(fresh_nl.thread(other).members()) == {nl.user_id()}
    number, pinned = fresh_nl.safety_number(sn_id)
    assert not pinned and number != first_number
    assert fresh_nl.trust(sn_id) is True
    again = Client.open(home=str(nl.store.path), transport=nl.api.http._transport)
    assert again.key_changes(again.thread(tid)) == []
    assert [i.text for i in again.messages(tid)] == ["hello"]  # devices certified earlier stay valid


# -- fork and withholding detection (PROTOCOL.md §6) ----------------------------------------------

def _set_policy(client: Client, tid: str, **policy: bool) -> None:
    """A set_policy event (it keeps the epoch, so what follows stays readable), built with the
    protocol module and posted like any other event: neither client offers it yet."""
    state, me = client.thread(tid).state, client.book.me
    statement = events.next_event(state, "set_policy", {"policy": {**state.policy, **policy}}, actor=me.user_bytes,
                                  device_id=me.device.device_id, device_key=me.device.sig, ts_ms=1_767_225_600_000)
    thread_ops._post_event(client.api, tid, statement, seq=state.seq + 1, prev_hash=state.head_hash,
                           kind="set_policy", device_id=me.device.device_id, epoch=None, record=None)


def _withhold_newest_event(tid: str) -> None:
    """The server withholding the newest event of the log from whoever fetches it from now on: its
    row (and the wraps of the epoch it opened) gone, the thread's head columns set back."""
    newest, previous = db.session.scalars(select(ThreadEvent).where(ThreadEvent.thread_id == tid)
                                          .order_by(ThreadEvent.seq.desc()).limit(2)).all()
    thread = db.session.get(Thread, tid)
    if newest.epoch is not None:
        db.session.execute(EpochWrap.__table__.delete().where(EpochWrap.thread_id == tid,
                                                               EpochWrap.epoch == newest.epoch))
        thread.epoch = newest.epoch - 1
    thread.head_seq, thread.head_hash = previous.seq, previous.event_hash
    db.session.delete(newest)
    db.session.commit()


def test_a_withheld_log_event_flags_the_messages_sent_after_it(pair, capsys):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Withheld", topic="tracing", parties=["SEN"])
    nl.post(tid, "ordinary", handling="participants-only")
    stale, cached = sn.thread(tid), sn.thread(tid)  # SEN's views before NL changes the log

    # A sender who is simply ahead: the reader's log is fetched again, and nothing is flagged.
    _set_policy(nl, tid, members_add_colleagues=True)
    nl.post(tid, "after a policy change", handling="participants-only")
    items, _ = conversation.read(sn.api, stale, sn.epoch_keys(), sn.book)
    assert [(i.text, i.unknown_head) for i in items] == [("ordinary", False), ("after a policy change", False)]
    assert stale.state.policy["members_add_colleagues"] is True  # the view was refreshed in place
    newest = db.session.scalars(select(Message.envelope).order_by(Message.id.desc())).first()
    db.session.commit()
    unrefreshed = sn.open_envelope(cached, newest)  # no server call: the stale view lacks that head
    assert unrefreshed.ok and unrefreshed.text == "after a policy change" and unrefreshed.unknown_head

    # The server withholds an event from everyone who fetches the log after the message was sent.
    _set_policy(nl, tid, share_history=False)
    nl.post(tid, "sent after an event SEN is not given", handling="participants-only")
    given_b = sn.thread(tid)  # a view that still has that event
    _withhold_newest_event(tid)
    sn.post(tid, "an ordinary message after it", handling="participants-only")
    items = sn.messages(tid)
    assert [(i.text, i.ok, i.unknown_head) for i in items] == [
        ("ordinary", True, False), ("after a policy change", True, False),
        ("sent after an event SEN is not given", True, True),  # signed, decrypts: shown, flagged
        ("an ordinary message after it", True, False)]
    assert sn.thread(tid).state.policy["share_history"] is True  # SEN was not given the change
    assert main(["--home", str(sn.store.path), "read", tid], transport=sn.api.http._transport) == 0
    out = _without_server_logs(capsys.readouterr().out)
    assert out.count("WARNING:") == 1 and re.search(
        r"(?m)^  WARNING: The sender saw a history of this thread that you were not given.*\n"
        r"  sent after an event SEN is not given$", out), out

    # A withheld epoch: the message cannot be decrypted, and says why.
    nl.rotate(tid)
    nl.post(tid, "in an epoch SEN is not given", handling="participants-only")
    _withhold_newest_event(tid)
    last = sn.messages(tid)[-1]
    assert last.unknown_head and not last.ok and last.text is None
    assert "cannot be decrypted here" in (last.warning or "") and "thread safety code" in (last.warning or "")
    # A view that was given the event now withheld: the log fetched again does not extend it.
    with pytest.raises(ClientError, match="different history"):
        conversation.read(sn.api, given_b, sn.epoch_keys(), sn.book)

    # Bytes nobody signed raise no such alarm: they stay a failed check.
    row = db.session.scalars(select(Message).where(Message.thread_id == tid).order_by(Message.id).offset(2)).first()
    altered = bytearray(row.envelope)
    altered[200] ^= 0x01
    row.envelope = bytes(altered)
    db.session.commit()
    third = sn.messages(tid)[2]
    assert third.text is None and not third.unknown_head and "signature or integrity" in (third.warning or "")


def test_states_and_users_join_leave_and_read_history(app, users, pair, tmp_path, transport):
    nl, sn, _ = pair
    tid = nl.create_thread(title="Reparations", topic="reparations", parties=[])
    nl.post(tid, "before SEN joined", handling="participants-only")
    with pytest.raises(ApiError):
        sn.messages(tid)

    assert nl.add_state(tid, "SEN").state.epoch == 2
    assert [i.text for i in sn.messages(tid)] == ["before SEN joined"]  # through the history link
    assert sn.threads()[0].title == "Reparations"
    with pytest.raises(ClientError, match="Not allowed"):  # only the owner State's administrators
        sn.remove_state(tid, "NLD")

    colleague = sign_in(app, users["member_sn"], tmp_path / "sn-member", transport)
    colleague.enrol()
    assert sn.add_user(tid, users["member_sn"].id).state.epoch == 3  # SEN's own administrator adds
    sn.post(tid, "welcome", handling="no-evidential-use")
    assert [i.text for i in colleague.messages(tid)] == ["before SEN joined", "welcome"]

    view = nl.remove_user(tid, users["member_sn"].id)  # the owner State may remove anyone
    assert view.state.epoch == 4 and users["member_sn"].id not in view.members()
    assert nl.rotate(tid).state.epoch == 5
    nl.post(tid, "after the rotation", handling="participants-only")
    assert [i.text for i in sn.messages(tid)][-1] == "after the rotation"
    with pytest.raises(ApiError):
        colleague.messages(tid)


def test_login_polls_politely_and_reports_a_denial(app, users, tmp_path, transport):
    client = Client.open(home=str(tmp_path / "polite"), server=SERVER, transport=transport)
    shown: list = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # no waiting for real; the second poll comes too early
        slept.append(seconds)
        if len(slept) == 3:
            Browser(app, users["member_nl"]).decide(shown[0].user_code, approve=True)
            waited_interval()

    me = client.login(shown.append, sleep=sleep)
    assert me["id"] == users["member_nl"].id and me["scopes"] == ["profile", "threads"]
    assert slept == [5, 5, 10]  # interval, interval, then +5 s after slow_down (RFC 8628 3.5)
    assert shown[0].verification_uri == f"{SERVER}/device"

    # An expired access token is refreshed on the 401 (the refresh token rotates), then retried.
    before = client.store.read("tokens")
    db.session.execute(update(OAuthToken).values(access_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert client.me()["id"] == users["member_nl"].id
    after = client.store.read("tokens")
    assert after["access_token"] != before["access_token"] and after["refresh_token"] != before["refresh_token"]

    denied = Client.open(home=str(tmp_path / "denied"), server=SERVER, transport=transport)
    codes: list = []
    with pytest.raises(ClientError, match="denied"):
        denied.login(codes.append, sleep=Approver(app, users["member_nl"], lambda: codes[0].user_code,
                                                  approve=False))
    assert denied.store.read("tokens") is None
    assert client.logout() is True and client.store.read("tokens") is None
    with pytest.raises(ClientError, match="Not signed in"):
        client.threads()


SERVER_LOG = re.compile(r"(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ [\w.]+ .*\n")


def _without_server_logs(text: str) -> str:
    """The in-process server logs to the same stdout; keep only what the client printed."""
    return SERVER_LOG.sub("", text)


class Terminal:
    """What main() printed, collected across calls (the sign-in reads the code from it)."""

    def __init__(self, capsys) -> None:  # type: ignore[no-untyped-def]
        self.capsys, self.out, self.err = capsys, "", ""

    def take(self) -> None:
        captured = self.capsys.readouterr()
        self.out += _without_server_logs(captured.out)
        self.err += _without_server_logs(captured.err)

    def run(self, home: Path, *argv: str, sleep=None, transport=None):  # type: ignore[no-untyped-def]
        self.out = self.err = ""
        code = main(["--home", str(home), *argv], transport=transport, sleep=sleep or (lambda s: None))
        self.take()
        return code, self.out, self.err

    def user_code(self) -> str:
        self.take()
        found = re.search(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})", self.out)
        assert found, self.out
        return found.group(1)


def test_the_command_line(app, users, tmp_path, capsys, storage_root, transport):
    term = Terminal(capsys)
    homes = {"nl": tmp_path / "cli-nl", "sn": tmp_path / "cli-sn"}

    def cli(who: str, *argv: str) -> tuple[int, str, str]:
        return term.run(homes[who], *argv, transport=transport)

    for who, user in (("nl", users["focal_nl"]), ("sn", users["focal_sn"])):
        code, out, err = term.run(homes[who], "login", SERVER, transport=transport,
                                  sleep=Approver(app, user, term.user_code))
        assert code == 0, err
        assert f"Signed in as user {user.id}" in out and "cooperation-client enrol" in out
        code, out, err = cli(who, "enrol", "--label", f"case system {who}")
        assert code == 0, err
        assert re.search(r"(?m)^    ([A-Z2-7]{4} ){12}[A-Z2-7]{4}$", out)
        assert "Write it down" in out and "lost for good" in out
    recovery_key = re.search(r"(?m)^    ((?:[A-Z2-7]{4} ){12}[A-Z2-7]{4})$", out).group(1)  # SEN's

    code, out, _ = cli("nl", "whoami")
    assert code == 0 and f"user {users['focal_nl'].id}  NLD" in out and "key generation 1" in out

    code, out, err = cli("nl", "create", "--title", "CLI thread", "--topic", "seizure", "--party", "SEN",
                         "--court-ref", "ICC-02/05")
    assert code == 0, err
    tid = out.strip()
    doc = _file(tmp_path / "ledger.xlsx", 70 * KIB)
    code, out, err = cli("nl", "post", tid, "--text", "Ledger attached\x1b[2J", "--handling", "court-only",
                         "--attach", str(doc))
    assert code == 0, err

    code, out, _ = cli("sn", "threads")
    assert code == 0 and tid in out and "1 unread" in out and "[seizure]  CLI thread  (ICC-02/05)" in out
    code, out, _ = cli("sn", "read", tid)
    assert code == 0 and "Ledger attached" in out and "<court-only>" in out
    assert "\x1b" not in out  # terminal control characters from a sender never reach the terminal
    attachment = re.search(r"attachment ([0-9a-f]{32})  ledger.xlsx", out).group(1)
    ledger_msg = re.search(r"<court-only>  message ([0-9a-f]{32})$", out, re.M).group(1)
    code, out, err = cli("sn", "download", tid, attachment, "--out", str(tmp_path / "got.xlsx"))
    assert code == 0, err
    assert (tmp_path / "got.xlsx").read_bytes() == doc.read_bytes()
    assert "0 unread" in cli("sn", "threads")[1]
    # A reply names the message by the id `read` shows; `read` checks it against what it lists.
    code, out, err = cli("sn", "post", tid, "--text", "Received", "--handling", "participants-only",
                         "--reply-to", ledger_msg)
    assert code == 0, err
    code, out, _ = cli("nl", "read", tid)
    assert code == 0 and re.search(rf"(?m)^  in reply to \[\d+\] {re.escape(users['focal_nl'].full_name)}, "
                                   rf"message {ledger_msg}\n  Received$", out), out

    code, out, _ = cli("nl", "members", tid)
    assert code == 0 and "NLD" in out and "SEN" in out and "thread safety code:" in out
    assert "KEY NOT VERIFIED" not in out
    code, number, _ = cli("nl", "safety-number", str(users["focal_sn"].id))
    assert code == 0 and re.fullmatch(r"(\d{5} ){11}\d{5}\n", number)
    assert cli("sn", "safety-number", str(users["focal_nl"].id))[1] == number
    assert cli("nl", "trust", str(users["focal_sn"].id))[1] == "This key was already trusted.\n"

    # Errors: one line, exit status 1, no traceback.
    for argv in (("read", "not-a-thread"), ("read", "0" * 32), ("download", tid, "1" * 32, "--out", "x"),
                 ("post", tid, "--text", "x", "--handling", "court-only", "--attach", str(tmp_path / "missing")),
                 ("post", tid, "--text", "x", "--handling", "court-only", "--reply-to", ledger_msg.upper())):
        code, out, err = cli("sn", *argv)
        assert code == 1 and err.startswith("cooperation-client: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    with pytest.raises(SystemExit) as usage:
        cli("sn", "post", tid, "--text", "x", "--handling", "secret")
    assert usage.value.code == 2

    # A new install of SEN's focal point: a wrong key is refused cleanly, the right one works.
    homes["sn2"] = tmp_path / "cli-sn2"
    assert term.run(homes["sn2"], "login", SERVER, transport=transport,
                    sleep=Approver(app, users["focal_sn"], term.user_code))[0] == 0
    other_key = format_recovery_key(os.urandom(32))
    for text, message in ((other_key, "Wrong Recovery Key"), ("nonsense", "not a Recovery Key")):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.stdin", io.StringIO(text + "\n"))
            code, _, err = cli("sn2", "recover")
        assert code == 1 and message in err
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(recovery_key + "\n"))
        code, _, err = cli("sn2", "recover")
    assert code == 0, err
    code, out, _ = cli("sn2", "read", tid)
    assert code == 0 and "Ledger attached" in out

    # Nothing printed ever contained a token.
    tokens = (homes["sn"] / "tokens.json").read_text()
    for secret in re.findall(r'"(?:access|refresh)_token": "([^"]+)"', tokens):
        assert secret not in term.out + term.err
    assert cli("sn", "logout")[0] == 0
    code, _, err = cli("sn", "threads")
    assert code == 1 and "login" in err
