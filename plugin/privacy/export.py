"""Everything Tinker holds about one person, as sections of flat rows (JSON as is; CSV one file per section).

Every column that points at user_account.id is listed in COVERED with the section that exports it, and a
test fails when a new one appears unlisted. Other people appear by display name only where the person
already sees them in Tinker (who gave them kudos, who they helped); who reacted to their work does not.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from plugin.audit.models import AuditEvent
from plugin.badges.models import BadgeAward, BadgeClass, Recipient
from plugin.catalog.models import AiTool, TaskCategory, ValueTag
from plugin.challenges.models import Challenge, ChallengeContribution, MissionEvidence
from plugin.community.models import Reaction, Report, Reuse
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.facts.models import ExperimentTally
from plugin.identity.models import IdentityLink, LinkAttempt, LinkCode
from plugin.leaderboards.models import BoardOptOut, BoardScore, MemberStat
from plugin.ledger.models import LedgerEntry, PointsTotal, QuarterPoints, quarter_start
from plugin.lti.models import LaunchSession
from plugin.outbox.models import OutboxItem
from plugin.peer_help.models import PeerHelp
from plugin.privacy.outbound import deliveries_naming
from plugin.recognition import reversals
from plugin.recognition.models import Kudos, KudosBudget
from plugin.rules.models import RuleVersion
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.models import Course, Membership, Platform, User
from plugin.tokens.models import ApiToken
from plugin.vision.models import ExperimentPillar, Pillar, Vision, VisionAck
from plugin.webhooks.models import WebhookEndpoint

# "table.column" -> the section holding it.
COVERED = {
    "user_account.id": "profile",
    "membership.user_id": "memberships",
    "experiment.user_id": "experiments",
    "reaction.user_id": "reactions_given",
    "reuse.user_id": "reuses_given",
    "report.reporter_id": "reports_made",
    "peer_help.helper_id": "peer_help",
    "peer_help.helped_id": "peer_help",
    "peer_help.recorded_by_id": "peer_help",
    "kudos.giver_id": "kudos_given",
    "kudos.receiver_id": "kudos_received",
    "kudos_budget.giver_id": "kudos_budget",
    "badge_award.user_id": "badge_awards",
    "badge_award.awarded_by_id": "badges_awarded_by_you",
    "badge_recipient.user_id": "badge_recipient",
    "ledger_entry.user_id": "ledger",
    "points_total.user_id": "points",
    "quarter_points.user_id": "points_by_quarter_hour",
    "board_score.user_id": "board_scores",
    "member_stat.user_id": "activity_figures",
    "experiment_tally.user_id": "experiment_tallies",
    "board_opt_out.user_id": "board_opt_outs",
    "team_member.user_id": "teams",
    "challenge_contribution.user_id": "challenge_contributions",
    "mission_evidence.user_id": "mission_evidence",
    "mission_evidence.reviewer_id": "evidence_reviewed",
    "challenge.champion_id": "challenges_championed_or_created",
    "challenge.created_by_id": "challenges_championed_or_created",
    "vision_ack.user_id": "vision_acknowledgements",
    "vision.updated_by_id": "vision_updates",
    "rule_version.created_by_user_id": "rule_versions_authored",
    "launch_session.user_id": "launch_sessions",
    "audit_event.actor_user_id": "audit_events",
    "api_token.created_by_user_id": "api_tokens",
    "api_token.service_user_id": "api_tokens",
    "identity_link.user_id": "linked_accounts",
    "link_code.user_id": "link_codes",
    "link_attempt.user_id": "link_attempts",
    "webhook_endpoint.created_by_id": "webhook_endpoints",
}


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(result) -> list[dict]:
    return [{k: _iso(v) for k, v in row._mapping.items()} for row in result]


def _names(user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {u.id: u.display_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def export_person(organisation_id: int, user_id: int) -> dict[str, list[dict]]:
    """The person's data in the organisation; nothing if the person is not one of its people."""
    user = db.session.scalar(select(User).join(Platform, Platform.id == User.platform_id).where(
        User.id == user_id, Platform.organisation_id == organisation_id))
    if user is None:
        return {}
    uid, org = user.id, organisation_id
    org_courses = select(Course.id).where(Course.organisation_id == org)
    s = db.session
    out: dict[str, list[dict]] = {}
    out["profile"] = [{"id": user.id, "name": user.name, "email": user.email, "locale": user.locale,
                       "preferred_language": user.preferred_locale,
                       "lms_user_id": user.sub, "lms": user.platform_id and s.get(Platform, user.platform_id).issuer,
                       "created_at": _iso(user.created_at), "erased_at": _iso(user.erased_at)}]
    out["memberships"] = _rows(s.execute(
        select(Course.id.label("course_id"), Course.title.label("course"), Membership.role, Membership.status,
               Membership.lti_roles, Membership.last_launch_at, Membership.created_at)
        .join(Course, Course.id == Membership.course_id)
        .where(Membership.user_id == uid, Course.organisation_id == org).order_by(Course.id)))

    mine = select(Experiment.id).where(Experiment.user_id == uid, Experiment.organisation_id == org)
    experiments = _rows(s.execute(
        select(Experiment.id, Experiment.course_id, Experiment.title, AiTool.name.label("ai_tool"),
               Experiment.ai_tool_other, TaskCategory.name.label("task_category"), Experiment.tried,
               Experiment.outcome, Experiment.learned, Experiment.minutes_saved, Experiment.sensitive_data,
               Experiment.visibility, Experiment.anonymous, Experiment.confidence_before,
               Experiment.confidence_after, Experiment.hidden_at, Experiment.hidden_reason,
               Experiment.created_at, Experiment.text_purged_at)
        .outerjoin(AiTool, AiTool.id == Experiment.ai_tool_id)
        .join(TaskCategory, TaskCategory.id == Experiment.task_category_id)
        .where(Experiment.user_id == uid, Experiment.organisation_id == org).order_by(Experiment.id)))
    pillars: dict[int, list[str]] = {}
    for eid, name in s.execute(select(ExperimentPillar.experiment_id, Pillar.name)
                               .join(Pillar, Pillar.id == ExperimentPillar.pillar_id)
                               .where(ExperimentPillar.experiment_id.in_(mine))):
        pillars.setdefault(eid, []).append(name)
    for row in experiments:
        row["pillars"] = ", ".join(sorted(pillars.get(row["id"], [])))
    out["experiments"] = experiments
    out["coaching_notes"] = [{"experiment_id": e.id, "reasons": e.coaching} for e in s.scalars(
        select(Experiment).where(Experiment.user_id == uid, Experiment.organisation_id == org,
                                 Experiment.coaching != "").order_by(Experiment.id))]

    in_org = Experiment.organisation_id == org
    out["reactions_given"] = _rows(s.execute(
        select(Reaction.experiment_id, Reaction.kind, Reaction.created_at, Reaction.withdrawn_at).join(
            Experiment, Experiment.id == Reaction.experiment_id)
        .where(Reaction.user_id == uid, in_org).order_by(Reaction.id)))
    out["reactions_received"] = _rows(s.execute(
        select(Reaction.experiment_id, Reaction.kind, Reaction.created_at).where(Reaction.experiment_id.in_(mine),
                                                                                 Reaction.withdrawn_at.is_(None))
        .order_by(Reaction.id)))
    out["reuses_given"] = _rows(s.execute(
        select(Reuse.experiment_id, Reuse.created_at).join(Experiment, Experiment.id == Reuse.experiment_id)
        .where(Reuse.user_id == uid, in_org).order_by(Reuse.id)))
    out["reuses_received"] = _rows(s.execute(
        select(Reuse.experiment_id, Reuse.created_at).where(Reuse.experiment_id.in_(mine)).order_by(Reuse.id)))
    out["reports_made"] = _rows(s.execute(
        select(Report.experiment_id, Report.reason, Report.created_at, Report.resolved_at)
        .join(Experiment, Experiment.id == Report.experiment_id).where(Report.reporter_id == uid, in_org)
        .order_by(Report.id)))

    helps = list(s.scalars(select(PeerHelp).where(
        PeerHelp.organisation_id == org,
        or_(PeerHelp.helper_id == uid, PeerHelp.helped_id == uid, PeerHelp.recorded_by_id == uid))
        .order_by(PeerHelp.id)))
    names = _names([h.helper_id for h in helps] + [h.helped_id for h in helps])
    out["peer_help"] = [{"id": h.id, "course_id": h.course_id,
                         "you_were": "helper" if h.helper_id == uid else "helped" if h.helped_id == uid else "recorder",
                         "helper": names.get(h.helper_id), "helped": names.get(h.helped_id),
                         "description": h.description, "experiment_id": h.experiment_id, "status": h.status,
                         "created_at": _iso(h.created_at), "resolved_at": _iso(h.resolved_at)} for h in helps]

    for section, mine_col, other_col, label in (("kudos_received", Kudos.receiver_id, Kudos.giver_id, "from"),
                                                 ("kudos_given", Kudos.giver_id, Kudos.receiver_id, "to")):
        kudos = list(s.execute(select(Kudos, ValueTag.name).outerjoin(ValueTag, ValueTag.id == Kudos.value_tag_id)
                               .where(mine_col == uid, Kudos.organisation_id == org).order_by(Kudos.id)))
        names = _names(getattr(k, other_col.key) for k, _ in kudos)
        out[section] = [{"id": k.id, "course_id": k.course_id, label: names.get(getattr(k, other_col.key)),
                         "message": k.message, "value": tag, "points": k.points, "created_at": _iso(k.created_at),
                         "revoked_at": _iso(k.revoked_at), "revoked_reason": k.revoked_reason} for k, tag in kudos]
    out["kudos_budget"] = _rows(s.execute(
        select(KudosBudget.course_id, KudosBudget.month, KudosBudget.spent)
        .where(KudosBudget.giver_id == uid, KudosBudget.course_id.in_(org_courses))))

    version = aliased(RuleVersion)
    out["badge_awards"] = _rows(s.execute(
        select(BadgeAward.id, BadgeAward.course_id, BadgeClass.name.label("badge"), version.name.label("rule"),
               BadgeAward.rule_version, BadgeAward.source_type, BadgeAward.source_id, BadgeAward.evidence_url,
               BadgeAward.comment, BadgeAward.awarded_at, BadgeAward.revoked_at, BadgeAward.revoked_reason,
               BadgeAward.unearned)
        .join(BadgeClass, BadgeClass.id == BadgeAward.badge_id)
        .outerjoin(version, (version.rule_id == BadgeAward.rule_id) & (version.version == BadgeAward.rule_version))
        .where(BadgeAward.user_id == uid, BadgeAward.organisation_id == org).order_by(BadgeAward.id)))
    out["badges_awarded_by_you"] = _rows(s.execute(
        select(BadgeAward.id, BadgeAward.course_id, BadgeClass.name.label("badge"), BadgeAward.awarded_at)
        .join(BadgeClass, BadgeClass.id == BadgeAward.badge_id)
        .where(BadgeAward.awarded_by_id == uid, BadgeAward.organisation_id == org).order_by(BadgeAward.id)))
    recipient = s.get(Recipient, uid)
    out["badge_recipient"] = [] if recipient is None else [{
        "kind": recipient.kind, "identity": recipient.identity, "pending_email": recipient.pending_email,
        "confirmed_at": _iso(recipient.confirmed_at), "show_name": recipient.show_name}]

    ledger = _rows(s.execute(
        select(LedgerEntry.id, LedgerEntry.course_id, LedgerEntry.amount, LedgerEntry.dimension,
               version.name.label("rule"), LedgerEntry.rule_version, LedgerEntry.source_type, LedgerEntry.source_id,
               LedgerEntry.reverses_id, LedgerEntry.idempotency_key, LedgerEntry.created_at)
        .outerjoin(version, (version.rule_id == LedgerEntry.rule_id) & (version.version == LedgerEntry.rule_version))
        .where(LedgerEntry.user_id == uid, LedgerEntry.organisation_id == org).order_by(LedgerEntry.id)))
    because = reversals.causes([(row["id"], row["idempotency_key"]) for row in ledger if row["reverses_id"]])
    out["ledger"] = [_explained(row, because.get(row["id"])) for row in ledger]
    out["points"] = _points_with_levels(org, _rows(s.execute(
        select(PointsTotal.course_id, PointsTotal.dimension, PointsTotal.points)
        .where(PointsTotal.user_id == uid, PointsTotal.course_id.in_(org_courses))
        .order_by(PointsTotal.course_id, PointsTotal.dimension))))
    # The points per quarter hour the daily cap reads, each told by when its quarter hour began (UTC).
    out["points_by_quarter_hour"] = [
        {"course_id": row["course_id"], "source_type": row["source_type"],
         "from": _iso(quarter_start(row["quarter"])), "points": row["points"]}
        for row in _rows(s.execute(
            select(QuarterPoints.course_id, QuarterPoints.source_type, QuarterPoints.quarter, QuarterPoints.points)
            .where(QuarterPoints.user_id == uid, QuarterPoints.course_id.in_(org_courses))
            .order_by(QuarterPoints.course_id, QuarterPoints.source_type, QuarterPoints.quarter)))]
    out["board_scores"] = _rows(s.execute(select(BoardScore.board, BoardScore.points).where(
        BoardScore.user_id == uid, BoardScore.board.in_(_boards_of(org, uid))).order_by(BoardScore.board)))
    out["activity_figures"] = _rows(s.execute(
        select(MemberStat.course_id, MemberStat.period, MemberStat.metric, MemberStat.value)
        .where(MemberStat.user_id == uid, MemberStat.course_id.in_(org_courses))
        .order_by(MemberStat.course_id, MemberStat.period, MemberStat.metric)))
    out["experiment_tallies"] = _rows(s.execute(
        select(ExperimentTally.course_id, ExperimentTally.bucket, ExperimentTally.value)
        .where(ExperimentTally.user_id == uid, ExperimentTally.course_id.in_(org_courses))
        .order_by(ExperimentTally.course_id, ExperimentTally.bucket)))
    out["board_opt_outs"] = _rows(s.execute(
        select(BoardOptOut.course_id, BoardOptOut.created_at)
        .where(BoardOptOut.user_id == uid, BoardOptOut.course_id.in_(org_courses))))
    out["teams"] = _rows(s.execute(
        select(Team.course_id, Team.id.label("team_id"), Team.name.label("team")).join(
            TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == uid, Team.course_id.in_(org_courses)).order_by(Team.id)))
    out["challenge_contributions"] = _rows(s.execute(
        select(Challenge.id.label("challenge_id"), Challenge.title.label("challenge"),
               ChallengeContribution.experiments, ChallengeContribution.first_at, ChallengeContribution.completed_at)
        .join(Challenge, Challenge.id == ChallengeContribution.challenge_id)
        .where(ChallengeContribution.user_id == uid, Challenge.organisation_id == org).order_by(Challenge.id)))
    out["mission_evidence"] = _rows(s.execute(
        select(MissionEvidence.id, Challenge.title.label("mission"), MissionEvidence.attempt, MissionEvidence.text,
               MissionEvidence.link, MissionEvidence.status, MissionEvidence.submitted_at,
               MissionEvidence.reviewed_at, MissionEvidence.review_comment)
        .join(Challenge, Challenge.id == MissionEvidence.challenge_id)
        .where(MissionEvidence.user_id == uid, Challenge.organisation_id == org).order_by(MissionEvidence.id)))
    out["evidence_reviewed"] = _rows(s.execute(
        select(MissionEvidence.id, MissionEvidence.challenge_id, MissionEvidence.status, MissionEvidence.reviewed_at,
               MissionEvidence.review_comment).join(Challenge, Challenge.id == MissionEvidence.challenge_id)
        .where(MissionEvidence.reviewer_id == uid, Challenge.organisation_id == org).order_by(MissionEvidence.id)))
    out["challenges_championed_or_created"] = [
        {"challenge_id": c.id, "title": c.title, "champion": c.champion_id == uid, "created_by_you": c.created_by_id == uid}
        for c in s.scalars(select(Challenge).where(Challenge.organisation_id == org, or_(
            Challenge.champion_id == uid, Challenge.created_by_id == uid)).order_by(Challenge.id))]
    out["vision_acknowledgements"] = _rows(s.execute(
        select(VisionAck.version, VisionAck.acknowledged_at)
        .where(VisionAck.user_id == uid, VisionAck.organisation_id == org)))
    out["vision_updates"] = _rows(s.execute(
        select(Vision.version, Vision.updated_at).where(Vision.updated_by_id == uid, Vision.organisation_id == org)))
    out["rule_versions_authored"] = _rows(s.execute(
        select(RuleVersion.rule_id, RuleVersion.version, RuleVersion.name, RuleVersion.created_at)
        .where(RuleVersion.created_by_user_id == uid, RuleVersion.rule_id.in_(_org_rules(org)))
        .order_by(RuleVersion.id)))
    # The person's accounts in the organisation's other LMSs (the same person: names included).
    other = aliased(IdentityLink)
    out["linked_accounts"] = _rows(s.execute(
        select(User.id.label("user_id"), User.name, Platform.name.label("lms"), other.method, other.linked_at,
               other.unlinked_at).join(Platform, Platform.id == User.platform_id).join(other, other.user_id == User.id)
        .where(Platform.organisation_id == org, or_(User.id == uid, other.person_id.in_(
            select(IdentityLink.person_id).where(IdentityLink.user_id == uid)))).order_by(User.id)))
    out["link_codes"] = _rows(s.execute(  # never the code or its hash
        select(LinkCode.created_at, LinkCode.expires_at, LinkCode.used_at)
        .where(LinkCode.user_id == uid, LinkCode.organisation_id == org).order_by(LinkCode.id)))
    out["link_attempts"] = _rows(s.execute(
        select(LinkAttempt.attempted_at).where(LinkAttempt.user_id == uid).order_by(LinkAttempt.id)))
    out["launch_sessions"] = _rows(s.execute(
        select(LaunchSession.course_id, LaunchSession.role, LaunchSession.locale, LaunchSession.created_at,
               LaunchSession.expires_at).where(LaunchSession.user_id == uid, LaunchSession.organisation_id == org)
        .order_by(LaunchSession.created_at)))
    out["emails"] = [{"to": item.payload.get("to"), "subject": item.payload.get("subject"), "status": item.status,
                      "created_at": _iso(item.created_at)} for item in s.scalars(
        select(OutboxItem).where(OutboxItem.dedupe_key.like(f"badges:confirm:{uid}:%")).order_by(OutboxItem.id))]
    # Statements sent to the organisation's LRS and webhook notifications that name the person (erasure rewrites
    # these): which event, when, delivered or not.
    platform = s.get(Platform, user.platform_id)
    out["deliveries"] = [{k: _iso(v) for k, v in row.items()} for row in deliveries_naming(
        org, uid, platform.issuer if platform else "", user.sub, user.email)]
    out["api_tokens"] = _rows(s.execute(  # tokens the person issued (admins), never their secret or hash
        select(ApiToken.name, ApiToken.prefix, ApiToken.scopes, ApiToken.created_at, ApiToken.expires_at,
               ApiToken.revoked_at, ApiToken.last_used_at)
        .where(ApiToken.organisation_id == org,
               or_(ApiToken.created_by_user_id == uid, ApiToken.service_user_id == uid)).order_by(ApiToken.id)))
    out["webhook_endpoints"] = _rows(s.execute(  # endpoints the person added (admins), never their secret
        select(WebhookEndpoint.url, WebhookEndpoint.events, WebhookEndpoint.active, WebhookEndpoint.created_at)
        .where(WebhookEndpoint.organisation_id == org, WebhookEndpoint.created_by_id == uid)
        .order_by(WebhookEndpoint.id)))
    out["audit_events"] = _rows(s.execute(
        select(AuditEvent.id, AuditEvent.course_id, AuditEvent.actor_role, AuditEvent.action, AuditEvent.target_type,
               AuditEvent.target_id, AuditEvent.details, AuditEvent.created_at)
        .where(AuditEvent.organisation_id == org, about_person(uid, org)).order_by(AuditEvent.id)))
    return out


