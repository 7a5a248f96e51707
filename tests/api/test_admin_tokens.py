"""The admin page that issues (once), lists and revokes API tokens; only admins reach it, forms need the token."""
from __future__ import annotations

import re

from tests.api.conftest import bearer
from tests.web.helpers import text


def test_admin_issues_a_token_shown_once_then_revokes_it(client, launch):
    admin = launch(role="admin", sub="boss")
    form = " ".join(text(client.get("/app/admin/api-tokens/", query_string={"lt": admin})).split())
    # awards:write revokes any award, a rule's too, as a manager may: the form said "manual badges" only
    assert "revoke any badge award (with its points)" in form
    page = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "Power BI", "days": "30",
                                                       "scopes": ["insights:read", "awards:write"]})
    assert page.status_code == 201
    secret = re.search(r'value="(tkn_[^"]+)"[^>]*data-testid="new-token"', text(page)).group(1)
    me = client.get("/api/v1/me", headers=bearer(secret)).get_json()
    assert me["scopes"] == ["awards:write", "insights:read"] and me["token_name"] == "Power BI"
    listing = text(client.get("/app/admin/api-tokens/", query_string={"lt": admin}))
    assert "Power BI" in listing and secret not in listing and secret[:12] in listing
    token_id = re.search(r'/app/admin/api-tokens/(\d+)/revoke', listing).group(1)
    assert client.post(f"/app/admin/api-tokens/{token_id}/revoke", data={"lt": admin}).status_code == 303
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    audit = text(client.get("/app/admin/audit", query_string={"lt": admin}))
    assert "api_token.issued" in audit and "api_token.revoked" in audit


def _issue(client, admin, key: str):
    page = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "Power BI", "days": "30",
                                                       "scopes": ["insights:read"], "submission_key": key})
    assert page.status_code == 201
    return re.search(r'value="(tkn_[^"]+)"[^>]*data-testid="new-token"', text(page)).group(1), text(page)


def _form_key(page: str) -> str:
    return re.search(r'name="submission_key" value="([^"]+)"', page).group(1)


def test_the_same_form_sent_twice_leaves_one_live_token_the_one_shown_last(client, launch):
    """A double click (or Back and send again) issued two tokens: the browser showed the second's secret, and the
    first stayed valid though nobody had seen it. Now the second sending revokes the first's token and says so."""
    admin = launch(role="admin", sub="boss")
    key = _form_key(text(client.get("/app/admin/api-tokens/", query_string={"lt": admin})))
    first, page = _issue(client, admin, key)
    assert 'data-testid="replaced-token"' not in page
    assert _form_key(page) != key  # the form under the secret is a new one: another token, not this one again
    second, page = _issue(client, admin, key)
    assert second != first and f"starting with {first[:12]}" in page
    assert client.get("/api/v1/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    listing = text(client.get("/app/admin/api-tokens/", query_string={"lt": admin}))
    assert listing.count("<td>Power BI</td>") == 2 and listing.count("/revoke") == 1  # the first listed as revoked
    third, _page = _issue(client, admin, _form_key(page))  # the next form's key: a token of its own
    assert client.get("/api/v1/me", headers=bearer(second)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(third)).status_code == 200


def test_invalid_issue_shows_the_errors(client, launch):
    admin = launch(role="admin", sub="boss")
    page = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "", "days": "0"})
    assert page.status_code == 422
    body = text(page)
    assert "Choose scopes" in body and "1 to 366 days" in body


def test_a_refused_token_keeps_what_was_typed_with_the_message_by_its_field(client, launch):
    """Refused for its 999 days, the form came back with the name and scopes cleared and the days reset to 90,
    beside a message about the days: the admin had to start over and could not see what was wrong."""
    admin = launch(role="admin", sub="boss")
    page = text(client.post("/app/admin/api-tokens/", data={
        "lt": admin, "name": "Power BI", "scopes": ["insights:read"], "days": "999"}))
    name = re.search(r'<input id="token-name"[^>]*>', page).group(0)
    days = re.search(r'<input id="token-days"[^>]*>', page).group(0)
    assert 'value="Power BI"' in name and "aria-invalid" not in name
    assert 'value="999"' in days and 'aria-invalid="true"' in days
    described_by = re.search(r'aria-describedby="([^"]+)"', days).group(1)
    assert re.search(rf'<p class="field-error" id="{described_by}">[^<]*1 to 366 days', page)
    checked = re.findall(r'<input type="checkbox" id="scope-\d+" name="scopes" value="([^"]+)" checked', page)
    assert checked == ["insights:read"]


