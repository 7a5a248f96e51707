"""Canvas group rosters: the course's group ids as its latest Canvas launch listed them
($com.instructure.Course.groupIds), each group's roster read from /api/lti/groups/:id/names_and_roles

Revision ID: 0024
Revises: 0023
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course') as batch:
        batch.add_column(sa.Column('lms_group_ids', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('course') as batch:
        batch.drop_column('lms_group_ids')
