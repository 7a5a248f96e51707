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


# In place, not through batch_alter_table: on SQLite that copies the table, and the copy has none of the triggers
# that move the organisation's configuration version (migration 0023), so another process would keep serving a
# changed endpoint from its memory.
def upgrade():
    op.add_column("webhook_endpoint", sa.Column("replaced_secrets", sa.JSON(), nullable=False,
                                                server_default=sa.text("'[]'")))


def downgrade():
    # Deliveries are signed with the newest secret alone again (what a receiver is told to switch to within the day).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE webhook_endpoint DROP COLUMN replaced_secrets")  # SQLite 3.35+: in place
    else:
        op.drop_column("webhook_endpoint", "replaced_secrets")