def test_only_admins_and_only_with_the_launch_token(client, launch):
    manager = launch(role="instructor", sub="t")
    assert client.get("/app/admin/api-tokens/", query_string={"lt": manager}).status_code == 403
    assert client.post("/app/admin/api-tokens/", data={"lt": manager, "name": "x", "days": "3",
                                                       "scopes": "ledger:read"}).status_code == 403
    admin = launch(role="admin", sub="boss")
    client.get("/app/admin/api-tokens/", query_string={"lt": admin})  # the session cookie alone must not do
    assert client.post("/app/admin/api-tokens/", data={"name": "x", "days": "3",
                                                       "scopes": "ledger:read"}).status_code == 401


def test_an_admin_cannot_revoke_another_organisations_token(client, app, world):
    from sqlalchemy import select

    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.tenancy.models import Organisation
    from plugin.tokens import service as tokens
    from tests.support.platform import FakePlatform

    other = FakePlatform(issuer="https://other-lms.example.org", client_id="client-other")
    try:
        assert app.test_cli_runner().invoke(args=other.register_args(org="Other Org")).exit_code == 0
    finally:
        other.close()
    with app.app_context():
        org_id = db.session.scalar(select(Organisation.id).where(Organisation.name == "Other Org"))
        foreign = tokens.issue(org_id, "theirs", ["ledger:read"], 5, utcnow()).token.id
        db.session.commit()
    admin = world.callers["admin"]
    assert client.post(f"/app/admin/api-tokens/{foreign}/revoke", data={"lt": admin}).status_code == 404
    assert client.post("/app/admin/api-tokens/999999/revoke", data={"lt": admin}).status_code == 404
    listing = text(client.get("/app/admin/api-tokens/", query_string={"lt": admin}))
    assert "theirs" not in listing


def test_two_revocations_of_one_token_at_once_revoke_it_once(appctx):
    """Two admins (or a double click on two instances) revoke the same token at the same moment: the audit log
    must say it was revoked once, at the first revocation's time, not twice with the later time overwriting it."""
    from datetime import timedelta

    from sqlalchemy import select

    from plugin.audit.models import AuditEvent
    from plugin.core.actor import Role
    from plugin.extensions import db
    from plugin.tokens import service as tokens
    from plugin.tokens.models import ApiToken
    from tests.services.factories import NOW, make_actor, make_platform
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    platform = make_platform()
    ada, bo = make_actor(platform, "ada", Role.ADMIN), make_actor(platform, "bo", Role.ADMIN)
    token_id = tokens.issue(ada.organisation_id, "Power BI", ["insights:read"], 30, NOW, actor=ada).token.id
    org = ada.organisation_id
    while_the_first_waits_to_commit(appctx, lambda: tokens.revoke(org, token_id, NOW + timedelta(minutes=1), ada).id,
                                    lambda: tokens.revoke(org, token_id, NOW + timedelta(minutes=2), bo).id)
    db.session.expire_all()
    revoked = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.revoked")).all()
    assert [event.actor_user_id for event in revoked] == [ada.user_id]
    assert db.session.get(ApiToken, token_id).revoked_at == NOW + timedelta(minutes=1)


def test_each_revoke_button_names_the_token_it_revokes(client, launch):
    """Two live tokens gave two buttons named "Revoke": tabbing to them, a screen-reader user heard "Revoke,
    button" twice and could not tell the Power BI token's from the HR system's."""
    admin = launch(role="admin", sub="boss")
    for name in ("Power BI", "HR system"):
        assert client.post("/app/admin/api-tokens/", data={"lt": admin, "name": name, "days": "30",
                                                           "scopes": ["insights:read"]}).status_code == 201
    listing = text(client.get("/app/admin/api-tokens/", query_string={"lt": admin}))
    buttons = [re.sub(r"<[^>]+>", "", b).strip() for b in re.findall(r"<button>(.*?)</button>", listing, re.S)]
    assert sorted(buttons) == ["Revoke HR system", "Revoke Power BI"]
