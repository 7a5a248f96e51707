"""Grade deliveries go in their platform's outbox lane ("ags:<platform id>"), not their course's: every course of an
LMS calls its token endpoint, so an LMS that is down costs one try a pass. The deliveries still to be sent or
retried (pending, failed) that were queued under their course's lane move to their platform's; `flask outbox status`
names a lane by its platform, and would otherwise name another LMS for them.

Revision ID: 0037
Revises: 0036

Downgrading puts them back under their course's lane, as the previous release queues them.
"""
from alembic import op

revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None

_GRADES = "kind IN ('ags.lineitem', 'ags.score') AND status IN ('pending', 'failed') AND course_id IS NOT NULL"


def upgrade():
    op.execute(f"""UPDATE outbox_item SET lane = 'ags:' || (SELECT CAST(course.platform_id AS VARCHAR(20))
                                                          FROM course WHERE course.id = outbox_item.course_id)
                   WHERE {_GRADES} AND EXISTS (SELECT 1 FROM course WHERE course.id = outbox_item.course_id)""")


def downgrade():
    op.execute(f"UPDATE outbox_item SET lane = 'ags:' || CAST(course_id AS VARCHAR(20)) WHERE {_GRADES}")
