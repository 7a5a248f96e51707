"""Launch sessions and the short-lived signed launch token that carries them through the iframe.

Browsers drop third-party cookies inside LMS iframes, so every link, form and XHR carries the token.
Because a cross-site page cannot read it, requiring it on every POST is also the CSRF defence.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Row, bindparam, func, select

from plugin.core.actor import Actor, Role
from plugin.core.db import Hot, read
from plugin.errors import Unauthenticated
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.lti import housekeeping
from plugin.lti.models import LaunchSession
from plugin.tenancy.models import ACTIVE, FrameOrigin, Membership

SESSION_LIFETIME = timedelta(hours=8)
_SALT = "tinker-launch-token"


@dataclass(frozen=True)
class StartedSession:
    id: str
    services: dict


# Built once: every launch inserts one (launch_session is nothing boards watch: no ORM flush needed).
_INSERT = Hot(LaunchSession.__table__.insert(), writes=(LaunchSession.__tablename__,))


def start_session(*, user_id: int, course_id: int, organisation_id: int, platform_id: int, role: Role,
                  message_type: str, locale: str | None, services: dict, now: datetime) -> StartedSession:
    started = StartedSession(id=secrets.token_urlsafe(24), services=services)
    _INSERT.execute(db.session, {
        "id": started.id, "user_id": user_id, "course_id": course_id, "organisation_id": organisation_id,
        "platform_id": platform_id, "role": role.value, "message_type": message_type, "locale": locale,
        "services": services, "created_at": now, "expires_at": now + SESSION_LIFETIME})
    # Ended sessions are useless; cleared now and then as new ones start so the table stays small.
    housekeeping.purge_if_due(LaunchSession.__table__, now)
    return started


@lru_cache(maxsize=8)  # every request verifies one token and issues the next: build the signer once per secret
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def issue_token(secret: str, session_id: str) -> str:
    return _serializer(secret).dumps(session_id)


def session_id_from_token(secret: str, token: str, max_age: int) -> str:
    try:
        return _serializer(secret).loads(token, max_age=max_age)
    except SignatureExpired:
        raise Unauthenticated(_("Your Tinker session has expired."), hint=_("Open Tinker again from your course.")) from None
    except BadSignature:
        raise Unauthenticated(_("Your Tinker session is not valid."), hint=_("Open Tinker again from your course.")) from None


# Read on every request: a plain row (id, services, locale... by name), not an ORM object in the identity map,
# with the origins allowed to frame the platform's pages (every HTML response names them: web.security), and the
# person's membership as it stands now (a later launch or roster sync may have changed it since the session began).
_SESSION = select(
    LaunchSession.__table__,
    select(func.aggregate_strings(FrameOrigin.origin, " ")).where(
        FrameOrigin.platform_id == LaunchSession.platform_id).scalar_subquery().label("frame_origins"),
    Membership.role.label("member_role"), Membership.status.label("member_status"),
).outerjoin(Membership, (Membership.course_id == LaunchSession.course_id)
            & (Membership.user_id == LaunchSession.user_id)).where(LaunchSession.id == bindparam("id"))


def load_actor(session_id: str, now: datetime) -> tuple[Actor, Row]:
    """The actor a launch session names, and the session's row (its columns by name, and `frame_origins`: the
    platform's, space-separated, or None). The membership decides what the session may still do: with it gone (an
    erasure) or its role changed since (a later launch, a roster sync) the session acts no more, and a manager the
    roster no longer lists as active only reads (as an observer) for the rest of the session's hours. (Learners and
    admins the roster leaves out keep their session: an account admin browsing a course is on no roster, and
    learners who are not active earn nothing anyway.)"""
    row = read(db.session, _SESSION, {"id": session_id}).first()
    if row is None or row.expires_at < now:
        raise Unauthenticated(_("Your Tinker session has ended."), hint=_("Open Tinker again from your course."))
    if row.member_role is None:
        raise Unauthenticated(_("You are no longer a member of this course in Tinker."),
                              hint=_("Open Tinker again from your course."))
    if row.member_role != row.role:
        raise Unauthenticated(_("Your role in this course has changed since you opened Tinker."),
                              hint=_("Open Tinker again from your course."))
    role = Role(row.role)
    if role is Role.MANAGER and row.member_status != ACTIVE:
        role = Role.OBSERVER
    actor = Actor(user_id=row.user_id, course_id=row.course_id, organisation_id=row.organisation_id,
                  platform_id=row.platform_id, role=role)
    return actor, row
