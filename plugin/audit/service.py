"""record(): append an audit event in the caller's transaction; entries(): read them for admins."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.audit.models import AuditEvent
from plugin.core.actor import Actor
from plugin.errors import Forbidden
from plugin.extensions import db


def record(actor: Actor, action: str, target_type: str, target_id: int | None, details: dict, now: datetime,
           course_scoped: bool = True) -> None:
    db.session.add(AuditEvent(
        organisation_id=actor.organisation_id, course_id=actor.course_id if course_scoped else None,
        actor_user_id=actor.user_id, actor_role=actor.role.value, action=action, target_type=target_type,
        target_id=target_id, details=details, created_at=now))
    db.session.flush()


def entries(actor: Actor, limit: int = 100) -> list[AuditEvent]:
    if not actor.can_administer:
        raise Forbidden("Only administrators read the audit log.")
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.organisation_id == actor.organisation_id)
                                   .order_by(AuditEvent.id.desc()).limit(limit)))


def record_system(organisation_id: int, action: str, target_type: str, target_id: int | None, details: dict,
                  now: datetime) -> None:
    """An event no person did (a scheduled purge): no actor, role "system"."""
    db.session.add(AuditEvent(organisation_id=organisation_id, course_id=None, actor_user_id=None,
                              actor_role="system", action=action, target_type=target_type, target_id=target_id,
                              details=details, created_at=now))
    db.session.flush()
