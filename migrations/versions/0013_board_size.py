"""Rank blocks beside the rank buckets (board sizes and flat ranks); opt-outs looked up by person

Revision ID: 0013
Revises: 0012

Every board's buckets gain block rows under "<board>#" (people per block of 1,024 points values, row points =
the block number, floored): a rank sums the blocks above plus the buckets above inside the person's block, and
a board's size is the sum of its blocks. Existing boards get their blocks from their buckets here.
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BLOCK = 1024


def upgrade():
    with op.batch_alter_table('board_opt_out', schema=None) as batch_op:
        batch_op.create_index('ix_board_opt_out_user', ['user_id'], unique=False)
    block = f"CASE WHEN points >= 0 THEN points / {BLOCK} ELSE -((-points + {BLOCK - 1}) / {BLOCK}) END"
    op.execute(f"INSERT INTO board_rank (board, points, members) SELECT board || '#', {block}, SUM(members) "
               f"FROM board_rank WHERE board NOT LIKE '%#' GROUP BY board, {block} HAVING SUM(members) <> 0")


def downgrade():
    op.execute("DELETE FROM board_rank WHERE board LIKE '%#'")
    with op.batch_alter_table('board_opt_out', schema=None) as batch_op:
        batch_op.drop_index('ix_board_opt_out_user')
