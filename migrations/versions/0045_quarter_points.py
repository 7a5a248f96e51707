"""The points each person's original ledger entries of a source type gave them in a course, per UTC quarter hour
(`quarter_points`): the daily cap reads at most a day's 96 rows of it instead of every entry of the day. Filled
from the ledger here; kept with every entry from now on.

Revision ID: 0045
Revises: 0044
"""
import sqlalchemy as sa
from alembic import op

revision = '0045'
down_revision = '0044'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quarter_points",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("quarter", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], name=op.f("fk_quarter_points_course_id_course"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_quarter_points_user_id_user_account"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("course_id", "user_id", "source_type", "quarter", name=op.f("pk_quarter_points")),
    )
    # quarter_of() in each database's SQL, as ledger.models.quarter_sql writes it
    if op.get_bind().dialect.name == "postgresql":
        quarter = "CAST(floor(extract(epoch FROM created_at) / 900) AS INTEGER)"
    else:
        quarter = "CAST(strftime('%s', created_at) AS INTEGER) / 900"
    op.execute(f"INSERT INTO quarter_points (course_id, user_id, source_type, quarter, points) "
               f"SELECT course_id, user_id, source_type, {quarter}, SUM(amount) FROM ledger_entry "
               f"WHERE COALESCE(reverses_id, 0) = 0 GROUP BY course_id, user_id, source_type, {quarter}")


def downgrade():
    op.drop_table("quarter_points")
