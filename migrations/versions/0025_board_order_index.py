"""Board rank index in board order (points descending, then user id): reads around a person in a large tie
no longer sort the whole tie

Revision ID: 0025
Revises: 0024
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_board_score_rank", table_name="board_score")
    op.create_index("ix_board_score_rank", "board_score", ["board", sa.text("points DESC"), "user_id"])


def downgrade():
    op.drop_index("ix_board_score_rank", table_name="board_score")
    op.create_index("ix_board_score_rank", "board_score", ["board", "points", "user_id"])
