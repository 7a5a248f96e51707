"""Imports every model module so SQLAlchemy's metadata (and Alembic autogenerate) sees all tables."""
from plugin.badges.models import BadgeAward, BadgeClass  # noqa: F401
from plugin.catalog.models import AiTool, TaskCategory  # noqa: F401
from plugin.experiments.models import Experiment  # noqa: F401
from plugin.ledger.models import LedgerEntry, PointsTotal  # noqa: F401
from plugin.lti.models import LaunchSession, OidcState, ToolKey  # noqa: F401
from plugin.rules.models import Rule  # noqa: F401
from plugin.teams.models import Team, TeamMember  # noqa: F401
from plugin.tenancy.models import Course, Deployment, FrameOrigin, Membership, Organisation, Platform, User  # noqa: F401
