"""roster sync: course roster service URLs and sync claim, membership status and test user, LMS group teams

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:30:00

Written by hand (0005 was being written at the same time); `flask db check` in the suite proves it matches
the models.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roster_url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('groups_url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('roster_sync_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('roster_status', sa.String(length=400), server_default='', nullable=False))

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('test_user', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=400), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_team_course_id_external_id'), ['course_id', 'external_id'])


def downgrade():
    with op.batch_alter_table('team', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_team_course_id_external_id'), type_='unique')
        batch_op.drop_column('external_id')

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('test_user')
        batch_op.drop_column('status')

    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_column('roster_status')
        batch_op.drop_column('roster_sync_at')
        batch_op.drop_column('groups_url')
        batch_op.drop_column('roster_url')
