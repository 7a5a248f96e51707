"""A webhook endpoint's signing secret can be replaced: the new one signs at once, and every secret it replaced keeps
signing beside it for a day from its own replacement (`replaced_secrets`, a list of {"secret": Fernet token,
"until": ISO time}; one more signature each in the webhook-signature header, as Standard Webhooks allows), so a
receiver switches secrets without refusing a delivery meanwhile. Endpoints have none.

Revision ID: 0043
Revises: 0042
"""
import sqlalchemy as sa
from alembic import op

revision = '0043'
down_revision = '0042'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.add_column(sa.Column("replaced_secrets", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade():
    # Deliveries are signed with the newest secret alone again (what a receiver is told to switch to within the day).
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.drop_column("replaced_secrets")
