"""Why I have each point and badge: every ledger row and award, with the rule version and the fact behind it.
Also the learner's notifications feed (the same rows, newest first)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from plugin.badges.models import BadgeAward, BadgeClass
from plugin.challenges.models import Challenge, ChallengeContribution
from plugin.community.models import Reaction, Reuse
from plugin.core.actor import Actor
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.identity.people import identities
from plugin.ledger.models import LedgerEntry
from plugin.levels.service import dimension_names
from plugin.onboarding.names import seeded
from plugin.peer_help.models import PeerHelp
from plugin.recognition import reversals
from plugin.recognition.models import Kudos
from plugin.rules.models import RuleVersion
from plugin.tenancy.models import Course, Platform, User


@dataclass(frozen=True)
class Explanation:
    at: datetime
    points: int
    dimension: str
    why: str                    # the rule (and version), kudos, or reversal that produced it
    source: str                 # the fact behind it, in words
    experiment_id: int | None = None
    badge: BadgeClass | None = None
    revoked: str | None = None  # reason, for a badge that was revoked
    origin: str | None = None   # "<LMS> · <course>" for a row of another identity of the same person


# Built once: an alias made per call costs more than the query (SQLAlchemy adapts every column anew).
_VERSION = aliased(RuleVersion, name="rule_version_of")
_HELPED = aliased(User, name="helped")
_GIVER = aliased(User, name="giver")


class _Sources:
    """Describes facts in words, loading each kind in one query (no query per row)."""

    def __init__(self, pairs: list[tuple[str, int | None]]):
        ids: dict[str, set[int]] = {}
        for kind, source_id in pairs:
            if source_id is not None:
                ids.setdefault(kind, set()).add(source_id)
        self.via = {}
        for kind, model in (("reaction", Reaction), ("reuse", Reuse)):
            if ids.get(kind):
                self.via.update({(kind, i): e for i, e in db.session.execute(
                    select(model.id, model.experiment_id).where(model.id.in_(ids[kind])))})
        experiment_ids = ids.get("experiment", set()) | set(self.via.values())
        self.titles = dict(db.session.execute(select(Experiment.id, Experiment.title)
                                              .where(Experiment.id.in_(experiment_ids))).all()) if experiment_ids else {}
        self.helps = dict(db.session.execute(
            select(PeerHelp.id, _HELPED.name).join(_HELPED, _HELPED.id == PeerHelp.helped_id)
            .where(PeerHelp.id.in_(ids["peer_help"]))).all()) if ids.get("peer_help") else {}
        self.contributions = dict(db.session.execute(
            select(ChallengeContribution.id, ChallengeContribution.challenge_id)
            .where(ChallengeContribution.id.in_(ids["challenge_contribution"]))).all()) if ids.get("challenge_contribution") else {}
        challenge_ids = ids.get("challenge", set()) | set(self.contributions.values())
        self.challenges = dict(db.session.execute(select(Challenge.id, Challenge.title)
                                                  .where(Challenge.id.in_(challenge_ids))).all()) if challenge_ids else {}
        self.kudos = {k.id: (k, name) for k, name in db.session.execute(
            select(Kudos, _GIVER.name).join(_GIVER, _GIVER.id == Kudos.giver_id).where(Kudos.id.in_(ids["kudos"])))
        } if ids.get("kudos") else {}

    def describe(self, kind: str, source_id: int | None) -> tuple[str, int | None]:
        if kind == "experiment":
            return _("Experiment: %(title)s", title=self.titles.get(source_id, "")), source_id
        if kind == "peer_help":
            helped = self.helps.get(source_id)
            return (_("Help confirmed by %(name)s", name=helped) if helped else _("Help confirmed by a colleague")), None
        if kind == "kudos" and source_id in self.kudos:
            kudos, giver = self.kudos[source_id]
            if giver:
                return _("Kudos from %(name)s: “%(message)s”", name=giver, message=kudos.message), None
            return _("Kudos from a manager: “%(message)s”", message=kudos.message), None
        if kind in ("reaction", "reuse"):
            experiment_id = self.via.get((kind, source_id))
            title = self.titles.get(experiment_id, "")
            if kind == "reaction":
                return _("Your experiment “%(title)s” was found helpful", title=title), experiment_id
            return _("Your experiment “%(title)s” was reused by a colleague", title=title), experiment_id
        if kind in ("challenge", "challenge_contribution"):
            challenge_id = source_id if kind == "challenge" else self.contributions.get(source_id)
            return _("Challenge: %(title)s", title=self.challenges.get(challenge_id, "")), None
        if kind == "manual":  # the award's own line already says who gave it and why
            return "", None
        return _("Awarded by a manager"), None


def _because(cause: reversals.Cause | None) -> str | None:
    """Why an entry was reversed, in the reader's words (None: nothing more to say than "Reversed")."""
    if cause is None:
        return None
    if cause.kind == reversals.KUDOS_REVOKED:
        return _("kudos revoked: “%(reason)s”", reason=cause.reason) if cause.reason else _("kudos revoked")
    if cause.kind == reversals.BADGE_REVOKED:
        return _("badge revoked: “%(reason)s”", reason=cause.reason) if cause.reason else _("badge revoked")
    if cause.kind == reversals.REVOKED_BY_MANAGER:
        return _("taken back by a manager")
    if cause.kind == reversals.RECALCULATED:
        return _("the rules were recalculated")
    return None


