"""Request ids, JSON request logs (with nothing secret in them), /metrics and its network
guard, the NUL-byte guard, and the settings of cooperation/ops. In-process, on both backends."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from cooperation.config import ConfigError, Settings
from cooperation.ops import logs
from cooperation.ops.metrics import client_allowed
from tests.conftest import csrf_from

SECRET_CANARY = "canary-Pa55word-9f8e7d"


@pytest.fixture
def json_lines(app, caplog):  # type: ignore[no-untyped-def]
    """The request lines as the JSON formatter renders them."""
    caplog.set_level(logging.INFO, logger="cooperation.request")
    formatter = logs.JsonFormatter()

    def read() -> list[dict[str, object]]:
        return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "cooperation.request"]

    return read


def test_every_response_carries_a_request_id_and_a_valid_incoming_one_is_kept(client) -> None:
    given = "0123456789abcdef0123456789abcdef"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32 and generated != given
    # A forged id (log injection, overlong) is replaced, not echoed.
    for bad in ('abc" "level":"ERROR', "x" * 300, "short"):
        echoed = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32


def test_one_json_line_per_request_without_secrets(client, auth, users, json_lines) -> None:
    token = auth.csrf("/login")
    client.post("/login?next=/secret-query", data={"email": users["member_nl"].email,
                                                    "password": SECRET_CANARY, "csrf_token": token},
                headers={"X-Request-ID": "req-id-under-test-0001"})
    auth.login(users["focal_nl"])
    client.get("/directory/?q=private+search+terms")
    client.get("/invitations/INVITATION-TOKEN-CANARY")
    lines = json_lines()
    posted = next(line for line in lines if line.get("request_id") == "req-id-under-test-0001")
    assert posted["method"] == "POST" and posted["path"] == "/login" and posted["status"] == 400
    assert posted["user_id"] is None and posted["client"] == "127.0.0.1"
    assert isinstance(posted["duration_ms"], float) and posted["time"].endswith("Z")
    signed_in = [line for line in lines if line["path"] == "/directory/"]
    assert signed_in and signed_in[0]["user_id"] == users["focal_nl"].id
    assert any(line["path"] == "/invitations/<token>" for line in lines)
    text = json.dumps(lines)
    for secret in (SECRET_CANARY, "secret-query", "private", "INVITATION-TOKEN-CANARY", token,
                   "session=", "csrf_token"):
        assert secret not in text


def test_log_lines_cannot_be_forged_through_a_path(client, json_lines) -> None:
    client.get("/nowhere%0d%0a{\"level\":\"ERROR\"}")
    line = json_lines()[-1]
    rendered = logs.JsonFormatter().format(logging.makeLogRecord({"msg": "x", "fields": line}))
    assert "\n" not in rendered and "\r" not in rendered


def test_metrics_are_served_in_the_prometheus_format_to_allowed_networks_only(client, users, auth) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = response.get_data(as_text=True)
    assert 'cooperation_http_requests_total{endpoint="health.healthz",method="GET",status="200"}' in body
    assert "cooperation_http_request_duration_seconds_bucket{" in body
    assert "cooperation_db_pool_checked_out" in body and "cooperation_database_up 1.0" in body
    audit_line = next(line for line in body.splitlines() if line.startswith("cooperation_audit_entries "))
    before = float(audit_line.split()[1])
    auth.login(users["member_nl"])  # records audit entries
    after_body = client.get("/metrics").get_data(as_text=True)
    after = float(next(l for l in after_body.splitlines() if l.startswith("cooperation_audit_entries ")).split()[1])
    assert after > before
    # Anyone else: the endpoint does not exist.
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert outside.status_code == 404 and "cooperation_" not in outside.get_data(as_text=True)


def test_metrics_network_guard_behind_the_proxy(make_app) -> None:
    app = make_app(trusted_proxy_hops=1, metrics_allowed_networks=("10.20.0.0/16",))
    client = app.test_client()
    # Through nginx the address is the real client's (exactly one hop).
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404
    # A client cannot smuggle an allowed address in front of its own: only the last hop counts.
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.3.4, 203.0.113.5"}).status_code == 404


def test_client_allowed_handles_families_and_mapped_addresses() -> None:
    nets = ("127.0.0.1/32", "::1/128")
    assert client_allowed("127.0.0.1", nets) and client_allowed("::1", nets)
    assert client_allowed("::ffff:127.0.0.1", nets)
    assert not client_allowed("127.0.0.2", nets) and not client_allowed("not-an-ip", nets)
    assert not client_allowed("", nets)


def test_nul_bytes_are_refused_before_any_view(client, auth, users) -> None:
    auth.login(users["focal_nl"])
    assert client.get("/directory/", query_string={"q": "a\x00b"}).status_code == 400
    assert client.get("/directory/states/NLD%00").status_code == 400
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/account", data={"full_name": "Name\x00", "csrf_token": csrf_from(page)})
    assert response.status_code == 400
    assert "The request could not be understood." in response.get_data(as_text=True)
    assert client.get("/directory/", query_string={"q": "ordinary"}).status_code == 200


@pytest.mark.parametrize(("change", "named"), [
    ({"metrics_allowed_networks": ("10.0.0.0/33",)}, "METRICS_ALLOWED_NETWORKS"),
    ({"metrics_allowed_networks": ("10.0.0.1/8",)}, "METRICS_ALLOWED_NETWORKS"),  # host bits set
    ({"rate_limit_exports": "lots"}, "RATE_LIMIT_EXPORTS"),
    ({"rate_limit_invitations": "0/hour"}, "RATE_LIMIT_INVITATIONS"),
    ({"rate_limit_reauth": "5/fortnight"}, "RATE_LIMIT_REAUTH"),
    ({"log_format": "xml"}, "LOG_FORMAT"),
    ({"log_level": "LOUD"}, "LOG_LEVEL"),
    ({"trusted_proxy_hops": 7}, "TRUSTED_PROXY_HOPS"),
    ({"pg_bindir": "/nonexistent"}, "PG_BINDIR"),
])
def test_operations_settings_are_checked_in_every_environment(change, named) -> None:
    with pytest.raises(ConfigError) as info:
        replace(Settings(env="development", secret_key="s" * 40), **change).validate()
    assert named in str(info.value)


def test_production_needs_the_proxy_hop_and_json_logs() -> None:
    from tests.unit.test_config import SAFE_PRODUCTION

    for change, named in (({"trusted_proxy_hops": 0}, "TRUSTED_PROXY_HOPS"), ({"log_format": "text"}, "LOG_FORMAT")):
        with pytest.raises(ConfigError) as info:
            replace(SAFE_PRODUCTION, **change).validate()
        assert named in str(info.value)
    resolved = Settings.from_env({"COOPERATION_ENV": "production"}).resolved()
    assert resolved.trusted_proxy_hops == 1 and resolved.log_format == "json"
    assert Settings().resolved().log_format == "text"
