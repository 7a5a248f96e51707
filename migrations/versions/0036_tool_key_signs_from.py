"""A tool key can be published before it signs: a rotation adds the new key to the JWKS at once and signs with it
from `signs_from`, once the platforms that cache the tool's key set have fetched it (plugin/lti/keys.py).

Revision ID: 0036
Revises: 0035

Existing keys keep NULL, which means what they always did: signing from their creation (the newest signs).
Downgrading forgets when a waiting key is to sign, so it signs at once: cancel it first (`flask lti remove-key KID`)
unless the platforms have had it long enough.
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tool_key") as batch:
        batch.add_column(sa.Column("signs_from", UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("tool_key") as batch:
        batch.drop_column("signs_from")
