"""The OpenAPI 3.1 description of /api/v1, built from one table of operations so that the
document, the tests (every rule documented, nothing documented that does not exist) and the
clients agree. Served at /api/v1/openapi.json."""

from __future__ import annotations

from functools import cache
from typing import Any

from cooperation.threads import envelope as tek

_B64_CHAR = "[A-Za-z0-9_+/-]"


def _chars(size: int) -> int:
    """Unpadded base64 characters for `size` bytes."""
    return 4 * (size // 3) + (0, 2, 3)[size % 3]


def _b64_rules(size: int | None = None, min_size: int = 1, max_size: int | None = None) -> dict[str, Any]:
    """The strings api.b64d accepts: either alphabet, padding optional (at most two "="), and
    exactly `size` bytes or min_size..max_size bytes. The byte minimum is exact in the pattern;
    the maximum is a length that also allows for padding, so a string at that very length but
    without padding decodes to a byte or two too many and gets 413 (a regular expression with
    exact upper bounds would be too large for common validators)."""
    if size is not None:
        return {"pattern": f"^{_B64_CHAR}{{{_chars(size)}}}={{0,2}}$"}
    if min_size % 3 != 1:
        raise ValueError("the pattern is exact for minimums of 3k + 1 bytes only")
    rules: dict[str, Any] = {"pattern": f"^(?:{_B64_CHAR}{{4}}){{{min_size // 3},}}{_B64_CHAR}{{2,4}}={{0,2}}$"}
    if max_size is not None:
        rules["maxLength"] = _chars(max_size) + 2
    return rules


B64 = {"type": "string", "contentEncoding": "base64url", **_b64_rules(),
       "description": "Binary value, base64url (padding optional; standard base64 accepted)."}
HEX_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "16 bytes, lowercase hex."}
TS = {"type": ["string", "null"], "format": "date-time"}
CODE = {"type": "string", "pattern": "^[A-Z][A-Z0-9-]{1,15}$", "description": "A party code such as NLD or ICC-REG."}
MAX_ID = 2 ** 62  # api.integer's default ceiling
INT32 = 2 ** 31 - 1  # api.INT32: user ids, seqs and epochs
# api.add_device: at most 100 characters, no control character (U+0000-U+001F), and not only
# whitespace as str.strip() sees it (spelled out: a regular expression's \s differs slightly).
_SPACE = "".join(f"\\u{ord(c):04x}" for c in map(chr, range(32, 0x3001)) if c.isspace())
LABEL = {"type": "string", "minLength": 1, "maxLength": 100,
         "pattern": f"^[^\\u0000-\\u001f]*[^\\u0000-\\u001f{_SPACE}][^\\u0000-\\u001f]*$"}


