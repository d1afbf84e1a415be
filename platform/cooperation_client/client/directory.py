"""Who is who: other users' keys from the server, checked before use (PROTOCOL.md §12).

The server vouches for user → State; the client verifies everything else itself: device
certificates under the user's identity key (UIK), PUK records under the UIK. Each UIK is pinned
on first use (TOFU). If the server later shows another key, that key is not used: reading goes
on with what the pinned key certified, while anything that would give that user a key (sending,
wrapping) is refused with KeyChanged until the user runs `trust` after comparing the safety
number. Devices certified by a previously trusted UIK stay valid, so an accepted key change does
not make old events unverifiable. The pin file also caches the public keys last seen, for users
the server no longer shows (removed from a thread).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cooperation_client.protocol import events
from cooperation_client.protocol.encoding import b64d, b64e, hexd
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.keys import DevicePublic, verify_device_cert
from cooperation_client.protocol.statements import Signed, verify_statement

from .api import ApiClient, unb64url
from .errors import ApiError, ClientError, KeyChanged
from .store import PINS_FILE, LocalKeys, Store


def user_bytes(user_id: int) -> bytes:
    """§12: platform user id n is the 16-byte big-endian integer n."""
    return int(user_id).to_bytes(16, "big")


def user_int(user: bytes) -> int:
    return int.from_bytes(user, "big")


def statement_from_wire(value: Any, what: str) -> Signed:
    """Certificates and records travel as base64url of the statement's UTF-8 JSON bytes."""
    try:
        return Signed.from_json(json.loads(unb64url(value, what).decode("utf-8")))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, ProtocolError) as exc:
        raise ClientError(f"The server sent a malformed {what}.") from exc


@dataclass(frozen=True)
class Generation:
    gen: int
    dh_pub: bytes
    prev_link: bytes | None


def verify_puk_record(record: Signed, uik_pub: bytes, user: bytes) -> Generation:
    body = verify_statement(record, "puk-record", uik_pub)
    gen, link = body.get("gen"), body.get("prev_link")
    if hexd(body.get("user", ""), 16) != user or type(gen) is not int or gen < 1:
        raise ProtocolError("invalid PUK record")
    return Generation(gen, b64d(body["dh_pub"], 32), b64d(link, 60) if isinstance(link, str) else None)


@dataclass
class UserKeys:
    user_id: int
    state: str
    admin: bool
    name: str
    uik_pub: bytes
    devices: dict[bytes, DevicePublic] = field(default_factory=dict)   # certified by a trusted UIK
    active: set[bytes] = field(default_factory=set)                     # of those, not revoked
    generations: dict[int, Generation] = field(default_factory=dict)    # UIK-signed records
    changed_uik: bytes | None = None    # what the server shows instead of the pinned key, if so

    @property
    def user(self) -> bytes:
        return user_bytes(self.user_id)


def verify_keys_json(data: dict[str, Any], trusted: list[bytes]) -> UserKeys:
    """A GET /users/{id}/keys (or /keys) answer, checked under the trusted UIKs (the pinned one
    first; records count only under it). `changed_uik` is set if the server shows another key."""
    identity = data.get("identity") or {}
    shown = unb64url(identity.get("public_key"), "identity key") if identity else None
    uik = trusted[0]
    keys = UserKeys(int(data["user_id"]), str(data.get("party", "")), bool(data.get("admin")),
                    str(data.get("name", "")), uik, changed_uik=shown if shown != uik else None)
    user = keys.user
    for device in data.get("devices", []):
        try:
            cert = statement_from_wire(device.get("certificate"), "device certificate")
        except ClientError:
            continue  # not certified by this user: peers ignore it
        for candidate in trusted:
            try:
                public = verify_device_cert(cert, candidate, user)
            except ProtocolError:
                continue
            if public.device_id.hex() == device.get("device_id"):
                keys.devices[public.device_id] = public
                if not device.get("revoked_at"):
                    keys.active.add(public.device_id)
            break
    for row in data.get("generations", []):
        try:
            gen = verify_puk_record(statement_from_wire(row.get("record"), "key record"), uik, user)
        except (ClientError, ProtocolError):
            continue
        if gen.gen == row.get("generation") and gen.dh_pub == unb64url(row.get("dh_public"), "key"):
            keys.generations[gen.gen] = gen
    return keys


@dataclass(frozen=True)
class RosterUser:
    """A user whom epoch keys can be wrapped to: current PUK generation, record verified."""

    user_id: int
    state: str
    admin: bool
    name: str
    uik_pub: bytes
    gen: int
    dh_pub: bytes


