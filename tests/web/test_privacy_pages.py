"""My data downloads and the admin's Privacy page, through real launches: each person downloads only their own
data, learners and managers cannot erase, an admin of another organisation cannot reach this one's people."""
import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select

from tests.support.platform import FakePlatform, token_from
from tests.web.helpers import log_experiment, text, visible


def user_id(app, sub: str) -> int:
    from plugin.extensions import db
    from plugin.tenancy.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.sub == sub))


def audit_actions(app) -> list[str]:
    from plugin.audit.models import AuditEvent
    from plugin.extensions import db

    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def other_org(client, cli):
    other = FakePlatform(issuer="https://canvas.example.com", client_id="10000000000042", deployment_id="12:abcdef")
    assert cli(*other.register_args(org="Other Org")).exit_code == 0
    yield other
    other.close()


def test_a_learner_downloads_their_own_data_as_json_and_csv(client, launch, app):
    ada = launch(sub="ada", name="Ada Lovelace")
    bo = launch(sub="bo", name="Bo Diddley")
    assert log_experiment(client, ada, tried="=cmd|' /C calc'!A0 asked it for a summary").status_code == 303
    assert log_experiment(client, bo, tried="Bo's own private notes on rubrics", visibility="private").status_code == 303
    dashboard = text(client.get("/app/", query_string={"lt": ada}))
    assert "/app/my-data" in dashboard
    page = client.get("/app/my-data", query_string={"lt": ada})
    assert page.status_code == 200 and "Download JSON" in visible(page) and "Download CSV" in visible(page)

    response = client.get("/app/my-data/tinker-data.json", query_string={"lt": ada})
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    data = json.loads(body)["sections"]
    assert data["profile"][0]["name"] == "Ada Lovelace"
    assert data["experiments"][0]["tried"].startswith("=cmd")
    assert "Bo Diddley" not in body and "Bo's own private notes" not in body

    response = client.get("/app/my-data/tinker-data.zip", query_string={"lt": ada})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    experiments = archive.read("experiments.csv").decode("utf-8-sig")
    assert "'=cmd" in experiments and not re.search(r"(^|,)=cmd", experiments, re.M)  # formula-safe
    assert audit_actions(app).count("privacy.export") == 2


def test_learners_and_managers_cannot_reach_the_privacy_admin(client, launch, app):
    ada = launch(sub="ada", name="Ada Lovelace")
    ada_id = user_id(app, "ada")
    for role in ("learner", "instructor"):
        token = launch(role=role, sub=f"someone-{role}")
        assert client.get("/app/admin/privacy", query_string={"lt": token}).status_code == 403
        assert client.get(f"/app/admin/privacy/erase/{ada_id}", query_string={"lt": token}).status_code == 403
        response = client.post(f"/app/admin/privacy/erase/{ada_id}", data={"lt": token, "confirm": "ERASE"})
        assert response.status_code == 403
        assert client.post("/app/admin/privacy/retention", data={"lt": token, "days": "1"}).status_code == 403
    assert "Ada Lovelace" in visible(client.get("/app/my-data/tinker-data.json", query_string={"lt": ada}))
    assert "privacy.erased" not in audit_actions(app)


def test_an_admin_of_another_organisation_cannot_erase_or_see_our_people(client, launch, app, other_org):
    launch(sub="ada", name="Ada Lovelace")
    ada_id = user_id(app, "ada")
    stranger = token_from(other_org.launch(client, sub="their-admin", role="admin")[0])
    assert "Ada Lovelace" not in visible(client.get("/app/admin/privacy", query_string={"lt": stranger, "q": "ada"}))
    assert client.get(f"/app/admin/privacy/erase/{ada_id}", query_string={"lt": stranger}).status_code == 404
    response = client.post(f"/app/admin/privacy/erase/{ada_id}", data={"lt": stranger, "confirm": "ERASE"})
    assert response.status_code == 404 and "Traceback" not in text(response)
    assert "privacy.erased" not in audit_actions(app)


