"""Organisation configuration version: a number moved on, in the same transaction, by every write to the
configuration an award reads (limits, rules, xAPI connection, webhook endpoints), so each app instance may keep
that configuration in memory between transactions and see another instance's change at its next award.

Revision ID: 0023
Revises: 0022

Database triggers move it, so no writer can forget to (the app, the CLI, an operator's SQL). Tables listed in
CONFIG_TABLES here and in plugin/tenancy/config_cache.py must stay in step; tests/services/test_config_cache.py
writes each of them and checks the version moves. Careful: on SQLite a later `batch_alter_table` on one of these
tables recreates it without its triggers: recreate them in that migration (create_triggers below).
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

CONFIG_TABLES = ("organisation_settings", "rule", "xapi_setting", "webhook_endpoint")
_BUMP = "UPDATE organisation SET config_version = config_version + 1 WHERE id = {}"
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tinker_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        {_BUMP.format('OLD.organisation_id')};
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.organisation_id IS DISTINCT FROM OLD.organisation_id) THEN
        {_BUMP.format('NEW.organisation_id')};
    END IF;
    RETURN NULL;
END $$"""


def create_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION tinker_bump_config_version()")
        return
    for event, ids in (("INSERT", "NEW.organisation_id"), ("DELETE", "OLD.organisation_id"),
                       ("UPDATE", "OLD.organisation_id) OR id = (NEW.organisation_id")):
        op.execute(f"CREATE TRIGGER {table}_config_version_{event.lower()} AFTER {event} ON {table} "
                   f"BEGIN {_BUMP.format('(' + ids + ')')}; END")


def drop_triggers(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        return
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{event}")


def upgrade():
    op.add_column('organisation', sa.Column('config_version', sa.BigInteger(), server_default='0', nullable=False))
    # Existing organisations start from a random number, as new ones do (see fresh_config_version).
    op.execute(f"UPDATE organisation SET config_version = {1 + secrets.randbelow(2**52)}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
    for table in CONFIG_TABLES:
        create_triggers(table)


def downgrade():
    for table in CONFIG_TABLES:
        drop_triggers(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tinker_bump_config_version()")
    with op.batch_alter_table('organisation') as batch:
        batch.drop_column('config_version')
