"""JSON API under /api/v1 for the browser and the Python client. Bodies are JSON with binary
values as base64url strings, except attachment parts (raw application/octet-stream bodies,
streamed to storage). Every field is checked; a refused request changes nothing.

Browser sessions send the CSRF token in the X-CSRFToken header; bearer-token clients need none.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from cooperation import permissions as p
from cooperation.audit.context import request_actor
from cooperation.extensions import csrf, db
from cooperation.mail import MailError, send_mail
from cooperation.lookups import look_up_apart, write_apart
from cooperation.threads import approvals
from cooperation.threads import services as s
from cooperation.threads.models import Attachment, Device, Thread, ThreadEvent
from cooperation.threads.notices import notify_new_activity
from cooperation.threads.rawbody import socket_body
from cooperation.threads.storage import PartTooLarge, StorageError, get_storage

bp = Blueprint("threads_api", __name__, url_prefix="/api/v1")

_HEX32 = re.compile(r"\A[0-9a-f]{32}\Z")
_CODE = re.compile(r"\A[A-Z][A-Z0-9-]{1,15}\Z")
JSON_LIMIT = 2 * 1024 * 1024  # a 1 MiB envelope in base64 plus a little JSON
EVENT_LIMIT = 8 * 1024 * 1024  # events of large threads carry many wraps
# User ids, seqs and epochs are INTEGER columns: PostgreSQL refuses a larger parameter (a 500).
INT32 = 2 ** 31 - 1


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.message, self.status, self.extra = message, status, extra


@bp.errorhandler(BadRequest)
def _bad_request(error: BadRequest):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return jsonify(error=error.message, status=error.status, **error.extra), error.status


@bp.errorhandler(s.Invalid)
def _invalid(error: s.Invalid):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return jsonify(error=str(error), status=400), 400


@bp.errorhandler(s.NotFound)
def _not_found(error: s.NotFound):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return jsonify(error=_("This does not exist, or you do not have access to it."), status=404), 404


@bp.errorhandler(s.Conflict)
def _conflict(error: s.Conflict):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return jsonify(error=error.message, status=409, **_encode(error.details)), 409


# -- encoding helpers -----------------------------------------------------------------------

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64e(data: bytes | None) -> str | None:
    """base64url without padding (base64.urlsafe_b64encode and a strip, in one pass less)."""
    return None if data is None else binascii.b2a_base64(data, newline=False).translate(_URLSAFE, b"=").decode("ascii")


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return b64e(value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def b64d(value: Any, name: str, *, size: int | None = None, max_size: int = 65536, min_size: int = 1) -> bytes:
    """base64url (padding optional); standard base64 is accepted too (the alphabets do not overlap)."""
    if not isinstance(value, str) or not value:
        raise BadRequest(_("%(name)s must be a base64url string.", name=name))
    text = value.replace("+", "-").replace("/", "_").rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1 or len(value) - len(text) > 2:
        raise BadRequest(_("%(name)s is not valid base64url.", name=name))
    if len(text) * 3 // 4 > max_size + 3:
        raise BadRequest(_("%(name)s is larger than %(max)s bytes.", name=name, max=max_size), 413)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest(_("%(name)s is not valid base64url.", name=name)) from None
    if size is not None and len(data) != size:
        raise BadRequest(_("%(name)s must be %(size)s bytes.", name=name, size=size))
    if len(data) > max_size:
        raise BadRequest(_("%(name)s is larger than %(max)s bytes.", name=name, max=max_size), 413)
    if len(data) < min_size:
        raise BadRequest(_("%(name)s is too short.", name=name))
    return data


def body(limit: int = JSON_LIMIT) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > limit:
        raise BadRequest(_("The request body is larger than allowed."), 413)
    request.max_content_length = limit
    if not request.is_json:
        raise BadRequest(_("Send a JSON object (Content-Type: application/json)."))
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest(_("The body must be a JSON object."))
    return data


def _known(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(_("Unknown fields: %(names)s.", names=", ".join(unknown)))


def integer(value: Any, name: str, low: int = 0, high: int = 2 ** 62) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 12.0 is an integer in JSON (and in the OpenAPI document's JSON Schema)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(_("%(name)s must be a whole number between %(low)s and %(high)s.",
                           name=name, low=low, high=high))
    return value


def hex_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _HEX32.match(value):
        raise BadRequest(_("%(name)s must be 32 lowercase hexadecimal characters.", name=name))
    return value


def query_int(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() admits "²", which int() refuses (a 500 before this).
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not low <= int(raw) <= high:
        raise BadRequest(_("%(name)s must be a whole number between %(low)s and %(high)s.",
                           name=name, low=low, high=high))
    return int(raw)


def me():  # type: ignore[no-untyped-def]
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _thread(thread_id: str, session: Any = None) -> tuple[Thread, Any]:
    if not _HEX32.match(thread_id):
        raise s.NotFound(thread_id)
    return s.membership(session or db.session, me(), thread_id)


# -- JSON shapes ----------------------------------------------------------------------------

def _ts(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None


def device_json(device: Device) -> dict[str, Any]:
    return {"device_id": device.device_id, "label": device.label, "dh_public": b64e(device.dh_public),
            "sig_public": b64e(device.sig_public), "certificate": b64e(device.certificate),
            "created_at": _ts(device.created_at), "revoked_at": _ts(device.revoked_at),
            "revocation": b64e(device.revocation)}


def keys_json(data: dict[str, Any]) -> dict[str, Any]:
    identities = data["identities"]
    current = next((i for i in identities if i.superseded_at is None), None)
    return {
        "user_id": data["user"].id, "party": data["party_code"], "name": data["user"].full_name,
        "admin": s.is_thread_admin(data["user"]),
        "identity": {"public_key": b64e(current.public_key), "created_at": _ts(current.created_at)}
        if current else None,
        "identity_history": [{"public_key": b64e(i.public_key), "created_at": _ts(i.created_at),
                              "superseded_at": _ts(i.superseded_at)} for i in identities],
        "devices": [device_json(d) for d in data["devices"]],
        "generations": [{"generation": g.generation, "dh_public": b64e(g.dh_public), "sig_public": b64e(g.sig_public),
                         "record": b64e(g.record), "created_at": _ts(g.created_at)} for g in data["generations"]],
    }


def thread_json(thread: Thread, member: Any, unread: int | None = None) -> dict[str, Any]:
    out = {"id": thread.id, "created_at": _ts(thread.created_at), "meta": b64e(thread.meta),
           "head": {"seq": thread.head_seq, "hash": b64e(thread.head_hash)}, "epoch": thread.epoch,
           "read_up_to": member.read_up_to}
    if unread is not None:
        out["unread"] = unread
        out["unread_capped"] = unread > s.MAX_UNREAD
    return out


def event_json(event: ThreadEvent) -> dict[str, Any]:
    return {"seq": event.seq, "type": event.kind, "actor_id": event.actor_id, "device_id": event.device_id,
            "epoch": event.epoch, "event": b64e(event.body), "signature": b64e(event.signature),
            "prev_hash": b64e(event.prev_hash), "hash": b64e(event.event_hash), "created_at": _ts(event.created_at)}


def message_json(message: Any) -> dict[str, Any]:
    """A Message, or a row of services.MESSAGE_COLUMNS."""
    return {"id": message.id, "msg_id": message.msg_id, "epoch": message.epoch, "sender_id": message.sender_id,
            "device_id": message.device_id, "created_at": _ts(message.created_at),
            "envelope": b64e(message.envelope)}


def attachment_json(attachment: Attachment, received: list[int] | None = None) -> dict[str, Any]:
    out = {"id": attachment.id, "thread_id": attachment.thread_id, "size": attachment.size,
           "part_size": attachment.part_size, "parts": attachment.parts,
           "complete": attachment.completed_at is not None, "created_at": _ts(attachment.created_at)}
    if received is not None:
        out["received"] = received
    return out


# == key directory ===========================================================================

@bp.get("/keys")
@p.require(p.KEYS_PUBLISH)
def own_keys():  # type: ignore[no-untyped-def]
    data = s.own_keys(db.session, me())
    out = keys_json(data)
    out["device_wraps"] = [{"generation": gen, "device_id": dev, "wrap": b64e(wrap)} for gen, dev, wrap in data["wraps"]]
    latest: dict[str, Any] = {}
    for blob in data["recovery"]:
        latest.setdefault(blob.kind, {"kind": blob.kind, "version": blob.version, "blob": b64e(blob.blob),
                                      "created_at": _ts(blob.created_at)})
    out["recovery"] = list(latest.values())
    return jsonify(out)


@bp.put("/keys/identity")
@p.require(p.KEYS_PUBLISH)
def publish_identity():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"public_key"})
    public_key = b64d(data.get("public_key"), "public_key", size=32)
    identity, changed = s.publish_identity(db.session, me(), public_key, request_actor())
    db.session.commit()
    return jsonify(public_key=b64e(identity.public_key), created_at=_ts(identity.created_at),
                   changed=changed), 201 if changed else 200


@bp.post("/keys/devices")
@p.require(p.KEYS_PUBLISH)
def add_device():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"device_id", "label", "dh_public", "sig_public", "certificate"})
    label = data.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 100 or any(ord(c) < 32 for c in label):
        raise BadRequest(_("label must be 1 to 100 printable characters."))
    device = s.add_device(db.session, me(), device_id=hex_id(data.get("device_id"), "device_id"),
                          label=label.strip(), dh_public=b64d(data.get("dh_public"), "dh_public", size=32),
                          sig_public=b64d(data.get("sig_public"), "sig_public", size=32),
                          certificate=b64d(data.get("certificate"), "certificate", max_size=4096),
                          actor=request_actor())
    db.session.commit()
    return jsonify(device_json(device)), 201


@bp.post("/keys/devices/<device_id>/revoke")
@p.require(p.KEYS_PUBLISH)
def revoke_device(device_id: str):  # type: ignore[no-untyped-def]
    if not _HEX32.match(device_id):
        raise s.NotFound(device_id)
    s.user_device(db.session, me(), device_id, active=False)  # 404 before any validation
    data = body()
    _known(data, {"revocation"})
    revocation = b64d(data.get("revocation"), "revocation", max_size=4096)
    device = s.revoke_device(db.session, me(), device_id, revocation, request_actor())
    db.session.commit()
    return jsonify(device_json(device))


@bp.post("/keys/generations")
@p.require(p.KEYS_PUBLISH)
def add_generation():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"generation", "dh_public", "sig_public", "record", "wraps"})
    wraps_in = data.get("wraps")
    if not isinstance(wraps_in, list) or not 1 <= len(wraps_in) <= 100:
        raise BadRequest(_("wraps must list 1 to 100 device wraps."))
    wraps = []
    for item in wraps_in:
        if not isinstance(item, dict):
            raise BadRequest(_("Each wrap is an object with device_id and wrap."))
        _known(item, {"device_id", "wrap"})
        wraps.append((hex_id(item.get("device_id"), "device_id"), b64d(item.get("wrap"), "wrap", max_size=1024)))
    gen = s.add_generation(db.session, me(), generation=integer(data.get("generation"), "generation", 1, 1_000_000),
                           dh_public=b64d(data.get("dh_public"), "dh_public", size=32),
                           sig_public=b64d(data.get("sig_public"), "sig_public", size=32),
                           record_bytes=b64d(data.get("record"), "record", max_size=4096), wraps=wraps,
                           actor=request_actor())
    db.session.commit()
    return jsonify(generation=gen.generation, created_at=_ts(gen.created_at)), 201


@bp.put("/keys/recovery")
@p.require(p.KEYS_PUBLISH)
def store_recovery():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"kind", "blob"})
    kind = data.get("kind")
    if kind not in ("rk", "state"):
        raise BadRequest(_("kind must be rk or state."))
    row = s.store_recovery(db.session, me(), kind, b64d(data.get("blob"), "blob", max_size=65536, min_size=28))
    db.session.commit()
    return jsonify(kind=row.kind, version=row.version, created_at=_ts(row.created_at)), 201


# -- approving a new browser from an existing one (PROTOCOL.md §8a) ----------------------------

def approval_json(row: Any, *, sealed: bool = False) -> dict[str, Any]:
    out = {"request_id": row.request_id, "label": row.label, "dh_public": b64e(row.dh_public),
           "sig_public": b64e(row.sig_public), "created_at": _ts(row.created_at), "expires_at": _ts(row.expires_at),
           "status": "approved" if row.approved_at is not None else "pending",
           "approved_at": _ts(row.approved_at), "approver_device_id": row.approver_device_id}
    if sealed:  # only the request itself carries the sealed secrets, for the new browser
        out["sealed"], out["signature"] = b64e(row.sealed), b64e(row.signature)
    return out


def _approval_request(request_id: str) -> Any:
    if not _HEX32.match(request_id):
        raise s.NotFound(request_id)
    return approvals.get_request(db.session, me(), request_id)


def _approval_rate_limit() -> Response | None:
    """Count one new request against the user's limit, in a transaction of its own (a refused
    request still counts); past it, a 429 answer with Retry-After."""
    from cooperation.ops import ratelimit

    limit = ratelimit.parse_limit(str(current_app.config.get("THREADS_APPROVAL_RATE_LIMIT",
                                                             approvals.DEFAULT_RATE_LIMIT)))
    user_id = me().id
    db.session.commit()  # the hit's transaction must start with its write (SQLite)
    wait = ratelimit.hit(db.session, f"device_approvals:user:{user_id}", limit)
    db.session.commit()
    if wait is None:
        return None
    response = jsonify(error=_("Too many approval requests. Try again in %(minutes)s minutes.",
                               minutes=int(wait.total_seconds() // 60) + 1), status=429)
    response.status_code = 429
    response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
    return response


@bp.get("/keys/approvals")
@p.require(p.KEYS_PUBLISH)
def list_approvals():  # type: ignore[no-untyped-def]
    rows = approvals.open_requests(db.session, me())
    out = [approval_json(row) for row in rows]
    db.session.commit()  # expired requests were deleted
    return jsonify(approvals=out)


@bp.post("/keys/approvals")
@p.require(p.KEYS_PUBLISH)
def request_approval():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"request_id", "label", "dh_public", "sig_public"})
    label = data.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 100 or any(ord(c) < 32 for c in label):
        raise BadRequest(_("label must be 1 to 100 printable characters."))
    request_id = hex_id(data.get("request_id"), "request_id")
    dh_public = b64d(data.get("dh_public"), "dh_public", size=32)
    sig_public = b64d(data.get("sig_public"), "sig_public", size=32)
    limited = _approval_rate_limit()
    if limited is not None:
        return limited
    user = me()
    row = approvals.create_request(db.session, user, request_id=request_id, label=label.strip(),
                                   dh_public=dh_public, sig_public=sig_public, actor=request_actor())
    out = approval_json(row)
    address = user.email
    db.session.commit()
    try:  # a security notice: says only that a browser asked, nothing about keys or threads
        send_mail(address, _("A new browser asks for your encryption keys"),
                  _("A browser signed in to your account on the Secure Platform on Cooperation has asked to "
                    "receive your encryption keys.\n\n"
                    "If this was you, approve it on a browser that already has your keys (Threads, Keys and "
                    "devices) after checking that both show the same verification code. Approving gives that "
                    "browser access to all your secure threads.\n\n"
                    "If this was not you, refuse the request there, change your password and tell your focal "
                    "point. The request expires by itself after ten minutes.\n"))
    except MailError:
        current_app.logger.warning("device approval notice not sent")
    return jsonify(out), 201


@bp.get("/keys/approvals/<request_id>")
@p.require(p.KEYS_PUBLISH)
def get_approval(request_id: str):  # type: ignore[no-untyped-def]
    row = _approval_request(request_id)
    return jsonify(approval_json(row, sealed=row.approved_at is not None))


@bp.post("/keys/approvals/<request_id>/approve")
@p.require(p.KEYS_PUBLISH)
def approve_approval(request_id: str):  # type: ignore[no-untyped-def]
    _approval_request(request_id)  # 404 before any validation
    data = body()
    _known(data, {"device_id", "sealed", "signature"})
    row = approvals.approve(db.session, me(), request_id,
                            approver_device_id=hex_id(data.get("device_id"), "device_id"),
                            sealed=b64d(data.get("sealed"), "sealed", max_size=65584, min_size=49),
                            signature=b64d(data.get("signature"), "signature", size=64), actor=request_actor())
    out = approval_json(row)
    db.session.commit()
    return jsonify(out)


@bp.post("/keys/approvals/<request_id>/refuse")
@p.require(p.KEYS_PUBLISH)
def refuse_approval(request_id: str):  # type: ignore[no-untyped-def]
    _approval_request(request_id)
    if request.content_length:
        body()  # an empty JSON object is allowed; nothing in it is read
    approvals.refuse(db.session, me(), request_id, request_actor())
    db.session.commit()
    return jsonify(request_id=request_id, status="refused")


@bp.get("/users/<int:user_id>/keys")
@p.require(p.KEYS_PUBLISH)
def user_keys(user_id: int):  # type: ignore[no-untyped-def]
    if user_id > INT32:
        raise s.NotFound(user_id)
    return jsonify(keys_json(s.public_keys(db.session, me(), user_id)))


# == notifications ============================================================================

@bp.get("/notifications")
@p.require(p.THREADS_PARTICIPATE)
def get_notifications():  # type: ignore[no-untyped-def]
    return jsonify(mode=s.notification_mode(db.session, me()))


@bp.put("/notifications")
@p.require(p.THREADS_PARTICIPATE)
def put_notifications():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"mode"})
    mode = data.get("mode")
    if not isinstance(mode, str):
        raise BadRequest(_("Choose event, digest or off."))
    s.set_notification_mode(db.session, me(), mode)
    db.session.commit()
    return jsonify(mode=mode)


# == threads =================================================================================

@bp.get("/threads")
@p.require(p.THREADS_PARTICIPATE)
def list_threads():  # type: ignore[no-untyped-def]
    rows = s.list_threads(db.session, me(), limit=query_int("limit", 100, 1, 500) or 100)
    return jsonify(threads=[{**thread_json(row.thread, row.member, row.unread), "latest_message_id": row.latest}
                            for row in rows])


@bp.post("/threads")
@p.require(p.THREADS_PARTICIPATE)
def create_thread():  # type: ignore[no-untyped-def]
    data = body()
    _known(data, {"parties"})
    parties = data.get("parties", [])
    if not isinstance(parties, list) or not all(isinstance(c, str) and _CODE.match(c) for c in parties):
        raise BadRequest(_("parties must be a list of party codes such as NLD or ICC-REG."))
    thread = s.create_thread(db.session, me(), parties, request_actor())
    member = s.membership(db.session, me(), thread.id)[1]
    db.session.commit()
    return jsonify(thread_json(thread, member)), 201


@bp.get("/threads/<thread_id>")
@p.require(p.THREADS_PARTICIPATE)
def get_thread(thread_id: str):  # type: ignore[no-untyped-def]
    thread, member = _thread(thread_id)
    out = thread_json(thread, member, s.unread_count(db.session, member))
    out["parties"] = [party.code for party in s.thread_parties(db.session, thread)]
    out["members"] = [{"user_id": m.user_id, "since_epoch": m.since_epoch} for m in s.thread_members(db.session, thread)]
    return jsonify(out)


@bp.get("/threads/<thread_id>/roster")
@p.require(p.THREADS_PARTICIPATE)
def roster(thread_id: str):  # type: ignore[no-untyped-def]
    thread, _member = _thread(thread_id)
    parties = []
    # ?party=CODE: a party about to be added (owner side only), whose users the new epoch key
    # must be wrapped to before the add_state event.
    code = request.args.get("party")
    rows = s.candidate_roster(db.session, me(), thread, code) if code else s.roster(db.session, thread)
    for party, entries in rows:
        users = []
        for user, gen in entries:
            identity = s.current_identity(db.session, user.id)
            users.append({"user_id": user.id, "name": user.full_name, "admin": s.is_thread_admin(user),
                          "generation": gen.generation, "dh_public": b64e(gen.dh_public),
                          "sig_public": b64e(gen.sig_public), "record": b64e(gen.record),
                          "identity": b64e(identity.public_key) if identity else None})
        parties.append({"party": party.code, "users": users})
    return jsonify(parties=parties)


@bp.get("/threads/<thread_id>/events")
@p.require(p.THREADS_PARTICIPATE)
def list_events(thread_id: str):  # type: ignore[no-untyped-def]
    thread, _member = _thread(thread_id)
    after = query_int("after", -1, 0, INT32) if "after" in request.args else -1
    rows = s.events(db.session, thread, after if after is not None else -1, query_int("limit", 100, 1, 500) or 100)
    return jsonify(events=[event_json(e) for e in rows], head={"seq": thread.head_seq, "hash": b64e(thread.head_hash)})


def _event_in(data: dict[str, Any]) -> s.EventIn:
    _known(data, {"seq", "prev_hash", "type", "device_id", "event", "signature", "party", "users", "meta", "epoch"})
    kind = data.get("type")
    if kind not in s.EVENT_TYPES:
        raise BadRequest(_("type must be one of %(types)s.", types=", ".join(sorted(s.EVENT_TYPES))))
    party = data.get("party")
    if party is not None and (not isinstance(party, str) or not _CODE.match(party)):
        raise BadRequest(_("party must be a party code."))
    users = data.get("users", [])
    if not isinstance(users, list) or len(users) > 5000:
        raise BadRequest(_("users must be a list of at most 5000 user ids."))
    users = [integer(u, "users[]", 1, INT32) for u in users]
    epoch, wraps = None, []
    raw_epoch = data.get("epoch")
    if raw_epoch is not None:
        if not isinstance(raw_epoch, dict):
            raise BadRequest(_("epoch must be an object with number and wraps."))
        _known(raw_epoch, {"number", "wraps"})
        epoch = integer(raw_epoch.get("number"), "epoch.number", 0, INT32)
        items = raw_epoch.get("wraps")
        if not isinstance(items, list) or not 1 <= len(items) <= 5000:
            raise BadRequest(_("epoch.wraps must list 1 to 5000 wraps."))
        for item in items:
            if not isinstance(item, dict):
                raise BadRequest(_("Each wrap is an object with user_id, generation and wrap."))
            _known(item, {"user_id", "generation", "wrap"})
            wraps.append(s.WrapIn(integer(item.get("user_id"), "user_id", 1, INT32),
                                  integer(item.get("generation"), "generation", 1, 1_000_000),
                                  b64d(item.get("wrap"), "wrap", max_size=1024)))
    elif kind in s.EPOCH_EVENTS:
        raise BadRequest(_("A %(type)s event opens a new epoch: send epoch with its wraps.", type=kind))
    meta = b64d(data["meta"], "meta", max_size=65536) if data.get("meta") is not None else None
    return s.EventIn(seq=integer(data.get("seq"), "seq", 0, INT32), prev_hash=b64d(data.get("prev_hash"), "prev_hash",
                                                                                      size=32),
                     kind=kind, device_id=hex_id(data.get("device_id"), "device_id"),
                     body=b64d(data.get("event"), "event", max_size=65536),
                     signature=b64d(data.get("signature"), "signature", size=64),
                     party=party, users=tuple(users), meta=meta, epoch=epoch, wraps=tuple(wraps))


@bp.post("/threads/<thread_id>/events")
@p.require(p.THREADS_PARTICIPATE)
def append_event(thread_id: str):  # type: ignore[no-untyped-def]
    thread, member = _thread(thread_id)
    event = _event_in(body(EVENT_LIMIT))
    try:
        row = s.append_event(db.session, me(), thread, member, event, request_actor())
        db.session.commit()
    except (s.Conflict, IntegrityError) as exc:
        # Lost a race or behind the head: answer with the head as it is now, for a retry.
        db.session.rollback()
        fresh, _member = _thread(thread_id)
        message = exc.message if isinstance(exc, s.Conflict) else _("The thread has changed.")
        raise BadRequest(message, 409, head={"seq": fresh.head_seq, "hash": b64e(fresh.head_hash),
                                             "epoch": fresh.epoch}) from None
    return jsonify(event_json(row)), 201


@bp.get("/threads/<thread_id>/epochs/<int:epoch>")
@p.require(p.THREADS_PARTICIPATE)
def get_epoch(thread_id: str, epoch: int):  # type: ignore[no-untyped-def]
    thread, _member = _thread(thread_id)
    if epoch > INT32:
        raise s.NotFound(epoch)
    wraps = s.epoch_record(db.session, thread, epoch)
    return jsonify(epoch=epoch, wraps=[{"user_id": w.user_id, "generation": w.generation, "wrap": b64e(w.wrap)}
                                       for w in wraps])


# -- messages ---------------------------------------------------------------------------------

@contextmanager
def _membership_first(thread_id: str) -> Iterator[None]:
    """The request's own validation in the block; if it fails, the caller's membership is
    checked before the error is told, so an outsider gets 404 and learns nothing of the thread."""
    try:
        yield
    except (BadRequest, s.Invalid):
        look_up_apart(lambda session: _thread(thread_id, session))
        raise
    if not _HEX32.match(thread_id):
        raise s.NotFound(thread_id)


@bp.get("/threads/<thread_id>/messages")
@p.require(p.THREADS_PARTICIPATE)
def list_messages(thread_id: str):  # type: ignore[no-untyped-def]
    user = me()
    with _membership_first(thread_id):
        limit = query_int("limit", 50, 1, s.MAX_PAGE) or 50
        before = query_int("before", None, 1, 2 ** 62)
    # The hottest read: one statement (membership and messages) on the lookup connection, and
    # encoded by orjson (a page of envelopes is ~70 KB of base64: the json module's encoder was
    # a tenth of the request's time).
    rows = look_up_apart(lambda session: s.member_latest_messages(session, user, thread_id, before, limit))
    page = {"messages": [message_json(m) for m in rows], "next_before": rows[-1].id if len(rows) == limit else None}
    return Response(orjson.dumps(page), mimetype="application/json")


def _posted_envelope() -> tuple[bytes, s.tek.Envelope]:
    data = body()
    _known(data, {"envelope", "msg_id"})
    raw = b64d(data.get("envelope"), "envelope", max_size=s.tek.MAX_ENVELOPE)
    hint = data.get("msg_id")
    if hint is not None and hex_id(hint, "msg_id") != raw[s.tek.MSG_ID_SLICE].hex():
        raise BadRequest(_("msg_id does not match the envelope header."))
    return raw, s.parse_envelope(raw)


@bp.post("/threads/<thread_id>/messages")
@p.require(p.THREADS_PARTICIPATE)
def post_message(thread_id: str):  # type: ignore[no-untyped-def]
    user = me()
    with _membership_first(thread_id):
        raw, env = _posted_envelope()

    def check(session: Any) -> s.CheckedPost:
        thread, device = s.poster(session, user, thread_id, env.header.sender_device.hex())
        return s.check_envelope(user, thread, device, env, raw)

    # Checked by one read outside any write lock, stored by one write that re-checks what may
    # change (on PostgreSQL both on the request's one connection, without BEGIN or COMMIT).
    checked = look_up_apart(check)
    try:
        stored = write_apart(lambda session: s.store_post(session, checked))
    except IntegrityError:
        # The msg_id is taken: a client's retry (answer with the first copy), a race between
        # two retries (the unique constraint decided), or a clash (409).
        db.session.rollback()
        thread, _member = _thread(thread_id)
        return jsonify(message_json(s.resolve_retry(db.session, user, thread.id, checked.data))), 200
    if stored is None:  # rotated, removed or revoked in between: say which, as a fresh check does

        def changed(session: Any) -> s.Conflict:
            check(session)
            return s.Conflict("The thread changed while the message was stored: fetch it and try again.",
                              s.head(session.get(Thread, thread_id)))  # loaded by the check: no statement

        raise look_up_apart(changed)
    if stored.notify:
        notify_new_activity(look_up_apart(lambda session: s.mail_recipients(session, stored.notify)))
    return jsonify(message_json(stored.message)), 201


@bp.post("/threads/<thread_id>/read")
@p.require(p.THREADS_PARTICIPATE)
def mark_read(thread_id: str):  # type: ignore[no-untyped-def]
    _thread_row, member = _thread(thread_id)
    data = body()
    _known(data, {"up_to"})
    s.mark_read(db.session, member, integer(data.get("up_to"), "up_to", 0))
    db.session.commit()
    return jsonify(read_up_to=member.read_up_to, unread=s.unread_count(db.session, member))


# -- attachments ---------------------------------------------------------------------------

@bp.post("/threads/<thread_id>/attachments")
@p.require(p.THREADS_PARTICIPATE)
def create_attachment(thread_id: str):  # type: ignore[no-untyped-def]
    thread, _member = _thread(thread_id)
    data = body()
    _known(data, {"size", "part_size"})
    max_size = int(current_app.config.get("THREADS_MAX_ATTACHMENT_BYTES", s.DEFAULT_MAX_ATTACHMENT))
    size = integer(data.get("size"), "size", 1, 2 ** 50)
    if size > max_size:
        raise BadRequest(_("Attachments are limited to %(max)s bytes.", max=max_size), 413)
    attachment = s.create_upload(db.session, me(), thread, size=size,
                                 part_size=integer(data.get("part_size"), "part_size", 1, s.MAX_PART),
                                 storage=get_storage(), max_size=max_size, actor=request_actor())
    db.session.commit()
    return jsonify(attachment_json(attachment, [])), 201


def _attachment(thread_id: str, attachment_id: str, session: Any = None) -> tuple[Thread, Attachment]:
    session = session or db.session
    thread, _member = _thread(thread_id, session)
    if not _HEX32.match(attachment_id):
        raise s.NotFound(attachment_id)
    return thread, s.thread_attachment(session, thread, attachment_id)


@bp.get("/threads/<thread_id>/attachments/<attachment_id>")
@p.require(p.THREADS_PARTICIPATE)
def attachment_status(thread_id: str, attachment_id: str):  # type: ignore[no-untyped-def]
    _t, attachment = _attachment(thread_id, attachment_id)
    return jsonify(attachment_json(attachment, [part.number for part in s.received_parts(db.session, attachment)]))


def _csrf_unless_bearer(view: Callable[..., Any]) -> Callable[..., Any]:
    """Raw-body uploads skip the global CSRF check (it would parse the body under the 16 MiB form
    limit); they are checked here instead, under the part limit. As in cooperation.oauth.bearer,
    only a session cookie that signs a user in needs a CSRF token: without a cookie (a bearer token,
    or nothing) or with one that signs no one in, there is nothing to forge and the view answers
    401 to an anonymous caller."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_app.config["SESSION_COOKIE_NAME"] in request.cookies and current_user.is_authenticated:
            request.max_content_length = s.MAX_PART
            csrf.protect()
        return view(*args, **kwargs)

    return csrf.exempt(wrapped)


