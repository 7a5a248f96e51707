"""What a checked launch establishes, in the transaction that spends its state: the course, person and
membership (cheap for a returning member), their place on boards when their standing moved, e-mail identity
links, the roster service, the organisation's defaults, the return URL's frame origin, and the launch session.
The caller (the launch view) commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plugin.core.actor import Actor
from plugin.course_copy import service as course_copy
from plugin.identity import service as linking
from plugin.leaderboards import reconcile
from plugin.lti import claims as C
from plugin.lti import roster_jobs
from plugin.lti.launch import ValidatedLaunch, consume_launch
from plugin.lti.session import start_session
from plugin.onboarding.service import ensure_current
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course
from plugin.tenancy.returning import provision_for_launch

HISTORY_KEY = "context_history"  # in the launch session's services: the copied course's earlier context ids


@dataclass(frozen=True)
class Established:
    session_id: str
    platform_id: int
    frame_origins: str  # the registration's, space-separated (this launch's return origin included)
    copied_from: Course | None = None  # a copied course whose manager should be asked to carry settings over


def establish_launch(checked: ValidatedLaunch, now: datetime) -> Established:
    validated = consume_launch(checked, now)  # single use: a second post of this launch stops here
    platform, identity = validated.platform, validated.identity
    member = provision_for_launch(identity, now)
    if member.standing_changed:  # a role or status the launch changed moves them on boards
        reconcile.reconcile_member(member.course_id, member.user_id)
    if validated.email_verified:  # one person in two e-mail authoritative LMSs of the organisation
        linking.link_by_email(platform, member.user_id, identity.email, now)
    # Remembers the roster service; syncs after the response when due.
    roster_jobs.after_launch(member.course_id, validated.services, now, validated.course_group_ids, member.roster)
    # Lists, levels and rule pack on the organisation's first use (its version came with the registration).
    ensure_current(member.organisation_id, now, known_version=platform.defaults_version
                   if member.organisation_id == platform.organisation_id else None)
    origins = set((platform.frame_origins or "").split())
    return_origin = tenancy.origin_of(validated.return_url)
    if return_origin and return_origin not in origins:
        tenancy.add_frame_origin(platform, return_origin, now, source="launch")
        origins.add(return_origin)
    history = validated.context_history if validated.message_type != C.DEEP_LINKING_REQUEST else ()
    services = {**validated.services, HISTORY_KEY: list(history)} if history else validated.services
    started = start_session(
        user_id=member.user_id, course_id=member.course_id, organisation_id=member.organisation_id,
        platform_id=platform.id, role=identity.role, message_type=validated.message_type,
        locale=member.preferred_locale or identity.locale, services=services, now=now)
    copied_from = course_copy.offer_for(Actor(
        user_id=member.user_id, course_id=member.course_id, organisation_id=member.organisation_id,
        platform_id=platform.id, role=identity.role), history) if history else None
    return Established(session_id=started.id, platform_id=platform.id, frame_origins=" ".join(sorted(origins)),
                       copied_from=copied_from)
