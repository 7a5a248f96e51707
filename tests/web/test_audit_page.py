"""The admin's audit log page: every entry of the organisation can be reached, newest first, a page at a time."""
import re
from datetime import timedelta

from tests.services.factories import NOW
from tests.web.helpers import text, visible


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
                                      details={"entry": f"entry-n{n:03d}"}, created_at=NOW + timedelta(minutes=n)))
        db.session.commit()
    seen, page, pages = set(), text(client.get("/app/admin/audit", query_string={"lt": admin})), 1
    while True:
        seen |= set(re.findall(r"entry-(n\d{3})\b", page))
        older = re.search(r'href="([^"]*before=\d+[^"]*)"', page)
        if older is None or pages > 5:
            break
        page, pages = text(client.get(older.group(1).replace("&amp;", "&"))), pages + 1
    assert seen == {f"n{n:03d}" for n in range(130)}
    assert pages == 2


def _audited(app, action: str, details: dict) -> None:
    from plugin.audit.models import AuditEvent
    from plugin.extensions import db
    from plugin.tenancy.models import Course

    with app.app_context():
        course = db.session.scalar(db.select(Course))
        db.session.add(AuditEvent(organisation_id=course.organisation_id, course_id=course.id, actor_role="admin",
                                  action=action, target_type="challenge", target_id=None, details=details,
                                  created_at=NOW))
        db.session.commit()


