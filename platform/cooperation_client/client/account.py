"""The user's own keys: enrolment from the first device, recovery on a new install from the
Recovery Key, catching up with PUK generations that another device published, revoking a device,
keeping the recovery blob up to date, and approving a new browser or install from this one
(PROTOCOL.md §3, §8, §8a, §12).

Secrets are written to the keystore before they are published, so an interrupted enrolment can
be resumed rather than leaving keys on the server that no device holds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from cooperation_client.protocol import approval, fingerprints, recovery
from cooperation_client.protocol.errors import ProtocolError, VerificationError
from cooperation_client.protocol.keys import (
    DeviceKeys,
    DevicePublic,
    PerUserKey,
    UserIdentity,
    certify_device,
    link_previous,
    open_previous,
    puk_record,
    unwrap_puk,
    wrap_puk_for_device,
)
from cooperation_client.protocol.statements import Signed, json_bytes, sign_statement

from .api import ApiClient, b64url, unb64url
from .directory import Generation, user_bytes, verify_keys_json
from .errors import ApiError, ClientError
from .store import LocalKeys, Store


_HEX32 = re.compile(r"[0-9a-f]{32}")


def _now_ms() -> int:
    return int(time.time() * 1000)


def wire(statement: Signed) -> str:
    """§12: certificates and records are the statement's UTF-8 JSON bytes (base64url in the API)."""
    return b64url(json_bytes(statement.to_json()))


def own_keys(api: ApiClient) -> dict[str, Any]:
    return api.get("/api/v1/keys")  # type: ignore[no-any-return]


def _publish_device(api: ApiClient, uik: UserIdentity, device: DeviceKeys, label: str) -> None:
    public = device.public()
    cert = certify_device(uik, public, label_text=label, created_ms=_now_ms())
    try:
        api.post("/api/v1/keys/devices", {"device_id": device.device_id.hex(), "label": label,
                                          "dh_public": b64url(public.dh_pub), "sig_public": b64url(public.sig_pub),
                                          "certificate": wire(cert)})
    except ApiError as exc:
        if exc.status != 409:  # 409: registered by an interrupted earlier run
            raise


def _publish_generation(api: ApiClient, uik: UserIdentity, puk: PerUserKey, previous: PerUserKey | None,
                        devices: Iterable[DevicePublic]) -> None:
    record = puk_record(uik, puk, prev_link=link_previous(puk, previous) if previous else None)
    api.post("/api/v1/keys/generations", {
        "generation": puk.gen, "dh_public": b64url(puk.dh_pub), "sig_public": b64url(puk.sig_pub),
        "record": wire(record),
        "wraps": [{"device_id": d.device_id.hex(), "wrap": b64url(wrap_puk_for_device(puk, d))} for d in devices]})


def _store_recovery(api: ApiClient, keys: LocalKeys, server: dict[str, Any] | None = None) -> bool:
    """Seal the UIK and every PUK generation to the recovery public key in this install's account
    secrets (format 2, PROTOCOL.md §8), as the next blob version. The public key is the one these
    secrets carry, never one from the server. False (nothing stored) if this install has none:
    it was set up before format 2 and the Recovery Key has not been entered here since."""
    if keys.recovery is None:
        return False
    server = server if server is not None else own_keys(api)
    latest = max((int(r.get("version", 0)) for r in server.get("recovery", []) if r.get("kind") == "rk"), default=0)
    blob = recovery.seal_recovery_blob(keys.secrets(), version=latest + 1)
    api.put("/api/v1/keys/recovery", {"kind": "rk", "blob": b64url(blob)})
    return True


def _parse_rk(recovery_key: str) -> bytes:
    try:
        return recovery.parse_recovery_key(recovery_key)
    except ProtocolError as exc:
        raise ClientError(f"That is not a Recovery Key: {exc}.") from None


