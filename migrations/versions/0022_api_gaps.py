"""Rules can be archived (deleted after they awarded something: kept only to explain the ledger); a
data_change row per transaction that edits what boards, progress and insights show (their ETags' data
version reads its newest id); challenges indexed by start too (the version's next challenge boundary)

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rule') as batch:
        batch.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
    op.create_table(
        'data_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('tables', sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_change')))
    op.create_index('ix_challenge_course_start', 'challenge', ['course_id', 'starts_at'])


def downgrade():
    op.drop_index('ix_challenge_course_start', table_name='challenge')
    op.drop_table('data_change')
    with op.batch_alter_table('rule') as batch:
        batch.drop_column('archived_at')
