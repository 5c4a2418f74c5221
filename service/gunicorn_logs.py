"""gunicorn's error and access logs as JSON lines in the app's format (``service.logs``).

The access line names the method, path (never the query string), status, size, duration and the request id
the app answered with (``X-Request-ID``), so it joins the app's own lines. No headers, no bodies: they may
hold tokens or patient data.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from gunicorn.glogging import Logger

from service.logs import json_formatter


class JsonLogger(Logger):  # type: ignore[misc]
    """Set as gunicorn's ``logger_class``."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(json_formatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((value for name, value in headers if name.lower() == "x-request-id"), None)
        self.access_log.log(
            logging.INFO,
            "request",
            extra={
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": int(status),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "remote": environ.get("REMOTE_ADDR"),
                "request_id": request_id,
            },
        )
