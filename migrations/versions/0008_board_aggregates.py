"""Leaderboard aggregates maintained by the ledger writer; organisation time zone; board settings.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import plugin.core.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Hot aggregate tables: updated on every award. On PostgreSQL leave room on each page for HOT updates and
# vacuum them early, so boards stay fast through award bursts without a manual VACUUM.
HOT_TABLES = ("board_score", "board_rank", "team_stat", "member_stat", "points_total")
HOT_STORAGE = ("fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
               "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0")


def upgrade():
    op.create_table(
        'board_score',
        sa.Column('board', sa.String(length=80), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('points', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_board_score_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('board', 'user_id', name=op.f('pk_board_score')),
    )
    op.create_index('ix_board_score_rank', 'board_score', ['board', 'points', 'user_id'], unique=False)
    op.create_index(op.f('ix_board_score_user_id'), 'board_score', ['user_id'], unique=False)
    op.create_table(
        'board_rank',
        sa.Column('board', sa.String(length=80), nullable=False),
        sa.Column('points', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('members', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('board', 'points', name=op.f('pk_board_rank')),
    )
    op.create_table(
        'member_stat',
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('metric', sa.String(length=60), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_member_stat_course_id_course'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_member_stat_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('course_id', 'user_id', 'period', 'metric', name=op.f('pk_member_stat')),
    )
    op.create_table(
        'team_stat',
        sa.Column('team_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('metric', sa.String(length=60), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_stat_team_id_team'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('team_id', 'period', 'metric', name=op.f('pk_team_stat')),
    )
    op.create_table(
        'board_setting',
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=10), server_default='on', nullable=False),
        sa.Column('relative', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('updated_at', plugin.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_board_setting_course_id_course'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('course_id', name=op.f('pk_board_setting')),
    )
    op.create_table(
        'board_opt_out',
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', plugin.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_board_opt_out_course_id_course'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_board_opt_out_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('course_id', 'user_id', name=op.f('pk_board_opt_out')),
    )
    with op.batch_alter_table('organisation_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        for table in HOT_TABLES:
            op.execute(f"ALTER TABLE {table} SET ({HOT_STORAGE})")
    # Existing points reach the new boards with `flask ledger rebuild-aggregates` (run after upgrading).


def downgrade():
    with op.batch_alter_table('organisation_settings', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
    for table in ('board_opt_out', 'board_setting', 'team_stat', 'member_stat', 'board_rank', 'board_score'):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE points_total RESET (fillfactor, autovacuum_vacuum_scale_factor, "
                   "autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor, autovacuum_vacuum_cost_delay)")
