"""An admin erases a learner: free text they wrote or that was written about them becomes "[erased]", the
account is pseudonymised, and every id and amount stays, so ledger sums, boards and team figures are the
same before and after (ledger rows carry no personal text and are never touched).

POLICY lists, for every column that points at user_account.id, what erasure does with the rows it names;
a test fails when a new such column appears without an entry.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from plugin.audit.models import AuditEvent
from plugin.audit.service import record
from plugin.badges.models import BadgeAward, Recipient
from plugin.challenges.models import RETURNED, SUBMITTED, MissionEvidence
from plugin.community.models import Report
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden, NotFound
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.identity import service as linking
from plugin.leaderboards.models import BoardOptOut
from plugin.lti.models import LaunchSession
from plugin.outbox.models import DISMISSED, FAILED, PENDING, OutboxItem
from plugin.peer_help.models import DECLINED, PeerHelp
from plugin.peer_help.models import PENDING as HELP_PENDING
from plugin.privacy.outbound import scrub_deliveries
from plugin.recognition.models import Kudos
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course, Membership, Platform, User

ERASED = "[erased]"
PSEUDONYM_PREFIX = "Erased learner "  # + 4 hex digits: the erased account's name (pages translate it: stored_text)
# What the admin's confirmation page says about each column (lazy: in the admin's language).
KEEP_IDS = _l("kept: ids and amounts only")
DESCRIPTION_ERASED = _l("description erased; help still waiting for an answer is declined")
KUDOS_ERASED = _l("message and revocation reason erased")
POLICY = {
    "user_account.id": _l("pseudonymised: name replaced, e-mail, locales and LMS id removed"),
    "membership.user_id": _l("kept: ids and amounts only (roles and status keep boards and figures consistent)"),
    "experiment.user_id": _l("title, what was tried, what was learned, other-tool name erased; hidden from the library"),
    "reaction.user_id": KEEP_IDS,
    "reuse.user_id": KEEP_IDS,
    "report.reporter_id": _l("reason erased (also reasons others gave about the person's experiments)"),
    "peer_help.helper_id": DESCRIPTION_ERASED,
    "peer_help.helped_id": DESCRIPTION_ERASED,
    "peer_help.recorded_by_id": DESCRIPTION_ERASED,
    "kudos.giver_id": KUDOS_ERASED,
    "kudos.receiver_id": KUDOS_ERASED,
    "kudos_budget.giver_id": KEEP_IDS,
    "badge_award.user_id": _l("comment, evidence link and revocation reason erased; the award stays"),
    "badge_award.awarded_by_id": KEEP_IDS,
    "badge_recipient.user_id": _l("deleted (claimed e-mail or identity URL)"),
    "ledger_entry.user_id": _l("kept: ids and amounts only (never touched)"),
    "points_total.user_id": KEEP_IDS,
    "quarter_points.user_id": KEEP_IDS,
    "board_score.user_id": KEEP_IDS,
    "member_stat.user_id": KEEP_IDS,
    "experiment_tally.user_id": KEEP_IDS,
    "board_opt_out.user_id": _l("added for every course: never named on a board"),
    "team_member.user_id": KEEP_IDS,
    "challenge_contribution.user_id": KEEP_IDS,
    "mission_evidence.user_id": _l("evidence text, link and review comment erased"),
    "mission_evidence.reviewer_id": KEEP_IDS,
    "challenge.champion_id": KEEP_IDS,
    "challenge.created_by_id": KEEP_IDS,
    "vision_ack.user_id": KEEP_IDS,
    "vision.updated_by_id": KEEP_IDS,
    "rule_version.created_by_user_id": KEEP_IDS,
    "launch_session.user_id": _l("deleted (signs the person out)"),
    "audit_event.actor_user_id": _l("kept; reasons written about the person's records erased"),
    "api_token.created_by_user_id": KEEP_IDS,  # issued by an admin, and staff are never erased here
    "api_token.service_user_id": KEEP_IDS,  # a token's own service account, never a learner
    "identity_link.user_id": _l("deleted: the account leaves its person (the others stay linked); boards recounted"),
    "link_code.user_id": _l("deleted"),
    "link_attempt.user_id": _l("deleted"),
    "webhook_endpoint.created_by_id": KEEP_IDS,  # added by an admin, and staff are never erased here
}


@dataclass
class Erasure:
    user_id: int
    pseudonym: str
    already: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def erasable(actor: Actor, user_id: int) -> User:
    """The learner of the actor's organisation that the admin may erase; raises otherwise."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can erase a person."))
    user = db.session.scalar(select(User).join(Platform, Platform.id == User.platform_id).where(
        User.id == user_id, Platform.organisation_id == actor.organisation_id))
    if user is None:
        raise NotFound(_("No such person in your organisation."))
    staff = db.session.scalar(select(Membership.id).join(Course, Course.id == Membership.course_id).where(
        Membership.user_id == user.id, Course.organisation_id == actor.organisation_id,
        Membership.role.in_([Role.MANAGER.value, Role.ADMIN.value])).limit(1))
    if staff is not None:
        raise Forbidden(_("Staff accounts are not erased here: they hold other people's records."),
                        hint=_("Ask the person who runs Tinker; a learner-only account can be erased on this page."))
    return user


