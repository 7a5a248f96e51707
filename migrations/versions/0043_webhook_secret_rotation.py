"""A webhook endpoint's signing secret can be rotated: the new one signs at once, and the one it replaces keeps signing
beside it (a second signature in the webhook-signature header, as Standard Webhooks allows) until
`previous_secret_until`, so a receiver switches secrets without refusing a delivery meanwhile. Endpoints have none.

Revision ID: 0043
Revises: 0042
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0043'
down_revision = '0042'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.add_column(sa.Column("previous_secret_encrypted", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("previous_secret_until", UTCDateTime(), nullable=True))


def downgrade():
    # Deliveries are signed with the newest secret alone again (what a receiver already switched to).
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret_encrypted")
