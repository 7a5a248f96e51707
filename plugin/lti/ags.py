"""Assignment and Grade Services: the outbox handlers that create the course's line item and post scores.

Moodle's answers are handled as it gives them: 400 for a user who cannot be graded (a teacher) and 409 for a
timestamp not newer than the stored one both finish the delivery with a note, as does Canvas's 422 for a user it
does not grade; another 422 (a concluded course) fails at once with the platform's reason; 5xx and timeouts retry.
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from flask import current_app
from sqlalchemy import select, update

from plugin.core.db import writing
from plugin.extensions import db
from plugin.lti import messages as said
from plugin.lti import platform_http, service_token
from plugin.lti.roster import MAX_PAGES, next_link
from plugin.outbox import grades
from plugin.outbox.models import GradeSync
from plugin.outbox.registry import GiveUp, Retry, handler
from plugin.tenancy.models import Course, Platform, User
from plugin.tenancy.service import origin_of

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
NOT_GRADED = "not a student"  # Canvas's 422 for a Test Student or an enrolment that ended
SCOPES = (SCOPE_LINEITEM, SCOPE_SCORE)  # one token serves line items and scores


def lineitems_url(services: dict | None) -> str | None:
    """The line items endpoint a launch's AGS claim offers, if it lets the tool manage line items and post scores
    (a platform granting one without the other refuses every token request grade sync makes)."""
    ags = (services or {}).get("ags") or {}
    url, scopes = ags.get("lineitems"), ags.get("scope") or []
    granted = isinstance(scopes, list) and all(scope in scopes for scope in SCOPES)
    return url if isinstance(url, str) and url and granted else None


def with_suffix(url: str, suffix: str) -> str:
    """`/scores` goes before any query string (Moodle: `.../lineitem?type_id=1`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def _timeout() -> float:
    return current_app.config["LTI_HTTP_TIMEOUT"]


def _call(method: str, url: str, token: str, client: service_token.ServiceClient | None = None,
          **kwargs) -> requests.Response:
    """One AGS request; with client, a 401 forgets the refused token so the next try asks for a new one."""
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        # no redirect followed: the platform's service answers where its launch said it is
        response = platform_http.call(method, url, headers=headers, timeout=_timeout(), **kwargs)
    except platform_http.NotPublic as exc:
        platform_http.refused_private(url, exc)
        raise GiveUp(said.PRIVATE_ADDRESS(method=method, url=url)) from None
    except requests.RequestException as exc:
        # what teachers see names the kind of failure; its detail (which told a refused port from a silent one at
        # any address a platform's claim names) goes to the server log only
        current_app.logger.warning("AGS %s %s failed: %r", method, url, exc)
        raise Retry(said.REQUEST_FAILED(method=method, url=url, error=type(exc).__name__)) from None
    if response.status_code >= 500:
        raise Retry(said.SERVER_ERROR(method=method, url=url, status=response.status_code))
    if response.status_code == 401 and client is not None:
        service_token.drop(client, SCOPES)
        raise Retry(said.TOKEN_REFUSED_AT(method=method, url=url))
    return response


def _throttled(response: requests.Response) -> bool:
    """Whether a refusal is the platform's as a whole (429: too many requests), holding its other courses' grades
    for the pass; any other 4xx is about this course's line item or score (a 403 on one course's items), and holds
    nothing else (the grade lane is the platform's: plugin/outbox/grades.py)."""
    return response.status_code == 429


def _context(course_id: int) -> tuple[GradeSync | None, service_token.ServiceClient]:
    row = db.session.get(GradeSync, course_id)
    platform = db.session.scalar(select(Platform).join(Course, Course.platform_id == Platform.id)
                                 .where(Course.id == course_id))
    if platform is None:
        raise GiveUp(said.COURSE_GONE(course=course_id))
    return row, service_token.ServiceClient.of(platform)


def _lineitem_body(row: GradeSync) -> dict:
    return {"label": grades.LABEL, "scoreMaximum": row.score_maximum, "resourceId": grades.TAG, "tag": grades.TAG}


def _storable(lineitem_id: str) -> str:
    """The platform's line item id as kept in grade_sync.lineitem_url. One holding a NUL character (PostgreSQL
    refuses it in text) or longer than the column would fail every try on the database's error: it fails at once,
    saying why."""
    limit = GradeSync.lineitem_url.type.length
    if "\x00" in lineitem_id:
        raise GiveUp(said.ID_HOLDS_NUL(url=lineitem_id.replace("\x00", "\\u0000")[:300]))
    if len(lineitem_id) > limit:
        raise GiveUp(said.ID_TOO_LONG(limit=limit, url=lineitem_id[:300]))
    return lineitem_id


def _find_existing(lineitems: str, token: str, client: service_token.ServiceClient) -> str | None:
    """Tinker's line item in the container, looking through every page (Link rel="next", on the container's
    own site only: the bearer token goes nowhere else). A refused lookup (401, 403 as Canvas throttles, 429)
    proves nothing is there: retried, so no second line item is made; a platform without the lookup (404, 405)
    gets a new one."""
    url, origin, seen = lineitems, origin_of(lineitems), set()
    while url and url not in seen and len(seen) < MAX_PAGES and origin_of(url) == origin:
        seen.add(url)
        response = _call("GET", url, token, client, headers={"Accept": CONTAINER_TYPE})
        if response.status_code in (404, 405):
            return None
        if response.status_code != 200:
            raise Retry(said.LOOKUP_REFUSED(status=response.status_code, detail=response.text[:300]),
                        receiver=_throttled(response))
        try:
            items = response.json()
        except ValueError:
            return None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and grades.TAG in (item.get("tag"), item.get("resourceId")) and item.get("id"):
                return _storable(str(item["id"]))
        url = next_link(response.headers.get("Link"), url)
    return None


def ensure_lineitem(course_id: int, now: datetime) -> str:
    """The course's line item URL: the stored one (kept up to date), one found by its tag, or a new one."""
    row, client = _context(course_id)
    if row is None or not row.lineitems_url:
        raise GiveUp(said.NO_LINEITEMS())
    body, known, lineitems = _lineitem_body(row), row.lineitem_url, row.lineitems_url
    db.session.commit()  # no transaction held open across HTTP
    token = service_token.access_token(client, SCOPES, now)
    db.session.commit()  # signing the token request read the tool key: end that read before the platform calls
    if known:
        response = _call("PUT", known, token, client, json=body, headers={"Content-Type": LINEITEM_TYPE})
        if response.status_code in (200, 201):
            return known
        if response.status_code != 404:
            raise Retry(said.UPDATE_REFUSED(status=response.status_code, detail=response.text[:300]),
                        receiver=_throttled(response))
    url = _find_existing(lineitems, token, client)
    if url is None:
        response = _call("POST", lineitems, token, client, json=body,
                         headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE})
        if response.status_code not in (200, 201):
            raise Retry(said.CREATE_REFUSED(status=response.status_code, detail=response.text[:300]),
                        receiver=_throttled(response))
        try:
            url = str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise Retry(said.NO_ID()) from None
        url = _storable(url)
    with writing():
        db.session.execute(update(GradeSync).where(GradeSync.course_id == course_id).values(lineitem_url=url))
        db.session.commit()
    return url


