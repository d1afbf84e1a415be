"""Markdown rendering and sanitising: real XSS payloads never survive, links keep only
http/https/mailto (and same-site paths) with rel="noopener noreferrer", and search snippets are
escaped before <mark> is added."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from cooperation.caselaw import render
from cooperation.caselaw.search import MARK_START, MARK_STOP, SearchQuery, highlight

# Payloads from the OWASP XSS filter evasion cheat sheet and PortSwigger's list, in Markdown.
XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.example/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "[click](//evil.example/)",
    "[click](\\\\evil.example\\x)",
    "![img](javascript:alert(1))",
    "![img](x \"onerror=alert(1)\")",
    "[a](https://ok.example \"title\" onmouseover=alert(1))",
    "[a]: javascript:alert(1)\n\n[ref][a]",
    "<https://ok.example/\" onclick=\"alert(1)>",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "\\<script>alert(1)\\</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">x</a>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "> <script>alert(1)</script>",
    "* <svg/onload=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<template><script>alert(1)</script></template>",
]

class _Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML (text stays text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _assert_safe(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in render.ALLOWED_TAGS, (tag, html)
        allowed = render.ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        for name, value in attrs:
            assert name in allowed, (tag, name, html)
            if name == "href":
                href = (value or "").strip().lower()
                assert href.startswith(("http://", "https://", "mailto:", "/")) and not href.startswith("//"), html
            if name == "rel":
                assert value == "noopener noreferrer", html
    # Nothing that looks like an executable element is left as markup.
    lowered = html.lower()
    for marker in ("<script", "<svg", "<img", "<iframe", "<object", "<embed", "<style", "<math", "<form"):
        assert marker not in lowered, (marker, html)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_never_survive(payload: str) -> None:
    html = str(render.render(payload))
    _assert_safe(html)
    # The sanitiser alone is also safe on the raw payload (defence in depth).
    _assert_safe(render.sanitise_html(payload))


def test_markdown_features_survive() -> None:
    html = str(render.render(
        "# Heading\n\n**bold** *em* `code`\n\n- one\n- two\n\n> quote\n\n"
        "[site](https://www.icc-cpi.int/) [mail](mailto:registry@example.org) [page](/guidance/x)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<h2>Heading</h2>" in html  # demoted: the page owns <h1>
    for fragment in ("<strong>bold</strong>", "<em>em</em>", "<code>code</code>", "<li>one</li>",
                     "<blockquote>", "<table>", "<td>1</td>"):
        assert fragment in html
    assert '<a href="https://www.icc-cpi.int/" rel="noopener noreferrer">site</a>' in html
    assert '<a href="mailto:registry@example.org" rel="noopener noreferrer">mail</a>' in html
    assert '<a href="/guidance/x" rel="noopener noreferrer">page</a>' in html


def test_raw_html_is_shown_as_text() -> None:
    html = str(render.render("Use <b>bold</b> & <i>not</i> tags"))
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>" not in html


def test_an_existing_rel_is_replaced() -> None:
    html = render.sanitise_html('<a href="https://x.example" rel="opener" target="_blank">x</a>')
    assert html == '<a href="https://x.example" rel="noopener noreferrer">x</a>'


def test_plain_text_for_the_index() -> None:
    assert render.plain_text("**Freezing** <script>x</script> [link](https://x.example) &amp; co") == \
        "Freezing <script>x</script> link & co"
    assert render.plain_text("   ") == ""


def test_render_returns_markup() -> None:
    assert isinstance(render.render("x"), Markup)


def test_highlight_escapes_before_marking() -> None:
    snippet = f"a <b>&amp; {MARK_START}freezing{MARK_STOP} \"x\" {MARK_START}<img>{MARK_STOP}"
    html = str(highlight(snippet))
    assert html == 'a &lt;b&gt;&amp;amp; <mark>freezing</mark> &#34;x&#34; <mark>&lt;img&gt;</mark>'
    # Unbalanced markers cannot leave an element open.
    assert str(highlight(f"{MARK_START}open")) == "<mark>open</mark>"
    assert str(highlight(f"close{MARK_STOP}")) == "close"
    assert str(highlight(None)) == ""


def test_search_terms_are_words_only() -> None:
    assert SearchQuery(text='freezing "OR" NEAR(x) col:y * ^z -w').terms == \
        ["freezing", "or", "near", "x", "col", "y", "z", "w"]
    assert SearchQuery(text="gel des avoirs").terms == ["gel", "des", "avoirs"]
    assert SearchQuery(text="'; DROP TABLE --").terms == ["drop", "table"]
    assert len(SearchQuery(text="a " * 50).terms) == 12
    assert SearchQuery(text="___").terms == []


@pytest.mark.parametrize("unsafe", ['<img src=x onerror=alert(1)>', '<a href="javascript:alert(1)">x</a>',
                                    '<a href=" JavaScript:alert(1)">x</a>', '<p onclick="x">y</p>',
                                    '<a href="//evil.example">x</a>', '<script>alert(1)</script>'])
def test_the_safety_check_itself_catches_unsafe_html(unsafe: str) -> None:
    with pytest.raises(AssertionError):
        _assert_safe(unsafe)
