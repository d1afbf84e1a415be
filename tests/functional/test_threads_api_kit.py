"""Test kit for the threads API (no tests here): device keys, TEK1 envelopes encrypted for real
with AES-256-GCM, signed events, a small JSON client, and direct seeding for the access matrix."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cooperation.threads import envelope as tek

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Dev:
    """One device: X25519 + Ed25519 key pairs and a 16-byte id."""

    device_id: str = field(default_factory=lambda: secrets.token_hex(16))
    sig: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    dh: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    uik: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def sig_public(self) -> bytes:
        return self.sig.public_key().public_bytes(*RAW)

    @property
    def dh_public(self) -> bytes:
        return self.dh.public_key().public_bytes(*RAW)

    @property
    def uik_public(self) -> bytes:
        return self.uik.public_key().public_bytes(*RAW)

    def certificate(self) -> bytes:
        payload = f'{{"device":"{self.device_id}","v":1}}'.encode()
        return payload + self.uik.sign(payload)

    def sign_event(self, body: bytes) -> bytes:
        return self.sig.sign(b"TEK1/event-sig" + hashlib.sha256(body).digest())


def pad(body: bytes) -> bytes:
    need = len(body) + 1
    size = max(256, -(-need // 256) * 256) if need <= 4096 else 1 << (need - 1).bit_length()
    return body + b"\x80" + bytes(size - need)


def envelope(thread_id: str, epoch: int, user_id: int, dev: Dev, text: bytes, *, key: bytes | None = None,
             msg_id: bytes | None = None, head_hash: bytes = bytes(32)) -> bytes:
    """A TEK1 envelope: the text is really encrypted (AES-256-GCM, header as AAD) and signed."""
    key = key or AESGCM.generate_key(256)
    nonce = os.urandom(12)
    header = struct.pack(">4sBB16sI32s16s16s16sQ12s", b"TEK1", 1, 1, bytes.fromhex(thread_id), epoch, head_hash,
                         msg_id or os.urandom(16), tek.user_ref(user_id), bytes.fromhex(dev.device_id),
                         int(time.time() * 1000), nonce)
    ct = AESGCM(key).encrypt(nonce, pad(text), header)
    signed = header + ct
    return signed + dev.sig.sign(tek.signature_input(signed))


class Api:
    """JSON calls with the session's CSRF token in X-CSRFToken."""

    def __init__(self, client: Any, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def send(self, method: str, path: str, payload: Any = None, **kwargs: Any) -> Any:
        headers = {"X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        if payload is not None:
            kwargs["json"] = payload
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def post(self, path: str, payload: Any = None, **kwargs: Any) -> Any:
        return self.send("POST", path, payload, **kwargs)

    def put(self, path: str, payload: Any = None, **kwargs: Any) -> Any:
        return self.send("PUT", path, payload, **kwargs)

    def put_raw(self, path: str, data: bytes | io.IOBase, length: int | None = None) -> Any:
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "application/octet-stream"}
        if isinstance(data, bytes):
            return self.client.put(path, data=data, headers=headers)
        headers["Content-Length"] = str(length)
        return self.client.put(path, input_stream=data, headers=headers)


def publish_keys(api: Api, dev: Dev | None = None) -> Dev:
    """Identity, one device and PUK generation 1, through the API."""
    dev = dev or Dev()
    assert api.put("/api/v1/keys/identity", {"public_key": b64(dev.uik_public)}).status_code in (200, 201)
    r = api.post("/api/v1/keys/devices", {"device_id": dev.device_id, "label": "Test laptop",
                                          "dh_public": b64(dev.dh_public), "sig_public": b64(dev.sig_public),
                                          "certificate": b64(dev.certificate())})
    assert r.status_code == 201, r.get_json()
    r = api.post("/api/v1/keys/generations", {
        "generation": 1, "dh_public": b64(X25519PrivateKey.generate().public_key().public_bytes(*RAW)),
        "sig_public": b64(Ed25519PrivateKey.generate().public_key().public_bytes(*RAW)),
        "record": b64(os.urandom(120)), "wraps": [{"device_id": dev.device_id, "wrap": b64(os.urandom(80))}]})
    assert r.status_code == 201, r.get_json()
    return dev


def event_payload(dev: Dev, seq: int, prev_hash: bytes, kind: str, *, users: list[int] | None = None,
                  party: str | None = None, epoch: int | None = None, members: list[int] | None = None,
                  meta: bytes | None = None, body: bytes | None = None) -> dict[str, Any]:
    body = body or os.urandom(200)
    out: dict[str, Any] = {"seq": seq, "prev_hash": b64(prev_hash), "type": kind, "device_id": dev.device_id,
                           "event": b64(body), "signature": b64(dev.sign_event(body))}
    if users is not None:
        out["users"] = users
    if party is not None:
        out["party"] = party
    if meta is not None:
        out["meta"] = b64(meta)
    if epoch is not None:
        out["epoch"] = {"number": epoch, "wraps": [{"user_id": u, "generation": 1, "wrap": b64(os.urandom(80))}
                                                   for u in (members or [])]}
    return out


def seed_thread(owner_id: int, party_code: str) -> str:
    """Directly through the services (fast, for the access matrix): the owner gets keys if
    needed, and a thread with `party_code` whose create event made the owner its one member."""
    from cooperation.accounts.models import User
    from cooperation.audit.service import Actor
    from cooperation.extensions import db
    from cooperation.threads import services as s

    session = db.session()
    owner = session.get(User, owner_id)
    actor = Actor.system("test")
    dev = seed_keys(owner_id)
    thread = s.create_thread(session, owner, [party_code], actor)
    if not s.may_participate(owner):
        return thread.id  # the Secretariat: a bare thread (the API answers 404 anyway)
    _, member = s.membership(session, owner, thread.id)
    body = os.urandom(64)
    s.append_event(session, owner, thread, member, s.EventIn(
        seq=0, prev_hash=bytes(32), kind="create", device_id=dev.device_id, body=body, signature=dev.sign_event(body),
        users=(owner_id,), meta=os.urandom(64), epoch=1,
        wraps=(s.WrapIn(owner_id, s.current_generation(session, owner_id).generation, os.urandom(80)),)), actor)
    session.flush()
    return thread.id


def seed_keys(owner_id: int) -> Dev:
    """The owner's identity and generation 1 if missing, and a fresh device (returned)."""
    from cooperation.accounts.models import User
    from cooperation.audit.service import Actor
    from cooperation.extensions import db
    from cooperation.threads import services as s

    session = db.session()
    owner = session.get(User, owner_id)
    actor = Actor.system("test")
    dev = Dev()
    if s.current_identity(session, owner_id) is None:
        s.publish_identity(session, owner, dev.uik_public, actor)
    s.add_device(session, owner, device_id=dev.device_id, label="seed", dh_public=dev.dh_public,
                 sig_public=dev.sig_public, certificate=dev.certificate(), actor=actor)
    if s.current_generation(session, owner_id) is None:
        s.add_generation(session, owner, generation=1, dh_public=dev.dh_public, sig_public=dev.sig_public,
                         record_bytes=b"r" * 64, wraps=[(dev.device_id, b"w" * 80)], actor=actor)
    session.flush()
    return dev


def seed_attachment(app: Any, thread_id: str, owner_id: int) -> str:
    """A complete 10-byte attachment in the thread, uploaded by the owner."""
    from cooperation.accounts.models import User
    from cooperation.audit.service import Actor
    from cooperation.extensions import db
    from cooperation.threads import services as s
    from cooperation.threads.models import Thread
    from cooperation.threads.storage import get_storage

    session = db.session()
    owner = session.get(User, owner_id)
    thread = session.get(Thread, thread_id)
    storage = get_storage(app)
    attachment = s.create_upload(session, owner, thread, size=10, part_size=10, storage=storage, max_size=1 << 30,
                                 actor=Actor.system("test"))
    s.store_part(session, storage, attachment, 0, io.BytesIO(os.urandom(10)), 10)
    session.flush()
    s.complete_upload(session, owner, attachment, Actor.system("test"))
    session.flush()
    return attachment.id


def seed_approval(owner_id: int) -> str:
    """A browser of the owner's waiting for approval (the owner gets keys if needed), inserted
    directly: the access matrix and the fuzz need many, beyond the per-user cap."""
    from cooperation.db import utcnow
    from cooperation.extensions import db
    from cooperation.threads import approvals
    from cooperation.threads.models import DeviceApproval

    seed_keys(owner_id)
    new = Dev()
    now = utcnow()
    row = DeviceApproval(request_id=new.device_id, user_id=owner_id, label="New browser", dh_public=new.dh_public,
                         sig_public=new.sig_public, created_at=now, expires_at=now + approvals.TTL)
    db.session.add(row)
    db.session.flush()
    return row.request_id
