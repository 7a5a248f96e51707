"""The issuer's admin-uploaded image (checked like badge images, published at a stable public URL) and badge
classes aligned to the organisation's AI vision pillars (Open Badges 2.0 AlignmentObjects)."""
from __future__ import annotations

import io

from plugin.extensions import db
from tests.web.helpers import visible

BASE = "http://localhost"
JSON = {"Accept": "application/ld+json, application/json"}
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
ISSUER = {"name": "Acme Academy", "url": "https://acme.example", "email": "ob@acme.example"}


def _org_id(app) -> int:
    from plugin.tenancy.models import Course

    with app.app_context():
        return db.session.scalar(db.select(Course.organisation_id))


def _issuer_form(token: str, data: bytes | None = None, filename: str = "logo.png", **extra) -> dict:
    form = {"lt": token, **ISSUER, **extra}
    if data is not None:
        form["image"] = (io.BytesIO(data), filename)
    return form


def test_uploaded_issuer_image_is_published_in_the_issuer_profile(app, client, launch):
    admin = launch(role="admin", sub="admin-1")
    org = _org_id(app)
    before = client.get(f"/ob/v2/issuers/{org}", headers=JSON).get_json(force=True)
    assert "image" not in before
    assert client.get(f"/ob/v2/issuers/{org}/image").status_code == 404

    saved = client.post("/app/admin/badges/issuer", data=_issuer_form(admin, PNG),
                        content_type="multipart/form-data")
    assert saved.status_code == 303
    doc = client.get(f"/ob/v2/issuers/{org}", headers=JSON).get_json(force=True)
    assert doc["image"] == f"{BASE}/ob/v2/issuers/{org}/image"
    image = client.get(doc["image"].removeprefix(BASE))
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG

    # Saving the profile again without a file keeps the image; the checkbox removes it.
    assert client.post("/app/admin/badges/issuer", data=_issuer_form(admin)).status_code == 303
    assert client.get(f"/ob/v2/issuers/{org}", headers=JSON).get_json(force=True)["image"] == doc["image"]
    page = client.get("/app/admin/badges", query_string={"lt": admin})
    assert "Remove the issuer image" in visible(page)
    assert client.post("/app/admin/badges/issuer", data=_issuer_form(admin, remove_image="on")).status_code == 303
    assert "image" not in client.get(f"/ob/v2/issuers/{org}", headers=JSON).get_json(force=True)
    assert client.get(f"/ob/v2/issuers/{org}/image").status_code == 404