def _origins(organisation_id: int, course_ids: set[int]) -> dict[int, str]:
    """course id -> "<LMS> · <course>", for rows of a person's other identities."""
    if not course_ids:
        return {}
    return {cid: f"{platform or issuer} · {title}" for cid, title, platform, issuer in db.session.execute(
        select(Course.id, Course.title, Platform.name, Platform.issuer).join(Platform, Platform.id == Course.platform_id)
        .where(Course.id.in_(course_ids), Course.organisation_id == organisation_id))}


def earned_for(actor: Actor, source_type: str, source_id: int) -> list[tuple[str, int]]:
    """What the actor's rules paid for one thing of theirs (an experiment just saved), entry by entry: (the rule's
    name as it was when it paid, in the reader's language; points)."""
    return [(seeded(name) if name else _("Manual entry"), amount) for amount, name in db.session.execute(
        select(LedgerEntry.amount, _VERSION.name).outerjoin(
            _VERSION, (_VERSION.rule_id == LedgerEntry.rule_id) & (_VERSION.version == LedgerEntry.rule_version))
        .where(LedgerEntry.course_id == actor.course_id, LedgerEntry.user_id == actor.user_id,
               LedgerEntry.source_type == source_type, LedgerEntry.source_id == source_id,
               LedgerEntry.reverses_id.is_(None)).order_by(LedgerEntry.id))]


def explanations(actor: Actor, limit: int = 200, linked: bool = False) -> list[Explanation]:
    """The actor's points and badges in this course, newest first; with `linked`, also those of the identities
    linked to theirs in the organisation's other LMSs (each row says where it comes from)."""
    names = dimension_names(actor.organisation_id)
    out: list[Explanation] = []
    others = [u for u in identities(actor.user_id) if u != actor.user_id] if linked else []

    def mine(model):
        here = (model.course_id == actor.course_id) & (model.user_id == actor.user_id)
        return or_(here, (model.user_id.in_(others)) & (model.organisation_id == actor.organisation_id)) if others else here

    entries = db.session.execute(
        select(LedgerEntry, _VERSION.name, _VERSION.version).outerjoin(
            _VERSION, (_VERSION.rule_id == LedgerEntry.rule_id) & (_VERSION.version == LedgerEntry.rule_version))
        .where(mine(LedgerEntry)).order_by(LedgerEntry.id.desc()).limit(limit))
    entries = list(entries)
    awards = list(db.session.execute(
        select(BadgeAward, BadgeClass, _VERSION.name, _VERSION.version)
        .join(BadgeClass, BadgeClass.id == BadgeAward.badge_id)
        .outerjoin(_VERSION, (_VERSION.rule_id == BadgeAward.rule_id) & (_VERSION.version == BadgeAward.rule_version))
        .where(mine(BadgeAward)).order_by(BadgeAward.id.desc()).limit(limit)))
    origins = _origins(actor.organisation_id, {e.course_id for e, _, _ in entries if e.user_id != actor.user_id}
                       | {a.course_id for a, _, _, _ in awards if a.user_id != actor.user_id})
    sources = _Sources([(e.source_type, e.source_id) for e, _, _ in entries]
                       + [(a.source_type or "manual", a.source_id) for a, _, _, _ in awards])
    reversed_because = reversals.causes([(e.id, e.idempotency_key) for e, _, _ in entries if e.reverses_id])
    for entry, rule_name, rule_version in entries:
        why = _("%(rule)s (rule version %(version)s)", rule=seeded(rule_name), version=rule_version) if rule_name else (
            _("Kudos points") if entry.source_type == "kudos" else _("Manual entry"))
        if entry.reverses_id:
            because = _because(reversed_because.get(entry.id))
            why = _("Reversed: %(why)s (%(because)s)", why=why, because=because) if because else _(
                "Reversed: %(why)s", why=why)
        source, experiment_id = sources.describe(entry.source_type, entry.source_id)
        out.append(Explanation(entry.created_at, entry.amount, names.get(entry.dimension, entry.dimension), why,
                               source, experiment_id, origin=origins.get(entry.course_id)
                               if entry.user_id != actor.user_id else None))
    giver_ids = {a.awarded_by_id for a, _, _, _ in awards if a.awarded_by_id}
    givers = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(giver_ids))).all()) if giver_ids else {}
    for award, badge, rule_name, rule_version in awards:
        if rule_name:
            why = _("%(rule)s (rule version %(version)s)", rule=seeded(rule_name), version=rule_version)
        else:
            giver = givers.get(award.awarded_by_id)
            if award.source_type == "challenge":
                why = _("Challenge completed")
            elif not award.awarded_by_id:
                why = _("Awarded by a manager")
            elif giver:
                why = _("Awarded by %(name)s: %(comment)s", name=giver, comment=award.comment)
            else:
                why = _("Awarded by a manager: %(comment)s", comment=award.comment)
        source, experiment_id = sources.describe(award.source_type or "manual", award.source_id)
        out.append(Explanation(award.awarded_at, 0, "", why, source, experiment_id, badge, award.revoked_reason,
                               origins.get(award.course_id) if award.user_id != actor.user_id else None))
    out.sort(key=lambda e: e.at, reverse=True)
    return out[:limit]
