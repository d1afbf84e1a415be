"""Database connections that survive a database restart, without a round trip per checkout.

SQLAlchemy's pool_pre_ping pings every connection it hands out: a round trip each time, two or
three per request, each a context switch on a small machine. A connection handed back to the
pool a moment ago is alive unless the database went away in that moment; one that has waited
longer may have been cut by a restart, a failover or an idle timeout. So only a connection idle
for IDLE_PING_SECONDS or more is pinged at checkout; a dead one is replaced there (the pool
retries when a checkout listener raises DisconnectionError).

A connection cut in the short window escapes the ping: its first statement fails, SQLAlchemy
recognises the disconnect and retires every connection of the pool opened before it. The
request's lookups retry once on a fresh connection (cooperation.lookups), so an authenticated
request, whose first statement is its session lookup, does not fail over it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_PING_SECONDS = 1.0
_IDLE_SINCE = "idle_since"


def ping_idle_connections(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Install the check on `engine`'s pool (in place of pool_pre_ping)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # just opened, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError() from error  # the pool opens a new one
            raise
