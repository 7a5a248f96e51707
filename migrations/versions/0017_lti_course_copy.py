"""Course copy: a manager's answer to carrying settings over from the course a new LMS course was copied from

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'course_copy',
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('source_course_id', sa.Integer(), nullable=True),
        sa.Column('decision', sa.String(length=10), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['course.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_course_id'], ['course.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('course_id'),
    )


def downgrade():
    op.drop_table('course_copy')
