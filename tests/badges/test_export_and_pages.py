"""Admin export (CLI and download, CSV-injection safe), issuer editing, the learner's badge page, demo data."""
from __future__ import annotations

import csv
import io
import re

from plugin.extensions import db
from tests.badges.conftest import award, make_world
from tests.web.helpers import text, visible


def test_cli_export_lists_awards_with_status_and_hosted_url_and_defuses_formulas(app, appctx, cli):
    from plugin.badges.models import BadgeAward
    from plugin.recognition.service import revoke_badge
    from plugin.tenancy.models import User
    from tests.services.factories import later

    world = make_world(email="ada@example.org")
    pid = award(world)
    other = make_world(organisation="Org B", issuer="https://lms.b.example", sub="evil")
    db.session.get(User, other.learner.user_id).name = "=HYPERLINK(\"http://evil.example\")"
    other_pid = award(other)
    revoke_badge(world.manager, db.session.scalar(db.select(BadgeAward.id).where(BadgeAward.public_id == pid)),
                 "Given by mistake", later(2))
    db.session.commit()

    result = cli("badges", "export")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    by_url = {r["assertion_url"]: r for r in rows}
    mine = by_url[f"http://localhost/ob/v2/assertions/{pid}"]
    assert mine["recipient_identity"] == "ada@example.org" and mine["badge"] == "AI Champion"
    assert mine["status"] == "revoked" and mine["revocation_reason"] == "Given by mistake"
    assert mine["awarded_on"] == "2025-03-03T09:00:00Z"
    evil = by_url[f"http://localhost/ob/v2/assertions/{other_pid}"]
    assert evil["recipient_name"].startswith("'=") and evil["status"] == "active"

    only_a = list(csv.DictReader(io.StringIO(cli("badges", "export", "--org", "Org A").output)))
    assert [r["assertion_url"] for r in only_a] == [mine["assertion_url"]]
    assert cli("badges", "export", "--org", "Nope").exit_code != 0


def test_admin_downloads_the_export_and_edits_the_issuer_others_cannot(client, launch):
    admin = launch(role="admin", sub="admin-1")
    learner = launch(role="learner", sub="l-1")
    page = client.get("/app/admin/badges", query_string={"lt": admin})
    assert page.status_code == 200 and "Issuer profile" in visible(page)
    saved = client.post("/app/admin/badges/issuer", data={"lt": admin, "name": "Acme Academy",
                                                      "url": "https://acme.example", "email": "ob@acme.example"})
    assert saved.status_code == 303
    bad = client.post("/app/admin/badges/issuer", data={"lt": admin, "name": "A", "url": "ftp://x", "email": "no"})
    assert bad.status_code == 422
    download = client.get("/app/admin/badges/export.csv", query_string={"lt": admin})
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.get_data(as_text=True).startswith("\ufeffaward_id,recipient_name")  # Excel reads UTF-8
    assert client.get("/app/admin/badges/export.csv", query_string={"lt": learner}).status_code == 403
    assert client.post("/app/admin/badges/issuer", data={"lt": learner, "name": "Hacked", "url": "https://x.example"}
                       ).status_code == 403


def test_the_issuer_email_is_optional_and_can_be_removed(client, launch):
    """The form's contact e-mail is optional (the issuer document leaves it out when empty), and the browser sends
    the empty field: saving without one, or clearing it, must work."""
    admin = launch(role="admin", sub="admin-1")
    form = {"lt": admin, "name": "Acme Academy", "url": "https://acme.example", "description": ""}
    assert client.post("/app/admin/badges/issuer", data={**form, "email": ""}).status_code == 303
    assert client.post("/app/admin/badges/issuer", data={**form, "email": "ob@acme.example"}).status_code == 303
    assert client.post("/app/admin/badges/issuer", data={**form, "email": ""}).status_code == 303
    org = re.search(r"/ob/v2/issuers/(\d+)", text(client.get("/app/admin/badges", query_string={"lt": admin})))
    doc = client.get(f"/ob/v2/issuers/{org.group(1)}").get_json(force=True)
    assert doc["name"] == "Acme Academy" and "email" not in doc


