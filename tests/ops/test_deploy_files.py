"""The deployment files agree with the application: nginx's body limit covers the app's largest
request, the proxy passes exactly one hop, gunicorn trusts only the local proxy, the example
environment is complete and refused until its secret is filled in, and the manifests probe the
right endpoints. (nginx and gunicorn themselves run in test_stack.py.)"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from cooperation.config import ConfigError, Settings
from tests.ops.stack import REPO

DEPLOY = REPO / "deploy"
SITE = (DEPLOY / "nginx" / "cooperation.conf").read_text()


def _megabytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def test_nginx_body_limit_covers_the_largest_request_the_app_accepts() -> None:
    from cooperation.questionnaires import files
    from cooperation.questionnaires.views import UPLOAD_REQUEST_LIMIT

    nginx_limit = _megabytes(re.search(r"client_max_body_size (\w+);", SITE).group(1))  # type: ignore[union-attr]
    largest = max(UPLOAD_REQUEST_LIMIT, files.MAX_BYTES + 64 * 1024, 16 * 1024 * 1024)
    assert largest <= nginx_limit <= largest + 1024 * 1024


def test_nginx_passes_one_hop_tls12_13_and_closes_metrics() -> None:
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in SITE
    assert all("$proxy_add_x_forwarded_for" not in line.split("#")[0] for line in SITE.splitlines())
    assert re.search(r"^\s*ssl_protocols TLSv1\.2 TLSv1\.3;", SITE, re.M)
    assert "proxy_set_header X-Request-ID $request_id;" in SITE
    assert re.search(r"location = /metrics \{\s*return 404;", SITE)
    assert "Strict-Transport-Security" in SITE


def test_gunicorn_trusts_only_the_local_proxy_and_logs_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GUNICORN_FORWARDED_ALLOW_IPS", "GUNICORN_WORKERS", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "m"))
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf["bind"].startswith("127.0.0.1:")
    assert conf["workers"] >= 3 and conf["timeout"] > 0
    assert conf["accesslog"] == "-" and conf["logger_class"] == "cooperation.ops.accesslog.JsonAccessLogger"
    check = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--check-config",
                            "-c", str(DEPLOY / "gunicorn.conf.py")], capture_output=True, text=True,
                           timeout=120, check=False, cwd=REPO,
                           env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m2")})
    assert check.returncode == 0, check.stderr[-2000:]


def _env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "cooperation.env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_the_example_environment_is_refused_until_the_secret_is_set() -> None:
    env = {k: v for k, v in _env_example().items() if not k.startswith("GUNICORN_")}
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env).validate()
    assert "SECRET_KEY" in str(info.value) and str(info.value).count("\n  - ") == 1
    filled = Settings.from_env({**env, "SECRET_KEY": "Zq8#pL0@vX3!mN7$rT5%" * 3})
    assert filled.validate() is filled


def test_manifests_probe_readiness_and_liveness_and_share_attachments() -> None:
    deployment = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    assert re.search(r"readinessProbe:.*\n\s+httpGet: \{path: /readyz", deployment)
    assert re.search(r"livenessProbe:.*\n\s+httpGet: \{path: /healthz", deployment)
    assert "accessModes: [ReadWriteMany]" in (DEPLOY / "k8s" / "pvc.yaml").read_text()
    assert "purge-expired" in (DEPLOY / "k8s" / "cronjob.yaml").read_text()
    unit = (DEPLOY / "systemd" / "cooperation@.service").read_text()
    for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet="):
        assert option in unit
    assert "purge-expired" in (DEPLOY / "systemd" / "cooperation-purge.service").read_text()