@bp.put("/threads/<thread_id>/attachments/<attachment_id>/parts/<int:number>")
@_csrf_unless_bearer
@p.require(p.THREADS_PARTICIPATE)
def put_part(thread_id: str, attachment_id: str, number: int):  # type: ignore[no-untyped-def]
    user = me()

    def check(session: Any) -> tuple[str, int]:
        _t, attachment = _attachment(thread_id, attachment_id, session)
        return attachment.storage_key, s.check_part_upload(user, attachment, number)

    # Checked in a read-only transaction and streamed to storage with no transaction open: on
    # SQLite the write lock is taken only to put the part in place and record it.
    key, size = look_up_apart(check)
    if request.mimetype != "application/octet-stream":
        raise BadRequest(_("Send the part as application/octet-stream."))
    if request.content_length is None:
        raise BadRequest(_("Send a Content-Length header with the part."), 411)
    if request.content_length != size:
        status = 413 if request.content_length > size else 400
        raise BadRequest(_("Part %(n)s must be exactly %(size)s bytes.", n=number, size=size), status)
    # One byte of slack: the storage reads up to size + 1 to prove the part ends where it should.
    # Under a server that terminates the input (gunicorn), Werkzeug enforces this limit itself
    # and would answer 413 to that probe if the limit were exactly `size`.
    request.max_content_length = size + 1
    storage = get_storage()
    # Never request.data: the part goes to disk in 1 MiB chunks. Under gunicorn's sync worker it
    # is read from the client socket itself (threads.rawbody: gunicorn's reader copies each byte
    # six times). Another server that ends the input at the body's end (wsgi.input_terminated,
    # Content-Length checked above) is read directly: Werkzeug's limiting wrapper copies every
    # byte twice more.
    terminated = bool(request.environ.get("wsgi.input_terminated"))
    stream = socket_body(request.environ, size) or (request.environ["wsgi.input"] if terminated else request.stream)
    try:
        staged = storage.stage_part(key, number, stream, size)
    except PartTooLarge:
        raise BadRequest(_("Part %(n)s must be exactly %(size)s bytes.", n=number, size=size), 413) from None
    except StorageError as exc:
        raise BadRequest(str(exc)) from None
    try:
        s.commit_part(db.session, storage, user, attachment_id, number, staged)
        db.session.commit()
    except BaseException:
        storage.discard(staged)
        raise
    return jsonify(number=number, size=size), 200


