"""The Atom feed of published items (RFC 4287), built with ElementTree so every value is escaped.
Entries carry plain-text summaries only: a feed reader is outside our CSP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 - we build, never parse

from cooperation.caselaw import render
from cooperation.caselaw.models import CaselawItem, CaselawVersion
from cooperation.caselaw.taxonomy import TOPIC_LABELS

ATOM_NS = "http://www.w3.org/2005/Atom"
SUMMARY_CHARS = 600


def _text(parent: Element, tag: str, value: str, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    element.text = value
    return element


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_feed(entries: list[tuple[CaselawItem, CaselawVersion]], *, title: str, index_url: str,
               item_url: Callable[[CaselawItem], str], now: datetime) -> bytes:
    feed = Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", index_url)
    _text(feed, "title", title)
    updated = max((item.publish_at for item, _ in entries if item.publish_at), default=now)
    _text(feed, "updated", _stamp(updated))
    SubElement(feed, "link", {"rel": "alternate", "type": "text/html", "href": index_url})
    author = SubElement(feed, "author")
    _text(author, "name", "ICC Registry")
    for item, version in entries:
        url = item_url(item)
        entry = SubElement(feed, "entry")
        _text(entry, "id", url)
        _text(entry, "title", version.title)
        _text(entry, "updated", _stamp(item.publish_at or now))
        _text(entry, "published", _stamp(item.first_published_at or item.publish_at or now))
        SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": url,
                                   "hreflang": item.language.value})
        for topic in version.topics:
            SubElement(entry, "category", {"term": topic, "label": str(TOPIC_LABELS.get(topic, topic))})
        summary = render.plain_text(version.holding or version.body)
        if len(summary) > SUMMARY_CHARS:
            summary = summary[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"
        _text(entry, "summary", summary, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(feed, encoding="utf-8", xml_declaration=False)
