"""Open Badges 2.0 hosted documents, checked as a verifier reads them: ids, types, hashes, revocation."""
from __future__ import annotations

import hashlib
import re

from plugin.core.clock import utcnow
from plugin.extensions import db
from tests.badges.conftest import award, make_world
from tests.services.factories import NOW, later
from tests.web.helpers import visible

BASE = "http://localhost"


def _get(client, path, **kw):
    return client.get(path, headers={"Accept": "application/ld+json, application/json"}, **kw)


def test_assertion_badge_and_issuer_are_linked_json_ld_with_stable_ids(appctx, client):
    world = make_world(email="Ada@Example.org")
    pid = award(world)
    db.session.commit()

    response = _get(client, f"/ob/v2/assertions/{pid}")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    doc = response.get_json(force=True)
    assert doc["@context"] == "https://w3id.org/openbadges/v2"
    assert doc["type"] == "Assertion" and doc["id"] == f"{BASE}/ob/v2/assertions/{pid}"
    assert doc["verification"] == {"type": "hosted"}
    assert doc["issuedOn"] == "2025-03-03T09:00:00Z"
    recipient = doc["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True and recipient["salt"]
    expected = hashlib.sha256(("ada@example.org" + recipient["salt"]).encode()).hexdigest()
    assert recipient["identity"] == f"sha256${expected}"
    assert "Ada" not in response.get_data(as_text=True)  # the address is never published in clear

    badge = _get(client, doc["badge"].removeprefix(BASE)).get_json(force=True)
    assert badge["type"] == "BadgeClass" and badge["name"] == "AI Champion"
    assert badge["criteria"]["narrative"] == "Showed colleagues how."
    assert badge["tags"] == ["ai", "champion"]
    image = client.get(badge["image"].removeprefix(BASE))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"

    issuer = _get(client, badge["issuer"].removeprefix(BASE))
    assert issuer.mimetype == "application/ld+json"
    assert issuer.get_json(force=True)["type"] == "Issuer" and issuer.get_json(force=True)["name"] == "Org A"
    # Fetched again, the same ids: a verifier compares them.
    assert _get(client, f"/ob/v2/assertions/{pid}").get_json(force=True)["id"] == doc["id"]


def test_revoked_assertion_answers_410_and_appears_in_the_issuers_revocation_list(appctx, client):
    from plugin.badges.models import BadgeAward
    from plugin.recognition.service import revoke_badge

    world = make_world(email="ada@example.org")
    pid = award(world)
    other_pid = award(make_world(organisation="Org B", issuer="https://lms.other.edu", sub="b-1"))
    award_id = db.session.scalar(db.select(BadgeAward.id).where(BadgeAward.public_id == pid))
    revoke_badge(world.manager, award_id, "Awarded to the wrong person", later(5))
    db.session.commit()

    response = _get(client, f"/ob/v2/assertions/{pid}")
    assert response.status_code == 410 and response.mimetype == "application/ld+json"
    body = response.get_json(force=True)
    # the reason the manager typed is not published (it stays in the audit log): a fixed one is
    assert body["revoked"] is True and body["revocationReason"] == "Revoked by the issuer"
    assert "wrong person" not in response.get_data(as_text=True)

    issuer = _get(client, f"/ob/v2/issuers/{world.org_id}").get_json(force=True)
    listing = _get(client, issuer["revocationList"].removeprefix(BASE)).get_json(force=True)
    assert listing["type"] == "RevocationList" and listing["issuer"] == issuer["id"]
    assert listing["revokedAssertions"] == [{"id": f"{BASE}/ob/v2/assertions/{pid}",
                                             "revocationReason": "Revoked by the issuer"}]
    assert other_pid not in str(listing)
    assert _get(client, f"/ob/v2/assertions/{other_pid}").status_code == 200


def test_unknown_ids_are_404_and_another_organisations_list_holds_none_of_ours(appctx, client):
    world = make_world()
    award(world)
    db.session.commit()
    assert _get(client, "/ob/v2/assertions/not-a-real-id").status_code == 404
    assert _get(client, "/ob/v2/issuers/999999").status_code == 404
    assert _get(client, "/ob/v2/badges/999999").status_code == 404


def test_admin_edited_issuer_profile_is_published_with_its_email(appctx, client):
    from plugin.badges.openbadges import save_issuer
    from plugin.core.actor import Role
    from plugin.tenancy.models import Platform
    from tests.services.factories import make_actor

    world = make_world()
    platform = db.session.scalar(db.select(Platform).where(Platform.organisation_id == world.org_id))
    admin = make_actor(platform, "admin-1", role=Role.ADMIN)
    save_issuer(admin, {"name": "Acme Learning", "url": "https://acme.example", "email": "badges@acme.example",
                        "description": ""}, NOW)
    db.session.commit()
    doc = _get(client, f"/ob/v2/issuers/{world.org_id}").get_json(force=True)
    assert doc["name"] == "Acme Learning" and doc["email"] == "badges@acme.example"
    assert doc["url"] == "https://acme.example" and doc["id"] == f"{BASE}/ob/v2/issuers/{world.org_id}"


def test_the_issuer_profile_saved_twice_at_once_the_first_time_is_no_server_error(app, appctx):
    """A double click on Save the first time: both requests make the organisation's issuer row; the second must wait
    for the first and update it, not fail on its primary key."""
    from plugin.badges.models import Issuer
    from plugin.badges.openbadges import save_issuer
    from plugin.core.actor import Role
    from tests.services.factories import make_actor, make_platform
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = make_actor(make_platform(), "admin-1", role=Role.ADMIN)

    def save():
        return save_issuer(admin, {"name": "Acme Learning", "url": "https://acme.example", "email": "",
                                   "description": ""}, NOW).organisation_id

    assert while_the_first_waits_to_commit(app, save, save) == [admin.organisation_id] * 2
    assert db.session.get(Issuer, admin.organisation_id).name == "Acme Learning"


def test_verification_page_is_public_human_readable_and_private_by_default(appctx, client):
    from plugin.badges.recipients import set_show_name

    world = make_world(email="ada@example.org")
    pid = award(world, comment="Secret manager note")
    db.session.commit()

    page = client.get(f"/ob/v2/assertions/{pid}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = visible(page)
    assert "Valid badge" in text and "AI Champion" in text and "Org A" in text and "03 March 2025" in text
    assert "Person learner-1" not in text and "ada@example.org" not in text
    evidence = visible(client.get(f"/ob/v2/assertions/{pid}/evidence"))
    assert "keeps the details of this award private" in evidence and "Secret manager note" not in evidence

    set_show_name(world.learner, True, utcnow())
    db.session.commit()
    assert "Person learner-1" in visible(client.get(f"/ob/v2/assertions/{pid}/verify"))
    assert "Secret manager note" in visible(client.get(f"/ob/v2/assertions/{pid}/evidence"))


def test_revoked_verification_page_says_so(appctx, client):
    from plugin.badges.models import BadgeAward
    from plugin.recognition.service import revoke_badge

    world = make_world()
    pid = award(world)
    award_id = db.session.scalar(db.select(BadgeAward.id).where(BadgeAward.public_id == pid))
    revoke_badge(world.manager, award_id, "Duplicate award", later(1))
    db.session.commit()
    text = visible(client.get(f"/ob/v2/assertions/{pid}/verify"))
    assert "This badge was revoked by its issuer." in text and "Duplicate award" not in text  # the reason stays private


def test_public_ids_are_random_not_sequential(appctx):
    world = make_world()
    pid = award(world)
    assert re.fullmatch(r"[0-9a-f]{32}", pid)


def test_a_jpeg_badge_image_is_published_as_png_for_verifiers(appctx, client):
    import io

    from PIL import Image

    from plugin.badges.models import BadgeClass

    world = make_world()
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(out, format="JPEG")
    badge = db.session.get(BadgeClass, world.badge_id)
    badge.image, badge.image_type = out.getvalue(), "image/jpeg"
    db.session.commit()
    doc = _get(client, f"/ob/v2/badges/{world.badge_id}").get_json(force=True)
    assert doc["image"] == f"{BASE}/ob/v2/badges/{world.badge_id}/image.png"
    image = client.get(doc["image"].removeprefix(BASE))
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    assert client.get("/ob/v2/badges/999999/image.png").status_code == 404


def test_the_evidence_page_of_a_revoked_award_says_it_was_revoked_not_who_earned_it(appctx, client):
    """A badge taken back with the kudos behind it (unearned): its public evidence page, which the assertion links
    to, said "Earned by Ada Lovelace." for a learner who shows her name, while its verification page said revoked."""
    from sqlalchemy import select

    from plugin.badges.models import BadgeAward
    from plugin.badges.recipients import set_show_name
    from plugin.badges.service import get_or_create_badge
    from plugin.core.actor import Role
    from plugin.recognition.service import give_kudos, revoke_kudos
    from plugin.rules.definitions import create_rule
    from tests.services.factories import make_actor, make_platform

    platform = make_platform()
    boss, ada = make_actor(platform, "boss", Role.MANAGER), make_actor(platform, "ada", name="Ada Lovelace")
    medal = get_or_create_badge(ada.organisation_id, "recognised", NOW, name="Recognised")
    create_rule(ada.organisation_id, {"name": "Recognised", "condition": "kudos_received", "params": {"count": 1},
                                      "points": 0, "badge_id": medal.id, "repeatable": False}, NOW)
    given = give_kudos(boss, receiver_id=ada.user_id, message="Great prompt library, thanks", now=later(1),
                       submission_key="pub-kudos-000001", points=0)
    set_show_name(ada, True, utcnow())
    db.session.commit()
    pid = db.session.scalar(select(BadgeAward.public_id).where(BadgeAward.badge_id == medal.id))
    assert "Earned by Ada Lovelace." in visible(client.get(f"/ob/v2/assertions/{pid}/evidence"))
    revoke_kudos(boss, given.id, "Meant for someone else", later(2))
    db.session.commit()
    assert "Revoked" in visible(client.get(f"/ob/v2/assertions/{pid}/verify"))
    evidence = visible(client.get(f"/ob/v2/assertions/{pid}/evidence"))
    assert "This badge was revoked by its issuer." in evidence and "Ada Lovelace" not in evidence
