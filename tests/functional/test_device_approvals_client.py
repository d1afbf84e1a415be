"""The Python client approving a new browser of its user (PROTOCOL.md §8a): it lists the waiting
request with the code it derives itself, approves only when the person types the code the new
browser shows, and the new browser (its side played here with the protocol's Python twin) opens
secrets that hold the client's identity key and every key generation, signed by the client's
device. The CLI's approvals, approve-device and refuse-device commands, against the real
application in-process."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from cooperation.extensions import db
from cooperation.threads.envelope import user_ref
from cooperation.threads.models import DeviceApproval
from cooperation_client.cli import main
from cooperation_client.client import ClientError
from cooperation_client.protocol import approval, fingerprints
from cooperation_client.protocol.recovery import AccountSecrets
from tests.conftest import AuthActions
from tests.functional.oauth_helpers import register_client
from tests.functional.pyclient_helpers import SERVER, Approver, sign_in, wsgi_transport
from tests.functional.test_threads_api_kit import Api, Dev, b64, unb64


@pytest.fixture(autouse=True)
def _cli_client_registered(app):  # type: ignore[no-untyped-def]
    register_client(app)


@pytest.fixture
def new_browser(app, users):  # type: ignore[no-untyped-def]
    """NLD's focal point signed in on a browser without keys: an API session and device keys."""
    c = app.test_client()
    actions = AuthActions(c)
    actions.login(users["focal_nl"])
    return Api(c, actions.csrf("/dashboard")), Dev()


def _ask(api: Api, new: Dev, label: str) -> None:
    r = api.post("/api/v1/keys/approvals", {"request_id": new.device_id, "label": label,
                                            "dh_public": b64(new.dh_public), "sig_public": b64(new.sig_public)})
    assert r.status_code == 201, r.get_json()


def test_the_client_approves_a_new_browser(app, users, tmp_path, new_browser):
    client = sign_in(app, users["focal_nl"], tmp_path / "nl", wsgi_transport(app))
    client.enrol()
    keys = client.keys()
    api, new = new_browser
    uid = user_ref(users["focal_nl"].id)
    # The new browser bound the identity key the platform showed it into its code.
    shown_uik = unb64(api.get("/api/v1/keys").get_json()["identity"]["public_key"])
    _ask(api, new, "Office browser")
    code = fingerprints.group(approval.approval_code(uid, bytes.fromhex(new.device_id), shown_uik,
                                                     new.dh_public, new.sig_public))

    [request] = client.approval_requests()
    assert request["request_id"] == new.device_id and request["code"] == code and request["status"] == "pending"
    # A code that is not the one the new browser shows approves nothing.
    with pytest.raises(ClientError, match="not this request's verification code"):
        client.approve_device(new.device_id, "12345 67890")
    assert db.session.scalar(select(DeviceApproval.approved_at)) is None
    client.approve_device(new.device_id, code.replace(" ", "-"))
    with pytest.raises(ClientError, match="already approved"):
        client.approve_device(new.device_id, code)

    # The new browser's side: signature by the client's device, secrets with its identity key.
    got = api.get(f"/api/v1/keys/approvals/{new.device_id}").get_json()
    sealed = unb64(got["sealed"])
    assert got["approver_device_id"] == keys.device.device_id.hex()
    approval.verify_approval(keys.device.public().sig_pub, unb64(got["signature"]), user_id=uid,
                             request_id=bytes.fromhex(new.device_id), uik_pub=shown_uik, dh_pub=new.dh_public,
                             sig_pub=new.sig_public, approver_device=keys.device.device_id, sealed=sealed)
    secrets = AccountSecrets.from_bytes(uid, approval.open_secrets(
        new.dh, sealed, user_id=uid, request_id=bytes.fromhex(new.device_id), uik_pub=shown_uik,
        sig_pub=new.sig_public))
    assert secrets.identity().public == shown_uik == keys.uik.public
    assert {p.gen: p.secret for p in secrets.puks} == {g: p.secret for g, p in keys.puks.items()}
    client.close()


def test_the_command_line_lists_approves_and_refuses(app, users, tmp_path, capsys, monkeypatch, new_browser):
    transport = wsgi_transport(app)
    home = str(tmp_path / "cli")

    def cli(*argv: str, sleep=None) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
        code = main(["--home", home, *argv], transport=transport, sleep=sleep or (lambda s: None))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def user_code() -> str:
        import re

        found = re.search(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})", capsys.readouterr().out)
        assert found
        return found.group(1)

    code, _out, err = cli("login", SERVER, sleep=Approver(app, users["focal_nl"], user_code))
    assert code == 0, err
    assert cli("enrol", "--label", "case system")[0] == 0
    assert "No browser or install of yours is waiting" in cli("approvals")[1]

    api, new = new_browser
    _ask(api, new, "Office browser")
    other = Dev()
    _ask(api, other, "Unknown browser")
    code, out, err = cli("approvals")
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "Office browser" in lines[new.device_id] and "waiting" in lines[new.device_id]
    shown = lines[new.device_id].split("code ")[1].split("  ")[0]

    # A mistyped code: refused, exit status 1, a one-line reason.
    monkeypatch.setattr("sys.stdin", io.StringIO("00000 00000\n"))
    code, out, err = cli("approve-device", new.device_id)
    assert code == 1 and "nothing was approved" in err and "access to all your secure threads" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(shown + "\n"))
    code, out, err = cli("approve-device", new.device_id)
    assert code == 0, err
    assert "Approved Office browser" in out
    assert "approved, finishing" in cli("approvals")[1]

    code, out, err = cli("refuse-device", other.device_id)
    assert code == 0 and "Refused" in out, err
    code, out, err = cli("refuse-device", other.device_id)
    assert code == 1 and "No device of yours is waiting" in err
    assert db.session.scalar(select(func.count()).select_from(DeviceApproval)) == 1