def about_person(uid: int, org: int):
    """Audit events done by the person, or about them or their records."""
    return or_(
        AuditEvent.actor_user_id == uid,
        (AuditEvent.target_type == "user") & (AuditEvent.target_id == uid),
        (AuditEvent.target_type == "experiment") & AuditEvent.target_id.in_(
            select(Experiment.id).where(Experiment.user_id == uid, Experiment.organisation_id == org)),
        (AuditEvent.target_type == "kudos") & AuditEvent.target_id.in_(
            select(Kudos.id).where(Kudos.receiver_id == uid, Kudos.organisation_id == org)),
        (AuditEvent.target_type == "badge_award") & AuditEvent.target_id.in_(
            select(BadgeAward.id).where(BadgeAward.user_id == uid, BadgeAward.organisation_id == org)),
        (AuditEvent.target_type == "mission_evidence") & AuditEvent.target_id.in_(
            select(MissionEvidence.id).where(MissionEvidence.user_id == uid)),
    )


def _explained(row: dict, cause: reversals.Cause | None) -> dict:
    """A ledger row with why it was posted, and for a reversal why it was reversed (`reversal_cause`: kudos_revoked,
    badge_revoked, revoked (by a manager), recalculated; `reversal_reason`: what the manager wrote)."""
    rule = row.pop("rule")
    row.pop("idempotency_key")
    why = f"{rule} (rule version {row['rule_version']})" if rule else (
        "Kudos points" if row["source_type"] == "kudos" else "Manual entry")
    row["why"] = ("Reversed: " + why) if row["reverses_id"] else why
    row["reversal_cause"] = cause.kind if cause else None
    row["reversal_reason"] = cause.reason if cause else None
    return row


def _org_rules(org: int):
    from plugin.rules.models import Rule

    return select(Rule.id).where(Rule.organisation_id == org)


def _boards_of(org: int, uid: int) -> list[str]:
    """Board keys of the organisation the person can be on: its courses, itself, its challenges."""
    courses = db.session.scalars(select(Course.id).where(Course.organisation_id == org)).all()
    challenges = db.session.scalars(select(Challenge.id).where(Challenge.organisation_id == org)).all()
    prefixes = [f"c{c}:" for c in courses] + [f"o{org}:"] + [f"x{c}:" for c in challenges]
    boards = db.session.scalars(select(BoardScore.board).where(BoardScore.user_id == uid)).all()
    return [b for b in boards if any(b.startswith(p) for p in prefixes)]


def _points_with_levels(org: int, rows: list[dict]) -> list[dict]:
    from plugin.levels.service import progress_of

    for row in rows:
        if row["dimension"] == "total":
            row["level"] = progress_of(org, row["points"]).level.name
    return rows
