"""Entry points for the web pages and the CLI: a person's own export, the admin's erasure and retention."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

from flask_babel import format_datetime
from sqlalchemy import func, or_, select

from plugin.audit.service import record
from plugin.challenges.models import MissionEvidence
from plugin.core import text_fold
from plugin.core.actor import Actor
from plugin.core.spreadsheet import csv_text
from plugin.errors import Forbidden, InvalidInput
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.peer_help.models import PeerHelp
from plugin.privacy.erase import Erasure, erasable, erase_person
from plugin.privacy.export import export_person
from plugin.privacy.retention import RetentionIn, purge_expired, retention_days, set_retention  # noqa: F401
from plugin.recognition.models import Kudos
from plugin.tenancy.models import Course, Membership, Platform, User

CONFIRM_WORD = "ERASE"


def my_data(actor: Actor, fmt: str, now: datetime) -> dict[str, list[dict]]:
    """The actor's own data (any role), the download recorded in the audit log."""
    data = export_person(actor.organisation_id, actor.user_id)
    record(actor, "privacy.export", "user", actor.user_id,
           {"format": fmt, "rows": sum(len(rows) for rows in data.values())}, now, course_scoped=False)
    return data


def as_json(data: dict[str, list[dict]], now: datetime) -> bytes:
    return json.dumps({"exported_at": now.isoformat(), "sections": data}, indent=2, ensure_ascii=False,
                      default=str).encode()


def as_csv_zip(data: dict[str, list[dict]], now: datetime) -> bytes:
    """One CSV per section in a zip (UTF-8 with a BOM, so spreadsheet programs read accents right)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for section, rows in data.items():
            columns = list(dict.fromkeys(k for row in rows for k in row)) or ["(nothing held)"]
            archive.writestr(f"{section}.csv", csv_text(columns, ([row.get(c) for c in columns] for row in rows)))
        # The file and column names are data for programs (English); the note is for the person.
        archive.writestr("README.txt", _("Everything Tinker held about you on %(when)s, one file per kind of record. "
                                         "The same data as the JSON download.", when=format_datetime(now, "long")) + "\n")
    return buffer.getvalue()


def find_people(actor: Actor, query: str, limit: int = 50) -> list[tuple[User, list[str]]]:
    """People of the organisation whose name or e-mail contains the query, with their role codes (admins only;
    empty: in no course)."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can look people up here."))
    query = (query or "").strip()
    if not query:
        return []
    folded, fold_word = text_fold.folder()  # "şahin" finds "Şahin" on both databases
    term = fold_word(query)
    users = list(db.session.scalars(
        select(User).join(Platform, Platform.id == User.platform_id)
        .where(Platform.organisation_id == actor.organisation_id, User.erased_at.is_(None),
               or_(folded(User.name).contains(term, autoescape=True),
                   folded(User.email).contains(term, autoescape=True)))
        .order_by(User.name, User.id).limit(limit)))
    roles: dict[int, set[str]] = {}
    for user_id, role in db.session.execute(
            select(Membership.user_id, Membership.role).join(Course, Course.id == Membership.course_id)
            .where(Membership.user_id.in_([u.id for u in users]), Course.organisation_id == actor.organisation_id)):
        roles.setdefault(user_id, set()).add(role)
    return [(u, sorted(roles.get(u.id, set()))) for u in users]


def erase_preview(actor: Actor, user_id: int) -> tuple[User, dict[str, int]]:
    """Who would be erased and how many of their records lose their text (raises as erase would)."""
    user = erasable(actor, user_id)
    org, s = actor.organisation_id, db.session
    counts = {
        "experiments": s.scalar(select(func.count()).where(Experiment.user_id == user.id,
                                                           Experiment.organisation_id == org)),
        "peer_help": s.scalar(select(func.count()).where(PeerHelp.organisation_id == org, or_(
            PeerHelp.helper_id == user.id, PeerHelp.helped_id == user.id))),
        "kudos": s.scalar(select(func.count()).where(Kudos.organisation_id == org, or_(
            Kudos.giver_id == user.id, Kudos.receiver_id == user.id))),
        "mission_evidence": s.scalar(select(func.count()).select_from(MissionEvidence).join(
            Course, Course.id == MissionEvidence.course_id).where(MissionEvidence.user_id == user.id,
                                                                   Course.organisation_id == org)),
    }
    return user, counts


def erase(actor: Actor, user_id: int, confirmation: str, now: datetime) -> Erasure:
    if (confirmation or "").strip() != CONFIRM_WORD:
        erasable(actor, user_id)  # a stranger or a staff account is refused before any form error
        message = _("Type %(word)s to confirm.", word=CONFIRM_WORD)
        raise InvalidInput(message, errors={"confirm": [message]})
    return erase_person(actor, user_id, now)


def retention(actor: Actor) -> int | None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators see the retention period."))
    return retention_days(actor.organisation_id)


def change_retention(actor: Actor, form: dict, now: datetime) -> int | None:
    raw = (form.get("days") or "").strip()
    data = RetentionIn().load({"days": raw or None})
    return set_retention(actor, data["days"], now)


__all__ = ["as_csv_zip", "as_json", "change_retention", "erase", "erase_preview", "find_people", "my_data",
           "purge_expired", "retention"]
