"""record(): append an audit event in the caller's transaction; entries(): read them for admins."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.core.actor import Actor
from plugin.errors import Forbidden
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l

# What each recorded action means, as the audit page names it (lazy: in the admin's language). The code
# itself stays in the row and in exports; an action missing here is shown by its code.
ACTION_LABELS = {
    "api_token.issued": _l("API token issued"),
    "api_token.revoked": _l("API token revoked"),
    "badge.awarded": _l("Badge awarded"),
    "badge.revoked": _l("Badge revoked"),
    "badge.saved": _l("Badge saved"),
    "badge_issuer.saved": _l("Badge issuer profile saved"),
    "boards.settings_changed": _l("Leaderboard settings changed"),
    "challenge.cancelled": _l("Challenge cancelled"),
    "challenge.changed": _l("Challenge changed"),
    "challenge.created": _l("Challenge created"),
    "course.copy_carried_over": _l("Course copy: settings carried over"),
    "course.copy_declined": _l("Course copy: settings not carried over"),
    "dimension.added": _l("Point dimension added"),
    "evidence.reviewed": _l("Mission evidence reviewed"),
    "experiment.hidden": _l("Experiment hidden"),
    "experiment.restored": _l("Experiment restored"),
    "grades.retried": _l("Grade sync retried"),
    "identity.code_issued": _l("Account link code issued"),
    "identity.linked": _l("Accounts linked"),
    "identity.unlinked": _l("Account unlinked"),
    "insights.min_group_changed": _l("Insights minimum group size changed"),
    "kudos.given": _l("Kudos given"),
    "kudos.revoked": _l("Kudos revoked"),
    "levels.changed": _l("Levels changed"),
    "privacy.erased": _l("Learner erased"),
    "privacy.export": _l("Own data downloaded"),
    "privacy.retention_changed": _l("Text retention period changed"),
    "privacy.text_purged": _l("Old experiment text removed"),
    "rule.archived": _l("Recognition rule archived"),
    "rule.changed": _l("Recognition rule changed"),
    "rule.created": _l("Recognition rule created"),
    "rule.deleted": _l("Recognition rule deleted"),
    "settings.limits_changed": _l("Fairness limits changed"),
    "settings.time_zone_changed": _l("Time zone changed"),
    "team.created": _l("Team created"),
    "team.deleted": _l("Team deleted"),
    "team.member_removed": _l("Team member removed"),
    "team.members_added": _l("Team members added"),
    "team.renamed": _l("Team renamed"),
    "vision.saved": _l("AI vision saved"),
    "xapi.failed_requeued": _l("Failed xAPI statements queued again"),
    "xapi.settings_changed": _l("xAPI settings changed"),
    "webhook.created": _l("Webhook endpoint added"),
    "webhook.deleted": _l("Webhook endpoint removed"),
    "webhook.resent": _l("Webhook deliveries sent again"),
    "webhook.secret_rotated": _l("Webhook signing secret replaced"),
    "webhook.turned_off": _l("Webhook endpoint turned off"),
    "webhook.turned_on": _l("Webhook endpoint turned on"),
    "xapi.test_sent": _l("xAPI test statement sent"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def record(actor: Actor, action: str, target_type: str, target_id: int | None, details: dict, now: datetime,
           course_scoped: bool = True) -> None:
    db.session.add(AuditEvent(
        organisation_id=actor.organisation_id, course_id=actor.course_id if course_scoped else None,
        actor_user_id=actor.user_id, actor_role=actor.role.value, action=action, target_type=target_type,
        target_id=target_id, details=details, created_at=now))
    db.session.flush()


def entries(actor: Actor, limit: int = 100, before_id: int | None = None) -> list[AuditEvent]:
    """The organisation's entries, newest first, `limit` at a time: the next page starts before the last id."""
    if not actor.can_administer:
        raise Forbidden(_("Only administrators read the audit log."))
    query = select(AuditEvent).where(AuditEvent.organisation_id == actor.organisation_id)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))


def record_system(organisation_id: int, action: str, target_type: str, target_id: int | None, details: dict,
                  now: datetime) -> None:
    """An event no person did (a scheduled purge): no actor, role "system"."""
    db.session.add(AuditEvent(organisation_id=organisation_id, course_id=None, actor_user_id=None,
                              actor_role="system", action=action, target_type=target_type, target_id=target_id,
                              details=details, created_at=now))
    db.session.flush()