def _b64(description: str, *, size: int | None = None, min_size: int = 1, max_size: int = 65536,
         **extra: Any) -> dict[str, Any]:
    """An input value: exactly `size` bytes, or min_size..max_size (65536 unless said, as api.b64d)."""
    return {**B64, **_b64_rules(size, min_size, max_size), "description": description, **extra}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
                                               "head": _ref("Head"), "missing": {"type": "array",
                                                                                 "items": {"type": "integer"}}},
              "required": ["error", "status"]},
    "Head": {"type": "object", "properties": {"seq": {"type": "integer"}, "hash": B64,
                                              "epoch": {"type": "integer"}}},
    "Device": {"type": "object", "properties": {
        "device_id": HEX_ID, "label": {"type": "string"}, "dh_public": _b64("X25519 public key, 32 bytes."),
        "sig_public": _b64("Ed25519 public key, 32 bytes."),
        "certificate": _b64("Device certificate signed by the user identity key (opaque)."),
        "created_at": TS, "revoked_at": TS, "revocation": {**B64, "type": ["string", "null"]}}},
    "DeviceIn": _obj({"device_id": HEX_ID, "label": LABEL,
                      "dh_public": _b64("32 bytes", size=32), "sig_public": _b64("32 bytes", size=32),
                      "certificate": _b64("at most 4096 bytes", max_size=4096)},
                     ["device_id", "label", "dh_public", "sig_public", "certificate"]),
    "Keys": {"type": "object", "properties": {
        "user_id": {"type": "integer"}, "party": {"type": "string"}, "name": {"type": "string"},
        "admin": {"type": "boolean", "description": "May administer the party's thread seats (PROTOCOL.md §6)."},
        "identity": {"type": ["object", "null"], "properties": {"public_key": B64, "created_at": TS}},
        "identity_history": {"type": "array", "items": {"type": "object", "properties": {
            "public_key": B64, "created_at": TS, "superseded_at": TS}}},
        "devices": {"type": "array", "items": _ref("Device")},
        "generations": {"type": "array", "items": {"type": "object", "properties": {
            "generation": {"type": "integer"}, "dh_public": B64, "sig_public": B64, "record": B64,
            "created_at": TS}}},
        "device_wraps": {"type": "array", "items": {"type": "object", "properties": {
            "generation": {"type": "integer"}, "device_id": HEX_ID, "wrap": B64}}},
        "recovery": {"type": "array", "items": {"type": "object", "properties": {
            "kind": {"enum": ["rk", "state"]}, "version": {"type": "integer"}, "blob": B64, "created_at": TS}}}}},
    "ApprovalIn": _obj({"request_id": {**HEX_ID, "description": "16 random bytes: the new device's device_id."},
                        "label": LABEL, "dh_public": _b64("The new device's X25519 public key.", size=32),
                        "sig_public": _b64("The new device's Ed25519 public key.", size=32)},
                       ["request_id", "label", "dh_public", "sig_public"]),
    "Approval": {"type": "object", "properties": {
        "request_id": HEX_ID, "label": {"type": "string"}, "dh_public": B64, "sig_public": B64,
        "created_at": TS, "expires_at": TS, "status": {"enum": ["pending", "approved"]}, "approved_at": TS,
        "approver_device_id": {**HEX_ID, "type": ["string", "null"]},
        "sealed": {**B64, "description": "Account secrets sealed (HPKE) to dh_public (approved requests, "
                                         "GET of the request only)."},
        "signature": {**B64, "description": "The approving device's Ed25519 signature (PROTOCOL.md §8a)."}}},
    "Thread": {"type": "object", "properties": {
        "id": HEX_ID, "created_at": TS, "meta": {**B64, "type": ["string", "null"],
                                                 "description": "Encrypted metadata (subject, topic, references)."},
        "head": {"type": "object", "properties": {"seq": {"type": "integer"}, "hash": B64}},
        "epoch": {"type": "integer"}, "read_up_to": {"type": "integer"}, "unread": {"type": "integer"},
        "unread_capped": {"type": "boolean"}, "latest_message_id": {"type": ["integer", "null"]},
        "parties": {"type": "array", "items": {"type": "string"}},
        "members": {"type": "array", "items": {"type": "object", "properties": {
            "user_id": {"type": "integer"}, "since_epoch": {"type": ["integer", "null"]}}}}}},
    "EventIn": _obj({
        "seq": {"type": "integer", "minimum": 0, "maximum": INT32},
        "prev_hash": _b64("SHA-256 of the previous event's bytes; 32 zero bytes for seq 0.", size=32),
        "type": {"enum": ["create", "add_state", "remove_state", "add_user", "remove_user", "rotate", "set_policy",
                          "rename"]},
        "device_id": HEX_ID, "event": _b64("The signed event bytes (opaque)."),
        "signature": _b64("Ed25519 over \"TEK1/event-sig\" | SHA-256(event), by the device.", size=64),
        "party": {**CODE, "type": ["string", "null"], "description": "add_state / remove_state: the party code."},
        "users": {"type": "array", "maxItems": 5000, "items": {"type": "integer", "minimum": 1, "maximum": INT32}},
        "meta": {**_b64("create / rename: the new encrypted metadata."), "type": ["string", "null"]},
        "epoch": {**_obj({"number": {"type": "integer", "minimum": 0, "maximum": INT32},
                          "wraps": {"type": "array", "minItems": 1, "maxItems": 5000, "items": _obj({
                              "user_id": {"type": "integer", "minimum": 1, "maximum": INT32},
                              "generation": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                              "wrap": _b64("HPKE wrap of the epoch key.", max_size=1024)},
                              ["user_id", "generation", "wrap"])}},
                         ["number", "wraps"]), "type": ["object", "null"],
                  "description": "Required by create, add_state, remove_state, add_user, remove_user, rotate."}},
        ["seq", "prev_hash", "type", "device_id", "event", "signature"]),
    "Event": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "type": {"type": "string"}, "actor_id": {"type": ["integer", "null"]},
        "device_id": HEX_ID, "epoch": {"type": ["integer", "null"]}, "event": B64, "signature": B64,
        "prev_hash": B64, "hash": B64, "created_at": TS}},
    "Message": {"type": "object", "properties": {
        "id": {"type": "integer"}, "msg_id": HEX_ID, "epoch": {"type": "integer"},
        "sender_id": {"type": ["integer", "null"]}, "device_id": HEX_ID, "created_at": TS,
        "envelope": _b64("TEK1 envelope: header(126) | ciphertext | Ed25519 signature(64).")}},
    "Attachment": {"type": "object", "properties": {
        "id": HEX_ID, "thread_id": HEX_ID, "size": {"type": "integer"}, "part_size": {"type": "integer"},
        "parts": {"type": "integer"}, "complete": {"type": "boolean"}, "created_at": TS,
        "received": {"type": "array", "items": {"type": "integer"}}}},
}

