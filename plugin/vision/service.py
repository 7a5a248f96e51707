"""The AI vision: admins save it (a new version when what learners read changes), learners acknowledge it,
and log_experiment asks it which tools are approved and which pillars exist."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from plugin.audit.service import record
from plugin.catalog.models import AiTool
from plugin.catalog.service import items
from plugin.core import memo, text_fold
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.vision.models import Pillar, ToolPolicy, Vision, VisionAck


@dataclass(frozen=True)
class ToolEntry:
    tool: AiTool
    approved: bool
    data_note: str


@dataclass(frozen=True)
class VisionView:
    vision: Vision | None
    pillars: list[Pillar]
    tools: list[ToolEntry]

    @property
    def published(self) -> bool:
        return self.vision is not None and self.vision.version > 0

    @property
    def approved_tools(self) -> list[ToolEntry]:
        return [t for t in self.tools if t.approved]


def pillars(organisation_id: int, include_inactive: bool = False) -> list[Pillar]:
    """Read once per transaction, as catalog items are (the form and the vision beside it both list them)."""
    def read() -> list[Pillar]:
        query = select(Pillar).where(Pillar.organisation_id == organisation_id)
        if not include_inactive:
            query = query.where(Pillar.active.is_(True))
        return list(db.session.scalars(query.order_by(Pillar.position, Pillar.id)))
    return list(memo.remember(db.session, ("pillars", organisation_id, include_inactive), (Pillar.__tablename__,),
                              read))


def tool_policies(organisation_id: int) -> dict[int, ToolPolicy]:
    return {p.ai_tool_id: p for p in db.session.scalars(
        select(ToolPolicy).where(ToolPolicy.organisation_id == organisation_id))}


def current(organisation_id: int) -> VisionView:
    policies = tool_policies(organisation_id)
    listed = items(organisation_id, "tools")
    # Only listed tools make an approved list: a tool approved, then taken off the list, approves nothing.
    approvals = {t.id: policies[t.id] for t in listed if t.id in policies}
    tools = [ToolEntry(t, _approved(approvals, t.id), policies[t.id].data_note if t.id in policies else "")
             for t in listed]
    return VisionView(db.session.get(Vision, organisation_id), pillars(organisation_id), tools)


def _approved(policies: dict[int, ToolPolicy], tool_id: int) -> bool:
    # Until an admin approves any tool, the catalogue itself is the approved list.
    if not any(p.approved for p in policies.values()):
        return True
    return tool_id in policies and policies[tool_id].approved


_P = ToolPolicy.__table__
_T = AiTool.__table__
# Policies of the tools still on the organisation's list (the approved list is made of those).
_APPROVALS = select(_P.c.ai_tool_id, _P.c.approved).join(_T, _T.c.id == _P.c.ai_tool_id).where(
    _P.c.organisation_id == bindparam("organisation_id"), _T.c.active.is_(True))


# The same rule as scalar subqueries an award's combined read embeds (bind organisation_id, ai_tool_id):
# whether the organisation approved any listed tool, and whether it approved this one; approved_from decides.
ANY_APPROVED = select(_P.c.ai_tool_id).join(_T, _T.c.id == _P.c.ai_tool_id).where(
    _P.c.organisation_id == bindparam("organisation_id"), _P.c.approved.is_(True), _T.c.active.is_(True)).exists()
THIS_APPROVED = select(_P.c.approved).where(_P.c.organisation_id == bindparam("organisation_id"),
                                            _P.c.ai_tool_id == bindparam("ai_tool_id")).scalar_subquery()


def approved_from(tool_id: int | None, any_approved, this_approved) -> bool:
    if tool_id is None:
        return False
    return not any_approved or bool(this_approved)


def tool_approved(organisation_id: int, tool_id: int | None) -> bool:
    """A catalogue tool the vision approves; "other" (None) never is. (The rule of _approved, on plain rows:
    this runs for every experiment logged.)"""
    if tool_id is None:
        return False
    approvals = dict(db.session.execute(_APPROVALS, {"organisation_id": organisation_id}).all())
    if not any(approvals.values()):
        return True
    return bool(approvals.get(tool_id))


def _hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def save_vision(actor: Actor, data: dict, now: datetime) -> Vision:
    """Replace the vision with `data` (VisionIn-loaded). Bumps the version only when the text learners read
    (statement, guidance, pillars, tool approvals and notes) changed, so they are asked to acknowledge again."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can change the AI vision."))
    org = actor.organisation_id
    names = [text_fold.key(p["name"]) for p in data["pillars"]]  # "İletişim" is "iletişim"
    if not all(names):  # a name of control characters or spaces only is none
        raise InvalidInput(_("Give each pillar a name."), errors={"pillars": [_("Give each pillar a name.")]})
    if len(set(names)) != len(names):
        raise InvalidInput(_("Each pillar needs its own name."), errors={"pillars": [_("Each pillar needs its own name.")]})
    # One save at a time per organisation: the vision row is locked before anything is read, so a second admin's
    # save waits, then reads the pillars and the version this one leaves (unlocked, two first saves collided on the
    # pillar names, and two later ones could both take the same version number, one text never acknowledged).
    insert_ignore(db.session, Vision.__table__, {"organisation_id": org, "statement": "", "guidance": "",
                                                 "version": 0, "content_hash": "", "updated_at": now},
                  ["organisation_id"], returning=False)
    vision = db.session.scalars(select(Vision).where(Vision.organisation_id == org).with_for_update()
                                .execution_options(populate_existing=True)).one()
    _save_pillars(org, data["pillars"])
    _save_tools(org, data["tools"])
    view = current(org)
    content = {"statement": data["statement"].strip(), "guidance": data["guidance"].strip(),
               "pillars": [[p.name, p.description] for p in view.pillars],
               "tools": [[t.tool.id, t.approved, t.data_note] for t in view.tools]}
    digest = _hash(content)
    if digest != vision.content_hash:
        vision.version += 1
        vision.content_hash = digest
        record(actor, "vision.saved", "organisation", org, {"version": vision.version}, now, course_scoped=False)
    vision.statement, vision.guidance = content["statement"], content["guidance"]
    vision.updated_at, vision.updated_by_id = now, actor.user_id
    db.session.flush()
    return vision