def _open_blob(server: dict[str, Any], rk: bytes, user: bytes) -> recovery.AccountSecrets:
    """The account secrets in the stored recovery blob (either format), with the recovery public
    key derived from the Recovery Key; the identity inside must be the platform's current one."""
    blobs = [r for r in server.get("recovery", []) if r.get("kind") == "rk"]
    if not blobs:
        raise ClientError("No recovery data is stored for your account.")
    try:
        secrets = recovery.open_account_secrets(rk, user, unb64url(blobs[0]["blob"], "recovery blob"))
    except VerificationError:
        raise ClientError("Wrong Recovery Key (or the stored recovery data was altered).") from None
    except ProtocolError:
        raise ClientError("The stored recovery data is damaged.") from None
    if secrets.identity().public != unb64url(server["identity"]["public_key"], "identity key"):
        raise ClientError("The Recovery Key opens keys that are not your current identity; "
                          "your identity was reset since this Recovery Key was made.")
    return secrets


def enrol(api: ApiClient, store: Store, user_id: int, label: str) -> str:
    """First device: UIK, device keys, PUK_1, certificate, record, recovery blob. Returns the
    Recovery Key text, to be shown once and never stored."""
    server = own_keys(api)
    keys = store.keys()
    if keys is not None and keys.user_id != user_id:
        raise ClientError("This keystore holds another user's keys; use another --home.")
    if server.get("identity") and (keys is None or unb64url(server["identity"]["public_key"]) != keys.uik.public):
        raise ClientError("Your account already has encryption keys from another device: "
                          "run cooperation-client recover with your Recovery Key instead.")
    if keys is None:
        user = user_bytes(user_id)
        keys = LocalKeys(user_id, DeviceKeys.generate(), label, UserIdentity.generate(user),
                         {1: PerUserKey.generate(user, 1)})
        store.save_keys(keys)
    elif server.get("recovery") and server.get("generations"):
        raise ClientError("This install is already enrolled.")
    api.put("/api/v1/keys/identity", {"public_key": b64url(keys.uik.public)})
    _publish_device(api, keys.uik, keys.device, keys.device_label)
    if not server.get("generations"):
        _publish_generation(api, keys.uik, keys.puks[1], None, [keys.device.public()])
    rk = recovery.new_recovery_key()
    keys.recovery = recovery.recovery_info(rk, keys.user_bytes, keys.uik.public)
    store.save_keys(keys)  # every later re-seal goes to this Recovery Key's public key
    _store_recovery(api, keys)
    return recovery.format_recovery_key(rk)


def recover(api: ApiClient, store: Store, user_id: int, recovery_key: str, label: str) -> LocalKeys:
    """New install: open the recovery blob, certify a new device, publish PUK g+1 linked to g and
    wrapped to every active device, and re-seal the blob with the new generation."""
    if store.keys() is not None:
        raise ClientError("This install already holds keys; recover is for a new install (use another --home).")
    server = own_keys(api)
    if not server.get("identity"):
        raise ClientError("Your account has no encryption keys yet: run cooperation-client enrol.")
    if not any(r.get("kind") == "rk" for r in server.get("recovery", [])):
        raise ClientError("No recovery data is stored for your account.")
    rk = _parse_rk(recovery_key)
    user = user_bytes(user_id)
    secrets = _open_blob(server, rk, user)
    uik = secrets.identity()
    published = verify_keys_json(server, [uik.public])
    puks = {p.gen: p for p in secrets.puks}
    latest = max(published.generations, default=0)
    if latest not in puks or puks[latest].dh_pub != published.generations[latest].dh_pub:
        raise ClientError("The recovery data is older than your latest key generation; "
                          "approve this install from another device instead.")
    device = DeviceKeys.generate()
    keys = LocalKeys(user_id, device, label, uik, puks, secrets.recovery)
    store.save_keys(keys)
    _publish_device(api, uik, device, label)
    fresh = verify_keys_json(own_keys(api), [uik.public])
    new = PerUserKey.generate(user, latest + 1)
    targets = [fresh.devices[d] for d in sorted(fresh.active)]
    if device.device_id not in fresh.active:
        raise ClientError("The server did not register this device.")
    _publish_generation(api, uik, new, puks[latest], targets)
    keys.puks[new.gen] = new  # kept only once published: a local-only generation helps nobody
    store.save_keys(keys)
    _store_recovery(api, keys)  # format 2 from now on, even if the blob opened was format 1
    return keys


