"""Page checks shared by the browser tests: axe-core (WCAG 2 A/AA) and the CSP monitor.

axe-core is vendored (tests/browser/vendor/axe.min.js, from deploy/dev/vendor-js.sh) so the
tests need neither Node nor the network. Injecting it is exactly what the application's CSP
(script-src 'self') forbids, so the accessibility checks run in a browser context opened with
`bypass_csp=True`; the CSP checks run in ordinary contexts, where the policy is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Response

VENDOR = Path(__file__).resolve().parent / "vendor"
AXE_JS = VENDOR / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what EN 301 549 (public-sector procurement) requires.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


# -- accessibility --------------------------------------------------------------------------

class AccessibilityViolations(AssertionError):
    pass


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; the page's context must bypass CSP."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        raise AssertionError("axe-core could not be injected: open the context with "
                             "bypass_csp=True")
    options = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
    results = page.evaluate("options => axe.run(document, options)", options)
    return list(results["violations"])


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{len(violations)} accessibility violation(s) on {url}:"]
    for v in violations:
        lines.append(f"- [{v.get('impact') or 'n/a'}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            target = " ".join(str(t) for t in node.get("target", []))
            summary = " ".join(str(node.get("failureSummary") or "").split())
            html = str(node.get("html", ""))[:200]
            lines.append(f"    at {target}\n      {html}\n      {summary[:300]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more element(s)")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    if violations:
        raise AccessibilityViolations(format_violations(page.url, violations))


# -- content security policy ------------------------------------------------------------------

# Runs before any page script, outside the page's CSP (an init script is not a page script).
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} `
    + `at ${e.sourceFile || e.documentURI}:${e.lineNumber} ${e.sample || ''}`.trim());
});
"""


@dataclass
class PageMonitor:
    """Collects, for every page a context opens, CSP violations (console and DOM event) and
    uncaught script errors."""

    origin: str
    console_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    documents_without_csp: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> PageMonitor:
        context.add_init_script(_RECORD_VIOLATIONS)
        context.on("page", self._watch)
        context.on("response", self._on_response)
        for page in context.pages:
            self._watch(page)
        return self

    def _watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console_violations.append(f"{message.type}: {message.text} @ {message.location}")

    def _on_response(self, response: Response) -> None:
        # Every page of the application, error pages included, carries the policy.
        if (response.request.resource_type == "document" and response.url.startswith(self.origin)
                and not 300 <= response.status < 400
                and "content-security-policy" not in response.headers):
            self.documents_without_csp.append(f"{response.status} {response.url}")

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}")

    def problems_on(self, page: Page) -> list[str]:
        """Everything wrong with the page as loaded: reported violations, script errors, and
        inline code that only the policy stopped (there must be none to stop)."""
        found = [f"console: {m}" for m in self.console_violations]
        reported = page.evaluate("() => window.__cspViolations || []")
        found += [f"securitypolicyviolation: {v}" for v in reported]
        found += [f"pageerror: {e}" for e in self.page_errors]
        inline_scripts = page.evaluate(
            "() => document.querySelectorAll('script:not([src])').length")
        if inline_scripts:
            found.append(f"{inline_scripts} inline <script> element(s)")
        inline_styles = page.evaluate("() => document.querySelectorAll('style, [style]').length")
        if inline_styles:
            found.append(f"{inline_styles} <style> element(s) or style= attribute(s)")
        handlers = page.evaluate("""() => [...document.querySelectorAll('*')].flatMap(
            el => [...el.attributes].filter(a => a.name.startsWith('on'))).length""")
        if handlers:
            found.append(f"{handlers} inline event handler attribute(s) (onclick=...)")
        return found

    def reset(self) -> None:
        self.console_violations.clear()
        self.page_errors.clear()
