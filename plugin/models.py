"""Imports every model module so SQLAlchemy's metadata (and Alembic autogenerate) sees all tables."""
from plugin.audit.models import AuditEvent  # noqa: F401
from plugin.badges.models import BadgeAward, BadgeClass  # noqa: F401
from plugin.catalog.models import AiTool, TaskCategory, ValueTag  # noqa: F401
from plugin.challenges.models import Challenge, ChallengeContribution, ChallengeTool, MissionEvidence  # noqa: F401
from plugin.community.models import Reaction, Report, Reuse  # noqa: F401
from plugin.experiments.models import Experiment  # noqa: F401
from plugin.facts.models import ExperimentTally  # noqa: F401
from plugin.identity.models import IdentityLink, LinkAttempt, LinkCode, Person  # noqa: F401
from plugin.insights import changes  # noqa: F401  (the hook that records edits for the data version)
from plugin.insights.models import DataChange, InsightSetting  # noqa: F401
from plugin.leaderboards.models import (  # noqa: F401
    BoardOptOut,
    BoardRank,
    BoardScore,
    BoardSetting,
    MemberStat,
    TeamStanding,
    TeamStat,
)
from plugin.ledger.models import LedgerEntry, PointsTotal  # noqa: F401
from plugin.levels.models import Dimension, Level  # noqa: F401
from plugin.lti.models import LaunchSession, OidcState, ToolKey  # noqa: F401
from plugin.outbox.models import GradeSync, OutboxItem  # noqa: F401
from plugin.peer_help.models import PeerHelp  # noqa: F401
from plugin.recognition.models import Kudos, KudosBudget  # noqa: F401
from plugin.rules.models import Rule, RuleVersion  # noqa: F401
from plugin.settings.models import OrganisationSettings  # noqa: F401
from plugin.teams.models import Team, TeamMember  # noqa: F401
from plugin.tenancy.models import Course, Deployment, FrameOrigin, Membership, Organisation, Platform, User  # noqa: F401
from plugin.tokens.models import ApiRateWindow, ApiToken  # noqa: F401
from plugin.vision.models import ExperimentPillar, Pillar, ToolPolicy, Vision, VisionAck  # noqa: F401
from plugin.webhooks.models import WebhookEndpoint  # noqa: F401
from plugin.xapi.models import XapiSetting  # noqa: F401
