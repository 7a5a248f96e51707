"""verifiable badges (Open Badges 2.0 hosted and baked, 3.0 credentials)

Revision ID: 0010
Revises: 0009
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('badge_class', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.Text(), server_default='', nullable=False))
    with op.batch_alter_table('badge_award', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
    # Existing awards get their random public ids now, so every award has a hosted assertion.
    conn = op.get_bind()
    award = sa.table('badge_award', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    for (award_id,) in conn.execute(sa.select(award.c.id)).all():
        conn.execute(award.update().where(award.c.id == award_id).values(public_id=secrets.token_hex(16)))
    with op.batch_alter_table('badge_award', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_badge_award_public_id'), ['public_id'])

    op.create_table('badge_issuer',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('email', sa.String(length=400), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_badge_issuer_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', name=op.f('pk_badge_issuer'))
    )
    op.create_table('badge_recipient',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=True),
    sa.Column('identity', sa.String(length=1000), nullable=True),
    sa.Column('pending_email', sa.String(length=400), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('show_name', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_badge_recipient_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_badge_recipient'))
    )
    with op.batch_alter_table('badge_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_badge_recipient_token_hash'), ['token_hash'], unique=False)
    op.create_table('badge_signing_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=40), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('private_pem_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_badge_signing_key_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_badge_signing_key')),
    sa.UniqueConstraint('kid', name=op.f('uq_badge_signing_key_kid'))
    )
    with op.batch_alter_table('badge_signing_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_badge_signing_key_organisation_id'), ['organisation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('badge_signing_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_badge_signing_key_organisation_id'))
    op.drop_table('badge_signing_key')
    with op.batch_alter_table('badge_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_badge_recipient_token_hash'))
    op.drop_table('badge_recipient')
    op.drop_table('badge_issuer')
    with op.batch_alter_table('badge_award', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_badge_award_public_id'), type_='unique')
        batch_op.drop_column('public_id')
    with op.batch_alter_table('badge_class', schema=None) as batch_op:
        batch_op.drop_column('tags')