def erase_person(actor: Actor, user_id: int, now: datetime) -> Erasure:
    user = erasable(actor, user_id)
    if user.erased_at is not None:
        return Erasure(user.id, user.display_name, already=True)
    org, uid, s = actor.organisation_id, user.id, db.session
    counts: dict[str, int] = {}
    # The person's membership rows first, as their awards take them (experiments.service's preflight, peer help):
    # an entry being saved right now is committed before the erasure reads what to erase, and is erased with the
    # rest (PostgreSQL; SQLite serialises writers already). In id order, as tenancy.lock_standing takes them, and
    # rewritten as it does: an entry whose preflight waited for them reads again, finds the account erased and is
    # refused before it writes anything.
    tenancy.change_standing_where((Membership.user_id == uid) & Membership.course_id.in_(_org_courses(org)))
    s.refresh(user)  # a second admin's erasure of the same person, waited for: nothing more to do
    if user.erased_at is not None:
        return Erasure(user.id, user.display_name, already=True)

    def run(name: str, statement) -> None:
        counts[name] = counts.get(name, 0) + (s.execute(statement.execution_options(synchronize_session=False))
                                              .rowcount or 0)

    mine = select(Experiment.id).where(Experiment.user_id == uid, Experiment.organisation_id == org)
    experiment_ids = list(s.scalars(mine))
    run("experiments", update(Experiment).where(Experiment.id.in_(experiment_ids)).values(
        title=ERASED, tried=ERASED, learned="", text_purged_at=now))
    # Out of the shared library too: an "[erased]" card helps nobody. Rules and boards never read hidden_at.
    s.execute(update(Experiment).where(Experiment.id.in_(experiment_ids), Experiment.hidden_at.is_(None))
              .values(hidden_at=now, hidden_reason=ERASED).execution_options(synchronize_session=False))
    for column in (Experiment.ai_tool_other, Experiment.hidden_reason):
        s.execute(update(Experiment).where(Experiment.id.in_(experiment_ids), column.is_not(None))
                  .values({column: ERASED}).execution_options(synchronize_session=False))
    run("reports", update(Report).where(or_(Report.reporter_id == uid, Report.experiment_id.in_(experiment_ids)))
        .values(reason=ERASED))
    run("peer_help", update(PeerHelp).where(PeerHelp.organisation_id == org, or_(
        PeerHelp.helper_id == uid, PeerHelp.helped_id == uid, PeerHelp.recorded_by_id == uid)).values(description=ERASED))
    # Nobody is asked any more to confirm help from them (a yes would pay the erased account), nor waits for theirs.
    run("peer_help_declined", update(PeerHelp).where(PeerHelp.organisation_id == org, PeerHelp.status == HELP_PENDING,
                                                     or_(PeerHelp.helper_id == uid, PeerHelp.helped_id == uid))
        .values(status=DECLINED, resolved_at=now))
    kudos = (Kudos.organisation_id == org) & or_(Kudos.giver_id == uid, Kudos.receiver_id == uid)
    kudos_ids = list(s.scalars(select(Kudos.id).where(kudos)))
    run("kudos", update(Kudos).where(Kudos.id.in_(kudos_ids)).values(message=ERASED))
    s.execute(update(Kudos).where(Kudos.id.in_(kudos_ids), Kudos.revoked_reason.is_not(None))
              .values(revoked_reason=ERASED).execution_options(synchronize_session=False))
    award_ids = list(s.scalars(select(BadgeAward.id).where(BadgeAward.user_id == uid, BadgeAward.organisation_id == org)))
    run("badge_awards", update(BadgeAward).where(BadgeAward.id.in_(award_ids), or_(
        BadgeAward.comment.is_not(None), BadgeAward.evidence_url.is_not(None), BadgeAward.revoked_reason.is_not(None)))
        .values(comment=None, evidence_url=None))
    s.execute(update(BadgeAward).where(BadgeAward.id.in_(award_ids), BadgeAward.revoked_reason.is_not(None))
              .values(revoked_reason=ERASED).execution_options(synchronize_session=False))
    evidence_ids = list(s.scalars(select(MissionEvidence.id).where(
        MissionEvidence.user_id == uid, MissionEvidence.course_id.in_(_org_courses(org)))))
    run("mission_evidence", update(MissionEvidence).where(MissionEvidence.id.in_(evidence_ids))
        .values(text=ERASED, link=None))
    s.execute(update(MissionEvidence).where(MissionEvidence.id.in_(evidence_ids),
                                            MissionEvidence.review_comment.is_not(None))
              .values(review_comment=ERASED).execution_options(synchronize_session=False))
    # Evidence still waiting for review leaves the reviewers' queue: nothing more is decided (or paid) for it.
    s.execute(update(MissionEvidence).where(MissionEvidence.id.in_(evidence_ids), MissionEvidence.status == SUBMITTED)
              .values(status=RETURNED, reviewed_at=now, review_comment=ERASED)
              .execution_options(synchronize_session=False))
    counts["audit_reasons"] = _scrub_audit(org, {"experiment": experiment_ids, "kudos": kudos_ids,
                                                 "badge_award": award_ids, "mission_evidence": evidence_ids})
    run("badge_recipient", delete(Recipient).where(Recipient.user_id == uid))
    run("launch_sessions", delete(LaunchSession).where(LaunchSession.user_id == uid))
    counts["identity_links"] = linking.forget(org, uid)  # unlinked: the person's boards count them apart again
    # Grade pushes name the person to the LMS by their (now removed) LMS id: nothing more is sent, and a failed
    # one is not left for a manager's retry (nor a dismissed one kept).
    run("pending_grade_pushes", delete(OutboxItem).where(
        OutboxItem.status.in_((PENDING, FAILED, DISMISSED)), OutboxItem.dedupe_key.like(f"ags:score:%:{uid}"),
        OutboxItem.course_id.in_(_org_courses(org))))
    # Badge address confirmations hold the address (and a link) in their payload, sent or not.
    run("emails", delete(OutboxItem).where(OutboxItem.dedupe_key.like(f"badges:confirm:{uid}:%")))
    # Webhook bodies and xAPI statements name the person by LMS id, name or address, queued or sent.
    issuer = s.scalar(select(Platform.issuer).where(Platform.id == user.platform_id))
    counts.update(scrub_deliveries(org, uid, issuer, user.sub, user.email))
    for course_id in s.scalars(select(Membership.course_id).join(Course, Course.id == Membership.course_id)
                               .where(Membership.user_id == uid, Course.organisation_id == org)):
        insert_ignore(s, BoardOptOut.__table__, {"course_id": course_id, "user_id": uid, "created_at": now},
                      ["course_id", "user_id"], returning=False)

    pseudonym = f"{PSEUDONYM_PREFIX}{secrets.token_hex(2)}"
    user.name, user.email, user.locale, user.preferred_locale, user.erased_at = pseudonym, None, None, None, now
    # A new launch from the LMS finds no account with the old LMS id, so it starts a fresh, empty one; a roster sync
    # recognises the old id by its keyed digest and does not re-create the person.
    user.sub = tenancy.erased_sub(uid, user.platform_id, user.sub)
    s.flush()
    s.expire_all()
    record(actor, "privacy.erased", "user", uid, {"pseudonym": pseudonym, "counts": counts}, now, course_scoped=False)
    return Erasure(uid, pseudonym, counts=counts)


def _org_courses(org: int):
    return select(Course.id).where(Course.organisation_id == org)


def _scrub_audit(org: int, targets: dict[str, list[int]]) -> int:
    """Reasons typed about the person's records (hiding, revoking) are free text about them."""
    scrubbed = 0
    for target_type, ids in targets.items():
        if not ids:
            continue
        for event in db.session.scalars(select(AuditEvent).where(
                AuditEvent.organisation_id == org, AuditEvent.target_type == target_type,
                AuditEvent.target_id.in_(ids))):
            if isinstance(event.details, dict) and event.details.get("reason"):
                event.details = {**event.details, "reason": ERASED}
                scrubbed += 1
    return scrubbed