_THREAD_ID = {"name": "thread_id", "in": "path", "required": True, "schema": HEX_ID}
_ATTACHMENT_ID = {"name": "attachment_id", "in": "path", "required": True, "schema": HEX_ID}
_REQUEST_ID = {"name": "request_id", "in": "path", "required": True, "schema": HEX_ID}


def _q(name: str, description: str, minimum: int = 0, maximum: int = MAX_ID) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": minimum, "maximum": maximum}}


# (path, method, operationId, summary, parameters, request schema or None, (status, schema) responses)
OPERATIONS: list[tuple[str, str, str, str, list[Any], Any, list[tuple[int, Any]]]] = [
    ("/api/v1/openapi.json", "get", "openapi", "This document.", [], None, [(200, {"type": "object"})]),
    ("/api/v1/me", "get", "me", "The signed-in user (cooperation.oauth) and the token's scopes.", [], None,
     [(200, {"type": "object", "properties": {"id": {"type": "integer"}, "party": {"type": "string"},
                                              "role": {"type": "string"}, "role_label": {"type": "string"},
                                              "scopes": {"type": ["array", "null"], "items": {"type": "string"}}}})]),
    ("/api/v1/keys", "get", "ownKeys", "One's own keys, device wraps and latest recovery blobs.", [], None,
     [(200, _ref("Keys"))]),
    ("/api/v1/keys/identity", "put", "publishIdentity", "Publish the user identity key (a change is recorded).",
     [], _obj({"public_key": _b64("Ed25519 public key, 32 bytes.", size=32)}, ["public_key"]),
     [(200, {"type": "object"}), (201, {"type": "object"})]),
    ("/api/v1/keys/devices", "post", "addDevice", "Register a device's public keys and certificate.", [],
     _ref("DeviceIn"), [(201, _ref("Device")), (409, _ref("Error"))]),
    ("/api/v1/keys/devices/{device_id}/revoke", "post", "revokeDevice", "Revoke one of one's devices.",
     [{"name": "device_id", "in": "path", "required": True, "schema": HEX_ID}],
     _obj({"revocation": _b64("Signed revocation statement.", max_size=4096)}, ["revocation"]),
     [(200, _ref("Device")), (409, _ref("Error"))]),
    ("/api/v1/keys/generations", "post", "addGeneration", "Publish the next per-user key generation.", [],
     _obj({"generation": {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "dh_public": _b64("32 bytes", size=32),
           "sig_public": _b64("32 bytes", size=32), "record": _b64("UIK-signed record", max_size=4096),
           "wraps": {"type": "array", "minItems": 1, "maxItems": 100, "items": _obj(
               {"device_id": HEX_ID, "wrap": _b64("The generation's secret, wrapped to the device.", max_size=1024)},
               ["device_id", "wrap"])}},
          ["generation", "dh_public", "sig_public", "record", "wraps"]),
     [(201, {"type": "object"}), (409, _ref("Error"))]),
    ("/api/v1/keys/recovery", "put", "storeRecovery", "Store a new version of the recovery blob.", [],
     _obj({"kind": {"enum": ["rk", "state"]}, "blob": _b64("AES-GCM ciphertext of the account secrets.",
                                                          min_size=28)},
          ["kind", "blob"]), [(201, {"type": "object"})]),
    ("/api/v1/keys/approvals", "get", "listApprovals",
     "One's browsers waiting for approval by another of one's devices (expired ones are gone).", [], None,
     [(200, {"type": "object", "properties": {"approvals": {"type": "array", "items": _ref("Approval")}}})]),
    ("/api/v1/keys/approvals", "post", "requestApproval",
     "A new browser asks one of the user's devices for the account secrets (expires after 10 minutes; "
     "at most 3 waiting; rate-limited).", [], _ref("ApprovalIn"),
     [(201, _ref("Approval")), (409, _ref("Error")), (429, _ref("Error"))]),
    ("/api/v1/keys/approvals/{request_id}", "get", "getApproval",
     "One request; once approved, with the sealed secrets and the approver's signature.", [_REQUEST_ID], None,
     [(200, _ref("Approval"))]),
    ("/api/v1/keys/approvals/{request_id}/approve", "post", "approveDevice",
     "Approve a waiting browser: the account secrets sealed to it, signed by the approving device.",
     [_REQUEST_ID],
     _obj({"device_id": {**HEX_ID, "description": "The approving device (one's own, active)."},
           "sealed": _b64("HPKE seal of the account secrets to the request's dh_public.", min_size=49,
                          max_size=65584),
           "signature": _b64("Ed25519, by the approving device (PROTOCOL.md §8a).", size=64)},
          ["device_id", "sealed", "signature"]),
     [(200, _ref("Approval")), (409, _ref("Error"))]),
    ("/api/v1/keys/approvals/{request_id}/refuse", "post", "refuseApproval",
     "Refuse a waiting browser, or cancel one's own request: it is deleted.", [_REQUEST_ID], None,
     [(200, {"type": "object", "properties": {"request_id": HEX_ID, "status": {"enum": ["refused"]}}})]),
    ("/api/v1/users/{user_id}/keys", "get", "userKeys",
     "A colleague's or fellow participant's public keys, with the identity key history.",
     [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0, "maximum": INT32}}],
     None,
     [(200, _ref("Keys"))]),
    ("/api/v1/notifications", "get", "getNotifications", "One's mail notification mode.", [], None,
     [(200, {"type": "object", "properties": {"mode": {"enum": ["event", "digest", "off"]}}})]),
    ("/api/v1/notifications", "put", "setNotifications", "Choose per-event mails, a daily digest, or none.", [],
     _obj({"mode": {"enum": ["event", "digest", "off"]}}, ["mode"]),
     [(200, {"type": "object", "properties": {"mode": {"type": "string"}}})]),
    ("/api/v1/threads", "get", "listThreads", "One's threads with unread counts.", [_q("limit", "At most 500.", 1, 500)],
     None, [(200, {"type": "object", "properties": {"threads": {"type": "array", "items": _ref("Thread")}}})]),
    ("/api/v1/threads", "post", "createThread", "Create a thread with participating parties.", [],
     _obj({"parties": {"type": "array", "items": CODE}}),
     [(201, _ref("Thread"))]),
    ("/api/v1/threads/{thread_id}", "get", "getThread", "A thread, its parties, members and head.", [_THREAD_ID],
     None, [(200, _ref("Thread"))]),
    ("/api/v1/threads/{thread_id}/roster", "get", "threadRoster",
     "Users of the participating parties who can be added, with their current key generation; with "
     "?party=CODE, the users of a party not yet in the thread (owner party only, before add_state).",
     [_THREAD_ID, {"name": "party", "in": "query", "required": False, "description": "A party code.",
                   "schema": CODE}],
     None, [(200, {"type": "object"})]),
    ("/api/v1/threads/{thread_id}/events", "get", "listEvents", "The signed log, in order.",
     [_THREAD_ID, _q("after", "Events after this seq.", 0, INT32), _q("limit", "At most 500.", 1, 500)], None,
     [(200, {"type": "object", "properties": {"events": {"type": "array", "items": _ref("Event")},
                                              "head": _ref("Head")}})]),
    ("/api/v1/threads/{thread_id}/events", "post", "appendEvent",
     "Append a signed event at head + 1 (409 with the head if it moved).", [_THREAD_ID], _ref("EventIn"),
     [(201, _ref("Event")), (409, _ref("Error"))]),
    ("/api/v1/threads/{thread_id}/epochs/{epoch}", "get", "getEpoch", "An epoch's wraps, one per member.",
     [_THREAD_ID, {"name": "epoch", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 0, "maximum": INT32}}],
     None, [(200, {"type": "object"})]),
    ("/api/v1/threads/{thread_id}/messages", "get", "listMessages",
     "The latest messages, newest first; page back with before.",
     [_THREAD_ID, _q("before", "Messages with a smaller id.", 1), _q("limit", "1 to 200, default 50.", 1, 200)], None,
     [(200, {"type": "object", "properties": {"messages": {"type": "array", "items": _ref("Message")},
                                              "next_before": {"type": ["integer", "null"]}}})]),
    ("/api/v1/threads/{thread_id}/messages", "post", "postMessage",
     "Post an encrypted TEK1 envelope (idempotent by the header's msg_id).", [_THREAD_ID],
     _obj({"envelope": _b64("TEK1 envelope", max_size=tek.MAX_ENVELOPE),
           "msg_id": {**HEX_ID, "type": ["string", "null"]}}, ["envelope"]),
     [(200, _ref("Message")), (201, _ref("Message")), (409, _ref("Error"))]),
    ("/api/v1/threads/{thread_id}/read", "post", "markRead", "Move one's read marker forward.", [_THREAD_ID],
     _obj({"up_to": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}, ["up_to"]),
     [(200, {"type": "object", "properties": {"read_up_to": {"type": "integer"}, "unread": {"type": "integer"}}})]),
    ("/api/v1/threads/{thread_id}/attachments", "post", "createAttachment",
     "Start an upload: ciphertext size and part size.", [_THREAD_ID],
     _obj({"size": {"type": "integer", "minimum": 1, "maximum": 2 ** 50}, "part_size": {"type": "integer", "minimum": 1,
                                                                      "maximum": 64 * 1024 * 1024}},
          ["size", "part_size"]), [(201, _ref("Attachment")), (413, _ref("Error"))]),
    ("/api/v1/threads/{thread_id}/attachments/{attachment_id}", "get", "attachmentStatus",
     "The upload's status and received parts (to resume).", [_THREAD_ID, _ATTACHMENT_ID], None,
     [(200, _ref("Attachment"))]),
    ("/api/v1/threads/{thread_id}/attachments/{attachment_id}/parts/{number}", "put", "putPart",
     "Upload one part as a raw body (exactly part_size bytes, the last one the remainder).",
     [_THREAD_ID, _ATTACHMENT_ID, {"name": "number", "in": "path", "required": True,
                                   "schema": {"type": "integer", "minimum": 0}}],
     "octet", [(200, {"type": "object"}), (409, _ref("Error")), (411, _ref("Error")), (413, _ref("Error"))]),
    ("/api/v1/threads/{thread_id}/attachments/{attachment_id}/complete", "post", "completeAttachment",
     "Finish the upload once every part is in.", [_THREAD_ID, _ATTACHMENT_ID], None,
     [(200, _ref("Attachment")), (409, _ref("Error"))]),
    ("/api/v1/threads/{thread_id}/attachments/{attachment_id}/content", "get", "downloadAttachment",
     "The ciphertext, streamed.", [_THREAD_ID, _ATTACHMENT_ID], None, [(200, "octet")]),
]

