"""When roster syncs run: after a launch in a short background thread (at most once per course per interval,
claimed in the database so several app instances do not all sync), and from `flask lti sync-roster`.

These are adapters: each sync is its own transaction, committed here. The LMS is read first, with no write
lock held, then the result is written in one short writing transaction.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from flask import after_this_request, current_app

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.errors import DomainError
from plugin.extensions import db
from plugin.lti import messages as said
from plugin.lti import roster
from plugin.tenancy import service as tenancy
from plugin.tenancy.returning import RosterService

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 15 * 60
_threads: list[threading.Thread] = []


def run(course_id: int, now: datetime) -> str:
    """Sync one course and commit; on failure record the error on the course and raise RosterError (anything
    unexpected is recorded too, and raised as it was)."""
    try:
        fetched = roster.fetch(course_id, now)
        db.session.rollback()  # end the read transaction before writing
        with writing():
            summary = roster.apply(course_id, fetched, now)
            db.session.commit()
        return summary
    except (roster.RosterError, DomainError) as exc:
        db.session.rollback()
        message = getattr(exc, "message", None) or str(exc)
        with writing():
            tenancy.record_roster_status(course_id, said.ROSTER_ERROR(message=message), now)
            db.session.commit()
        raise roster.RosterError(message) from None
    except Exception as exc:  # a bug, or a race: the course must not go on showing the last good sync as this one's
        db.session.rollback()
        try:
            with writing():
                tenancy.record_roster_status(
                    course_id, said.ROSTER_ERROR(message=said.UNEXPECTED(error=type(exc).__name__)), now)
                db.session.commit()
        except Exception:  # e.g. the database is gone: the original error is the one to report
            db.session.rollback()
            log.warning("could not record the failed roster sync of course %s", course_id, exc_info=True)
        raise  # the caller logs it with its traceback (the type alone is what managers see)


def run_all(now: datetime) -> list[tuple[int, str, str | None, str | None]]:
    """Sync every course with a roster service, each on its own: (course id, title, summary, error)."""
    courses = [(c.id, c.title) for c in tenancy.roster_courses()]
    db.session.rollback()
    results = []
    for course_id, title in courses:
        try:
            results.append((course_id, title, run(course_id, now), None))
        except roster.RosterError as exc:
            results.append((course_id, title, None, str(exc)))
        except Exception as exc:  # one course's surprise must not stop the others
            log.exception("roster sync of course %s raised", course_id)
            db.session.rollback()
            results.append((course_id, title, None, f"unexpected {exc.__class__.__name__}: {exc}"))
    return results


def after_launch(course_id: int, services: dict, now: datetime, group_ids: tuple[str, ...] | None = None,
                 held: RosterService | None = None) -> None:
    """Remember the course's roster service (and Canvas's group ids) from a launch and, when due, sync it
    after the response. held: the course's roster service as read earlier in this launch; with it, a launch
    that changes nothing and comes before the next sync is due writes nothing (the claim would also have
    noted a data change, moving every page's data version, on every launch)."""
    urls = roster.service_urls(services)
    if urls is None:
        return
    if held is None or not held.unchanged_by(*urls, group_ids):
        tenancy.set_roster_service(course_id, *urls, group_ids=group_ids)
    config = current_app.config
    if not config.get("LTI_ROSTER_SYNC_ON_LAUNCH", True):
        return
    interval = timedelta(seconds=config.get("LTI_ROSTER_SYNC_INTERVAL", DEFAULT_INTERVAL))
    if held is not None and held.synced_since(now - interval):
        return  # not due (claim_roster_sync, the check that counts across instances, would say no too)
    if not tenancy.claim_roster_sync(course_id, now, interval):
        return
    app = current_app._get_current_object()

    @after_this_request
    def _start(response):
        if response.status_code < 400:  # the launch committed; otherwise the claim was rolled back with it
            thread = threading.Thread(target=_background, args=(app, course_id), daemon=True,
                                      name=f"roster-sync-{course_id}")
            _threads.append(thread)
            thread.start()
        return response


def _background(app, course_id: int) -> None:
    with app.app_context():
        try:
            log.info("roster sync of course %s: %s", course_id, run(course_id, utcnow()))
        except roster.RosterError as exc:
            log.warning("roster sync of course %s failed: %s", course_id, exc)
        except Exception:  # a background thread must never take the app down; the next launch or cron retries
            log.exception("roster sync of course %s raised", course_id)


def wait_for_background(timeout: float = 10.0) -> None:
    """Join the syncs started so far (tests, and a clean shutdown)."""
    while _threads:
        _threads.pop().join(timeout)
