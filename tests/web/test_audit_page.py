"""The admin's audit log page: every entry of the organisation can be reached, newest first, a page at a time."""
import re
from datetime import timedelta

from tests.services.factories import NOW
from tests.web.helpers import text


def test_entries_older_than_the_first_page_are_reachable(client, launch, app):
    from plugin.audit.models import AuditEvent
    from plugin.extensions import db
    from plugin.tenancy.models import Course

    admin = launch(role="admin", sub="admin")
    with app.app_context():
        course = db.session.scalar(db.select(Course))
        for n in range(130):  # a busy organisation: kudos, team changes and downloads are all audited
            db.session.add(AuditEvent(organisation_id=course.organisation_id, course_id=course.id, actor_role="admin",
                                      action="privacy.export", target_type="user", target_id=None,
                                      details={"entry": f"n{n:03d}"}, created_at=NOW + timedelta(minutes=n)))
        db.session.commit()
    seen, page, pages = set(), text(client.get("/app/admin/audit", query_string={"lt": admin})), 1
    while True:
        seen |= set(re.findall(r"n\d{3}", page))
        older = re.search(r'href="([^"]*before=\d+[^"]*)"', page)
        if older is None or pages > 5:
            break
        page, pages = text(client.get(older.group(1).replace("&amp;", "&"))), pages + 1
    assert seen == {f"n{n:03d}" for n in range(130)}
    assert pages == 2