_COMMON_ERRORS = {"400": "Invalid request (the message says which field).",
                  "401": "Not signed in, or the bearer token is unknown, expired or revoked.",
                  "404": "Absent or not accessible."}


@cache
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, method, op_id, summary, params, request_schema, responses in OPERATIONS:
        operation: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": {}}
        if params:
            operation["parameters"] = params
        if request_schema == "octet":
            operation["requestBody"] = {"required": True, "content": {"application/octet-stream": {"schema": {
                "type": "string", "contentMediaType": "application/octet-stream", "minLength": 1}}}}
        elif request_schema is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": request_schema}}}
        for status, schema in responses:
            if schema == "octet":
                content = {"application/octet-stream": {"schema": {"type": "string",
                                                                   "contentMediaType": "application/octet-stream"}}}
            else:
                content = {"application/json": {"schema": schema}}
            operation["responses"][str(status)] = {"description": "OK" if status < 300 else "Error",
                                                   "content": content}
        errors = {**_COMMON_ERRORS, **({"413": "The body, or a value in it, is larger than allowed."}
                                       if request_schema is not None else {})}
        for status, text in errors.items():
            operation["responses"].setdefault(status, {"description": text, "content": {
                "application/json": {"schema": _ref("Error")}}})
        operation["security"] = [{"session": []}, {"bearer": []}]
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure Platform on Cooperation: end-to-end encrypted threads", "version": "1",
                 "description": "The server stores and relays ciphertext, public keys and participant lists only. "
                                "Browser sessions send the CSRF token in X-CSRFToken on writes."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