@bp.post("/threads/<thread_id>/attachments/<attachment_id>/complete")
@p.require(p.THREADS_PARTICIPATE)
def complete_attachment(thread_id: str, attachment_id: str):  # type: ignore[no-untyped-def]
    user = me()

    def check(session: Any) -> tuple[str, list[int], bool]:
        _t, attachment = _attachment(thread_id, attachment_id, session)
        if request.content_length:
            body()  # an empty JSON object is allowed; nothing in it is read
        if attachment.uploader_id != user.id:
            raise s.NotFound(attachment_id)
        return attachment.storage_key, s.part_sizes(attachment), attachment.completed_at is not None

    key, sizes, done = look_up_apart(check)
    # Flushing a large file to disk takes a while: before the write lock, not under it.
    lost = [] if done else get_storage().seal(key, sizes)
    _t, attachment = _attachment(thread_id, attachment_id)
    try:
        s.complete_upload(db.session, user, attachment, request_actor(), lost=lost)
    except s.Conflict:
        if lost:
            db.session.commit()  # forget the lost parts, so that the client sends them again
        raise
    db.session.commit()
    return jsonify(attachment_json(attachment, list(range(attachment.parts))))


@bp.get("/threads/<thread_id>/attachments/<attachment_id>/content")
@p.require(p.THREADS_PARTICIPATE)
def download_attachment(thread_id: str, attachment_id: str):  # type: ignore[no-untyped-def]
    _t, attachment = _attachment(thread_id, attachment_id)
    if attachment.completed_at is None:
        raise s.NotFound(attachment_id)
    sizes = s.part_sizes(attachment)
    chunks: Iterator[bytes] = get_storage().read(attachment.storage_key, sizes)
    db.session.commit()  # release the connection before a long download
    response = Response(chunks, mimetype="application/octet-stream", direct_passthrough=True)
    response.headers["Content-Length"] = str(attachment.size)
    response.headers["Content-Disposition"] = "attachment"
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the OpenAPI document ----------------------------------------------------------------------

@bp.get("/openapi.json")
@p.authenticated  # no need to describe the API to anonymous visitors
def openapi():  # type: ignore[no-untyped-def]
    from cooperation.threads.openapi import document

    return jsonify(document())
