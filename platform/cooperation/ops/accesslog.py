"""gunicorn's access log as one JSON line per request (logger_class in deploy/gunicorn.conf.py).

The same rules as the app's own request line (cooperation.ops.logs): the path without its query
string and with secrets in paths replaced, never headers, cookies or bodies. The request id is
the one the app echoed (nginx's $request_id, or one the app generated).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

from cooperation.ops.logs import REQUEST_ID_HEADER, redact_path


class JsonAccessLogger(Logger):
    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        request_id = next((value for name, value in resp.headers
                           if name.lower() == REQUEST_ID_HEADER.lower()), "")
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "access",
            "request_id": request_id,
            "method": environ.get("REQUEST_METHOD", ""),
            "path": redact_path(environ.get("PATH_INFO", "")),
            "status": int(str(resp.status).split(" ", 1)[0]) if resp.status else 0,
            "bytes": getattr(resp, "sent", 0),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "peer": environ.get("REMOTE_ADDR", ""),  # nginx; the client is in the app's line
        }
        try:
            self.access_log.info(json.dumps(entry, ensure_ascii=False))
        except Exception:  # noqa: BLE001 - logging must never break a response
            self.exception("access log line failed")
