"""Structured logs: one JSON object per line with a request id (taken from X-Request-ID when a proxy set a
sane one, else generated) that is echoed in the response, so a user's report can be found in the logs."""
from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from flask import Flask, g, has_request_context, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if has_request_context():
            entry.update(request_id=g.get("request_id"), method=request.method, path=request.path)
        for key in ("status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # One record, one line: JSON leaves these line breaks raw outside ASCII, and log readers split at them.
        return json.dumps(entry, ensure_ascii=False).translate(_LINE_BREAKS)


_LINE_BREAKS = {0x2028: "\\u2028", 0x2029: "\\u2029", 0x85: "\\u0085"}


def register_logging(app: Flask) -> None:
    if app.config.get("LOG_JSON"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
        # alembic >= 1.16 announces each of its built-in plugins at INFO whenever it loads (every flask command
        # and every gunicorn worker): noise in an operator's journal.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    access = logging.getLogger("tinker.access")

    @app.before_request
    def _request_id():
        offered = request.headers.get("X-Request-ID", "")
        g.request_id = offered if REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def _echo_and_log(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if app.config.get("LOG_JSON"):
            access.info("request", extra={"status": response.status_code, "duration_ms": round(
                (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1)})
        return response