def update_recovery(api: ApiClient, store: Store, keys: LocalKeys, recovery_key: str) -> None:
    """An install set up before the recovery blob's format 2 lacks the recovery public key and
    cannot re-seal the blob: the Recovery Key, entered once, must open the stored blob (so it is
    the right one), then gives the public key, kept from now on, and the blob is re-sealed at
    once with every generation this install holds (it is caught up: see sync)."""
    server = own_keys(api)
    if not server.get("identity"):
        raise ClientError("Your account has no encryption keys yet: run cooperation-client enrol.")
    secrets = _open_blob(server, _parse_rk(recovery_key), keys.user_bytes)
    if secrets.identity().public != keys.uik.public:
        raise ClientError("The Recovery Key opens keys that are not this install's identity.")
    published = verify_keys_json(server, [keys.uik.public])
    if max(published.generations, default=0) > max(keys.puks):
        raise ClientError("This install does not hold your newest key generation.")
    keys.recovery = secrets.recovery
    store.save_keys(keys)
    _store_recovery(api, keys, server)


def devices(api: ApiClient, keys: LocalKeys) -> list[dict[str, Any]]:
    """This user's devices as the server lists them, each marked certified (its certificate
    verifies under this install's identity key) and whether it is this install."""
    server = own_keys(api)
    certified = verify_keys_json(server, [keys.uik.public]).devices
    return [{"device_id": d.get("device_id"), "label": str(d.get("label", "")), "created_at": d.get("created_at"),
             "revoked_at": d.get("revoked_at"), "this": d.get("device_id") == keys.device.device_id.hex(),
             "certified": isinstance(d.get("device_id"), str) and _HEX32.fullmatch(d["device_id"]) is not None
             and bytes.fromhex(d["device_id"]) in certified}
            for d in server.get("devices", [])]


def revoke_device(api: ApiClient, store: Store, keys: LocalKeys, device_id: str) -> bool:
    """Revoke another device of this user (a `device-revoke` statement signed by the UIK), then
    publish PUK g+1 linked back to g and wrapped only to the remaining certified devices, and
    re-seal the recovery blob with it (PROTOCOL.md §12). `keys` must be caught up (sync).
    Returns whether the recovery blob was re-sealed (False: this install lacks the recovery
    public key, see update_recovery)."""
    if not _HEX32.fullmatch(device_id):
        raise ClientError("A device id is 32 lowercase hexadecimal characters.")
    if device_id == keys.device.device_id.hex():
        raise ClientError("That is this install: revoke it from another of your devices.")
    server = own_keys(api)
    row = next((d for d in server.get("devices", []) if d.get("device_id") == device_id), None)
    if row is None or row.get("revoked_at"):
        raise ClientError("None of your active devices has that id.")
    published = verify_keys_json(server, [keys.uik.public])
    if published.changed_uik is not None:
        raise ClientError("The server shows an identity key for you that is not this install's.")
    if keys.device.device_id not in published.active:
        raise ClientError("The server does not list this install as one of your active devices.")
    latest = max(published.generations, default=0)
    if latest not in keys.puks:
        raise ClientError("This install does not hold your newest key generation.")
    statement = sign_statement("device-revoke", {"v": 1, "user": keys.user_bytes.hex(), "device": device_id,
                                                 "revoked_ms": _now_ms()}, keys.uik.key)
    api.post(f"/api/v1/keys/devices/{device_id}/revoke", {"revocation": wire(statement)})
    fresh = verify_keys_json(own_keys(api), [keys.uik.public])
    remaining = [fresh.devices[d] for d in sorted(fresh.active) if d.hex() != device_id]
    if keys.device.device_id not in fresh.active:
        raise ClientError("The server no longer lists this install as one of your active devices.")
    new = PerUserKey.generate(keys.user_bytes, latest + 1)
    _publish_generation(api, keys.uik, new, keys.puks[latest], remaining)
    keys.puks[new.gen] = new
    store.save_keys(keys)
    return _store_recovery(api, keys)


