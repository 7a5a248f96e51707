"""Badge alignment to AI vision pillars; issuer image

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('badge_pillar',
    sa.Column('badge_id', sa.Integer(), nullable=False),
    sa.Column('pillar_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['badge_id'], ['badge_class.id'], name=op.f('fk_badge_pillar_badge_id_badge_class'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pillar_id'], ['pillar.id'], name=op.f('fk_badge_pillar_pillar_id_pillar'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('badge_id', 'pillar_id', name=op.f('pk_badge_pillar'))
    )
    with op.batch_alter_table('badge_pillar', schema=None) as batch_op:
        batch_op.create_index('ix_badge_pillar_pillar_id', ['pillar_id'], unique=False)

    with op.batch_alter_table('badge_issuer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('image_type', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('badge_issuer', schema=None) as batch_op:
        batch_op.drop_column('image_type')
        batch_op.drop_column('image')

    with op.batch_alter_table('badge_pillar', schema=None) as batch_op:
        batch_op.drop_index('ix_badge_pillar_pillar_id')

    op.drop_table('badge_pillar')
