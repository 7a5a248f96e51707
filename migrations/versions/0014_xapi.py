"""xAPI: LRS settings and statement log

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # The statement log is the shared outbox (kind 'xapi.statement'): only the settings need a table.
    op.create_table('xapi_setting',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('key', sa.String(length=400), server_default='', nullable=False),
    sa.Column('secret_encrypted', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('send_email', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_xapi_setting_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_xapi_setting'))
    )


def downgrade():
    op.drop_table('xapi_setting')
