"""A database connection cut under the application (a restart, a failover, an idle timeout) is
replaced without failing the request: pinged at checkout when it has been idle, or, when it was
cut a moment after its last use, by the lookup that meets the cut retrying once on a fresh
connection (cooperation.liveness, cooperation.lookups). PostgreSQL only: SQLite has no server."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import AuthActions


NAME = "liveness-under-test"


def _cut_connections(database_url: str) -> int:
    """pg_terminate_backend on every connection of the application under test (and no other:
    the test harness has its own), which is what a database restart does to them."""
    admin = create_engine(database_url)
    try:
        with admin.connect() as conn:
            cut = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE application_name = :name"), {"name": NAME}).scalar()
    finally:
        admin.dispose()
    return int(cut or 0)




@pytest.mark.parametrize("idle_ping_seconds", [0.0, 3600.0], ids=["pinged-at-checkout", "retried-on-the-cut"])
def test_signed_in_requests_survive_the_database_cutting_connections(postgresql_only, make_app, settings, users,
                                                                     idle_ping_seconds):  # type: ignore[no-untyped-def]
    app = make_app(database_url=f"{settings.database_url}?application_name={NAME}",
                   extra={**settings.extra, "DB_IDLE_PING_SECONDS": idle_ping_seconds})
    client = app.test_client()
    AuthActions(client).login(users["focal_nl"])
    assert client.get("/api/v1/threads").status_code == 200
    assert _cut_connections(settings.database_url) >= 1
    # 0 s: every checkout pings, meets the dead connection and opens a new one. 3600 s: no ping;
    # the session lookup meets the cut, the pool retires its old connections, the lookup retries.
    for _ in range(3):
        r = client.get("/api/v1/threads")
        assert r.status_code == 200, r.get_data(as_text=True)
    r = client.get("/dashboard")
    assert r.status_code == 200
