"""xAPI, the domain side: an organisation's LRS settings, the statements the four events enqueue (in the
event's own transaction, so nothing is sent for a fact that rolled back) and what the status page lists.

Sending is the outbox handler in plugin/xapi/delivery.py. A statement is built when its fact happens and
stored whole in the outbox payload: a retry sends exactly the same statement (same id, same timestamp).
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import or_, select, update

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.outbox.http import in_the_clear, valid_port
from plugin.outbox.models import DISMISSED, FAILED, PENDING, OutboxItem
from plugin.outbox.service import enqueue
from plugin.tenancy import config_cache
from plugin.tenancy.models import Course, Deployment, Organisation, Platform, User
from plugin.xapi import statements as S
from plugin.xapi.models import XapiSetting

KIND = "xapi.statement"
EVENTS = {  # what a statement reports, as the status page names it (lazy: in the admin's language)
    "experiment_logged": _l("Experiment logged"),
    "help_confirmed": _l("Help confirmed"),
    "badge_earned": _l("Badge earned"),
    "kudos_received": _l("Kudos received"),
    "connection_test": _l("Test statement"),
    "voided": _l("Revoked (voided)"),
}
SECRET_CHANGED = "changed"  # what the audit details say of a new secret: never the value


# -- settings ---------------------------------------------------------------------------------------------

class XIn(Schema):
    """The admin form. A blank secret keeps the stored one (the page never shows it back)."""

    enabled = fields.Boolean(load_default=False)
    endpoint = fields.String(load_default="", validate=validate.Length(max=1000))
    key = fields.String(load_default="", validate=validate.Length(max=400))
    secret = fields.String(load_default="", validate=validate.Length(max=400))
    send_email = fields.Boolean(load_default=False)

    @validates("endpoint")
    def _endpoint(self, value: str, **_kw) -> None:
        value = value.strip()
        if value:
            url = validate.URL(relative=False, schemes={"http", "https"}, require_tld=False,
                               error=_("The LRS endpoint must be a full http:// or https:// address."))
            url(value)
            if "?" in value or "#" in value:
                raise ValidationError(_("The endpoint is the LRS's base address, without ? or #."))
            if not valid_port(value):
                raise ValidationError(_("The port must be a number from 1 to 65535."))
            if in_the_clear(value, "XAPI_ALLOW_PRIVATE_ENDPOINTS"):
                raise ValidationError(_("Give an https:// address: statements name people, and the LRS key and "
                                        "secret go with each."))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _fernet() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tinker-xapi", info=b"lrs-secret").derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def lrs_secret(row: XapiSetting) -> str | None:
    """The saved secret in clear, for sending; None when it cannot be read (the app's SECRET_KEY changed)."""
    try:
        return _fernet().decrypt(row.secret_encrypted.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def settings(organisation_id: int) -> XapiSetting | None:
    return db.session.get(XapiSetting, organisation_id)


def _require_admin(actor: Actor) -> None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators manage the xAPI connection."))


def update_settings(actor: Actor, data: dict, now: datetime) -> XapiSetting:
    """Save the organisation's LRS settings (`data` is XIn-loaded) and record the change in the audit log."""
    _require_admin(actor)
    # Made if missing and read locked: a second save at once (a double click the first time) waits and updates the
    # first's row, instead of failing on its key.
    insert_ignore(db.session, XapiSetting.__table__, {
        "organisation_id": actor.organisation_id, "enabled": False, "endpoint": "", "key": "", "secret_encrypted": "",
        "send_email": False, "updated_at": now}, ["organisation_id"], returning=False)
    row = db.session.get(XapiSetting, actor.organisation_id, with_for_update=True, populate_existing=True)
    endpoint, key, secret = data["endpoint"].strip(), data["key"].strip(), data["secret"]
    if row.secret_encrypted and not secret and endpoint and _origin(endpoint) != _origin(row.endpoint):
        # The saved secret belongs to the LRS it was given for: another host gets it only when typed again. A
        # blank saved endpoint counts as another host (else clearing it first would hand the secret to any host).
        raise InvalidInput(_("The LRS connection needs some details."), errors={"secret": [
            _("The endpoint moved to another host: give the secret again (the saved one stays with the old host).")]})
    if data["enabled"]:
        errors = {}
        if not endpoint:
            errors["endpoint"] = [_("Give the LRS endpoint to turn xAPI on.")]
        if not key:
            errors["key"] = [_("Give the key (user name) the LRS issued for Tinker.")]
        if not (secret or row.secret_encrypted):
            errors["secret"] = [_("Give the secret (password) the LRS issued for Tinker.")]
        if errors:
            raise InvalidInput(_("The LRS connection needs some details."), errors=errors)
    before = {"enabled": row.enabled, "endpoint": row.endpoint, "key": row.key, "send_email": row.send_email}
    row.enabled, row.endpoint, row.key, row.send_email = data["enabled"], endpoint, key, data["send_email"]
    secret_changed = bool(secret) and secret != (lrs_secret(row) if row.secret_encrypted else None)
    if secret:
        row.secret_encrypted = _fernet().encrypt(secret.encode()).decode()
    row.updated_at = now
    db.session.flush()
    changed = {name: [old, getattr(row, name)] for name, old in before.items() if old != getattr(row, name)}
    if secret_changed:
        changed["secret"] = SECRET_CHANGED  # never the value
    if changed:
        record(actor, "xapi.settings_changed", "organisation", actor.organisation_id, changed, now,
               course_scoped=False)
    return row


# -- who and where, as statements name them ----------------------------------------------------------------

def _base() -> str:
    return current_app.config["TINKER_BASE_URL"]


def _person(user_id: int) -> S.Person:
    user, issuer = db.session.execute(select(User, Platform.issuer).join(Platform, Platform.id == User.platform_id)
                                      .where(User.id == user_id)).one()
    return S.Person(issuer=issuer, sub=user.sub, name=user.name, email=user.email)


def _course(course_id: int) -> S.Course:
    course, issuer, deployment_id = db.session.execute(
        select(Course, Platform.issuer, Deployment.deployment_id)
        .join(Platform, Platform.id == Course.platform_id).join(Deployment, Deployment.id == Course.deployment_id)
        .where(Course.id == course_id)).one()
    return S.Course(id=course.id, title=course.title, issuer=issuer, deployment_id=deployment_id,
                    context_id=course.context_id)


def _written(text: str | None) -> str:
    """The language tag of a name the organisation sees: English while it is a seeded default never renamed
    (plugin/onboarding/names.py), else undetermined (Tinker does not know the language its admins write in)."""
    from plugin.onboarding.names import SEEDED

    return S.LANG if text in SEEDED else S.UND


def _ready(organisation_id: int) -> XapiSetting | None:
    # Whether the connection is ready is kept across transactions (config_cache); the row only when it is.
    if not config_cache.cached(organisation_id, "xapi_ready", ("xapi_setting",), lambda: _ready_row(organisation_id) is not None):
        return None
    return _ready_row(organisation_id)


def _ready_row(organisation_id: int) -> XapiSetting | None:
    row = settings(organisation_id)
    return row if row is not None and row.ready else None


def _scope(base: str, organisation_id: int) -> str:
    created = db.session.scalar(select(Organisation.created_at).where(Organisation.id == organisation_id))
    return f"{base}/organisations/{organisation_id}/{created.isoformat() if created else ''}"


def _send(row: XapiSetting, event: str, key: str, *, course_id: int, user_id: int, now: datetime,
          build: Callable[..., dict], **extra) -> None:
    base = _base()
    statement = build(base=base, statement_uuid=S.statement_id(_scope(base, row.organisation_id), key),
                      send_email=row.send_email)
    enqueue(KIND, key, {"organisation_id": row.organisation_id, "event": event, "user_id": user_id,
                        "statement": statement, **extra}, now, course_id=course_id,
            lane=f"xapi:{row.organisation_id}")


# -- the four events (called by the domain services, inside their transactions) ----------------------------

def experiment_logged(experiment, now: datetime) -> None:
    """Also called when a private entry is shared later. A private entry or an anonymous failure is not
    reported: its statement would name the author staff pages (and webhooks) never name."""
    if experiment.anonymous or not experiment.shared:
        return
    row = _ready(experiment.organisation_id)
    if row is None:
        return
    from plugin.catalog.models import AiTool, TaskCategory

    tool = db.session.get(AiTool, experiment.ai_tool_id).name if experiment.ai_tool_id else "Other"
    category = db.session.get(TaskCategory, experiment.task_category_id)
    latest, was_voided = _experiment_statement(experiment.id)
    if latest is not None and was_voided:  # shared again after being made private: a voided id cannot stand again
        base = f"xapi:experiment:{experiment.id}"
        key = f"{base}:{int(latest.rpartition(':')[2]) + 1 if latest != base else 2}"
    else:
        key = latest or f"xapi:experiment:{experiment.id}"
    _send(row, "experiment_logged", key, course_id=experiment.course_id,
          user_id=experiment.user_id, now=now, build=lambda **kw: S.experiment_logged(
              person=_person(experiment.user_id), course=_course(experiment.course_id),
              experiment_id=experiment.id, tool=tool, category=category.name if category else "",
              outcome=experiment.outcome, minutes_saved=experiment.minutes_saved,
              at=experiment.created_at, category_lang=_written(category.name if category else None), **kw))


def _experiment_statement(experiment_id: int) -> tuple[str | None, bool]:
    """The key of the latest statement queued for the experiment (each sharing after a void has its own) and
    whether it was voided since."""
    base = f"xapi:experiment:{experiment_id}"
    keys = db.session.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == KIND, or_(
        OutboxItem.dedupe_key == base, OutboxItem.dedupe_key.like(f"{base}:%")))).all()
    if not keys:
        return None, False
    latest = max(keys, key=lambda k: 1 if k == base else int(k.rpartition(":")[2]))
    voided = db.session.scalar(select(OutboxItem.id).where(OutboxItem.kind == KIND,
                                                           OutboxItem.dedupe_key == f"xapi:void:{latest}"))
    return latest, voided is not None


