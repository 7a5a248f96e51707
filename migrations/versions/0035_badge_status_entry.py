"""Each badge award's index in its organisation's revocation list (Open Badges 3.0 credentials) is its own, drawn at
random from that organisation's list when the award's first credential is made (plugin/badges/status.py); it was the
installation-wide award id, and the list as long as the highest award id of all organisations.

Revision ID: 0035
Revises: 0034

Credentials already handed out carry their award's id as their index, and a verifier holding one must still see it
revoked: every existing award gets its id as its index here (whether or not a credential was ever made for it: that
is not recorded). An organisation's list is then at least as long as its highest such index needs, and since those
indexes never change, that floor is frozen at what the installation's award ids were at this revision; new indexes
are drawn below the list's length and add to it only by filling it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'badge_status_entry',
        sa.Column('award_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('status_index', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['award_id'], ['badge_award.id'],
                                name=op.f('fk_badge_status_entry_award_id_badge_award')),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                                name=op.f('fk_badge_status_entry_organisation_id_organisation')),
        sa.PrimaryKeyConstraint('award_id', name=op.f('pk_badge_status_entry')),
        sa.UniqueConstraint('organisation_id', 'status_index',
                            name=op.f('uq_badge_status_entry_organisation_id_status_index')),
    )
    op.execute("INSERT INTO badge_status_entry (award_id, organisation_id, status_index) "
               "SELECT id, organisation_id, id FROM badge_award")


def downgrade():
    op.drop_table('badge_status_entry')
