"""The recovery blob stays usable whatever device the user acts from (PROTOCOL.md §8, §8a, §12):
it is sealed (format 2) to the recovery public key that travels inside the account secrets, so
an install approved from another one, which never saw the Recovery Key, re-seals it after
revoking a device, and the Recovery Key then restores a fresh install that reads what was sent
after the revocation. Format 1 blobs of older enrolments still recover and are upgraded; an
install without the recovery public key says so and takes the Recovery Key once. The server
cannot get a blob sealed to a key of its own: devices take the recovery public key only from
the account secrets they hold, and a blob sealed to the real key by anyone without the Recovery
Key (with an identity of their own) is refused.

The new install's side of the approval (which only the browser implements) is played with the
protocol's Python twin, as the browser does it."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.threads.models import RecoveryBlob
from cooperation_client.cli import main
from cooperation_client.client import Client, ClientError, account
from cooperation_client.client.api import b64url, unb64url
from cooperation_client.client.directory import user_bytes
from cooperation_client.client.store import LocalKeys
from cooperation_client.protocol import approval, hpke, recovery
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.errors import VerificationError
from cooperation_client.protocol.keys import DeviceKeys, PerUserKey, UserIdentity
from tests.functional.oauth_helpers import register_client
from tests.functional.pyclient_helpers import sign_in, wsgi_transport


@pytest.fixture(autouse=True)
def _cli_client_registered(app):  # type: ignore[no-untyped-def]
    register_client(app)


@pytest.fixture
def transport(app) -> httpx.WSGITransport:  # type: ignore[no-untyped-def]
    return wsgi_transport(app)


def _approved_install(app, user, approver: Client, home: Path,  # type: ignore[no-untyped-def]
                      transport, label: str) -> Client:
    """A new install of `user` approved from `approver` (§8a): the new side asks with fresh device
    keys, checks the approval as the browser does, then certifies itself with the identity key."""
    new = sign_in(app, user, home, transport)
    uid = user_bytes(user.id)
    shown_uik = unb64url(new.api.get("/api/v1/keys")["identity"]["public_key"])
    device = DeviceKeys.generate()
    pub = device.public()
    new.api.post("/api/v1/keys/approvals", {"request_id": device.device_id.hex(), "label": label,
                                            "dh_public": b64url(pub.dh_pub), "sig_public": b64url(pub.sig_pub)})
    code = approval.approval_code(uid, device.device_id, shown_uik, pub.dh_pub, pub.sig_pub)
    approver.approve_device(device.device_id.hex(), code)
    got = new.api.get(f"/api/v1/keys/approvals/{device.device_id.hex()}")
    sealed = unb64url(got["sealed"])
    binding = {"user_id": uid, "request_id": device.device_id, "uik_pub": shown_uik, "sig_pub": pub.sig_pub}
    approval.verify_approval(approver.keys().device.public().sig_pub, unb64url(got["signature"]), dh_pub=pub.dh_pub,
                             approver_device=bytes.fromhex(got["approver_device_id"]), sealed=sealed, **binding)
    secrets = recovery.AccountSecrets.from_bytes(uid, approval.open_secrets(device.dh, sealed, **binding))
    assert secrets.identity().public == shown_uik
    keys = LocalKeys(user.id, device, label, secrets.identity(), {p.gen: p for p in secrets.puks}, secrets.recovery)
    new.store.save_keys(keys)
    account._publish_device(new.api, keys.uik, device, label)
    return new


def _blob(client: Client) -> tuple[int, bytes]:
    """The newest recovery blob the server holds for the client's user: (version, bytes)."""
    [row] = [r for r in client.api.get("/api/v1/keys")["recovery"] if r["kind"] == "rk"]
    return row["version"], unb64url(row["blob"])


@pytest.fixture
def nl_sn(app, users, tmp_path, transport):  # type: ignore[no-untyped-def]
    nl = sign_in(app, users["focal_nl"], tmp_path / "nl", transport)
    sn = sign_in(app, users["focal_sn"], tmp_path / "sn", transport)
    rk = nl.enrol()
    sn.enrol()
    yield nl, sn, rk
    nl.close()
    sn.close()