def sync(api: ApiClient, store: Store, keys: LocalKeys) -> dict[int, Generation]:
    """Take in PUK generations another device published for this one (wrapped to our device
    key), then recover older generations through the signed prev links. Returns the verified
    records of every generation (EpochKeys walks their prev links)."""
    server = own_keys(api)
    published = verify_keys_json(server, [keys.uik.public]) if server.get("identity") else None
    if published is None or published.uik_pub != keys.uik.public:
        raise ClientError("The server shows an identity key for you that is not this install's.")
    changed = False
    for row in server.get("device_wraps", []):
        gen = int(row.get("generation", 0))
        if row.get("device_id") != keys.device.device_id.hex() or gen in keys.puks or gen not in published.generations:
            continue
        try:
            puk = unwrap_puk(keys.device, keys.user_bytes, gen, unb64url(row.get("wrap"), "key wrap"))
        except ProtocolError:
            continue  # not for us after all: ignore rather than trust
        if puk.dh_pub == published.generations[gen].dh_pub:
            keys.puks[gen] = puk
            changed = True
    changed |= _walk_back(keys, published.generations)
    if changed:
        store.save_keys(keys)
    return published.generations


def _walk_back(keys: LocalKeys, generations: dict[int, Generation]) -> bool:
    """PUK_g from PUK_{g+1} and the link in PUK_{g+1}'s signed record."""
    changed = False
    for gen in sorted(generations, reverse=True):
        record = generations[gen]
        if gen in keys.puks and gen - 1 >= 1 and gen - 1 not in keys.puks and record.prev_link:
            try:
                older = open_previous(keys.puks[gen], record.prev_link)
            except ProtocolError:
                continue
            expected = generations.get(gen - 1)
            if expected is None or expected.dh_pub == older.dh_pub:
                keys.puks[older.gen] = older
                changed = True
    return changed


# -- approving a new browser or install from this one (PROTOCOL.md §8a) -------------------------

def approval_requests(api: ApiClient, keys: LocalKeys) -> list[dict[str, Any]]:
    """The user's devices waiting for approval, each with the verification code this install
    derives from the keys the server relays and its own identity key."""
    out = []
    for row in api.get("/api/v1/keys/approvals").get("approvals", []):
        if not isinstance(row.get("request_id"), str) or not _HEX32.fullmatch(row["request_id"]):
            raise ClientError("The server sent an invalid approval request.")
        request_id = bytes.fromhex(row["request_id"])
        dh_pub, sig_pub = unb64url(row.get("dh_public"), "key"), unb64url(row.get("sig_public"), "key")
        code = approval.approval_code(keys.user_bytes, request_id, keys.uik.public, dh_pub, sig_pub)
        out.append({"request_id": request_id.hex(), "label": str(row.get("label", "")),
                    "created_at": row.get("created_at"), "status": row.get("status"),
                    "code": fingerprints.group(code), "dh_pub": dh_pub, "sig_pub": sig_pub})
    return out


def approve_device(api: ApiClient, keys: LocalKeys, request: dict[str, Any]) -> None:
    """Seal the account secrets (every generation this install holds, after sync) to the
    request's key, signed by this install's device key."""
    secrets = keys.secrets()  # with the recovery public key, so the new device can re-seal too
    sealed, signature = approval.seal_secrets(
        secrets.to_bytes(), user_id=keys.user_bytes, request_id=bytes.fromhex(request["request_id"]),
        uik_pub=keys.uik.public, dh_pub=request["dh_pub"], sig_pub=request["sig_pub"],
        approver_device=keys.device.device_id, approver_key=keys.device.sig)
    api.post(f"/api/v1/keys/approvals/{request['request_id']}/approve",
             {"device_id": keys.device.device_id.hex(), "sealed": b64url(sealed), "signature": b64url(signature)})