@handler(grades.LINEITEM_KIND)
def sync_lineitem(payload: dict, now: datetime) -> str | None:
    row = db.session.get(GradeSync, payload["course_id"])
    if row is None or not row.enabled:
        return said.SYNC_OFF()
    return said.LINEITEM(url=ensure_lineitem(payload["course_id"], now))


def _await_lineitem(course_id: int, now: datetime, why: str | None = None) -> None:
    db.session.rollback()
    with writing():
        grades.request_lineitem(course_id, now)
        db.session.commit()
    raise Retry(why or said.LINEITEM_PENDING(), receiver=False)  # the line item's delivery goes first


def _timestamp(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@handler(grades.SCORE_KIND)
def push_score(payload: dict, now: datetime) -> str | None:
    course_id, user_id = payload["course_id"], payload["user_id"]
    row, client = _context(course_id)
    score = grades.score_now(course_id, user_id)  # read now: the newest score wins, staff never get one
    if row is None or score is None:
        return said.NOT_SENT()
    if row.lineitem_url is None:  # only the line item delivery makes it (two score pushes would make two)
        _await_lineitem(course_id, now)
    sub = db.session.scalar(select(User.sub).where(User.id == user_id))
    lineitem = row.lineitem_url
    db.session.commit()
    scopes = SCOPES
    token = service_token.access_token(client, scopes, now)
    db.session.commit()  # nor the tool key read of the token request (on SQLite a later write would be refused)
    body = {"userId": sub, "scoreGiven": score.given, "scoreMaximum": score.maximum,
            "activityProgress": "Completed", "gradingProgress": "FullyGraded", "timestamp": _timestamp(now)}
    response = _call("POST", with_suffix(lineitem, "/scores"), token, json=body,
                     headers={"Content-Type": SCORE_TYPE})
    if response.status_code in (200, 201, 202, 204):
        return None
    if response.status_code == 400:
        return said.NOT_GRADED_400()
    if response.status_code == 422:  # Canvas: the user it does not grade, a concluded course, ...
        if NOT_GRADED in response.text:
            return said.NOT_GRADED_422()
        raise GiveUp(said.SCORE_REFUSED(detail=response.text[:300]))
    if response.status_code == 409:
        return said.NEWER_SCORE()
    if response.status_code == 401:
        service_token.drop(client, scopes)
        raise Retry(said.TOKEN_REFUSED_401())
    if response.status_code == 404:  # the line item was deleted in the LMS: a new one is made, then this is sent
        with writing():
            db.session.execute(update(GradeSync).where(GradeSync.course_id == course_id).values(lineitem_url=None))
            db.session.commit()
        _await_lineitem(course_id, now, said.LINEITEM_GONE())
    raise Retry(said.POST_REFUSED(status=response.status_code, detail=response.text[:300]),
                receiver=_throttled(response))