TURKISH = {"overrides": {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
    "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}}


def test_details_read_as_labelled_values_in_the_readers_language(client, launch, app):
    english = launch(role="admin", sub="admin")
    _audited(app, "challenge.created", {"title": "Prompt kütüphanesi", "mission": True})
    _audited(app, "settings.limits_changed", {"kudos_monthly_budget": [100, 1500]})
    _audited(app, "privacy.export", {"made_up_key": "x"})

    page = visible(client.get("/app/admin/audit", query_string={"lt": english}))
    assert "Title: Prompt kütüphanesi" in page and "Sandbox mission: Yes" in page
    assert "Kudos points per manager per month: 100 → 1,500" in page
    assert "made_up_key: x" in page  # a key without a label shows as itself
    assert '"mission"' not in text(client.get("/app/admin/audit", query_string={"lt": english}))  # no raw JSON

    turkish = launch(role="admin", sub="admin", **TURKISH)
    page = visible(client.get("/app/admin/audit", query_string={"lt": turkish}))
    assert "Başlık: Prompt kütüphanesi" in page and "Deneme alanı görevi: Evet" in page  # the title as typed
    assert "Yönetici başına aylık tebrik puanı: 100 → 1.500" in page
    assert "mission" not in page and "Title" not in page


def test_seeded_level_names_read_in_the_readers_language_and_renamed_ones_as_typed(client, launch, app):
    """A levels change records the names as submitted: those still as Tinker seeded them read as the Scoring page
    shows them (Turkish on a Turkish page), a renamed one as its admin typed it."""
    english, turkish = launch(role="admin", sub="admin"), launch(role="admin", sub="admin", **TURKISH)
    assert client.post("/app/admin/scoring/levels", data={
        "lt": english, "level_name": ["Curious", "Explorer", "Kaşif Plus"],
        "level_threshold": ["0", "100", "900"]}).status_code in (200, 303)
    page = visible(client.get("/app/admin/audit", query_string={"lt": turkish}))
    assert "Seviyeler: Meraklı (0), Kâşif (100), Kaşif Plus (900)" in page, page
    page = visible(client.get("/app/admin/audit", query_string={"lt": english}))
    assert "Levels: Curious (0), Explorer (100), Kaşif Plus (900)" in page


def test_ids_in_details_read_as_ids_not_as_grouped_numbers(client, launch, app):
    """An account or course id is a name, not an amount: "Account: 12345", never "12,345" (or "12.345", which a
    Turkish reader takes for twelve and a bit); amounts keep their grouping."""
    english = launch(role="admin", sub="admin")
    _audited(app, "identity.linked", {"users": [12345, 23456], "user_id": 34567})
    _audited(app, "course.copied", {"source_course_id": 45678, "challenges": 1200})
    page = visible(client.get("/app/admin/audit", query_string={"lt": english}))
    assert "Accounts: 12345, 23456" in page and "Account: 34567" in page
    assert "Copied from course: 45678" in page and "Challenges copied: 1,200" in page


def test_codes_read_in_the_words_of_the_page_where_they_were_chosen(client, launch, app):
    """Values that are Tinker's own codes (an evidence status, a board mode, a webhook's events, a token's scopes...)
    read in the admin's language, worded as on the page where they were chosen; what someone typed stays as typed,
    even a code word, and a code this version does not know (recorded by another) shows as stored."""
    turkish, english = launch(role="admin", sub="admin", **TURKISH), launch(role="admin", sub="admin")
    _audited(app, "evidence.reviewed", {"status": "accepted"})
    _audited(app, "badge.saved", {"name": "accepted"})  # a badge someone named "accepted"
    _audited(app, "team.created", {"name": "team_only"})
    _audited(app, "webhook.created", {"url": "https://hooks.example.org/t", "events": ["badge.earned", "kudos.received"]})
    _audited(app, "api_token.issued", {"name": "BI", "scopes": "awards:write ledger:read", "days": 30, "by": "operator"})
    _audited(app, "boards.settings_changed", {"mode": ["on", "team_only"]})
    _audited(app, "identity.linked", {"method": "code"})
    _audited(app, "rule.changed", {"version": 2, "changed": ["active", "points"]})
    _audited(app, "course.copy_carried_over", {"boards": {"mode": "off", "relative": False}, "grade_sync": "on (points)"})
    _audited(app, "xapi.settings_changed", {"secret": "changed"})
    _audited(app, "privacy.export", {"format": "json", "rows": 3})
    _audited(app, "evidence.reviewed", {"status": "escalated"})
    _audited(app, "webhook.created", {"events": ["badge.polished", "badge.earned"]})

    page = visible(client.get("/app/admin/audit", query_string={"lt": turkish}))
    assert "Durum: Kabul edildi" in page and "Ad: accepted" in page  # the status translated, the badge's name not
    assert "Ad: team_only" in page and "Tablolar: Açık → Yalnızca ekip tabloları" in page
    assert "Olaylar: Bir rozet kazanıldı; Tebrik alındı" in page  # each event, as the webhooks page words it
    assert ("Kapsamlar: Rozetleri listeleme, elle rozet verme ve herhangi bir rozeti (puanlarıyla birlikte) geri alma; "
            "Kurumun puan defterini dışa aktarma") in page  # a scope's words hold commas: scopes part with semicolons
    assert "Yapan: Tinker işletmecisi, komut satırından" in page
    assert "Yöntem: kod ile" in page and "Değişenler: Etkin; Puan" in page
    assert "Lider tablosu ayarları: Tablolar: Kapalı, Göreli mod: Hayır" in page  # not "Tablolar: Tablolar: ..."
    assert "Not aktarımı: Açık; not: Puan (en üst seviyenin eşiği üzerinden)" in page
    assert "Gizli anahtar (parola): değiştirildi (hiç gösterilmez)" in page and "Biçim: JSON" in page
    assert "Durum: escalated" in page and "Olaylar: badge.polished; Bir rozet kazanıldı" in page  # unknown: as stored
    for code in ("Durum: accepted", "kudos.received", "ledger:read", "operator", "on (points)", "Yöntem: code",
                 "Değişenler: active"):
        assert code not in page

    page = visible(client.get("/app/admin/audit", query_string={"lt": english}))
    assert "Status: Accepted" in page and "Name: accepted" in page
    assert "Events: A badge was earned; Kudos were received" in page and "Boards: On → Team boards only" in page
    assert "Grade sync: On; score: Points (out of the top level's threshold)" in page


def test_every_field_a_rule_or_challenge_change_lists_has_words():
    """rule.changed and challenge.changed list the fields they changed; a field without words would show its code."""
    from plugin.audit.details import CODES
    from plugin.challenges.service import COUNTED_FIELDS, LOCKED_WHEN_COMPLETE
    from plugin.rules.models import VERSIONED_FIELDS

    challenge_fields = {"title", "description", "scenario", "reflection_prompt", "champion_id", "dataset"}
    missing = (set(VERSIONED_FIELDS) | set(LOCKED_WHEN_COMPLETE) | set(COUNTED_FIELDS) | challenge_fields) - set(
        CODES["changed"])
    assert missing == set()
