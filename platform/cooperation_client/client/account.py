"""The user's own keys: enrolment from the first device, recovery on a new install from the
Recovery Key, catching up with PUK generations that another device published, and approving a
new browser or install from this one (PROTOCOL.md §3, §8, §8a, §12).

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
from cooperation_client.protocol.statements import Signed, json_bytes

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


def _store_recovery(api: ApiClient, key: bytes, keys: LocalKeys, server: dict[str, Any]) -> None:
    """Seal every PUK generation and the UIK under the Recovery Key, as the next blob version."""
    latest = max((int(r.get("version", 0)) for r in server.get("recovery", []) if r.get("kind") == "rk"), default=0)
    secrets = recovery.AccountSecrets(keys.user_bytes, keys.uik.seed,
                                      tuple(keys.puks[g] for g in sorted(keys.puks)))
    blob = recovery.seal_account_secrets(key, secrets, version=latest + 1)
    api.put("/api/v1/keys/recovery", {"kind": "rk", "blob": b64url(blob)})


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
    _store_recovery(api, rk, keys, own_keys(api))
    return recovery.format_recovery_key(rk)


def recover(api: ApiClient, store: Store, user_id: int, recovery_key: str, label: str) -> LocalKeys:
    """New install: open the recovery blob, certify a new device, publish PUK g+1 linked to g and
    wrapped to every active device, and re-seal the blob with the new generation."""
    if store.keys() is not None:
        raise ClientError("This install already holds keys; recover is for a new install (use another --home).")
    server = own_keys(api)
    if not server.get("identity"):
        raise ClientError("Your account has no encryption keys yet: run cooperation-client enrol.")
    blobs = [r for r in server.get("recovery", []) if r.get("kind") == "rk"]
    if not blobs:
        raise ClientError("No recovery data is stored for your account.")
    try:
        rk = recovery.parse_recovery_key(recovery_key)
    except ProtocolError as exc:
        raise ClientError(f"That is not a Recovery Key: {exc}.") from None
    user = user_bytes(user_id)
    try:
        secrets = recovery.open_account_secrets(rk, user, unb64url(blobs[0]["blob"], "recovery blob"))
    except VerificationError:
        raise ClientError("Wrong Recovery Key (or the stored recovery data was altered).") from None
    except ProtocolError:
        raise ClientError("The stored recovery data is damaged.") from None
    uik = secrets.identity()
    if uik.public != unb64url(server["identity"]["public_key"], "identity key"):
        raise ClientError("The Recovery Key opens keys that are not your current identity; "
                          "your identity was reset since this Recovery Key was made.")
    published = verify_keys_json(server, [uik.public])
    puks = {p.gen: p for p in secrets.puks}
    latest = max(published.generations, default=0)
    if latest not in puks or puks[latest].dh_pub != published.generations[latest].dh_pub:
        raise ClientError("The recovery data is older than your latest key generation; "
                          "approve this install from another device instead.")
    device = DeviceKeys.generate()
    keys = LocalKeys(user_id, device, label, uik, puks)
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
    _store_recovery(api, rk, keys, own_keys(api))
    return keys


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
    secrets = recovery.AccountSecrets(keys.user_bytes, keys.uik.seed, tuple(keys.puks[g] for g in sorted(keys.puks)))
    sealed, signature = approval.seal_secrets(
        secrets.to_bytes(), user_id=keys.user_bytes, request_id=bytes.fromhex(request["request_id"]),
        uik_pub=keys.uik.public, dh_pub=request["dh_pub"], sig_pub=request["sig_pub"],
        approver_device=keys.device.device_id, approver_key=keys.device.sig)
    api.post(f"/api/v1/keys/approvals/{request['request_id']}/approve",
             {"device_id": keys.device.device_id.hex(), "sealed": b64url(sealed), "signature": b64url(signature)})
