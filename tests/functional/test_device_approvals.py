"""A new browser approved from an existing one, through the API, on SQLite and PostgreSQL
(PROTOCOL.md §8a): the request, the security mail, the code both sides derive, the sealed and
signed secrets (real HPKE and Ed25519, with the Python twin of static/js/e2e/approval.js), the
request gone once the device registers; validation, signatures checked, the cap and the rate
limit, expiry, refusals, 404 for everyone else (same State or another), audit rows without key
material."""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.threads import approvals
from cooperation.threads.envelope import user_ref
from cooperation.threads.models import Device, DeviceApproval
from cooperation_client.protocol import approval as protocol
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.keys import PerUserKey
from cooperation_client.protocol.recovery import AccountSecrets
from tests.conftest import AuthActions
from tests.functional.test_threads_api_kit import Api, Dev, b64, publish_keys, unb64


@pytest.fixture
def people(client, app, users):  # type: ignore[no-untyped-def]
    """Signed-in API clients with published keys: NLD's focal point (who adds a browser), an NLD
    colleague and SEN's focal point; the Secretariat signed in without keys."""
    out = {}
    for name in ("focal_nl", "member_nl", "focal_sn", "admin"):
        c = app.test_client()
        actions = AuthActions(c)
        actions.login(users[name])
        api = Api(c, actions.csrf("/dashboard"))
        dev = publish_keys(api) if name != "admin" else None
        out[name] = (api, dev, users[name])
    return out


def _request(api: Api, new: Dev, label: str = "Home laptop"):  # type: ignore[no-untyped-def]
    return api.post("/api/v1/keys/approvals", {"request_id": new.device_id, "label": label,
                                               "dh_public": b64(new.dh_public), "sig_public": b64(new.sig_public)})


def _secrets(user_id: int, dev: Dev) -> AccountSecrets:
    uid = user_ref(user_id)
    return AccountSecrets(uid, P.private_bytes(dev.uik), (PerUserKey.generate(uid, 1), PerUserKey.generate(uid, 2)))


