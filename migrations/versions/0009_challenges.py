"""challenges: time-boxed goals for a course or team, per-learner contributions, sandbox missions and evidence

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('challenge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('goal_kind', sa.String(length=20), nullable=False),
    sa.Column('goal_value', sa.Integer(), nullable=False),
    sa.Column('task_category_id', sa.Integer(), nullable=True),
    sa.Column('ai_tool_id', sa.Integer(), nullable=True),
    sa.Column('badge_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('progress_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('contributor_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_mission', sa.Boolean(), nullable=False),
    sa.Column('scenario', sa.Text(), nullable=False),
    sa.Column('reflection_prompt', sa.Text(), nullable=False),
    sa.Column('champion_id', sa.Integer(), nullable=True),
    sa.Column('dataset_name', sa.String(length=200), nullable=True),
    sa.Column('dataset_type', sa.String(length=60), nullable=True),
    sa.Column('dataset', sa.LargeBinary(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ai_tool_id'], ['ai_tool.id'], name=op.f('fk_challenge_ai_tool_id_ai_tool')),
    sa.ForeignKeyConstraint(['badge_id'], ['badge_class.id'], name=op.f('fk_challenge_badge_id_badge_class')),
    sa.ForeignKeyConstraint(['champion_id'], ['user_account.id'], name=op.f('fk_challenge_champion_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_challenge_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_challenge_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_challenge_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['task_category_id'], ['task_category.id'], name=op.f('fk_challenge_task_category_id_task_category')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_challenge_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge'))
    )
    with op.batch_alter_table('challenge', schema=None) as batch_op:
        batch_op.create_index('ix_challenge_course_window', ['course_id', 'ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_team_id'), ['team_id'], unique=False)

    op.create_table('challenge_tool',
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('ai_tool_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ai_tool_id'], ['ai_tool.id'], name=op.f('fk_challenge_tool_ai_tool_id_ai_tool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenge.id'], name=op.f('fk_challenge_tool_challenge_id_challenge'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('challenge_id', 'ai_tool_id', name=op.f('pk_challenge_tool'))
    )
    op.create_table('challenge_contribution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('experiments', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenge.id'], name=op.f('fk_challenge_contribution_challenge_id_challenge'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_challenge_contribution_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_challenge_contribution_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_contribution')),
    sa.UniqueConstraint('challenge_id', 'user_id', name=op.f('uq_challenge_contribution_challenge_id_user_id'))
    )
    with op.batch_alter_table('challenge_contribution', schema=None) as batch_op:
        batch_op.create_index('ix_challenge_contribution_user_course', ['user_id', 'course_id', 'completed_at'], unique=False)

    op.create_table('mission_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=1000), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenge.id'], name=op.f('fk_mission_evidence_challenge_id_challenge'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['course.id'], name=op.f('fk_mission_evidence_course_id_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_mission_evidence_reviewer_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_mission_evidence_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_evidence')),
    sa.UniqueConstraint('challenge_id', 'user_id', 'attempt', name=op.f('uq_mission_evidence_challenge_id_user_id_attempt'))
    )
    with op.batch_alter_table('mission_evidence', schema=None) as batch_op:
        batch_op.create_index('ix_mission_evidence_challenge_status', ['challenge_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('mission_evidence', schema=None) as batch_op:
        batch_op.drop_index('ix_mission_evidence_challenge_status')
    op.drop_table('mission_evidence')
    with op.batch_alter_table('challenge_contribution', schema=None) as batch_op:
        batch_op.drop_index('ix_challenge_contribution_user_course')
    op.drop_table('challenge_contribution')
    op.drop_table('challenge_tool')
    with op.batch_alter_table('challenge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_team_id'))
        batch_op.drop_index('ix_challenge_course_window')
    op.drop_table('challenge')