class Pins:
    """Identity keys pinned on first use, and the public keys last seen per user."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.data: dict[str, Any] = store.read(PINS_FILE) or {}

    def _save(self) -> None:
        self.store.write(PINS_FILE, self.data)

    def get(self, user_id: int) -> dict[str, Any] | None:
        entry = self.data.get(str(user_id))
        return entry if isinstance(entry, dict) else None

    def trusted(self, user_id: int, uik: bytes, name: str = "") -> list[bytes]:
        """The UIKs to accept for this user, the pinned one first; `uik` (what the server shows)
        is pinned if the user is new."""
        entry = self.get(user_id)
        if entry is None:
            self.data[str(user_id)] = {"uik": b64e(uik), "previous": [], "name": name}
            self._save()
            return [uik]
        return [b64d(entry["uik"], 32), *(b64d(k, 32) for k in entry.get("previous", []))]

    def remember(self, keys: UserKeys) -> None:
        """Cache what was verified, for when the server stops showing this user."""
        entry = self.data.setdefault(str(keys.user_id), {"uik": b64e(keys.uik_pub), "previous": []})
        cached = {"name": keys.name, "state": keys.state, "admin": keys.admin,
                  "devices": {d.hex(): b64e(p.sig_pub) for d, p in sorted(keys.devices.items())}}
        if any(entry.get(k) != v for k, v in cached.items()):
            entry.update(cached)
            self._save()

    def cached(self, user_id: int) -> UserKeys | None:
        entry = self.get(user_id)
        if entry is None or "state" not in entry:
            return None
        keys = UserKeys(user_id, entry["state"], bool(entry.get("admin")), entry.get("name", ""),
                        b64d(entry["uik"], 32))
        for dev_hex, sig in entry.get("devices", {}).items():
            device_id = bytes.fromhex(dev_hex)
            keys.devices[device_id] = DevicePublic(device_id, b"", b64d(sig, 32))
        return keys

    def trust(self, user_id: int, uik: bytes) -> bool:
        """Accept `uik` as the user's key from now on; False if it already was."""
        entry = self.get(user_id)
        if entry is not None and b64d(entry["uik"], 32) == uik:
            return False
        previous = [] if entry is None else [entry["uik"], *entry.get("previous", [])]
        self.data[str(user_id)] = {**(entry or {}), "uik": b64e(uik), "previous": previous}
        self._save()
        return True


class KeyBook:
    """Per-run cache of verified user keys, fetched from the API on demand."""

    def __init__(self, api: ApiClient, store: Store, me: LocalKeys) -> None:
        self.api, self.me, self.pins = api, me, Pins(store)
        self._users: dict[int, UserKeys | None] = {}

    def raw(self, user_id: int) -> dict[str, Any]:
        return self.api.get(f"/api/v1/users/{int(user_id)}/keys")  # type: ignore[no-any-return]

    def current_uik(self, data: dict[str, Any]) -> bytes:
        identity = data.get("identity")
        if not identity:
            raise ClientError(f"User {data.get('user_id')} has not set up encryption keys yet.")
        return unb64url(identity.get("public_key"), "identity key")

    def user(self, user_id: int) -> UserKeys | None:
        """Verified keys, the cached ones if the server no longer shows this user, else None.
        A changed identity key is reported in `changed_uik`, never used."""
        if user_id in self._users:
            return self._users[user_id]
        try:
            data = self.raw(user_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            found = self.pins.cached(user_id)
        else:
            uik = self.current_uik(data)
            if user_id == self.me.user_id:
                if uik != self.me.uik.public:
                    raise ClientError("The server shows an identity key for you that is not this install's. "
                                      "Someone may have replaced it; contact your administrator.")
                trusted = [uik]
            else:
                trusted = self.pins.trusted(user_id, uik, str(data.get("name", "")))
            found = verify_keys_json(data, trusted)
            if user_id != self.me.user_id and found.changed_uik is None:
                self.pins.remember(found)
        self._users[user_id] = found
        return found

    def require_unchanged(self, user_id: int) -> None:
        """Before giving a user a key: refuse while their identity key change is not accepted."""
        keys = self.user(user_id)
        if keys is not None and keys.changed_uik is not None:
            raise KeyChanged(user_id, keys.name)

    def roster_user(self, party: str, entry: dict[str, Any]) -> RosterUser | None:
        """One roster entry, its identity pinned and its PUK record verified; None if the user
        has no identity key. KeyChanged if it differs from the pinned one."""
        if not entry.get("identity"):
            return None
        user_id = int(entry["user_id"])
        uik = unb64url(entry["identity"], "identity key")
        if user_id == self.me.user_id:
            if uik != self.me.uik.public:
                raise ClientError("The server shows an identity key for you that is not this install's.")
        elif self.pins.trusted(user_id, uik, str(entry.get("name", "")))[0] != uik:
            raise KeyChanged(user_id, str(entry.get("name", "")))
        try:
            gen = verify_puk_record(statement_from_wire(entry.get("record"), "key record"), uik, user_bytes(user_id))
        except ProtocolError as exc:
            raise ClientError(f"The key record of user {user_id} does not verify; not using it.") from exc
        if gen.gen != entry.get("generation") or gen.dh_pub != unb64url(entry.get("dh_public"), "key"):
            raise ClientError(f"The server's key generation for user {user_id} does not match its signed record.")
        return RosterUser(user_id, party, bool(entry.get("admin")), str(entry.get("name", "")), uik, gen.gen,
                          gen.dh_pub)

    def directory(self, user_ids: Iterable[int], extra: Iterable[RosterUser] = ()) -> events.Directory:
        """An events.Directory of the given users (those whose keys can be had) plus roster users."""
        out = events.Directory()
        for user_id in sorted(set(user_ids)):
            keys = self.user(user_id)
            if keys is None:
                continue
            out.users[keys.user] = events.UserInfo(keys.state, keys.admin)
            for device_id, public in keys.devices.items():
                out.devices[(keys.user, device_id)] = public.sig_pub
        for entry in extra:
            out.users.setdefault(user_bytes(entry.user_id), events.UserInfo(entry.state, entry.admin))
        return out

    def name(self, user_id: int) -> str:
        keys = self._users.get(user_id)
        if keys is None:
            entry = self.pins.get(user_id) or {}
            return str(entry.get("name") or f"user {user_id}")
        return keys.name or f"user {user_id}"
