"""Deliver right after the request that enqueued something, on a short background thread (never on the
page's path); `flask outbox run` (cron) picks up retries and anything a stopped process left behind."""
from __future__ import annotations

import logging
import threading

from flask import Flask, Response

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox.service import ENQUEUED_FLAG, process_due

log = logging.getLogger(__name__)
BATCH = 50

_wanted = threading.Event()
_running = threading.Lock()


def _drain(app: Flask) -> None:
    while True:
        try:
            while _wanted.is_set():
                _wanted.clear()
                with app.app_context():
                    try:
                        failing: dict = {}  # a receiver that failed is tried once in the pass
                        while process_due(utcnow(), BATCH, failing=failing).claimed >= BATCH:
                            pass
                    finally:
                        db.session.remove()
        except Exception:  # a worker thread must never take the app down; the cron run retries
            log.exception("outbox background delivery failed")
        finally:
            _running.release()
        # a request may have asked between our last look and the release
        if not (_wanted.is_set() and _running.acquire(blocking=False)):
            return


def kick(app: Flask) -> None:
    """Ask for a delivery pass; starts a worker thread unless one is already running."""
    _wanted.set()
    if _running.acquire(blocking=False):
        threading.Thread(target=_drain, args=(app,), name="tinker-outbox", daemon=True).start()


def register_outbox(app: Flask) -> None:
    import plugin.challenges.progress  # noqa: F401  (registers the deferred challenge completion handler)
    import plugin.lti.ags  # noqa: F401  (registers the grade sync handlers)
    import plugin.webhooks.delivery  # noqa: F401  (registers the webhook handler)
    import plugin.xapi.delivery  # noqa: F401  (registers the xAPI statement handler)

    @app.after_request
    def _deliver_after_commit(response: Response) -> Response:
        if db.session.info.pop(ENQUEUED_FLAG, False) and app.config.get("OUTBOX_AFTER_REQUEST", not app.testing):
            # call_on_close: after the response has been sent, so the page never waits
            response.call_on_close(lambda: kick(app))
        return response
