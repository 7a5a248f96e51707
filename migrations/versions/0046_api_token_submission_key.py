"""The admin page's token form carries a submission key, unique per organisation: the same form sent twice (a double
click, Back and send again) issues one live token. The second sending revokes the token the first issued (its secret
was shown, if at all, on a page the browser has left) and issues the one its page shows. Tokens issued before, and
those issued at the command line, have none.

Revision ID: 0046
Revises: 0045
"""
import sqlalchemy as sa
from alembic import op

revision = '0046'
down_revision = '0045'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("api_token", sa.Column("submission_key", sa.String(length=64), nullable=True))
    op.create_index("uq_api_token_submission", "api_token", ["organisation_id", "submission_key"], unique=True)


def downgrade():
    op.drop_index("uq_api_token_submission", table_name="api_token")
    op.drop_column("api_token", "submission_key")
