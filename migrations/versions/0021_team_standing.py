"""Team standings: each team's row per period on its course's team boards (members, points, experimenters,
helpers and an order key per measure), so a team board is an index range read, not figures gathered per team

Revision ID: 0021
Revises: 0020

Existing team figures (team_stat) are copied in here, as the writers would have kept them: the "all" row of
every team with counted members, and a row for each of those teams in every period where some team of the
course has points, experimenters or helpers. `flask ledger rebuild-aggregates` gives the same rows.
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

MEASURES = ("points", "experimenters", "helpers")
STORAGE = ("fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
           "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0")  # as 0008's hot tables

# Every team with counted members gets its "all" row, and a row in each period where some team of its course
# has points, experimenters or helpers (tests/services/test_team_standings.py runs this against the writers).
_FIGURE = "COALESCE((SELECT value FROM team_stat f WHERE f.team_id = r.team_id AND f.period = b.period " \
          "AND f.metric = '{}'), 0)"
_FIGURES = {"points": _FIGURE.format("points:total"), "experimenters": _FIGURE.format("experimenters"),
            "helpers": _FIGURE.format("helpers")}
_KEYS = [f"CASE WHEN {_FIGURES[m]} = 0 THEN 0.0 ELSE -(CAST({_FIGURES[m]} AS FLOAT) / r.members) END" for m in MEASURES]
FILL = (
    "WITH roster AS (SELECT t.id AS team_id, t.course_id, t.name, m.value AS members FROM team t "
    "JOIN team_stat m ON m.team_id = t.id AND m.period = 'all' AND m.metric = 'members' WHERE m.value > 0), "
    "boards AS (SELECT DISTINCT r.course_id, s.period FROM team_stat s JOIN roster r ON r.team_id = s.team_id "
    "WHERE s.metric IN ('points:total', 'experimenters', 'helpers') AND s.value <> 0 "
    "UNION SELECT course_id, 'all' FROM roster) "
    "INSERT INTO team_standing (team_id, period, course_id, name, members, points, experimenters, helpers, "
    "points_key, experimenters_key, helpers_key) "
    f"SELECT r.team_id, b.period, r.course_id, r.name, r.members, {', '.join(_FIGURES.values())}, {', '.join(_KEYS)} "
    "FROM roster r JOIN boards b ON b.course_id = r.course_id")


def upgrade():
    op.create_table(
        'team_standing',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('members', sa.Integer(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.Column('experimenters', sa.Integer(), nullable=False),
        sa.Column('helpers', sa.Integer(), nullable=False),
        sa.Column('points_key', sa.Float(), nullable=False),
        sa.Column('experimenters_key', sa.Float(), nullable=False),
        sa.Column('helpers_key', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_team_standing_course_id_course'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_standing_team_id_team'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('team_id', 'period', name=op.f('pk_team_standing')),
    )
    for measure in MEASURES:
        figures = ['points', 'experimenters', 'helpers'] if measure == 'points' else []
        op.create_index(f'ix_team_standing_{measure}', 'team_standing',
                        ['course_id', 'period', f'{measure}_key', 'name', 'team_id', 'members', *figures], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE team_standing SET ({STORAGE})")
    op.execute(FILL)


def downgrade():
    for measure in MEASURES:
        op.drop_index(f'ix_team_standing_{measure}', table_name='team_standing')
    op.drop_table('team_standing')
