"""In a real browser: a published explainer whose Markdown carries real XSS payloads runs no
script (no dialog, no console output from a payload, no marker set on window), and the page
holds no executable element or attribute. The search results page (highlighted snippets) too.
The negative control proves the trap would fire if a payload ever got through."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Accounts
from tests.browser.tours import Navigator

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Each payload, if executed, would call alert() and set window.__xss.
PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    "<img src=x onerror=\"window.__xss=2;alert(2)\">",
    "<svg onload=\"window.__xss=3;alert(3)\">",
    "<svg><script>window.__xss=4</script></svg>",
    "<iframe srcdoc=\"<script>parent.__xss=5</script>\"></iframe>",
    "<details open ontoggle=\"window.__xss=6\">x</details>",
    "<a href=\"javascript:window.__xss=7\">raw link</a>",
    "[markdown link](javascript:window.__xss=8)",
    "[entity link](jav&#x09;ascript:window.__xss=9)",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxMCk8L3NjcmlwdD4=)",
    "![image](x \"onerror=window.__xss=11\")",
    "&#60;script&#62;window.__xss=12&#60;/script&#62;",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss=13\"></style></mglyph></table></mtext></math>",
    "<input autofocus onfocus=\"window.__xss=14\">",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=15>\"></noscript>",
    "| cell |\n|---|\n| <img src=x onerror=window.__xss=16> |",
]
MARKDOWN = "\n\n".join(f"Payload {i}: {p}" for i, p in enumerate(PAYLOADS, start=1)) + "\n\nxsscanary end."

EXECUTABLE = """() => {
  const root = document.querySelector('main');
  const bad = [];
  for (const el of root.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'img', 'svg', 'math', 'object', 'embed', 'input', 'style', 'details'].includes(tag)
        && !el.closest('form')) bad.push(tag);
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) bad.push(`${tag}[${attr.name}]`);
      if (['href', 'src', 'action', 'formaction'].includes(attr.name)
          && /^\\s*(javascript|data|vbscript):/i.test(attr.value)) bad.push(`${tag}[${attr.name}=${attr.value}]`);
    }
  }
  return bad;
}"""


def _publish(accounts: Accounts, slug: str, holding: str) -> None:
    def work() -> None:
        from cooperation.audit.service import Actor
        from cooperation.caselaw.seed import publish_imported
        from cooperation.caselaw.services import Content
        from cooperation.caselaw.taxonomy import ItemKind, Language
        from cooperation.extensions import db

        publish_imported(db.session, kind=ItemKind.EXPLAINER, language=Language.EN, slug=slug,
                         content=Content(title="XSS canary explainer", chamber="appeals",
                                         decision_date=date(2016, 2, 15), holding=holding,
                                         practice=holding, body=holding),
                         actor=Actor.system("test"))

    accounts.run(work)


def _watch(page: Page) -> tuple[list[str], list[str]]:
    dialogs: list[str] = []
    console: list[str] = []

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda msg: console.append(msg.text))
    return dialogs, console


def _sign_in(page: Page, accounts: Accounts) -> None:
    reader = accounts.for_role("member_nl")
    Navigator(page).sign_in(reader.email, reader.password, accounts.totp_code(reader))


def test_published_payloads_do_not_execute(page: Page, accounts: Accounts):
    _publish(accounts, "xss-canary", MARKDOWN)
    dialogs, console = _watch(page)
    _sign_in(page, accounts)
    for path in ("/caselaw/xss-canary", "/caselaw?q=xsscanary", "/caselaw?q=payload"):
        response = page.goto(path)
        assert response is not None and response.ok, path
        page.wait_for_load_state("load")
        # Give any deferred handler (onerror of a failed image, ontoggle) a chance to fire.
        page.wait_for_timeout(300)
        assert page.evaluate("() => window.__xss") is None, path
        assert page.evaluate(EXECUTABLE) == [], path
    # Every payload reached the page as visible text, not as markup.
    page.goto("/caselaw/xss-canary")
    assert "<script>window.__xss=1;alert(1)</script>" in page.inner_text("main")
    assert dialogs == []
    assert not [c for c in console if "__xss" in c or "alert" in c], console
    # The only links left in the text point nowhere dangerous.
    hrefs = page.eval_on_selector_all(".caselaw-text a", "els => els.map(e => e.getAttribute('href'))")
    assert all(h is None or h.startswith(("http://", "https://", "mailto:", "/")) for h in hrefs), hrefs


def test_the_trap_fires_when_a_payload_gets_through(page: Page, accounts: Accounts, live_server):
    """Negative control: the same checks catch a payload injected into the response."""
    _publish(accounts, "xss-control", "harmless")
    dialogs, _ = _watch(page)
    _sign_in(page, accounts)

    def inject(route) -> None:  # type: ignore[no-untyped-def]
        response = route.fetch()
        body = response.text().replace("harmless", '<img src=x onerror="window.__xss=99">')
        route.fulfill(response=response, body=body)

    page.route(live_server.url + "/caselaw/xss-control", inject)
    page.goto("/caselaw/xss-control")
    page.wait_for_timeout(300)
    # The CSP blocks the inline handler, but the DOM check still sees the element and attribute.
    assert "img[onerror]" in page.evaluate(EXECUTABLE)
    assert dialogs == []


def test_caselaw_pages_are_accessible_and_respect_the_csp(new_context, accounts: Accounts, live_server):
    """Every screen of the section (readers' and editors'), with demo content: WCAG 2.1 AA by
    axe-core, and no CSP violation or script error in an ordinary (policy-enforcing) context."""
    from tests.browser.checks import PageMonitor, assert_accessible

    def seed_demo() -> int:
        from cooperation.caselaw import seed
        from cooperation.caselaw.models import CaselawItem
        from cooperation.extensions import db

        seed.run(db.session)
        db.session.flush()
        return db.session.scalar(db.select(CaselawItem.id).where(
            CaselawItem.slug == "freezing-no-link-between-crime-and-assets"))

    item_id = accounts.run(seed_demo)
    editor = accounts.for_role("editor")
    paths = ["/caselaw", "/caselaw?q=freezing", "/caselaw/freezing-no-link-between-crime-and-assets",
             "/caselaw/gel-des-avoirs-aucun-lien-requis", "/guidance/executing-a-freezing-request",
             "/caselaw/articles", "/caselaw/chambers", "/caselaw/years", "/caselaw/feed-token",
             "/editor/caselaw", "/editor/caselaw/new?kind=explainer", "/editor/caselaw/new?kind=guidance",
             f"/editor/caselaw/{item_id}", f"/editor/caselaw/{item_id}/edit", f"/editor/caselaw/{item_id}/history"]
    axe_page = new_context(bypass_csp=True).new_page()
    Navigator(axe_page).sign_in(editor.email, editor.password, accounts.totp_code(editor))
    for path in paths:
        response = axe_page.goto(path)
        assert response is not None and response.ok, path
        assert_accessible(axe_page)
    context = new_context()
    monitor = PageMonitor(origin=live_server.url).attach(context)
    csp_page = context.new_page()
    Navigator(csp_page).sign_in(editor.email, editor.password, accounts.totp_code(editor))
    problems = []
    for path in paths:
        csp_page.goto(path)
        problems += [f"{path}: {p}" for p in monitor.problems_on(csp_page)]
        monitor.reset()
    assert problems == []