def _input(page: str, field_id: str) -> str:
    return re.search(rf'<input id="{field_id}"[^>]*>', page).group(0)


def test_badge_forms_sent_back_in_turkish_keep_the_typed_text_with_messages_by_their_fields(client, launch):
    """A new badge refused (a one-letter name) came back with the form emptied (description and criteria typed for
    nothing), its messages in English on a Turkish page ("2 to 200 characters.", "Not a valid URL.") and no field
    marked or linked; the issuer form likewise."""
    lms = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
    admin = launch(role="admin", sub="admin-1", overrides={lms: {"return_url": "https://lms.example/x", "locale": "tr"}})
    refused = client.post("/app/admin/badges", data={
        "lt": admin, "name": "Q", "description": "Sınav sorularını yapay zekâyla hazırladı", "criteria": "Üç deneme",
        "colour": "#2b8a3e", "manual": "on"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    name = _input(page, "bnew-name")
    assert 'value="Q"' in name and 'aria-invalid="true"' in name
    assert 'value="Sınav sorularını yapay zekâyla hazırladı"' in _input(page, "bnew-desc")
    assert ">Üç deneme</textarea>" in page
    message = re.search(r'aria-describedby="([^"]+)"', name).group(1)
    assert re.search(rf'<p class="field-error" id="{message}">2 ile 200 karakter arası.</p>', page)
    assert '<a href="#bnew-name">2 ile 200 karakter arası.</a>' in page
    assert "characters" not in visible(refused)

    issuer = client.post("/app/admin/badges/issuer", data={"lt": admin, "name": "Acme", "url": "acme", "email": "no"})
    page = issuer.get_data(as_text=True)
    assert issuer.status_code == 422
    url = _input(page, "issuer-url")
    assert 'value="acme"' in url and 'aria-invalid="true"' in url
    assert "Not a valid" not in visible(issuer) and "Geçerli bir web adresi değil." in visible(issuer)
    assert "aria-invalid" not in _input(page, "bnew-name")  # the badge form was not the one sent


def test_learner_badge_page_offers_share_link_downloads_and_backpack_hint(app, client, launch):
    from plugin.badges.service import get_or_create_badge
    from plugin.core.actor import Actor, Role
    from plugin.core.clock import utcnow
    from plugin.recognition.service import award_badge_manually
    from plugin.tenancy.models import Course, User

    token = launch(role="learner", sub="ada", overrides={"email": "ada@example.org"})
    launch(role="instructor", sub="boss")
    with app.app_context():
        course = db.session.scalar(db.select(Course))
        ada = db.session.scalar(db.select(User).where(User.sub == "ada"))
        boss = db.session.scalar(db.select(User).where(User.sub == "boss"))
        badge = get_or_create_badge(course.organisation_id, "carried", utcnow(), name="Carried Out", manual=True)
        manager = Actor(user_id=boss.id, course_id=course.id, organisation_id=course.organisation_id,
                        platform_id=ada.platform_id, role=Role.MANAGER)
        award_badge_manually(manager, receiver_id=ada.id, badge_id=badge.id, comment="Well done", now=utcnow())
        db.session.commit()
    page = client.get("/app/badges", query_string={"lt": token})
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Carried Out" in visible(page)
    assert re.search(r'value="http://localhost/ob/v2/assertions/[0-9a-f]{32}" data-testid="share-link"', body)
    assert "baked.png" in body and "baked.svg" in body and "backpack" in visible(page)
    assert "Your e-mail from the LMS (ada@example.org)" in visible(page)
    recognition = client.get("/app/recognition", query_string={"lt": token})
    assert "Share, download and verify my badges" in visible(recognition)


def test_demo_seed_has_an_issuer_with_email_and_claimed_awards(app, cli):
    assert cli("demo", "seed").exit_code == 0
    with app.app_context():
        from plugin.badges.models import Issuer

        issuer = db.session.scalar(db.select(Issuer))
        assert issuer.email == "badges@demo.tinker.example"
    rows = list(csv.DictReader(io.StringIO(cli("badges", "export").output)))
    assert len([r for r in rows if r["status"] == "active" and r["recipient_identity"]]) >= 3
    assert {"lms", "confirmed"} <= {r["identity_source"] for r in rows}
