"""An experiment shared when it was logged keeps its logging time as shared_at, so that making it private and sharing
it again leaves shared_at alone. Until now such an entry had none, and sharing it again set shared_at to that moment:
a replay then saw it private until then and paid its sharing rules that day, under that day's points cap, taking
back what its logging had paid when that day's cap was already used up.

Entries shared now and without shared_at were shared when logged, or shared before revision 0052 (a replay sees both
shared when logged): they get their logging time, which a replay reads the same way. An entry logged shared and
private now cannot be told from one never shared: it keeps none, and sharing it again sets the moment, as before.

Revision ID: 0053
Revises: 0052
"""
from alembic import op

revision = '0053'
down_revision = '0052'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE experiment SET shared_at = created_at WHERE shared_at IS NULL AND visibility <> 'private'")


def downgrade():
    # Before this revision shared_at was only set when an entry was shared after it was logged.
    op.execute("UPDATE experiment SET shared_at = NULL WHERE shared_at = created_at")
