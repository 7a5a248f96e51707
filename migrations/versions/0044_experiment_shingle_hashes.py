"""Experiments keep their text's word triples hashed (PostgreSQL: `shingle_hashes`, an integer array), so the award's
preflight sends back only the author's recent texts that share a triple with the new entry's, not all 50 of them.
Rows logged before have none, and a trigger clears them when an entry's text changes (an edit, a purge, an
erasure): a row without them has its text compared, as every row was before.

Revision ID: 0044
Revises: 0043
"""
import sqlalchemy as sa
from alembic import op

revision = '0044'
down_revision = '0043'
branch_labels = None
depends_on = None

_CLEAR = """
CREATE OR REPLACE FUNCTION tinker_experiment_text_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.shingle_hashes IS NOT DISTINCT FROM OLD.shingle_hashes
       AND (NEW.title IS DISTINCT FROM OLD.title OR NEW.tried IS DISTINCT FROM OLD.tried
            OR NEW.learned IS DISTINCT FROM OLD.learned) THEN
        NEW.shingle_hashes := NULL;
    END IF;
    RETURN NEW;
END $$;
"""


# In place, not through batch_alter_table (SQLite would copy the table). SQLite keeps the column empty: its award
# compares the texts it reads from its own file.
def upgrade():
    op.add_column("experiment", sa.Column("shingle_hashes", sa.ARRAY(sa.Integer()).with_variant(sa.JSON(), "sqlite"),
                                          nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CLEAR)
        op.execute("CREATE TRIGGER experiment_text_changed BEFORE UPDATE OF title, tried, learned ON experiment "
                   "FOR EACH ROW EXECUTE FUNCTION tinker_experiment_text_changed()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE experiment DROP COLUMN shingle_hashes")  # SQLite 3.35+: in place
    else:
        op.execute("DROP TRIGGER experiment_text_changed ON experiment")
        op.execute("DROP FUNCTION tinker_experiment_text_changed()")
        op.drop_column("experiment", "shingle_hashes")
