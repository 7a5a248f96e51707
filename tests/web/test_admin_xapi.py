"""The admin's xAPI page in the LMS frame: admins only, launch token on every form, the secret never shown
back, errors kept on the page, each organisation sees only its own statements; Tinker's IRIs resolve."""
from __future__ import annotations

from tests.support.platform import FakePlatform, token_from
from tests.web.helpers import text, visible
from tests.webhooks.conftest import receiver  # noqa: F401 - a real HTTP server standing in for the LRS

PAGE = "/app/admin/xapi"
SETTINGS = {"enabled": "on", "endpoint": "https://lrs.example.org/xAPI/", "key": "tinker", "secret": "s3cret-value"}


def save(client, token, **overrides):
    return client.post(f"{PAGE}/settings", data={"lt": token, **SETTINGS, **overrides})


def test_admin_saves_settings_and_the_secret_is_never_shown_back(client, launch):
    admin = launch(role="admin", sub="boss")
    page = client.get(PAGE, query_string={"lt": admin})
    assert page.status_code == 200
    assert "xAPI is off" in visible(page)
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]

    response = save(client, admin)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    body = text(page)
    assert "xAPI settings saved." in body and "xAPI is on" in visible(page)
    assert 'value="https://lrs.example.org/xAPI/"' in body and 'value="tinker"' in body
    assert "s3cret-value" not in body
    assert "A secret is saved" in body

    # Saving again with the secret left empty keeps it.
    assert save(client, admin, secret="", key="tinker-2").status_code == 303
    page = client.get(PAGE, query_string={"lt": admin})
    assert 'value="tinker-2"' in text(page) and "xAPI is on" in visible(page)

    audit = visible(client.get("/app/admin/audit", query_string={"lt": admin}))
    assert "xapi.settings_changed" in audit and "s3cret-value" not in audit


def test_errors_stay_on_the_page_with_what_was_typed(client, launch):
    admin = launch(role="admin", sub="boss")
    response = save(client, admin, endpoint="ftp://lrs.example.org/xAPI")
    assert response.status_code == 422
    body = text(response)
    assert "full http:// or https:// address" in body
    assert 'value="ftp://lrs.example.org/xAPI"' in body and "s3cret-value" not in body

    response = save(client, admin, secret="")
    assert response.status_code == 422
    assert "Give the secret" in text(response)


def test_test_statement_is_queued_and_listed(client, launch):
    admin = launch(role="admin", sub="boss")
    refused = client.post(f"{PAGE}/test", data={"lt": admin})
    assert refused.status_code == 422 and "Turn xAPI on" in text(refused)
    save(client, admin)
    response = client.post(f"{PAGE}/test", data={"lt": admin})
    assert response.status_code == 303
    page = visible(client.get(response.headers["Location"]))
    assert "Test statement queued" in page
    assert "Test statement (tested the connection to)" in page and "Waiting" in page
    assert "0 sent, 1 waiting, 0 failed." in page


def test_learners_and_managers_cannot_open_or_post(client, launch):
    learner, manager = launch(sub="learner"), launch(role="instructor", sub="teacher")
    for token in (learner, manager):
        assert client.get(PAGE, query_string={"lt": token}).status_code == 403
        assert save(client, token).status_code == 403
        assert client.post(f"{PAGE}/test", data={"lt": token}).status_code == 403
        assert client.post(f"{PAGE}/retry", data={"lt": token}).status_code == 403


def test_a_post_without_the_launch_token_changes_nothing(client, launch):
    admin = launch(role="admin", sub="boss")
    client.get(PAGE, query_string={"lt": admin})  # the session cookie alone never authorises a change
    response = client.post(f"{PAGE}/settings", data=SETTINGS)
    assert response.status_code == 401
    assert "xAPI is off" in visible(client.get(PAGE, query_string={"lt": admin}))


def test_another_organisation_sees_only_its_own(client, launch, cli):
    admin = launch(role="admin", sub="boss")
    save(client, admin)
    client.post(f"{PAGE}/test", data={"lt": admin})
    other = FakePlatform(issuer="https://other-lms.example", client_id="other", deployment_id="d-2")
    try:
        assert cli(*other.register_args(org="Other Org")).exit_code == 0
        theirs = token_from(other.launch(client, role="admin", sub="boss")[0])
        page = visible(client.get(PAGE, query_string={"lt": theirs}))
        assert "xAPI is off" in page and "lrs.example.org" not in page
        assert "Nothing sent yet." in page and "Test statement" not in page
    finally:
        other.close()


def test_tinker_iris_resolve_to_their_metadata(client):
    verb = client.get("/xapi/verbs/helped")
    assert verb.status_code == 200 and verb.is_json
    assert verb.json["id"] == "http://localhost/xapi/verbs/helped"
    assert verb.json["name"] == {"en": "helped"} and verb.json["description"]["en"]
    listing = client.get("/xapi/").json["terms"]
    assert "http://localhost/xapi/extensions/lti-context" in {t["id"] for t in listing}
    assert client.get("/xapi/verbs/invented").status_code == 404


def test_a_turkish_admin_reads_tinkers_words_about_a_statement_in_turkish_and_the_lrss_as_it_said(
        app, client, launch, receiver):  # noqa: F811 - the fixture imported above
    """The error is stored in English; the page puts Tinker's words in Turkish around the LRS's own answer."""
    from sqlalchemy import select

    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.outbox.models import OutboxItem
    from plugin.outbox.service import process_due

    turkish = {"overrides": {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}}
    admin = launch(role="admin", sub="boss", **turkish)
    assert save(client, admin, endpoint=receiver.url).status_code == 303
    receiver.script = [(401, '{"message": "Invalid authentication credentials"}')]
    assert client.post(f"{PAGE}/test", data={"lt": admin}).status_code == 303
    with app.app_context():
        assert process_due(utcnow()).failed == 1
        stored = db.session.scalar(select(OutboxItem.last_error).where(OutboxItem.kind == "xapi.statement"))
        db.session.remove()
    assert stored == "the LRS refused Tinker's key and secret (HTTP 401): Invalid authentication credentials"
    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert ("LRS, Tinker'ın anahtarını ve gizli anahtarını reddetti (HTTP 401): Invalid authentication credentials"
            in page) and "refused Tinker's key" not in page
    english = visible(client.get(PAGE, query_string={"lt": launch(role="admin", sub="other-admin")}))
    assert stored in english
