"""The pages of the end-to-end encrypted threads. The server renders only the shell: what it
already knows (thread ids, participating parties, unread counts) and the translated strings.
Everything encrypted (titles, messages, attachments) is decrypted and rendered by the browser
(static/js/threads/), which never trusts the server for content.

A thread page answers 404 to anyone who is not a current member (services.membership), before
any shell is rendered: nobody learns whether a thread id exists.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from cooperation import permissions as p
from cooperation.extensions import db
from cooperation.membership.models import Party, PartyStatus
from cooperation.threads import services as s
from cooperation.threads.forms import ComposerForm, NewThreadForm

bp = Blueprint("threads", __name__, url_prefix="/threads")

_HEX32 = re.compile(r"\A[0-9a-f]{32}\Z")

# PROTOCOL.md §12: the topics of the encrypted metadata and the handling codes of messages.
TOPICS: dict[str, Any] = {
    "tracing": _l("Tracing"),
    "identification": _l("Identification"),
    "freezing": _l("Freezing"),
    "seizure": _l("Seizure"),
    "forfeiture": _l("Forfeiture"),
    "reparations": _l("Reparations"),
    "other": _l("Other"),
}
HANDLING: dict[str, Any] = {
    "participants-only": _l("Participants only"),
    "national-authorities": _l("National authorities only"),
    "no-evidential-use": _l("Not for use as evidence"),
    "court-only": _l("For the Court only"),
}
NOTIFY_MODES: dict[str, Any] = {
    "event": _l("A mail at each new activity"),
    "digest": _l("One daily summary mail"),
    "off": _l("No mail"),
}


def _me():  # type: ignore[no-untyped-def]
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _active_parties() -> list[Party]:
    return list(db.session.scalars(select(Party).where(Party.status == PartyStatus.ACTIVE).order_by(Party.code)))


def _shell(template: str, **context: Any) -> str:
    me = _me()
    locale = str(get_locale() or "en")
    return render_template(template, me=me, my_party=me.party.code, locale=locale, topics=TOPICS,
                           handling=HANDLING, **context)


@bp.get("")
@p.require(p.THREADS_PARTICIPATE)
def index():  # type: ignore[no-untyped-def]
    rows = [{"id": item.thread.id, "created_at": item.thread.created_at,
             "last_activity_at": item.thread.last_activity_at, "unread": item.unread, "parties": item.parties}
            for item in s.list_threads(db.session, _me())]
    page = _shell("threads/index.html", rows=rows, max_unread=s.MAX_UNREAD)
    db.session.commit()
    return page


@bp.get("/new")
@p.require(p.THREADS_PARTICIPATE)
def new():  # type: ignore[no-untyped-def]
    me = _me()
    locale = str(get_locale() or "en")
    parties = [(party.code, party.name(locale), party.is_state) for party in _active_parties()
               if party.id != me.party_id]
    page = _shell("threads/new.html", form=NewThreadForm(TOPICS, parties))
    db.session.commit()
    return page


@bp.get("/keys")
@p.require(p.THREADS_PARTICIPATE)
def keys():  # type: ignore[no-untyped-def]
    page = _shell("threads/keys.html", notify_modes=NOTIFY_MODES)
    db.session.commit()
    return page


@bp.get("/<thread_id>")
@p.require(p.THREADS_PARTICIPATE)
def view(thread_id: str):  # type: ignore[no-untyped-def]
    if not _HEX32.match(thread_id):
        abort(404)
    try:
        thread, _member = s.membership(db.session, _me(), thread_id)
    except s.NotFound:
        abort(404)
    locale = str(get_locale() or "en")
    # Every active party, for the names the page shows and the "add a State" list; the page
    # offers only those the verified log does not already name.
    parties = [(party.code, party.name(locale)) for party in _active_parties()]
    page = _shell("threads/thread.html", thread_id=thread.id, parties=parties, composer=ComposerForm(HANDLING))
    db.session.commit()
    return page