def _seal(user_id: int, dev: Dev, new: Dev, secrets_bytes: bytes, *, signer: Dev | None = None,
          uik_pub: bytes | None = None) -> dict[str, str]:
    signer = signer or dev
    sealed, signature = protocol.seal_secrets(
        secrets_bytes, user_id=user_ref(user_id), request_id=bytes.fromhex(new.device_id),
        uik_pub=uik_pub or dev.uik_public, dh_pub=new.dh_public, sig_pub=new.sig_public,
        approver_device=bytes.fromhex(signer.device_id), approver_key=signer.sig)
    return {"device_id": signer.device_id, "sealed": b64(sealed), "signature": b64(signature)}


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_new_browser_is_approved_end_to_end(people, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    api, dev, user = people["focal_nl"]
    new = Dev()  # the new browser's device keys, generated there
    created = _request(api, new)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "pending" and body["request_id"] == new.device_id and "sealed" not in body
    # Ten minutes to complete.
    lifetime = (_parse(body["expires_at"]) - _parse(body["created_at"])).total_seconds()
    assert lifetime == approvals.TTL.total_seconds()

    # A content-free security notice to the user.
    notice = mailbox.wait_for(user.email)
    text = mailbox.body(notice)
    assert "new browser" in notice["Subject"].lower() and "same verification code" in text
    assert b64(new.dh_public) not in text and new.device_id not in text

    # The existing browser lists it and derives the code from the keys it sees; the new
    # browser derives its own from its keys and the identity key it was shown: the same.
    listed = api.get("/api/v1/keys/approvals").get_json()["approvals"]
    assert [a["request_id"] for a in listed] == [new.device_id] and "sealed" not in listed[0]
    seen = listed[0]
    code_existing = protocol.approval_code(user_ref(user.id), bytes.fromhex(seen["request_id"]), dev.uik_public,
                                           unb64(seen["dh_public"]), unb64(seen["sig_public"]))
    code_new = protocol.approval_code(user_ref(user.id), bytes.fromhex(new.device_id), dev.uik_public,
                                      new.dh_public, new.sig_public)
    assert code_existing == code_new and len(code_new) == 30 and code_new.isdigit()
    # A substituted key (what a malicious server would need) changes the code.
    assert protocol.approval_code(user_ref(user.id), bytes.fromhex(new.device_id), dev.uik_public,
                                  Dev().dh_public, new.sig_public) != code_new

    # Approve: the account secrets sealed to the request's key, signed by the approving device.
    account = _secrets(user.id, dev)
    approved = api.post(f"/api/v1/keys/approvals/{new.device_id}/approve", _seal(user.id, dev, new, account.to_bytes()))
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved" and approved.get_json()["approver_device_id"] == dev.device_id
    assert api.post(f"/api/v1/keys/approvals/{new.device_id}/approve",
                    _seal(user.id, dev, new, account.to_bytes())).status_code == 409

    # The new browser polls, verifies the approver's signature, opens the seal.
    got = api.get(f"/api/v1/keys/approvals/{new.device_id}").get_json()
    sealed, signature = unb64(got["sealed"]), unb64(got["signature"])
    protocol.verify_approval(dev.sig_public, signature, user_id=user_ref(user.id),
                             request_id=bytes.fromhex(new.device_id), uik_pub=dev.uik_public, dh_pub=new.dh_public,
                             sig_pub=new.sig_public, approver_device=bytes.fromhex(dev.device_id), sealed=sealed)
    opened = protocol.open_secrets(new.dh, sealed, user_id=user_ref(user.id), request_id=bytes.fromhex(new.device_id),
                                   uik_pub=dev.uik_public, sig_pub=new.sig_public)
    restored = AccountSecrets.from_bytes(user_ref(user.id), opened)
    assert restored == account and P.public_bytes(restored.identity().key) == dev.uik_public
    # Another device's key cannot open it.
    with pytest.raises(Exception, match="not sealed for this request"):
        protocol.open_secrets(Dev().dh, sealed, user_id=user_ref(user.id), request_id=bytes.fromhex(new.device_id),
                              uik_pub=dev.uik_public, sig_pub=new.sig_public)

    # It certifies itself with the request's id and keys: the request and the sealed secrets go.
    registered = api.post("/api/v1/keys/devices", {"device_id": new.device_id, "label": "Home laptop",
                                                   "dh_public": b64(new.dh_public), "sig_public": b64(new.sig_public),
                                                   "certificate": b64(new.certificate())})
    assert registered.status_code == 201, registered.get_json()
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 0
    assert api.get(f"/api/v1/keys/approvals/{new.device_id}").status_code == 404
    assert api.get("/api/v1/keys/approvals").get_json()["approvals"] == []

    # Audited, without any key material.
    for action in ("keys.device_approval_requested", "keys.device_approved", "keys.device_approval_completed"):
        assert len(_audit(action)) == 1, action
    assert _audit("keys.device_approved")[0].target_id == new.device_id
    dumped = json.dumps([e.details for e in db.session.scalars(select(AuditEvent))])
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/api/v1/keys/approvals" in logged  # the request log is there, and says nothing more
    for secret in (got["sealed"], got["signature"], seen["dh_public"], seen["sig_public"], b64(account.uik_seed),
                   code_new):
        assert secret not in dumped and secret not in logged


def _parse(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text)


@pytest.mark.parametrize("payload, needle", [
    ({"request_id": "XYZ"}, "request_id"),
    ({"request_id": "A" * 32}, "request_id"),
    ({"label": ""}, "label"),
    ({"label": "   "}, "label"),
    ({"label": "x" * 101}, "label"),
    ({"label": "tab\there"}, "label"),
    ({"dh_public": b64(bytes(31))}, "32 bytes"),
    ({"sig_public": "***"}, "base64url"),
    ({"extra": 1}, "Unknown fields"),
])
def test_request_validation(people, payload, needle):
    api, _dev, _user = people["focal_nl"]
    new = Dev()
    base = {"request_id": new.device_id, "label": "Laptop", "dh_public": b64(new.dh_public),
            "sig_public": b64(new.sig_public)}
    r = api.post("/api/v1/keys/approvals", {**base, **payload})
    assert r.status_code == 400 and needle in r.get_json()["error"], r.get_json()
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 0


def test_not_json_and_not_enrolled_are_refused(people, users, app):
    api, _dev, _user = people["focal_nl"]
    r = api.post("/api/v1/keys/approvals", data="request_id=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    # The Secretariat administrator has no keys at all: nothing could approve a browser.
    admin_api = people["admin"][0]
    r = _request(admin_api, Dev())
    assert r.status_code == 400 and "Recovery Key" in r.get_json()["error"]


def test_approval_must_be_signed_by_one_of_the_users_active_devices(people):
    api, dev, user = people["focal_nl"]
    new = Dev()
    assert _request(api, new).status_code == 201
    account = _secrets(user.id, dev).to_bytes()
    url = f"/api/v1/keys/approvals/{new.device_id}/approve"
    # Signed by a key that is not the named device's.
    forged = {**_seal(user.id, dev, new, account), "signature": b64(os.urandom(64))}
    assert "signature" in api.post(url, forged).get_json()["error"]
    # Bound to another identity key than the user's: the transcript differs, the signature fails.
    other_uik = _seal(user.id, dev, new, account, uik_pub=Dev().uik_public)
    assert api.post(url, other_uik).status_code == 400
    # A colleague's device (another user) cannot be named as the approver.
    colleague = people["member_nl"][1]
    r = api.post(url, _seal(user.id, dev, new, account, signer=colleague))
    assert r.status_code == 400 and "not one of your active devices" in r.get_json()["error"]
    # Malformed fields.
    good = _seal(user.id, dev, new, account)
    for bad, status in [({**good, "sealed": b64(b"x" * 40)}, 400), ({**good, "signature": b64(b"s")}, 400),
                        ({**good, "device_id": "nope"}, 400), ({**good, "more": 1}, 400),
                        ({**good, "sealed": b64(os.urandom(70_000))}, 413)]:
        assert api.post(url, bad).status_code == status, bad
    # A revoked device no longer approves.
    spare = publish_keys_device(api)
    assert api.post(f"/api/v1/keys/devices/{spare.device_id}/revoke", {"revocation": b64(b"r")}).status_code == 200
    assert api.post(url, _seal(user.id, dev, new, account, signer=spare)).status_code == 400
    assert db.session.scalar(select(DeviceApproval.approved_at)) is None
    assert _audit("keys.device_approved") == []
    # The real one passes.
    assert api.post(url, good).status_code == 200


def publish_keys_device(api: Api) -> Dev:
    """One more device of the same user, certified by the same identity key."""
    spare = Dev()
    r = api.post("/api/v1/keys/devices", {"device_id": spare.device_id, "label": "Spare", "dh_public": b64(spare.dh_public),
                                          "sig_public": b64(spare.sig_public), "certificate": b64(spare.certificate())})
    assert r.status_code == 201
    return spare


def test_other_users_get_404_whatever_their_state(people):
    api, dev, user = people["focal_nl"]
    new = Dev()
    assert _request(api, new).status_code == 201
    account = _secrets(user.id, dev).to_bytes()
    for name in ("member_nl", "focal_sn", "admin"):
        other, other_dev, other_user = people[name]
        assert other.get(f"/api/v1/keys/approvals/{new.device_id}").status_code == 404, name
        assert other.get("/api/v1/keys/approvals").get_json()["approvals"] == [], name
        signer = other_dev or dev
        r = other.post(f"/api/v1/keys/approvals/{new.device_id}/approve", _seal(user.id, dev, new, account, signer=signer))
        assert r.status_code == 404, name
        assert other.post(f"/api/v1/keys/approvals/{new.device_id}/refuse").status_code == 404, name
    # Unknown and malformed ids: 404 as well.
    for request_id in (secrets.token_hex(16), "not-hex"):
        assert api.get(f"/api/v1/keys/approvals/{request_id}").status_code == 404
    # Still there, untouched, for its owner.
    row = api.get(f"/api/v1/keys/approvals/{new.device_id}").get_json()
    assert row["status"] == "pending"


def test_refusing_or_cancelling_deletes_the_request(people):
    api, _dev, _user = people["focal_nl"]
    first, second = Dev(), Dev()
    assert _request(api, first).status_code == 201 and _request(api, second).status_code == 201
    r = api.post(f"/api/v1/keys/approvals/{first.device_id}/refuse")
    assert r.status_code == 200 and r.get_json() == {"request_id": first.device_id, "status": "refused"}
    assert api.post(f"/api/v1/keys/approvals/{second.device_id}/refuse", {}).status_code == 200
    assert api.post(f"/api/v1/keys/approvals/{second.device_id}/refuse").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 0
    assert len(_audit("keys.device_approval_refused")) == 2


def test_expired_requests_disappear(people, app):
    api, dev, user = people["focal_nl"]
    mine, colleagues = Dev(), Dev()
    assert _request(api, mine).status_code == 201
    assert _request(people["member_nl"][0], colleagues).status_code == 201
    db.session.execute(update(DeviceApproval).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert api.get(f"/api/v1/keys/approvals/{mine.device_id}").status_code == 404
    account = _secrets(user.id, dev).to_bytes()
    assert api.post(f"/api/v1/keys/approvals/{mine.device_id}/approve",
                    _seal(user.id, dev, mine, account)).status_code == 404
    assert api.get("/api/v1/keys/approvals").get_json()["approvals"] == []
    # The list deleted the user's own expired request; the cron job deletes everyone's.
    assert db.session.scalar(select(DeviceApproval.request_id)) == colleagues.device_id
    result = CliRunner().invoke(app.cli, ["purge-expired"], obj=None)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 0


def test_open_requests_are_capped_and_new_ones_rate_limited(people, app, monkeypatch):
    api, _dev, _user = people["focal_nl"]
    for _ in range(approvals.MAX_OPEN):
        assert _request(api, Dev()).status_code == 201
    r = _request(api, Dev())
    assert r.status_code == 409 and "already waiting" in r.get_json()["error"]
    # A request id already in use (a device's, or another request's) is refused.
    member_api, member_dev, _member = people["member_nl"]
    taken = Dev(device_id=member_dev.device_id)
    assert _request(member_api, taken).status_code == 409
    # The rate limit counts attempts with valid input, refused ones included.
    monkeypatch.setitem(app.config, "THREADS_APPROVAL_RATE_LIMIT", "3/hour")
    sn_api = people["focal_sn"][0]
    for _ in range(3):
        assert _request(sn_api, Dev()).status_code in (201, 409)
    limited = _request(sn_api, Dev())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many approval requests" in limited.get_json()["error"]


def test_registering_needs_the_requested_keys_and_the_requesting_user(people):
    api, _dev, _user = people["focal_nl"]
    new = Dev()
    assert _request(api, new).status_code == 201
    other = Dev()
    wrong_keys = {"device_id": new.device_id, "label": "x", "dh_public": b64(other.dh_public),
                  "sig_public": b64(new.sig_public), "certificate": b64(new.certificate())}
    r = api.post("/api/v1/keys/devices", wrong_keys)
    assert r.status_code == 400 and "approval request" in r.get_json()["error"]
    # Another user cannot take the id of someone's pending request as their device id.
    member_api = people["member_nl"][0]
    r = member_api.post("/api/v1/keys/devices", {**wrong_keys, "dh_public": b64(new.dh_public)})
    assert r.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Device).where(Device.device_id == new.device_id)) == 0
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 1
