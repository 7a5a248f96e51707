"""PostgreSQL: the ids of the tables the data version reads are drawn by plain `nextval` defaults again, as every
other table's.

Migration 0049 made them draw only once the inserting transaction had its transaction id, for a data version that
named the transactions its snapshot saw running and that had ended since. The data version now relies on the app's
transactions being read committed, the answer it tags being read after it (plugin/insights/version.py): holders of the
sequences are enough, and the order of transaction id and id no longer matters. `pg_get_serial_sequence` and the
sequences' ownership are unchanged either way. SQLite: nothing to do.

Each ALTER takes its table's ACCESS EXCLUSIVE lock and holds it until the upgrade commits; each waits at most the
migration lock timeout (migrations/env.py) rather than queue every request behind a long transaction, and an upgrade
that gives up changed nothing and can be run again.

Revision ID: 0050
Revises: 0049
"""
from alembic import op

revision = '0050'
down_revision = '0049'
branch_labels = None
depends_on = None

TABLES = ("ledger_entry", "badge_award", "experiment", "audit_event", "membership", "data_change")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq'::regclass)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT "
                   f"CASE WHEN pg_current_xact_id() IS NOT NULL THEN nextval('{table}_id_seq'::regclass) END")
