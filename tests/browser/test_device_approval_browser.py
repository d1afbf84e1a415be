"""A new browser approved from an existing one, in real Chromium contexts (PROTOCOL.md §8a):
Noor sets up encryption in browser A and writes in a thread; browser B (a fresh profile, Noor
signed in) asks for approval and shows a verification code; A lists the request with the same
code (the one the Python twin derives from what the server holds), Noor approves; B checks the
approval, certifies itself, reads the earlier message and writes one that A verifies. A second
fresh browser's request is refused: it gets no keys, and the Recovery Key still restores them
(approving made no key generation the recovery blob would lack).

Then B, which never saw the Recovery Key, revokes A: it publishes the next key generation and
re-seals the recovery blob to the recovery public key it received in the account secrets
(PROTOCOL.md §8), so the Recovery Key restores a fresh browser that reads what B wrote after the
revocation. A browser whose keys lack that public key (an older enrolment) offers to take the
Recovery Key once and brings the backup up to date.

A's pages (with the request listed) and the second browser's waiting page are checked with
axe-core; B runs under the enforced CSP with the CSP monitor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from cooperation.extensions import db
from cooperation.permissions import Role
from tests.browser.checks import PageMonitor, assert_accessible
from tests.browser.conftest import TIMEOUT_MS, Account, Accounts, LiveServer
from tests.browser.pages import Navigator
from tests.conftest import _clean

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CODE = re.compile(r"^(\d{5} ){5}\d{5}$")
RK_FORMAT = re.compile(r"^([A-Z2-7]{4} ){12}[A-Z2-7]{4}$")
EARLIER = "Written in browser A before the new browser existed"
LATER = "Written on the approved browser"


@dataclass
class World:
    server: LiveServer
    accounts: Accounts
    noor: Account
    a: Page
    b: Page
    monitor: PageMonitor
    contexts: list[BrowserContext] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _context(browser: Any, server: LiveServer, **options: Any) -> BrowserContext:
    context = browser.new_context(base_url=server.url, locale="en-GB", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture(scope="module")
def world(browser, live_server: LiveServer) -> Iterator[World]:  # type: ignore[no-untyped-def]
    _clean(live_server.app)
    accounts = Accounts(live_server.app, live_server.url)
    noor = accounts.create("NLD", Role.STATE_FOCAL_POINT, "focal@nl.example.org", full_name="Noor de Vries")
    a_context = _context(browser, live_server, bypass_csp=True)  # axe-core needs the bypass
    b_context = _context(browser, live_server)  # the real CSP, monitored
    monitor = PageMonitor(origin=live_server.url).attach(b_context)
    pages = []
    for context in (a_context, b_context):
        page = context.new_page()
        Navigator(page).sign_in(noor.email, noor.password, accounts.totp_code(noor))
        pages.append(page)
    made = World(live_server, accounts, noor, pages[0], pages[1], monitor, [a_context, b_context])
    yield made
    for context in made.contexts:
        context.close()


def _db(world: World, work):  # type: ignore[no-untyped-def]
    return world.accounts.run(work)


def _enrol(page: Page) -> str:
    page.goto("/threads/keys")
    expect(page.locator("#key-status")).to_contain_text("not set up for your account")
    page.get_by_role("button", name="Set up encryption on this browser").click()
    key_box = page.locator("#recovery-key")
    expect(key_box).to_have_text(RK_FORMAT)
    recovery_key = key_box.inner_text()
    page.get_by_label("I have stored my Recovery Key in a safe place").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    return recovery_key


def _message(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.locator("#messages li.message", has_text=text)


def _send(page: Page, text: str) -> None:
    composer = page.locator("#composer")
    composer.get_by_label("Message").fill(text)
    composer.get_by_label("Handling code").select_option(label="Participants only")
    composer.get_by_role("button", name="Encrypt and send").click()
    expect(_message(page, text)).to_be_visible()


def _ask(page: Page, label: str) -> str:
    """On a browser without keys: ask for approval; returns the code it shows."""
    page.goto("/threads/keys")
    expect(page.locator("#key-status")).to_contain_text("this browser does not have them")
    form = page.locator("#approval-form")
    form.get_by_label("Name of this browser").fill(label)
    form.get_by_role("button", name="Ask my other browser for approval").click()
    waiting = page.locator("#approval-waiting")
    expect(waiting.get_by_role("heading", name="Waiting for approval from your other browser")).to_be_focused()
    expect(page.locator("#approval-code")).to_have_text(CODE)
    expect(page.locator("#approval-progress")).to_have_attribute("role", "status")
    expect(page.locator("#approval-form")).to_be_hidden()
    return page.locator("#approval-code").inner_text()


def _request_item(page: Page, label: str):  # type: ignore[no-untyped-def]
    return page.locator("#approval-rows li.approval-request", has_text=f"“{label}” asks for your keys")


def _server_code(world: World, label: str) -> str:
    """The code from what the server holds, by the Python twin (and the user's real UIK)."""
    from cooperation.threads import services as s
    from cooperation.threads.envelope import user_ref
    from cooperation.threads.models import DeviceApproval
    from cooperation_client.protocol import approval, fingerprints

    def compute() -> str:
        row = db.session.scalar(select(DeviceApproval).where(DeviceApproval.label == label))
        uik = s.current_identity(db.session, world.noor.id).public_key
        return fingerprints.group(approval.approval_code(user_ref(world.noor.id), bytes.fromhex(row.request_id), uik,
                                                         row.dh_public, row.sig_public))

    return str(_db(world, compute))


def test_a_new_browser_is_approved_and_reads_the_history(world: World) -> None:
    a, b = world.a, world.b
    world.extra["recovery_key"] = _enrol(a)
    # A thread with a message, before the new browser exists.
    a.goto("/threads/new")
    a.get_by_label("Title").fill("Approval of a new browser")
    a.get_by_label("Topic").select_option(label="Tracing")
    a.get_by_role("button", name="Create the encrypted thread").click()
    a.wait_for_url(re.compile(r"/threads/[0-9a-f]{32}$"))
    thread_url = world.extra["thread_url"] = a.url
    _send(a, EARLIER)

    # B asks; its code is the one the server's data gives with Noor's identity key.
    code = _ask(b, "Home laptop")
    assert code == _server_code(world, "Home laptop")
    assert world.monitor.problems_on(b) == []

    # A lists the request with the same code; approving needs the explicit confirmation.
    a.goto("/threads/keys")
    item = _request_item(a, "Home laptop")
    expect(item.locator(".approval-code")).to_have_text(code)
    expect(a.locator("#approvals-section .notice")).to_contain_text("access to all your secure threads")
    approve = item.get_by_role("button", name="Approve Home laptop")
    expect(approve).to_be_disabled()
    assert_accessible(a)
    # With the keyboard: tick the confirmation, Tab to Approve, Enter.
    item.get_by_label("I am setting up this browser myself, and it shows exactly this code").focus()
    a.keyboard.press("Space")
    expect(approve).to_be_enabled()
    a.keyboard.press("Tab")
    expect(approve).to_be_focused()
    a.keyboard.press("Enter")
    expect(a.locator("#threads-status")).to_have_text("Approved. The new browser now finishes setting itself up.")
    expect(item).to_contain_text("Approved: waiting for the new browser to finish.")

    # B notices within a few seconds, verifies, certifies itself: set up, two devices.
    expect(b.locator("#key-status")).to_have_text(
        "Your other browser approved this one: encryption is set up on this browser.")
    expect(b.locator("#key-status")).to_be_focused()
    expect(b.get_by_role("table").get_by_role("row")).to_have_count(3)  # header + two browsers
    expect(b.get_by_role("table").get_by_role("row", name=re.compile("Home laptop"))).to_contain_text("this browser")
    expect(b.locator("#approvals-section")).to_be_visible()

    # The request and the sealed secrets are gone; no key generation was added; audited.
    from cooperation.audit.models import AuditEvent
    from cooperation.threads.models import DeviceApproval, KeyGeneration

    def state() -> dict[str, Any]:
        return {"requests": db.session.scalar(select(func.count()).select_from(DeviceApproval)),
                "generations": db.session.scalar(select(func.count()).select_from(KeyGeneration)
                                                 .where(KeyGeneration.user_id == world.noor.id)),
                "audit": sorted(db.session.scalars(select(AuditEvent.action)
                                                   .where(AuditEvent.action.like("keys.device_appro%"))))}

    assert _db(world, state) == {"requests": 0, "generations": 1, "audit": [
        "keys.device_approval_completed", "keys.device_approval_requested", "keys.device_approved"]}

    # B reads the earlier message and writes; A verifies B's message.
    b.goto(thread_url)
    earlier = _message(b, EARLIER)
    expect(earlier.locator(".badge.verified")).to_be_visible()
    _send(b, LATER)
    expect(b.locator("#threads-status")).to_have_text("The message was sent.")
    a.goto(thread_url)
    expect(_message(a, LATER).locator(".badge.verified")).to_be_visible()
    expect(_message(a, LATER).locator(".message-text")).to_have_text(LATER)
    assert world.monitor.problems_on(b) == []


def test_a_refused_browser_gets_no_keys(world: World, browser) -> None:  # type: ignore[no-untyped-def]
    a = world.a
    a.goto("/threads/keys")
    expect(a.locator("#approvals-empty")).to_have_text("No browser is waiting for approval.")
    # Another fresh profile, signed in as Noor (the session of B, without B's keys).
    c_context = _context(browser, world.server, bypass_csp=True,
                         storage_state={"cookies": world.b.context.cookies(), "origins": []})
    world.contexts.append(c_context)
    c = c_context.new_page()
    code = _ask(c, "Borrowed computer")
    assert_accessible(c)

    # A, still on its Keys page, sees the request arrive by itself, with the same code.
    item = _request_item(a, "Borrowed computer")
    expect(item.locator(".approval-code")).to_have_text(code)
    expect(a.locator("#approvals-empty")).to_be_hidden()
    item.get_by_role("button", name="Refuse Borrowed computer").click()
    expect(a.locator("#threads-status")).to_have_text("Refused. That browser gets none of your keys.")
    expect(item).to_have_count(0)
    expect(a.locator("#approvals-h")).to_be_focused()

    # C learns it, has no keys, and may ask again or use the Recovery Key.
    expect(c.locator("#key-status")).to_contain_text("The request was refused, cancelled or has expired")
    expect(c.locator("#key-status")).to_contain_text("this browser does not have them")
    expect(c.locator("#approval-form")).to_be_visible()
    expect(c.locator("#approval-waiting")).to_be_hidden()
    has_keys = c.evaluate("""async (uid) => {
      const store = await import('/static/js/threads/keystore.js');
      return {device: Boolean(await store.loadDevice(uid)), secrets: Boolean(await store.loadSecrets(uid)),
              pending: Boolean(await store.loadPending(uid))};
    }""", world.noor.id)
    assert has_keys == {"device": False, "secrets": False, "pending": False}
    c.goto("/threads")
    expect(c.locator("#keys-needed")).to_be_visible()

    # The Recovery Key still restores everything: the recovery blob is as complete as before.
    c.goto("/threads/keys")
    form = c.locator("#recover-form")
    form.get_by_label("Recovery Key").fill(world.extra["recovery_key"])
    form.get_by_label("Name of this browser").fill("Borrowed computer")
    form.get_by_role("button", name="Restore my keys on this browser").click()
    expect(c.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    expect(c.locator("#threads-error")).to_be_empty()


AFTER_REVOCATION = "Written on the approved browser after it revoked the first one"


def _recovery_state(world: World) -> dict[str, Any]:
    from cooperation.threads.models import KeyGeneration, RecoveryBlob

    def read() -> dict[str, Any]:
        blob = db.session.scalars(select(RecoveryBlob).where(RecoveryBlob.user_id == world.noor.id,
                                                             RecoveryBlob.kind == "rk")
                                  .order_by(RecoveryBlob.version.desc())).first()
        newest = db.session.scalar(select(func.max(KeyGeneration.generation))
                                   .where(KeyGeneration.user_id == world.noor.id))
        return {"format": blob.blob[0], "version": blob.version, "generation": newest}

    return dict(_db(world, read))


def _restore(page: Page, recovery_key: str, label: str) -> None:
    page.goto("/threads/keys")
    form = page.locator("#recover-form")
    form.get_by_label("Recovery Key").fill(recovery_key)
    form.get_by_label("Name of this browser").fill(label)
    form.get_by_role("button", name="Restore my keys on this browser").click()
    expect(page.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    expect(page.locator("#threads-error")).to_be_empty()


def test_the_approved_browser_revokes_the_first_and_the_recovery_key_still_restores(
        world: World, browser) -> None:  # type: ignore[no-untyped-def]
    b = world.b
    before = _recovery_state(world)
    assert before["format"] == 2  # enrolment and recovery seal to the recovery public key

    # B (approved, never shown the Recovery Key) revokes A, the browser that enrolled.
    b.goto("/threads/keys")
    table = b.get_by_role("table")
    table.get_by_role("button", name="Revoke My browser").click()
    table.get_by_role("button", name="Confirm: revoke My browser").click()
    expect(b.locator("#threads-status")).to_have_text(
        "The device is revoked; your keys were renewed for your other devices.")
    expect(table.get_by_role("row", name=re.compile("My browser"))).to_contain_text("revoked")
    expect(b.locator("#backup-update")).to_be_hidden()
    # A new generation, and the blob re-sealed with it by B.
    after = _recovery_state(world)
    assert after == {"format": 2, "version": before["version"] + 1, "generation": before["generation"] + 1}

    # B writes after the revocation (the thread moves to a new epoch first).
    b.goto(world.extra["thread_url"])
    _send(b, AFTER_REVOCATION)
    assert world.monitor.problems_on(b) == []

    # The Recovery Key restores a fresh browser, which reads what B wrote after the revocation.
    d_context = _context(browser, world.server, storage_state={"cookies": b.context.cookies(), "origins": []})
    world.contexts.append(d_context)
    d = d_context.new_page()
    _restore(d, world.extra["recovery_key"], "Replacement laptop")
    assert _recovery_state(world) == {"format": 2, "version": after["version"] + 1,
                                      "generation": after["generation"] + 1}
    d.goto(world.extra["thread_url"])
    later = _message(d, AFTER_REVOCATION)
    expect(later.locator(".badge.verified")).to_be_visible()
    expect(later.locator(".message-text")).to_have_text(AFTER_REVOCATION)
    expect(_message(d, EARLIER).locator(".message-text")).to_have_text(EARLIER)
    world.extra["d"] = d


def test_a_browser_without_the_recovery_public_key_takes_the_recovery_key_once(world: World) -> None:
    """As a browser approved by one enrolled before the recovery blob's format 2: its keys lack
    the recovery public key, so the page asks for the Recovery Key once, then re-seals."""
    d = world.extra["d"]
    d.goto("/threads/keys")
    expect(d.locator("#key-status")).to_have_text("Encryption is set up on this browser.")
    d.evaluate("""async (uid) => {
      const store = await import('/static/js/threads/keystore.js');
      const secrets = await store.loadSecrets(uid);
      delete secrets.recovery;
      await store.saveSecrets(uid, secrets);
    }""", world.noor.id)
    d.reload()
    section = d.locator("#backup-update")
    expect(section.get_by_role("heading", name="Keep your Recovery Key backup up to date")).to_be_visible()
    before = _recovery_state(world)
    form = d.locator("#backup-form")
    form.get_by_label("Recovery Key").fill("AAAA " * 12 + "AAAA")  # well-formed, but not Noor's
    form.get_by_role("button", name="Update my Recovery Key backup").click()
    expect(d.locator("#threads-error")).to_contain_text("does not open your key backup")
    assert _recovery_state(world) == before
    form.get_by_label("Recovery Key").fill(world.extra["recovery_key"].lower())
    form.get_by_role("button", name="Update my Recovery Key backup").click()
    expect(d.locator("#threads-status")).to_have_text(
        "Your Recovery Key backup is up to date, and this browser now keeps it so.")
    expect(section).to_be_hidden()
    assert _recovery_state(world) == {**before, "version": before["version"] + 1}
    kept = d.evaluate("""async (uid) => {
      const store = await import('/static/js/threads/keystore.js');
      return Boolean((await store.loadSecrets(uid)).recovery);
    }""", world.noor.id)
    assert kept is True
