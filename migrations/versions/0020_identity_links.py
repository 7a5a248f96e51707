"""One person, several LMSs: persons linking identities, one-time link codes, wrong-code attempts, and the
operator's "e-mail authoritative" mark on a registration

Revision ID: 0020
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('platform') as batch:
        batch.add_column(sa.Column('email_authoritative', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'person',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_person_organisation_id_organisation'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    )
    op.create_index('ix_person_organisation_id', 'person', ['organisation_id'])
    op.create_table(
        'identity_link',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=True),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('linked_at', sa.DateTime(), nullable=False),
        sa.Column('unlinked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_identity_link_person_id_person'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_identity_link_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_identity_link')),
    )
    op.create_index('ix_identity_link_person_id', 'identity_link', ['person_id'])
    op.create_table(
        'link_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_link_code_organisation_id_organisation'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_link_code_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link_code')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_link_code_code_hash')),
    )
    op.create_index('ix_link_code_user_id', 'link_code', ['user_id'])
    op.create_table(
        'link_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('attempted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_link_attempt_user_id_user_account'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_link_attempt')),
    )
    op.create_index('ix_link_attempt_user_at', 'link_attempt', ['user_id', 'attempted_at'])


def downgrade():
    op.drop_index('ix_link_attempt_user_at', table_name='link_attempt')
    op.drop_table('link_attempt')
    op.drop_index('ix_link_code_user_id', table_name='link_code')
    op.drop_table('link_code')
    op.drop_index('ix_identity_link_person_id', table_name='identity_link')
    op.drop_table('identity_link')
    op.drop_index('ix_person_organisation_id', table_name='person')
    op.drop_table('person')
    with op.batch_alter_table('platform') as batch:
        batch.drop_column('email_authoritative')
