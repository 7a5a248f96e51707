"""Registration links count the registrations tried with them that failed: each failure gives the link back, up to
ten, after which it stays used (a try makes Tinker call the URLs the request names and shows their answer).

Revision ID: 0033
Revises: 0032
"""
import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registration_token") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("registration_token") as batch:
        batch.drop_column("failures")