def test_issuer_image_upload_is_checked_like_badge_images(app, client, launch):
    admin = launch(role="admin", sub="admin-1")
    learner = launch(role="learner", sub="l-1")
    org = _org_id(app)
    html = b"<html><body><script>alert(1)</script></body></html>"
    for data, filename in ((html, "logo.html"), (html, "logo.svg"),
                           (b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>', "x.svg")):
        bad = client.post("/app/admin/badges/issuer", data=_issuer_form(admin, data, filename),
                          content_type="multipart/form-data")
        assert bad.status_code == 422, filename
    assert "image" not in client.get(f"/ob/v2/issuers/{org}", headers=JSON).get_json(force=True)

    # An SVG is sanitised exactly as badge images are: scripts and handlers go, and it is served sandboxed.
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
           b'<script>alert(2)</script><circle cx="5" cy="5" r="4" fill="red"/></svg>')
    ok = client.post("/app/admin/badges/issuer", data=_issuer_form(admin, svg, "logo.svg"),
                     content_type="multipart/form-data")
    assert ok.status_code == 303
    image = client.get(f"/ob/v2/issuers/{org}/image")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert b"script" not in image.data and b"onload" not in image.data and b"circle" in image.data
    assert "sandbox" in image.headers["Content-Security-Policy"]

    denied = client.post("/app/admin/badges/issuer", data=_issuer_form(learner, PNG),
                         content_type="multipart/form-data")
    assert denied.status_code == 403


def _pillars(app, org: int, *names: str) -> list[int]:
    from plugin.vision.models import Pillar

    with app.app_context():
        rows = [Pillar(organisation_id=org, name=name, description=f"{name} explained.", position=i, active=True)
                for i, name in enumerate(names)]
        db.session.add_all(rows)
        db.session.commit()
        return [p.id for p in rows]


def _other_org_pillar(app) -> int:
    from plugin.vision.models import Pillar
    from tests.badges.conftest import make_world

    with app.app_context():
        world = make_world(organisation="Org Other", issuer="https://lms.other.example", sub="other-1")
        pillar = Pillar(organisation_id=world.org_id, name="Secret pillar", description="Theirs.", position=0,
                        active=True)
        db.session.add(pillar)
        db.session.commit()
        return pillar.id


def _badge_id(app, name: str) -> int:
    from plugin.badges.models import BadgeClass

    with app.app_context():
        return db.session.scalar(db.select(BadgeClass.id).where(BadgeClass.name == name))


def test_badge_aligned_to_vision_pillars_publishes_alignment_objects(app, client, launch):
    admin = launch(role="admin", sub="admin-1")
    org = _org_id(app)
    safety, craft, _unused = _pillars(app, org, "Safe use", "Craft", "Unused")
    page = client.get("/app/admin/badges", query_string={"lt": admin})
    assert "Aligned to AI vision pillars" in visible(page) and "Craft" in visible(page)

    saved = client.post("/app/admin/badges", data={"lt": admin, "name": "Prompt Pioneer", "colour": "#2b8a3e",
                                                   "active": "on", "pillar": [str(safety), str(craft)]})
    assert saved.status_code == 303
    badge_id = _badge_id(app, "Prompt Pioneer")
    doc = client.get(f"/ob/v2/badges/{badge_id}", headers=JSON).get_json(force=True)
    assert doc["alignment"] == [
        {"targetName": "Safe use", "targetUrl": f"{BASE}/ob/v2/issuers/{org}/pillars/{safety}",
         "targetDescription": "Safe use explained."},
        {"targetName": "Craft", "targetUrl": f"{BASE}/ob/v2/issuers/{org}/pillars/{craft}",
         "targetDescription": "Craft explained."}]
    target = client.get(doc["alignment"][0]["targetUrl"].removeprefix(BASE))
    assert target.status_code == 200 and target.mimetype == "text/html"
    assert "Safe use" in target.get_data(as_text=True) and "Safe use explained." in target.get_data(as_text=True)
    assert target.headers["Content-Security-Policy"] == "default-src 'none'"  # its own: no script, style or frame
    # Pillars no badge is aligned to stay private; so do unknown ones and other organisations' paths.
    assert client.get(f"/ob/v2/issuers/{org}/pillars/{_unused}").status_code == 404
    assert client.get(f"/ob/v2/issuers/{org + 999}/pillars/{safety}").status_code == 404

    # Editing the badge replaces its alignment; none at all removes the property.
    edit = {"lt": admin, "badge_id": str(badge_id), "name": "Prompt Pioneer", "colour": "#2b8a3e", "active": "on"}
    assert client.post("/app/admin/badges", data={**edit, "pillar": [str(craft)]}).status_code == 303
    doc = client.get(f"/ob/v2/badges/{badge_id}", headers=JSON).get_json(force=True)
    assert [a["targetName"] for a in doc["alignment"]] == ["Craft"]
    assert client.get(f"/ob/v2/issuers/{org}/pillars/{safety}").status_code == 404
    assert client.post("/app/admin/badges", data=edit).status_code == 303
    assert "alignment" not in client.get(f"/ob/v2/badges/{badge_id}", headers=JSON).get_json(force=True)


def test_pillars_of_another_organisation_are_refused(app, client, launch):
    admin = launch(role="admin", sub="admin-1")
    org = _org_id(app)
    (own,) = _pillars(app, org, "Safe use")
    theirs = _other_org_pillar(app)
    refused = client.post("/app/admin/badges", data={"lt": admin, "name": "Sneaky", "colour": "#2b8a3e",
                                                     "active": "on", "pillar": [str(own), str(theirs)]})
    assert refused.status_code == 422 and "your organisation's" in visible(refused)
    assert _badge_id(app, "Sneaky") is None
    from plugin.badges.models import BadgePillar

    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(BadgePillar)) == 0
