"""AI vision, pillars, acknowledgements, confidence checks, insight settings

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vision',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('guidance', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_vision_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_vision_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_vision'))
    )
    op.create_table('pillar',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_pillar_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pillar')),
    sa.UniqueConstraint('organisation_id', 'name', name=op.f('uq_pillar_organisation_id_name'))
    )
    with op.batch_alter_table('pillar', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pillar_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('tool_policy',
    sa.Column('ai_tool_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('data_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['ai_tool_id'], ['ai_tool.id'], name=op.f('fk_tool_policy_ai_tool_id_ai_tool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_tool_policy_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('ai_tool_id', name=op.f('pk_tool_policy'))
    )
    with op.batch_alter_table('tool_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tool_policy_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('vision_ack',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_vision_ack_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_vision_ack_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', 'user_id', name=op.f('pk_vision_ack'))
    )
    op.create_table('experiment_pillar',
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('pillar_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_experiment_pillar_experiment_id_experiment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pillar_id'], ['pillar.id'], name=op.f('fk_experiment_pillar_pillar_id_pillar'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('experiment_id', 'pillar_id', name=op.f('pk_experiment_pillar'))
    )
    with op.batch_alter_table('experiment_pillar', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_pillar_pillar', ['pillar_id'], unique=False)

    op.create_table('insight_setting',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('min_group_size', sa.Integer(), server_default='5', nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_insight_setting_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_insight_setting'))
    )
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confidence_before', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('confidence_after', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('coaching', sa.String(length=60), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.drop_column('coaching')
        batch_op.drop_column('confidence_after')
        batch_op.drop_column('confidence_before')
    op.drop_table('insight_setting')
    with op.batch_alter_table('experiment_pillar', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_pillar_pillar')
    op.drop_table('experiment_pillar')
    op.drop_table('vision_ack')
    with op.batch_alter_table('tool_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tool_policy_organisation_id'))
    op.drop_table('tool_policy')
    with op.batch_alter_table('pillar', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pillar_organisation_id'))
    op.drop_table('pillar')
    op.drop_table('vision')
