"""LTI platform storage: remember where the platform offered storage for a login's state

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 00:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oidc_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_target', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('oidc_state', schema=None) as batch_op:
        batch_op.drop_column('storage_target')
