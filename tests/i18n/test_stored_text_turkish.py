"""What Tinker itself writes into records in English (an erased person's "[erased]" texts and pseudonym) reads in
the reader's language on every page, and stays as stored for readers in English."""
import re

from sqlalchemy import select

from tests.web.helpers import log_experiment, visible

LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def in_locale(tag: str) -> dict:
    return {"overrides": {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/c/1", "locale": tag}}}


def test_an_erased_learners_records_read_in_turkish_for_a_turkish_reader(app, client, launch):
    from plugin.experiments.models import Experiment
    from plugin.extensions import db
    from plugin.tenancy.models import User

    ada = launch(sub="ada", name="Ada Lovelace")
    assert log_experiment(client, ada, title="Drafting a rubric with AI").status_code == 303
    admin = launch(role="admin", sub="the-admin", **in_locale("tr-TR"))
    with app.app_context():
        ada_id = db.session.scalar(select(User.id).where(User.sub == "ada"))
        experiment_id = db.session.scalar(select(Experiment.id).where(Experiment.user_id == ada_id))
    erased = client.post(f"/app/admin/privacy/erase/{ada_id}", data={"lt": admin, "confirm": "ERASE"})
    assert erased.status_code == 303
    with app.app_context():
        pseudonym = db.session.get(User, ada_id).name
    assert re.fullmatch(r"Erased learner [0-9a-f]{4}", pseudonym)  # stored as written, in the source language
    code = pseudonym.rsplit(" ", 1)[1]
    done = visible(client.get(erased.headers["Location"]))
    assert f"Silinen öğrenen {code}" in done and pseudonym not in done

    turkish = launch(role="instructor", sub="mona", name="Mona Manager", **in_locale("tr-TR"))
    page = visible(client.get(f"/app/experiments/{experiment_id}", query_string={"lt": turkish}))
    assert "[silindi]" in page and "[erased]" not in page

    english = launch(role="instructor", sub="max", name="Max Manager")
    assert "[erased]" in visible(client.get(f"/app/experiments/{experiment_id}", query_string={"lt": english}))
