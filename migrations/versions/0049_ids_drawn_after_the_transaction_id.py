"""PostgreSQL: the ids of the tables the data version reads (plugin/insights/version.py) are drawn once the inserting
transaction has its transaction id.

A plain `nextval` default draws the id a moment before the insert gives the transaction its id. The data version
finds a transaction that drew an id and has ended since its snapshot by that snapshot's list of running transaction
ids; one that drew before it had an id would not be in that list. `CASE WHEN pg_current_xact_id() IS NOT NULL THEN
nextval(...) END` assigns the transaction id first (the insert would assign it a moment later anyway) and draws the
same sequence; `pg_get_serial_sequence` and the sequence's ownership are unchanged. SQLite: nothing to do (one writer
at a time).

Revision ID: 0049
Revises: 0048
"""
from alembic import op

revision = '0049'
down_revision = '0048'
branch_labels = None
depends_on = None

TABLES = ("ledger_entry", "badge_award", "experiment", "audit_event", "membership", "data_change")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT "
                   f"CASE WHEN pg_current_xact_id() IS NOT NULL THEN nextval('{table}_id_seq'::regclass) END")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq'::regclass)")