def experiment_unshared(actor: Actor, experiment, now: datetime) -> None:
    """The author made a shared entry private again: the LRS (read by staff) must stop showing it as theirs."""
    latest, was_voided = _experiment_statement(experiment.id)
    if latest is not None and not was_voided:
        revoked(actor, latest, now)


def help_confirmed(help_record, now: datetime) -> None:
    row = _ready(help_record.organisation_id)
    if row is None:
        return
    _send(row, "help_confirmed", f"xapi:help:{help_record.id}", course_id=help_record.course_id,
          user_id=help_record.helper_id, now=now, build=lambda **kw: S.help_confirmed(
              helper=_person(help_record.helper_id), helped=_person(help_record.helped_id),
              course=_course(help_record.course_id), help_id=help_record.id,
              across_teams=bool(help_record.across_teams),
              at=help_record.resolved_at or now, **kw))


def badge_earned(award_id: int, organisation_id: int, now: datetime) -> None:
    row = _ready(organisation_id)  # first: nothing else is read when xAPI is off
    if row is None:
        return
    from plugin.badges.models import BadgeAward, BadgeClass

    award = db.session.get(BadgeAward, award_id)
    if award is None:
        return
    badge = db.session.get(BadgeClass, award.badge_id)

    def build(*, base: str, **kw) -> dict:
        from plugin.badges.openbadges import Urls

        urls = Urls(base)
        return S.badge_earned(base=base, person=_person(award.user_id), course=_course(award.course_id),
                              badge=S.Badge(url=urls.badge(badge.id), name=badge.name, description=badge.description,
                                            image_url=urls.image(badge.id, badge.image_type),
                                            issuer_url=urls.issuer(badge.organisation_id),
                                            assertion_url=urls.assertion(award.public_id) if award.public_id else None,
                                            lang=S.LANG if _written(badge.name) == _written(badge.description) == S.LANG
                                            else S.UND),
                              at=award.awarded_at, **kw)

    _send(row, "badge_earned", f"xapi:badge:{award.id}", course_id=award.course_id, user_id=award.user_id, now=now,
          build=build)