def _save_pillars(organisation_id: int, rows: list[dict]) -> None:
    """Rows keep their pillar by id (or by name); pillars no row names are retired, keeping past tags."""
    existing = {p.id: p for p in pillars(organisation_id, include_inactive=True)}
    by_name = {text_fold.key(p.name): p for p in existing.values()}
    targets = [existing.get(row.get("id") or 0) or by_name.get(text_fold.key(row["name"])) for row in rows]
    kept = {p.id for p in targets if p is not None}
    wanted = {text_fold.key(row["name"]) for row in rows}
    for pillar in existing.values():  # free names first, so pillars can swap names in one save
        if pillar.id in kept or text_fold.key(pillar.name) in wanted:
            pillar.name = f"~{pillar.id}"
    db.session.flush()
    for pillar in existing.values():
        if pillar.id not in kept:
            pillar.active = False
            if pillar.name.startswith("~"):
                pillar.name = f"Retired pillar {pillar.id}"
    for position, (row, pillar) in enumerate(zip(rows, targets), start=1):
        if pillar is None:
            pillar = Pillar(organisation_id=organisation_id)
            db.session.add(pillar)
        pillar.name, pillar.description = tidy_name(row["name"]), row.get("description", "").strip()
        pillar.position, pillar.active = position, True
    db.session.flush()


def _save_tools(organisation_id: int, rows: list[dict]) -> None:
    policies = tool_policies(organisation_id)
    valid = {t.id for t in items(organisation_id, "tools", include_inactive=True)}
    for row in rows:
        tool_id = row["ai_tool_id"]
        if tool_id not in valid:
            raise InvalidInput(_("That AI tool is not in the organisation's list."),
                               errors={"tools": [_("Choose tools from the organisation's list.")]})
        policy = policies.get(tool_id)
        if policy is None:
            policy = ToolPolicy(ai_tool_id=tool_id, organisation_id=organisation_id)
            db.session.add(policy)
        policy.approved, policy.data_note = row["approved"], row["data_note"].strip()
    db.session.flush()


def needs_acknowledgement(actor: Actor) -> bool:
    vision = db.session.get(Vision, actor.organisation_id)
    if vision is None or vision.version == 0:
        return False
    ack = db.session.get(VisionAck, (actor.organisation_id, actor.user_id))
    return ack is None or ack.version < vision.version


def acknowledge(actor: Actor, version: int, now: datetime) -> VisionAck:
    """Record that the actor read `version` (the one on the page they saw); an older one is refused."""
    vision = db.session.get(Vision, actor.organisation_id)
    if vision is None or vision.version == 0:
        raise Conflict(_("There is no AI vision to acknowledge yet."))
    if version != vision.version:
        raise Conflict(_("The AI vision changed while you were reading it: please read the new version."))
    ack = db.session.get(VisionAck, (actor.organisation_id, actor.user_id))
    if ack is None:
        insert_ignore(db.session, VisionAck.__table__, {"organisation_id": actor.organisation_id,
                                                        "user_id": actor.user_id, "version": version,
                                                        "acknowledged_at": now}, ["organisation_id", "user_id"],
                      returning=False)
        ack = db.session.get(VisionAck, (actor.organisation_id, actor.user_id))
    elif ack.version < version:
        ack.version, ack.acknowledged_at = version, now
    db.session.flush()
    return ack


def acknowledged_version(actor: Actor) -> int | None:
    ack = db.session.get(VisionAck, (actor.organisation_id, actor.user_id))
    return ack.version if ack else None
