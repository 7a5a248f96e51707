"""Privacy: experiment text retention and erasure

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisation_settings') as batch_op:
        batch_op.add_column(sa.Column('experiment_text_retention_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('user_account') as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('experiment') as batch_op:
        batch_op.add_column(sa.Column('text_purged_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('experiment') as batch_op:
        batch_op.drop_column('text_purged_at')
    with op.batch_alter_table('user_account') as batch_op:
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('organisation_settings') as batch_op:
        batch_op.drop_column('experiment_text_retention_days')
