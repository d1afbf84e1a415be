"""Markdown to safe HTML: Python-Markdown with raw HTML switched off, then nh3 (ammonia) with an
explicit allow-list. Two layers on purpose: Markdown escapes what looks like HTML, and the
sanitiser removes anything the Markdown layer might still let through (a future extension, a
parser quirk). Nothing here trusts the editor: a Registry account can be phished too."""

from __future__ import annotations

import html
import re
from functools import cache

from xml.etree.ElementTree import Element  # noqa: S405 - a type; Markdown builds the tree

import markdown
import nh3
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub", "del", "abbr",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed together with their content (not merely unwrapped): their text is code or styling.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "noscript", "iframe", "object",
                                  "svg", "math", "textarea", "title", "xmp", "noembed", "noframes"})
LINK_REL = "noopener noreferrer"


def _relative_url(url: str) -> str | None:
    """Links inside the platform ("/guidance/x") stay; "//host" or "\\host" would leave it."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return None


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative=_relative_url,
        link_rel=LINK_REL,
        strip_comments=True,
    )


class _DemoteHeadings(Treeprocessor):
    """The page has its own <h1>: a "# Heading" in the text becomes <h2>, and so on."""

    def run(self, root: Element) -> None:
        for element in root.iter():
            if element.tag in {"h1", "h2", "h3", "h4", "h5"}:
                element.tag = f"h{min(int(element.tag[1]) + 1, 4)}"


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["tables", "sane_lists", "fenced_code"], output_format="html")
    # No raw HTML: block and inline HTML become escaped text instead of markup.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_DemoteHeadings(md), "demote_headings", 0)
    return md


def sanitise_html(fragment: str) -> str:
    return _cleaner().clean(fragment)


def render(text: str) -> Markup:
    """Markdown source -> sanitised HTML, safe to insert in a page."""
    if not text.strip():
        return Markup("")
    converted = _markdown().convert(text)
    return Markup(sanitise_html(converted))  # noqa: S704 - sanitised by nh3 just above


_SPACES = re.compile(r"\s+")


def plain_text(text: str) -> str:
    """Markdown source -> readable plain text (for the search index and the feed summary)."""
    if not text.strip():
        return ""
    stripped = nh3.clean(str(render(text)), tags=set(), clean_content_tags=set())
    return _SPACES.sub(" ", html.unescape(stripped)).strip()