def test_an_admin_finds_a_learner_confirms_by_typing_and_erases_them(client, launch, app):
    ada = launch(sub="ada", name="Ada Lovelace")
    log_experiment(client, ada, title="Summarised Ms Grey's appraisal", tried="Pasted the appraisal into the chat")
    admin = launch(role="admin", sub="the-admin", name="The Admin")
    ada_id = user_id(app, "ada")
    feed = client.get("/app/experiments", query_string={"lt": admin})
    assert feed.status_code == 200 and "Ms Grey" in visible(feed)
    found = visible(client.get("/app/admin/privacy", query_string={"lt": admin, "q": "lovel"}))
    assert "Ada Lovelace" in found and "Erase…" in found
    staff = visible(client.get("/app/admin/privacy", query_string={"lt": admin, "q": "the admin"}))
    assert "Staff" in staff
    confirm = visible(client.get(f"/app/admin/privacy/erase/{ada_id}", query_string={"lt": admin}))
    assert "The text of 1 experiment (also taken out of the shared library)" in confirm and "Type ERASE" in confirm
    assert "webhooks still to be sent go without them, xAPI statements still to be sent that name them are " \
           "cancelled" in confirm

    wrong = client.post(f"/app/admin/privacy/erase/{ada_id}", data={"lt": admin, "confirm": "erase please"})
    assert wrong.status_code == 422 and "Type ERASE to confirm" in visible(wrong)
    done = client.post(f"/app/admin/privacy/erase/{ada_id}", data={"lt": admin, "confirm": "ERASE"})
    assert done.status_code == 303
    assert "Erased learner" in visible(client.get(done.headers["Location"]))
    assert "privacy.erased" in audit_actions(app)
    feed = client.get("/app/experiments", query_string={"lt": admin})
    assert feed.status_code == 200 and "Ms Grey" not in visible(feed)
    feed = visible(feed)
    assert "Ms Grey" not in feed and "Ada Lovelace" not in feed
    assert "Ada Lovelace" not in visible(client.get("/app/admin/privacy", query_string={"lt": admin, "q": "ada"}))
    # The old launch session is gone; the next launch from the LMS is a fresh, empty account.
    assert client.get("/app/my-data", query_string={"lt": ada}).status_code == 401
    again = launch(sub="ada", name="Ada Lovelace")
    data = json.loads(client.get("/app/my-data/tinker-data.json", query_string={"lt": again}).data)["sections"]
    assert data["experiments"] == [] and data["profile"][0]["id"] != ada_id


def test_the_retention_period_is_validated_saved_and_audited(client, launch, app):
    admin = launch(role="admin", sub="the-admin")
    bad = client.post("/app/admin/privacy/retention", data={"lt": admin, "days": "0"})
    assert bad.status_code == 422 and "Between 1 and 3650 days" in visible(bad)
    ok = client.post("/app/admin/privacy/retention", data={"lt": admin, "days": "365"})
    assert ok.status_code == 303
    assert "removed after 365 days" in visible(client.get(ok.headers["Location"]))
    assert audit_actions(app).count("privacy.retention_changed") == 1


def test_an_admin_finds_a_person_by_a_name_written_in_other_capitals(client, launch):
    """"şahin" finds "Şahin Yılmaz" and "ÖZTÜRK" finds "Can Öztürk" on both databases (SQLite's lower() folds
    ASCII only)."""
    launch(sub="sahin", name="Şahin Yılmaz")
    launch(sub="can", name="Can Öztürk")
    admin = launch(role="admin", sub="the-admin", name="The Admin")
    found = visible(client.get("/app/admin/privacy", query_string={"lt": admin, "q": "şahin"}))
    assert "Şahin Yılmaz" in found and "Can Öztürk" not in found
    found = visible(client.get("/app/admin/privacy", query_string={"lt": admin, "q": "ÖZTÜRK"}))
    assert "Can Öztürk" in found and "Şahin Yılmaz" not in found