def test_an_approved_install_revokes_the_first_and_the_recovery_key_still_restores(app, users, tmp_path, transport,
                                                                                   nl_sn):
    first, sn, rk = nl_sn
    tid = first.create_thread(title="Reseal", topic="tracing", parties=["SEN"])
    first.post(tid, "before the approval", handling="participants-only")
    assert _blob(first)[1][0] == recovery.FORMAT_V2  # enrolment seals to the recovery public key

    approved = _approved_install(app, users["focal_nl"], first, tmp_path / "approved", transport, "Office install")
    assert approved.can_reseal_recovery()  # the recovery public key came with the account secrets
    version = _blob(first)[0]
    assert approved.revoke_device(first.keys().device.device_id.hex()) is True
    assert max(approved.keys().puks) == 2
    new_version, blob = _blob(approved)
    assert new_version == version + 1 and blob[0] == recovery.FORMAT_V2
    approved.post(tid, "after the revocation", handling="participants-only")
    assert approved.thread(tid).state.epoch == 2  # the revoked install's generation was rotated out

    # The Recovery Key restores a fresh install: it sees generation 2 and the later message.
    fresh = sign_in(app, users["focal_nl"], tmp_path / "fresh", transport)
    fresh.recover(rk)
    assert max(fresh.keys().puks) == 3  # 1 enrolment, 2 revocation, 3 this recovery
    assert [i.text for i in fresh.messages(tid)] == ["before the approval", "after the revocation"]
    assert [i.text for i in sn.messages(tid)][-1] == "after the revocation"
    # The revoked install is cut off.
    again = Client.open(home=str(tmp_path / "nl"), transport=transport)
    with pytest.raises(ClientError, match="active devices"):
        again.revoke_device(approved.keys().device.device_id.hex())
    for client in (approved, fresh, again):
        client.close()


def _legacy(client: Client) -> None:
    """As an install enrolled before format 2: no recovery public key in its keys."""
    keys = client.store.require_keys()
    keys.recovery = None
    client.store.save_keys(keys)
    client._synced = False  # noqa: SLF001 - read the keystore again


def test_a_format_1_blob_still_recovers_and_is_upgraded(app, users, tmp_path, transport, nl_sn, capsys, monkeypatch):
    first, _sn, rk = nl_sn
    tid = first.create_thread(title="Old enrolment", topic="seizure", parties=["SEN"])
    first.post(tid, "from the old enrolment", handling="court-only")
    # The blob and the install as an enrolment made before format 2 left them.
    _legacy(first)
    old = recovery.AccountSecrets(first.keys().user_bytes, first.keys().uik.seed, tuple(first.keys().puks.values()))
    blob = recovery.seal_account_secrets_v1(recovery.parse_recovery_key(rk), old, version=_blob(first)[0] + 1)
    first.api.put("/api/v1/keys/recovery", {"kind": "rk", "blob": b64url(blob)})
    assert _blob(first)[1][0] == recovery.FORMAT_V1

    # A format 1 blob still recovers; the recovering install re-seals it as format 2.
    second = sign_in(app, users["focal_nl"], tmp_path / "second", transport)
    second.recover(rk)
    assert second.can_reseal_recovery() and _blob(second)[1][0] == recovery.FORMAT_V2
    assert [i.text for i in second.messages(tid)] == ["from the old enrolment"]

    # The old install cannot re-seal: revoking from it says so, and the blob now lags behind.
    home = str(tmp_path / "nl")

    def cli(*argv: str) -> tuple[int, str, str]:
        code = main(["--home", home, *argv], transport=transport)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = cli("devices")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()}
    second_id = second.keys().device.device_id.hex()
    assert "(this install)" in lines[first.keys().device.device_id.hex()] and "active" in lines[second_id]
    code, out, err = cli("revoke-device", second_id)
    assert code == 0, err
    assert "Revoked" in out and "could not update your Recovery Key backup" in err and "update-recovery" in err
    third = sign_in(app, users["focal_nl"], tmp_path / "third", transport)
    with pytest.raises(ClientError, match="older than your latest key generation"):
        third.recover(rk)
    assert third.store.keys() is None

    # The Recovery Key, entered once on the old install: checked against the stored blob, then
    # the blob is re-sealed (format 2) with every generation, and the install keeps the public key.
    monkeypatch.setattr("sys.stdin", io.StringIO(recovery.format_recovery_key(bytes(32)) + "\n"))
    code, out, err = cli("update-recovery")
    assert code == 1 and "Wrong Recovery Key" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(rk + "\n"))
    code, out, err = cli("update-recovery")
    assert code == 0 and "up to date" in out, err
    reopened = Client.open(home=home, transport=transport)
    assert reopened.can_reseal_recovery() and _blob(reopened)[1][0] == recovery.FORMAT_V2
    third.recover(rk)
    assert max(third.keys().puks) == 4  # 1, 2 (second's recovery), 3 (revocation), 4 (this recovery)
    first.post(tid, "after the update", handling="court-only")
    assert [i.text for i in third.messages(tid)][-1] == "after the update"
    for client in (second, third, reopened):
        client.close()


