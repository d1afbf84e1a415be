"""End-to-end encrypted threads as people use them, in real Chromium contexts (one per person and
browser): the Netherlands' focal point and Senegal's focal point each set up encryption (the
Recovery Key is shown once), NL creates a thread with SEN and posts a message with a handling
code and a multi-part attachment, SEN reads it, sees the verified sender and downloads identical
bytes, and replies to it: NL sees the reply linked to and quoting its original. Then: a tampered
ciphertext is flagged and not shown (nor quoted by a reply to it); a changed identity key blocks
sending until accepted; SEN restores its keys on a fresh browser with the Recovery Key (a wrong
key is refused cleanly); NL removes SEN, whose keys then open nothing sent afterwards; a
non-member gets 404; a colleague and SEN (again) are added and read the history through the
links; a revoked browser is cut off and the next message goes to a rotated epoch.

The tests of this module share one setup and run in order (one worker, `xdist_group`), which
keeps the page loads few. NL's pages (keys with the Recovery Key shown, new thread, the thread
as its owner sees it, the identity-key warning) are checked with axe-core; SEN's run under the
real CSP with the CSP monitor.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select

from cooperation.extensions import db
from cooperation.permissions import Role
from tests.browser.checks import PageMonitor, assert_accessible
from tests.browser.conftest import TIMEOUT_MS, Account, Accounts, LiveServer
from tests.browser.pages import Navigator
from tests.conftest import _clean

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TITLE = "Tracing the assets of case X"
TEXT = "Bank statements of the company attached.\nPlease keep within the participants."
FILE_NAME = "statements.bin"
# More than one TAF1 chunk (1 MiB) and more than one upload part (4 MiB).
FILE_BYTES = hashlib.shake_256(b"cooperation threads browser test").digest(5 * 1024 * 1024 + 12_345)
RK_FORMAT = re.compile(r"^([A-Z2-7]{4} ){12}[A-Z2-7]{4}$")


@dataclass
class Person:
    account: Account
    context: BrowserContext
    page: Page
    recovery_key: str = ""


@dataclass
class World:
    server: LiveServer
    accounts: Accounts
    nl: Person
    sn: Person
    monitor: PageMonitor
    thread_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _person(browser: Any, server: LiveServer, accounts: Accounts, account: Account, **options: Any) -> Person:
    context = browser.new_context(base_url=server.url, locale="en-GB", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    Navigator(page).sign_in(account.email, account.password, accounts.totp_code(account))
    return Person(account, context, page)


@pytest.fixture(scope="module")
def world(browser, live_server: LiveServer) -> Iterator[World]:  # type: ignore[no-untyped-def]
    _clean(live_server.app)
    accounts = Accounts(live_server.app, live_server.url)
    nl_account = accounts.create("NLD", Role.STATE_FOCAL_POINT, "focal@nl.example.org", full_name="Noor de Vries")
    sn_account = accounts.create("SEN", Role.STATE_FOCAL_POINT, "focal@sn.example.org", full_name="Awa Diop")
    # NL with the CSP bypass that injecting axe-core needs; SN under the enforced CSP (monitored).
    nl = _person(browser, live_server, accounts, nl_account, bypass_csp=True)
    sn = _person(browser, live_server, accounts, sn_account)
    monitor = PageMonitor(origin=live_server.url).attach(sn.context)
    made = World(live_server, accounts, nl, sn, monitor)
    yield made
    for context in {id(p.context): p.context for p in (nl, sn, *made.extra.get("people", []))}.values():
        context.close()


def _enrol(page: Page, check: bool = False) -> str:
    """Set up encryption on /threads/keys; returns the Recovery Key as shown."""
    page.goto("/threads/keys")
    expect(page.locator("#key-status")).to_contain_text("not set up for your account")
    page.get_by_role("button", name="Set up encryption on this browser").click()
    key_box = page.locator("#recovery-key")
    expect(key_box).to_have_text(RK_FORMAT)
    recovery_key = key_box.inner_text()
    expect(page.get_by_text("If you lose every device and this Recovery Key")).to_be_visible()
    if check:
        assert_accessible(page)
    cont = page.get_by_role("button", name="Continue")
    expect(cont).to_be_disabled()
    page.get_by_label("I have stored my Recovery Key in a safe place").check()
    cont.click()
    expect(page.locator("#recovery-key")).to_be_hidden()
    expect(page.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)  # header + this browser
    return recovery_key


def _message(page: Page, text: str):  # type: ignore[no-untyped-def]
    """The message whose own text contains `text` (not a reply quoting it)."""
    return page.locator("#messages li.message").filter(has=page.locator(".message-text", has_text=text))


def _send(page: Page, text: str, handling: str, files: list[dict[str, Any]] | None = None) -> None:
    composer = page.locator("#composer")
    composer.get_by_label("Message").fill(text)
    composer.get_by_label("Handling code").select_option(label=handling)
    if files:
        composer.get_by_label("Attach files").set_input_files(files)
    composer.get_by_role("button", name="Encrypt and send").click()
    expect(_message(page, text.splitlines()[0])).to_be_visible()
    expect(page.locator("#threads-status")).to_have_text("The message was sent.")


def _db(world: World, work):  # type: ignore[no-untyped-def]
    return world.accounts.run(work)


# -- (a) enrol, create, post with an attachment, read and download --------------------------------

def test_two_states_exchange_a_message_with_an_attachment(world: World) -> None:
    nl, sn = world.nl, world.sn
    nl.recovery_key = _enrol(nl.page, check=True)
    sn.recovery_key = _enrol(sn.page)
    assert world.monitor.problems_on(sn.page) == []
    assert nl.recovery_key != sn.recovery_key

    # NL creates the thread with Senegal.
    nl.page.goto("/threads/new")
    nl.page.get_by_label("Title").fill(TITLE)
    nl.page.get_by_label("Topic").select_option(label="Tracing")
    nl.page.get_by_label("Court request reference (optional)").fill("ICC-01/04-123")
    nl.page.get_by_label("Other participating States and organisations").select_option(value="SEN")
    assert_accessible(nl.page)
    nl.page.get_by_role("button", name="Create the encrypted thread").click()
    nl.page.wait_for_url(re.compile(r"/threads/[0-9a-f]{32}$"))
    world.thread_id = nl.page.url.rsplit("/", 1)[1]
    expect(nl.page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(nl.page.locator("#thread-court-ref")).to_have_text("ICC-01/04-123")
    participants = nl.page.locator("#participants")
    expect(participants).to_contain_text("Awa Diop")
    expect(participants).to_contain_text("Senegal (SEN)")

    # A message with a handling code and a 5 MiB attachment (encrypted, uploaded in two parts).
    _send(nl.page, TEXT, "Not for use as evidence",
          [{"name": FILE_NAME, "mimeType": "application/octet-stream", "buffer": FILE_BYTES}])
    for label in (f"Encrypting {FILE_NAME}", f"Uploading {FILE_NAME}"):
        bar = nl.page.get_by_label(label)
        expect(bar).to_have_js_property("value", bar.evaluate("b => b.max"))
    expect(nl.page.locator("#add-state-form")).to_be_visible()  # the owner's administrator
    assert_accessible(nl.page)

    # Nothing readable reached the server.
    stored = _db(world, lambda: [m.envelope for m in db.session.scalars(
        select(_models().Message).where(_models().Message.thread_id == world.thread_id))])
    assert len(stored) == 1 and TEXT.encode() not in stored[0] and b"evidence" not in stored[0]

    # SN: the list shows the decrypted title and one unread message.
    sn.page.goto("/threads")
    row = sn.page.locator("#thread-list tbody tr")
    expect(row.get_by_role("link")).to_have_text(TITLE)
    expect(row).to_contain_text("1 unread")
    expect(row).to_contain_text("Tracing")
    row.get_by_role("link").click()
    message = _message(sn.page, "Bank statements of the company attached.")
    expect(message).to_be_visible()
    expect(message.locator(".message-text")).to_have_text(TEXT)
    expect(message.locator(".handling")).to_have_text("Handling: Not for use as evidence")
    expect(message.locator(".sender")).to_have_text("Noor de Vries")
    expect(message.locator(".sender-state")).to_have_text("Netherlands (Kingdom of the)")
    expect(message.locator(".badge.verified")).to_have_text("Signature verified")
    expect(sn.page.locator("#thread-safety-code")).to_have_text(re.compile(r"^(\d{5} ){3}\d{5}$"))
    # Both sides compute the same safety code of the thread.
    expect(nl.page.locator("#thread-safety-code")).to_have_text(sn.page.locator("#thread-safety-code").inner_text())

    with sn.page.expect_download() as download_info:
        message.get_by_role("button", name=re.compile(rf"^Download {re.escape(FILE_NAME)}")).click()
    download = download_info.value
    assert download.suggested_filename == FILE_NAME
    with open(download.path(), "rb") as saved:
        assert hashlib.sha256(saved.read()).digest() == hashlib.sha256(FILE_BYTES).digest()
    expect(sn.page.locator("#threads-status")).to_have_text(f"{FILE_NAME} is decrypted and saved.")
    expect(sn.page.get_by_label(f"Decrypting {FILE_NAME}")).to_be_attached()

    # SN replies: the composer names the message answered until the reply is sent or cancelled.
    composer_reply = sn.page.locator("#composer-reply")
    message.get_by_role("button", name="Reply to Noor de Vries").click()
    expect(composer_reply.locator("p")).to_have_text(
        "Replying to Noor de Vries: Bank statements of the company attached. Please keep within the participants.")
    expect(sn.page.get_by_role("textbox", name="Message")).to_be_focused()
    composer_reply.get_by_role("button", name="Cancel reply").click()
    expect(composer_reply).to_be_hidden()
    expect(sn.page.get_by_role("textbox", name="Message")).to_be_focused()
    message.get_by_role("button", name="Reply to Noor de Vries").press("Enter")  # from the keyboard
    expect(composer_reply).to_be_visible()
    _send(sn.page, "Received; we are checking the accounts.", "Participants only")
    expect(composer_reply).to_be_hidden()
    assert world.monitor.problems_on(sn.page) == []

    # NL sees it as a reply to its message: the link leads (scroll and focus) to the original.
    nl.page.get_by_role("button", name="Check for new messages").click()
    reply = _message(nl.page, "Received; we are checking the accounts.")
    expect(reply.locator(".sender")).to_have_text("Awa Diop")
    link = reply.get_by_role("link", name="In reply to Noor de Vries (you)")
    expect(reply.locator(".reply-quote")).to_have_text(
        "Bank statements of the company attached. Please keep within the participants.")
    assert_accessible(nl.page)
    original = _message(nl.page, "Bank statements of the company attached.")
    original.evaluate("node => window.scrollTo(0, document.body.scrollHeight)")
    link.click()
    expect(original).to_be_focused()
    expect(original).to_be_in_viewport()
    assert nl.page.evaluate("location.hash") == f"#{original.get_attribute('id')}"


def _models():  # type: ignore[no-untyped-def]
    from cooperation.threads import models

    return models


# -- (b) a tampered ciphertext is flagged, never shown ---------------------------------------------

def test_tampered_message_shows_a_warning_not_its_content(world: World) -> None:
    nl_page = world.nl.page
    _send(nl_page, "Second message, to be tampered with", "Participants only")
    _message(nl_page, "Second message").get_by_role("button", name="Reply to Noor de Vries").click()
    _send(nl_page, "A reply to the second message", "Participants only")
    expect(_message(nl_page, "A reply to the second").locator(".reply-quote")).to_have_text(
        "Second message, to be tampered with")

    def tamper() -> None:  # the second message, before its reply
        message = db.session.scalars(select(_models().Message).where(_models().Message.thread_id == world.thread_id)
                                     .order_by(_models().Message.id.desc()).offset(1)).first()
        data = bytearray(message.envelope)
        data[126 + 5] ^= 0x01  # one ciphertext byte, after the 126-byte header
        message.envelope = bytes(data)

    _db(world, tamper)
    page = world.sn.page
    page.reload()
    expect(_message(page, "Bank statements of the company attached.")).to_be_visible()
    warning = page.locator("#messages li.message.unverified")
    expect(warning).to_have_text("This message could not be verified and is not shown.")
    # The reply to it stays, but neither names nor quotes what could not be verified.
    reply = _message(page, "A reply to the second message")
    expect(reply.locator(".reply-ref")).to_have_text("In reply to a message that is not available")
    expect(reply.get_by_role("link")).to_have_count(0)
    expect(page.locator("#messages")).not_to_contain_text("to be tampered with")
    assert world.monitor.problems_on(page) == []


# -- (b2) a log event withheld from the reader flags the messages sent after it (PROTOCOL.md §6) --

# The Netherlands' administrator enables members_add_colleagues with a set_policy event, which
# the pages do not offer: built with the page's own modules and its device key (non-extractable).
JS_SET_POLICY = """
async ([threadId, userId]) => {
  const engine = await import('/static/js/threads/engine.js');
  const E = await import('/static/js/e2e/events.js');
  const api = await import('/static/js/threads/api.js');
  const session = await engine.Session.open(userId);
  const view = session.thread(threadId);
  await view.load();
  const statement = await E.nextEvent(view.state, 'set_policy', {policy: {...view.state.policy, members_add_colleagues: true}},
    {actor: session.uid, deviceId: session.device.deviceId, deviceKey: session.device.sig, tsMs: Date.now()});
  await api.post(`/threads/${threadId}/events`, {seq: view.state.seq + 1, prev_hash: api.b64u(view.state.headHash),
    type: 'set_policy', device_id: session.deviceHex, event: api.b64u(statement.payload),
    signature: api.b64u(statement.signature)});
  return view.state.seq + 1;
}
"""


def _withhold_newest_event(world: World):  # type: ignore[no-untyped-def]
    """The server withholding the newest event of the log from whoever fetches it from now on (its
    row and the wraps of the epoch it opened deleted, the thread's head set back); returns what
    puts it back."""
    models = _models()

    def withhold() -> dict[str, Any]:
        events, wraps, thread = (models.ThreadEvent.__table__, models.EpochWrap.__table__,
                                 db.session.get(models.Thread, world.thread_id))
        newest, previous = db.session.execute(select(events).where(events.c.thread_id == world.thread_id)
                                              .order_by(events.c.seq.desc()).limit(2)).mappings().all()
        saved = {"event": dict(newest), "head": (thread.head_seq, thread.head_hash, thread.epoch), "wraps": []}
        if newest["epoch"] is not None:
            where = (wraps.c.thread_id == world.thread_id) & (wraps.c.epoch == newest["epoch"])
            saved["wraps"] = [dict(w) for w in db.session.execute(select(wraps).where(where)).mappings()]
            db.session.execute(wraps.delete().where(where))
            thread.epoch = newest["epoch"] - 1
        db.session.execute(events.delete().where(events.c.id == newest["id"]))
        thread.head_seq, thread.head_hash = previous["seq"], previous["event_hash"]
        return saved

    saved = _db(world, withhold)

    def restore() -> None:
        db.session.execute(models.ThreadEvent.__table__.insert().values(**saved["event"]))
        for wrap in saved["wraps"]:
            db.session.execute(models.EpochWrap.__table__.insert().values(**wrap))
        thread = db.session.get(models.Thread, world.thread_id)
        thread.head_seq, thread.head_hash, thread.epoch = saved["head"]

    return lambda: _db(world, restore)


def test_a_withheld_log_event_flags_the_messages_sent_after_it(world: World) -> None:
    nl, sn = world.nl, world.sn
    banner = sn.page.locator("#history-warning")
    notes = sn.page.locator("#messages .history-note")
    nl.page.evaluate(JS_SET_POLICY, [world.thread_id, nl.account.id])
    nl.page.reload()  # NL's view now has the new head: the next message names it
    _send(nl.page, "Sent after a policy change", "Participants only")

    # A reader whose page was loaded before: the sender is simply ahead, nothing is flagged.
    sn.page.get_by_role("button", name="Check for new messages").click()
    expect(_message(sn.page, "Sent after a policy change")).to_be_visible()
    expect(notes).to_have_count(0)
    expect(banner).to_be_hidden()

    # The server withholds that event from now on: the message stays readable (signed, and it
    # decrypts under SEN's log), with a warning; the others are not flagged.
    restore = _withhold_newest_event(world)
    sn.page.reload()
    flagged = _message(sn.page, "Sent after a policy change")
    expect(flagged.locator(".history-note")).to_have_text(
        "The sender saw a history of this thread that this browser was not given.")
    expect(flagged.locator(".badge.verified")).to_have_text("Signature verified")
    expect(notes).to_have_count(1)
    expect(_message(sn.page, "Bank statements of the company attached.").locator(".history-note")).to_have_count(0)
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Part of this thread's history may be withheld from you")
    expect(banner).to_contain_text("Compare the thread safety code (under Participants) with the sender")
    assert world.monitor.problems_on(sn.page) == []
    nl.page.reload()  # withheld from NL's browser too now: its own message is flagged there as well
    expect(nl.page.locator("#history-warning")).to_be_visible()
    assert_accessible(nl.page)
    restore()
    sn.page.get_by_role("button", name="Check for new messages").click()
    expect(banner).to_be_hidden()
    expect(notes).to_have_count(0)

    # A withheld epoch: the message cannot be decrypted, and the page says why (no content).
    nl.page.reload()
    nl.page.get_by_role("button", name="Renew the thread's key").click()
    expect(nl.page.locator("#threads-status")).to_have_text("The thread's key was renewed.")
    _send(nl.page, "Sent in an epoch that will be withheld", "Participants only")
    restore = _withhold_newest_event(world)
    sn.page.reload()
    hidden = sn.page.locator("#messages li.message.unknown-head")
    expect(hidden).to_have_text("The sender saw a history of this thread that this browser was not given. Noor de "
                                "Vries sent this message after changes to the thread that this browser was not "
                                "given; it cannot be decrypted here.")
    expect(banner).to_be_visible()
    expect(sn.page.locator("#messages")).not_to_contain_text("that will be withheld")
    restore()
    sn.page.get_by_role("button", name="Check for new messages").click()
    expect(_message(sn.page, "Sent in an epoch that will be withheld")).to_be_visible()
    expect(banner).to_be_hidden()
    assert world.monitor.problems_on(sn.page) == []


# -- (f) a changed identity key blocks sending until accepted ------------------------------------

def _identity(world: World, account: Account) -> bytes:
    def read() -> bytes:
        from cooperation.threads import services as s

        return s.current_identity(db.session, account.id).public_key

    return _db(world, read)


def _publish_identity(world: World, account: Account, public_key: bytes) -> None:
    def publish() -> None:
        from cooperation.accounts.models import User
        from cooperation.audit.service import Actor
        from cooperation.threads import services as s

        s.publish_identity(db.session, db.session.get(User, account.id), public_key, Actor.system("test"))

    _db(world, publish)


def test_changed_identity_key_blocks_sending_until_accepted(world: World) -> None:
    nl, sn = world.nl, world.sn
    original = _identity(world, sn.account)
    _publish_identity(world, sn.account, os.urandom(32))  # as if SN reset its keys, or an attacker
    nl.page.reload()
    warning = nl.page.locator("#key-warning")
    expect(warning).to_be_visible()
    expect(warning).to_have_attribute("role", "alert")
    expect(warning).to_contain_text("The identity key of Awa Diop (Senegal) has changed.")
    expect(warning.locator(".safety-code")).to_have_text(re.compile(r"^(\d{5} ){11}\d{5}$"))
    expect(nl.page.locator("#composer-blocked")).to_contain_text("Sending is blocked")
    expect(nl.page.get_by_role("button", name="Encrypt and send")).to_be_disabled()
    assert_accessible(nl.page)

    # NL compares the safety numbers (out of band) and accepts; then the real key comes back,
    # which is a change again, accepted again.
    warning.get_by_role("button", name=re.compile("^I have compared the safety numbers with Awa Diop")).click()
    expect(warning).to_be_hidden()
    expect(nl.page.get_by_role("button", name="Encrypt and send")).to_be_enabled()
    _publish_identity(world, sn.account, original)
    nl.page.reload()
    expect(warning).to_be_visible()
    warning.get_by_role("button", name=re.compile("^I have compared the safety numbers with Awa Diop")).click()
    expect(warning).to_be_hidden()
    expect(_message(nl.page, "Bank statements of the company attached.")).to_be_visible()


# -- (c) recovery on a fresh browser ---------------------------------------------------------------

def test_recovery_key_restores_access_on_a_new_browser(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    fresh = _person(browser, world.server, world.accounts, world.sn.account)
    world.extra.setdefault("people", []).append(fresh)
    world.extra["sn_laptop"] = fresh
    page = fresh.page
    page.goto("/threads/keys")
    expect(page.locator("#key-status")).to_contain_text("this browser does not have them")
    form = page.locator("#recover-form")
    # A mistyped key (wrong length), then a well-formed key that is not SN's: clean errors.
    form.get_by_label("Recovery Key").fill("ABCD EFGH")
    form.get_by_role("button", name="Restore my keys on this browser").click()
    expect(page.locator("#threads-error")).to_have_text(re.compile("^This is not a valid Recovery Key"))
    form.get_by_label("Recovery Key").fill(world.nl.recovery_key)
    form.get_by_role("button", name="Restore my keys on this browser").click()
    expect(page.locator("#threads-error")).to_have_text(
        "This Recovery Key does not open your key backup. Check that it is yours and try again.")
    expect(page.locator("#key-status")).to_contain_text("this browser does not have them")
    # The right key, typed in lower case without spaces.
    form.get_by_label("Recovery Key").fill(world.sn.recovery_key.replace(" ", "").lower())
    form.get_by_label("Name of this browser").fill("Laptop")
    form.get_by_role("button", name="Restore my keys on this browser").click()
    expect(page.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    expect(page.locator("#threads-error")).to_be_empty()
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(3)  # two browsers now
    # The mail notification choice (digest by default).
    expect(page.get_by_label("One daily summary mail")).to_be_checked()
    page.get_by_label("No mail").check()
    page.get_by_role("button", name="Save the notification choice").click()
    expect(page.locator("#threads-status")).to_have_text("Saved.")

    def mode() -> str:
        from cooperation.accounts.models import User
        from cooperation.threads import services as s

        return s.notification_mode(db.session, db.session.get(User, world.sn.account.id))

    assert _db(world, mode) == "off"

    page.goto(f"/threads/{world.thread_id}")
    message = _message(page, "Bank statements of the company attached.")
    expect(message.locator(".message-text")).to_have_text(TEXT)
    expect(message.locator(".badge.verified")).to_be_visible()


# -- (d) removal: the removed State's keys open nothing sent afterwards ---------------------------

# In SN's (first) browser: its own keys, as stored there, against the new epoch's wraps and the
# message sent after the removal. Returns what opened (nothing may).
TRY_WITH_SN_KEYS = """
async ({threadId, envelope, newWraps, oldWraps, senderSigPub}) => {
  const B = await import('/static/js/e2e/bytes.js'), K = await import('/static/js/e2e/keys.js');
  const T = await import('/static/js/e2e/tek1.js');
  const { Session } = await import('/static/js/threads/engine.js');
  const ctx = document.getElementById('threads-context').dataset;
  const session = await Session.open(ctx.userId);
  const tid = B.unhex(threadId, 16), opened = [], tried = [];
  const puks = [];
  for (const p of session.secrets.puks) puks.push(await session.puk(p.gen));
  // 1. Every wrap of the new epoch, with every PUK generation SN holds.
  for (const w of newWraps) for (const puk of puks) {
    tried.push(`wrap ${w.user_id}/${puk.gen}`);
    try { await K.unwrapEpochKey(puk, {threadId: tid, epoch: w.epoch, blob: B.unb64(w.wrap)}); opened.push('wrap'); } catch {}
  }
  // 2. The message, with every epoch key SN could read before the removal.
  const env = B.unb64(envelope);
  for (const w of oldWraps) {
    const puk = puks.find((p) => p.gen === w.generation);
    const key = await K.unwrapEpochKey(puk, {threadId: tid, epoch: w.epoch, blob: B.unb64(w.wrap)});
    tried.push(`message with epoch ${w.epoch}`);
    try { await T.open(env, {senderSigPub: B.unb64(senderSigPub), epochKey: key}); opened.push('message'); } catch {}
  }
  return {opened, tried, puks: puks.map((p) => p.gen)};
}
"""


def test_removed_state_cannot_read_later_messages(world: World) -> None:
    nl, sn = world.nl, world.sn
    page = nl.page
    page.reload()
    remove = page.get_by_role("button", name="Remove Senegal from the thread")
    remove.click()
    page.get_by_role("button", name="Confirm: remove").click()
    expect(page.locator("#threads-status")).to_have_text("Removed. A new key was made for the remaining participants.")
    expect(page.locator("#participants")).not_to_contain_text("Awa Diop")
    _send(page, "After the removal of Senegal", "Participants only")

    # The server stops SN at once (404)...
    status = sn.page.evaluate("async (id) => (await fetch(`/api/v1/threads/${id}/messages`)).status", world.thread_id)
    assert status == 404
    # ...and SN's keys open nothing sent after the removal (the envelope taken from the database).
    models = _models()

    def material() -> dict[str, Any]:
        thread = db.session.get(models.Thread, world.thread_id)
        last = db.session.scalars(select(models.Message).where(models.Message.thread_id == thread.id)
                                  .order_by(models.Message.id.desc())).first()
        wraps = db.session.scalars(select(models.EpochWrap).where(models.EpochWrap.thread_id == thread.id)).all()
        device = db.session.scalar(select(models.Device).where(models.Device.device_id == last.device_id))
        sn_id = world.sn.account.id
        return {
            "threadId": thread.id, "envelope": base64.b64encode(last.envelope).decode(),
            "senderSigPub": base64.b64encode(device.sig_public).decode(), "epoch": last.epoch,
            "newWraps": [{"user_id": w.user_id, "epoch": w.epoch, "wrap": base64.b64encode(w.wrap).decode()}
                         for w in wraps if w.epoch == last.epoch],
            "oldWraps": [{"epoch": w.epoch, "generation": w.generation, "wrap": base64.b64encode(w.wrap).decode()}
                         for w in wraps if w.user_id == sn_id],
        }

    data = _db(world, material)
    assert data["newWraps"] and all(w["user_id"] != world.sn.account.id for w in data["newWraps"])
    assert data["oldWraps"] and max(w["epoch"] for w in data["oldWraps"]) < data["epoch"]
    result = sn.page.evaluate(TRY_WITH_SN_KEYS, data)
    assert result["opened"] == [], result
    assert len(result["tried"]) >= len(data["newWraps"]) + len(data["oldWraps"]) and result["puks"], result
    # NL, still a member, reads it.
    expect(_message(page, "After the removal of Senegal").locator(".badge.verified")).to_be_visible()

    # (e) SN is no longer a member: the thread page is 404 for it, as for any non-member.
    response = sn.page.goto(f"/threads/{world.thread_id}")
    assert response is not None and response.status == 404


def test_non_member_gets_404(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    colleague = world.accounts.create("NLD", Role.STATE_MEMBER, "member@nl.example.org", full_name="Jan Bakker")
    person = _person(browser, world.server, world.accounts, colleague)
    world.extra.setdefault("people", []).append(person)
    world.extra["jan"] = person
    response = person.page.goto(f"/threads/{world.thread_id}")
    assert response is not None and response.status == 404
    assert person.page.evaluate("async (id) => (await fetch(`/api/v1/threads/${id}`)).status", world.thread_id) == 404
    expect(person.page.get_by_role("heading", level=1)).not_to_have_text(TITLE)


# -- additions: a colleague and a State (back), who read the history through the links ------------

def test_added_colleague_and_state_read_the_history(world: World) -> None:
    jan, nl, sn = world.extra["jan"], world.nl, world.sn
    _enrol(jan.page)
    page = nl.page
    page.reload()
    add_user = page.locator("#add-user-form")
    add_user.get_by_label("Add a person").select_option(label="Jan Bakker (NLD)")
    add_user.get_by_role("button", name="Add this person").click()
    expect(page.locator("#threads-status")).to_have_text("Added. A new key was made for all participants.")
    expect(page.locator("#participants")).to_contain_text("Jan Bakker")
    add_state = page.locator("#add-state-form")
    add_state.get_by_label("Add a State or organisation").select_option(value="SEN")
    add_state.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#participants")).to_contain_text("Awa Diop")
    expect(page.locator("#participants")).to_contain_text("Senegal (SEN)")

    # The thread shares its history: both follow the links back to epoch 1.
    for reader in (jan.page, sn.page):
        reader.goto(f"/threads/{world.thread_id}")
        expect(_message(reader, "Bank statements of the company attached.").locator(".message-text")).to_have_text(TEXT)
        expect(_message(reader, "After the removal of Senegal").locator(".badge.verified")).to_be_visible()
    # The safety code is the same for everyone.
    code = page.locator("#thread-safety-code")
    page.get_by_role("button", name="Check for new messages").click()
    expect(code).to_have_text(jan.page.locator("#thread-safety-code").inner_text())
    expect(code).to_have_text(sn.page.locator("#thread-safety-code").inner_text())
    assert world.monitor.problems_on(sn.page) == []


# -- a revoked device: the user's keys move on, the thread is rotated before the next message -----

def test_revoked_device_is_cut_off_and_the_thread_rotates(world: World) -> None:
    laptop, old_browser, nl = world.extra["sn_laptop"], world.sn, world.nl
    page = laptop.page
    page.goto("/threads/keys")
    table = page.get_by_role("table")
    expect(table.get_by_role("row", name=re.compile("Laptop"))).to_contain_text("this browser")
    revoke = table.get_by_role("button", name="Revoke My browser")
    revoke.click()
    table.get_by_role("button", name="Confirm: revoke My browser").click()
    expect(page.locator("#threads-status")).to_have_text(
        "The device is revoked; your keys were renewed for your other devices.")
    expect(table.get_by_role("row", name=re.compile("My browser"))).to_contain_text("revoked")

    # The revoked browser is told, and forgets its keys.
    old_browser.page.goto("/threads/keys")
    expect(old_browser.page.locator("#key-status")).to_contain_text("This browser was removed from your devices.")
    assert world.monitor.problems_on(old_browser.page) == []

    # NL's next message first opens a new epoch wrapped to SN's new key generation.
    models = _models()
    before = _db(world, lambda: db.session.get(models.Thread, world.thread_id).epoch)
    nl.page.reload()
    _send(nl.page, "After the revocation", "Participants only")

    def latest_wrap() -> tuple[int, int]:
        thread = db.session.get(models.Thread, world.thread_id)
        wrap = db.session.scalar(select(models.EpochWrap).where(models.EpochWrap.thread_id == thread.id,
                                                                models.EpochWrap.epoch == thread.epoch,
                                                                models.EpochWrap.user_id == world.sn.account.id))
        return thread.epoch, wrap.generation

    epoch, generation = _db(world, latest_wrap)
    assert epoch == before + 1 and generation == 3  # 1: first browser, 2: recovery, 3: revocation
    page.goto(f"/threads/{world.thread_id}")
    expect(_message(page, "After the revocation").locator(".badge.verified")).to_be_visible()