def kudos_received(kudos, now: datetime) -> None:
    row = _ready(kudos.organisation_id)
    if row is None:
        return
    from plugin.catalog.models import ValueTag

    value = db.session.get(ValueTag, kudos.value_tag_id).name if kudos.value_tag_id else None
    _send(row, "kudos_received", f"xapi:kudos:{kudos.id}", course_id=kudos.course_id, user_id=kudos.receiver_id,
          now=now, build=lambda **kw: S.kudos_received(
              receiver=_person(kudos.receiver_id), giver=_person(kudos.giver_id), course=_course(kudos.course_id),
              kudos_id=kudos.id, points=kudos.points, value=value, at=kudos.created_at, value_lang=_written(value),
              **kw))


def revoked(actor: Actor, original_key: str, now: datetime) -> None:
    """Kudos or a badge were revoked, or an experiment made private again: void the statement that reported
    them, if one was queued."""
    row = _ready(actor.organisation_id)
    if row is None:
        return
    original = db.session.scalar(select(OutboxItem).where(OutboxItem.dedupe_key == original_key,
                                                          OutboxItem.kind == KIND))
    if original is None or original.status == DISMISSED or not (original.payload.get("statement") or {}).get("id"):
        return  # nothing reached the LRS to void (a dismissed statement is never sent)
    key = f"xapi:void:{original_key}"
    # `voids`: the delivery waits until the statement it voids reached the LRS (plugin/xapi/delivery.py).
    _send(row, "voided", key, course_id=original.course_id, user_id=original.payload.get("user_id"), now=now,
          build=lambda *, base, **kw: S.voided(voided_id=original.payload["statement"]["id"],
                                               by=_person(actor.user_id), at=now, **kw), voids=original_key)