def test_the_server_cannot_get_the_blob_sealed_to_a_key_of_its_own(app, users, tmp_path, transport, nl_sn):
    """The rule: a device seals the recovery blob only to the recovery public key inside the
    account secrets it holds (from its enrolment, recovery or approval), never to anything the
    server sends. The server's only handle, the stored blob, is opaque to devices."""
    first, _sn, rk = nl_sn
    key = recovery.parse_recovery_key(rk)
    approved = _approved_install(app, users["focal_nl"], first, tmp_path / "approved", transport, "Office install")
    user = first.keys().user_bytes
    # The server stores, as the newest blob, one sealed to a key pair of its own that names its
    # own public key as the recovery key.
    server_kem = P.x25519_private(P.random_bytes(32))
    server_pub = P.public_bytes(server_kem)
    impostor = UserIdentity.generate(user)
    planted = recovery.AccountSecrets(user, impostor.seed, (PerUserKey.generate(user, 1),),
                                      recovery.RecoveryInfo(server_pub, P.random_bytes(32)))
    version = _blob(first)[0] + 1
    db.session.add(RecoveryBlob(user_id=users["focal_nl"].id, kind="rk", version=version, created_at=utcnow(),
                                blob=recovery.seal_recovery_blob(planted, version=version)))
    db.session.commit()

    # The approved install revokes the first one and re-seals: to the real recovery key only.
    assert approved.revoke_device(first.keys().device.device_id.hex()) is True
    new_version, blob = _blob(approved)
    assert new_version == version + 1
    with pytest.raises(VerificationError):
        hpke.open_(server_kem, recovery.blob_info(user, new_version), blob[5:])
    opened = recovery.open_account_secrets(key, user, blob)
    assert max(p.gen for p in opened.puks) == 2 and opened.identity().public == approved.keys().uik.public

    # Even knowing the real recovery public key, the server cannot make a blob that the Recovery
    # Key opens into an identity of its own: the binding (an HMAC under a key only the Recovery
    # Key gives) fails, although the server also shows that identity key as the user's.
    real = approved.keys().recovery
    assert real is not None
    forged = recovery.AccountSecrets(user, impostor.seed, (PerUserKey.generate(user, 1),),
                                     recovery.RecoveryInfo(real.public, real.binding))
    approved.api.put("/api/v1/keys/identity", {"public_key": b64url(impostor.public)})
    approved.api.put("/api/v1/keys/recovery", {"kind": "rk",
                                               "blob": b64url(recovery.seal_recovery_blob(forged, version=99))})
    fresh = sign_in(app, users["focal_nl"], tmp_path / "fresh", transport)
    with pytest.raises(ClientError, match="Wrong Recovery Key"):
        fresh.recover(rk)
    assert fresh.store.keys() is None
    for client in (approved, fresh):
        client.close()