def send_test(actor: Actor, now: datetime) -> str:
    """Queue a test statement about the admin (sent after commit, like the others); returns its key."""
    _require_admin(actor)
    row = settings(actor.organisation_id)
    if row is None or not row.ready:
        raise InvalidInput(_("Turn xAPI on and save the LRS details before sending a test statement."),
                           errors={"enabled": [_("Turn xAPI on and save the LRS details first.")]})
    key = f"xapi:test:{actor.organisation_id}:{secrets.token_hex(8)}"
    _send(row, "connection_test", key, course_id=actor.course_id, user_id=actor.user_id, now=now,
          build=lambda **kw: S.connection_test(person=_person(actor.user_id), course=_course(actor.course_id),
                                               at=now, **kw))
    record(actor, "xapi.test_sent", "organisation", actor.organisation_id, {"key": key}, now, course_scoped=False)
    return key


# -- status ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    item: OutboxItem
    event: str
    who: str
    verb: str  # the statement's own English display (statement content is never translated)
    happened: datetime | None  # the statement's timestamp


def _organisation_items(organisation_id: int):
    return select(OutboxItem.id).join(Course, Course.id == OutboxItem.course_id).where(
        OutboxItem.kind == KIND, Course.organisation_id == organisation_id)


def recent(actor: Actor, limit: int = 50) -> list[Sent]:
    """The organisation's latest statements with their delivery state, newest first."""
    _require_admin(actor)
    items = list(db.session.scalars(select(OutboxItem).where(OutboxItem.id.in_(_organisation_items(
        actor.organisation_id))).order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc()).limit(limit)))
    names = {u.id: u.display_name for u in db.session.scalars(
        select(User).where(User.id.in_({i.payload.get("user_id") for i in items})))}
    found = []
    for item in items:
        statement = item.payload.get("statement") or {}
        verb = ((statement.get("verb") or {}).get("display") or {}).get(S.LANG, "")
        found.append(Sent(item, str(EVENTS.get(item.payload.get("event"), item.payload.get("event", ""))),
                          names.get(item.payload.get("user_id")) or _("a former member"), verb,
                          _timestamp(statement.get("timestamp"))))
    return found


def _timestamp(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def counts(actor: Actor) -> dict[str, int]:
    _require_admin(actor)
    from sqlalchemy import func

    rows = db.session.execute(select(OutboxItem.status, func.count()).where(
        OutboxItem.id.in_(_organisation_items(actor.organisation_id))).group_by(OutboxItem.status)).all()
    return {status: n for status, n in rows}


def retry_failed(actor: Actor, now: datetime) -> int:
    """Queue the organisation's failed statements again (after the admin fixed the LRS settings)."""
    _require_admin(actor)
    done = db.session.execute(update(OutboxItem).where(
        OutboxItem.id.in_(_organisation_items(actor.organisation_id)), OutboxItem.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now, last_error=None, note=None, updated_at=now)
        .execution_options(synchronize_session=False))
    if done.rowcount:
        from plugin.outbox.service import ENQUEUED_FLAG

        db.session.info[ENQUEUED_FLAG] = True  # deliver after this request, as new statements are
        record(actor, "xapi.failed_requeued", "organisation", actor.organisation_id, {"count": done.rowcount}, now,
               course_scoped=False)
    return done.rowcount
