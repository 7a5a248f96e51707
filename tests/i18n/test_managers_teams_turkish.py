"""Helper B's share in Turkish: a launch whose locale is Turkish shows the team, challenge, insights and manager
pages in Turkish, with Turkish month names, decimal commas and "%50"-style shares; the domain's refusals arrive
in Turkish; the same pages launched in English are unchanged."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from plugin.core.actor import Actor, Role
from plugin.extensions import db
from plugin.tenancy.models import Course, Membership, User
from plugin.web import boards as board_views
from plugin.web import teams as team_views
from tests.services.factories import log
from tests.support.platform import LTI
from tests.web.helpers import text, visible

PAGE_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)  # a Wednesday in December 2026 (Aralık)


def _presentation(locale: str) -> dict:
    return {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": locale}}


@pytest.fixture
def people(launch):
    """English and Turkish launches of the same people (the launch claim decides, nobody used the switch)."""
    names = {"ada": "Ada Lovelace", "bo": "Bo Diddley", "boss": "The Boss"}
    tokens = {}
    for sub, name in names.items():
        role = "instructor" if sub == "boss" else "learner"
        tokens[sub] = launch(role=role, sub=sub, name=name, overrides=_presentation("en"))
        tokens[sub + "-tr"] = launch(role=role, sub=sub, name=name, overrides=_presentation("tr-TR"))
    return tokens


def _actor(app, sub: str) -> Actor:
    with app.app_context():
        membership, course = db.session.execute(
            select(Membership, Course).join(Course, Course.id == Membership.course_id)
            .join(User, User.id == Membership.user_id).where(User.sub == sub)).one()
        return Actor(user_id=membership.user_id, course_id=course.id, organisation_id=course.organisation_id,
                     platform_id=course.platform_id, role=Role(membership.role),
                     display_name=membership.user.display_name)


def _team_with(client, boss: str, name: str, *members: str) -> int:
    created = client.post("/app/teams/manage", data={"lt": boss, "name": name})
    assert created.status_code == 303, visible(created)[:300]
    team_id = int(re.search(r"/app/teams/(\d+)/edit", created.headers["Location"]).group(1))
    page = text(client.get(f"/app/teams/{team_id}/edit", query_string={"lt": boss}))
    offered = {label.strip(): value for value, label in
               re.findall(r'<input type="checkbox" name="user_id" value="(\d+)">\s*([^<]+)</label>', page)}
    assert client.post(f"/app/teams/{team_id}/members",
                       data={"lt": boss, "user_id": [offered[m] for m in members]}).status_code == 303
    return team_id


def test_a_turkish_launch_shows_the_team_page_with_turkish_months_numbers_and_shares(app, client, launch, people,
                                                                                    monkeypatch):
    monkeypatch.setattr(team_views, "utcnow", lambda: PAGE_NOW)
    team = _team_with(client, people["boss"], "Kırmızı", "Ada Lovelace", "Bo Diddley")
    with app.app_context():
        log(_actor(app, "ada"), now=datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc), minutes_saved=45)
        log(_actor(app, "bo"), now=datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc), minutes_saved=30)
        db.session.commit()

    # Below the organisation's minimum group size (5), a manager reads why in Turkish; then an admin allows two.
    withheld = visible(client.get(f"/app/teams/{team}", query_string={"lt": people["boss-tr"]}))
    assert ("kuruluşunuzun içgörüler için belirlediği en küçük grup boyutu olan 5 sayılan üyeye ulaşınca görünür"
            in withheld)
    admin = launch(role="admin", sub="org-admin", name="Org Admin")
    assert client.post("/app/insights/settings", data={"lt": admin, "min_group_size": "2"}).status_code == 303
    turkish = client.get(f"/app/teams/{team}", query_string={"lt": people["boss-tr"]})  # a manager: the figures
    page, html = visible(turkish), text(turkish)
    assert '<html lang="tr">' in html
    assert "2 sayılan üye · Burada oluşturuldu" in page
    assert "Aralık 2026 içinde" in page and "Kazanılan saat" in page
    assert re.search(r'data-testid="hours-month">1,2<', html)  # 75 minutes, with a decimal comma
    assert "Ekip hedefleri" in page and "Zaman içinde katılım" in page
    week = re.search(r"<tr><th scope=\"row\">2026-W49</th>(.*?)</tr>", html, re.S).group(1)
    assert "30 Kas 2026" in week and "2 kişiden 2" in week and "%100" in week
    assert "Aralık 2026" in html and "December" not in page and "counted member" not in page

    english = visible(client.get(f"/app/teams/{team}", query_string={"lt": people["boss"]}))
    assert "2 counted members · Created here" in english and "in December 2026" in english
    assert "sayılan" not in english
    # A learner of a team of two sees why there are no figures, in Turkish too.
    member = visible(client.get(f"/app/teams/{team}", query_string={"lt": people["ada-tr"]}))
    assert "Ekibin rakamları 3 sayılan üyesi olunca görünür" in member and "Aralık 2026 içinde" not in member


def test_the_teams_refusals_arrive_in_turkish(client, people):
    _team_with(client, people["boss"], "Kırmızı", "Ada Lovelace")
    duplicate = client.post("/app/teams/manage", data={"lt": people["boss-tr"], "name": "kırmızı"})
    assert duplicate.status_code == 409
    page = visible(duplicate)
    assert "Bu kursta zaten “Kırmızı” adında bir ekip var." in page
    assert "Bu kursta başka bir ekibin kullanmadığı bir ad seçin." in page

    # A schema message defined at import time (lazy) is read in the request's language, as a whole sentence.
    empty = client.post("/app/teams/manage", data={"lt": people["boss-tr"], "name": "   "})
    assert empty.status_code == 422
    assert "Ekibe bir ad verin." in visible(empty) and "E k i b e" not in visible(empty)
    assert "Give the team a name." in visible(client.post("/app/teams/manage",
                                                          data={"lt": people["boss"], "name": ""}))

    outsider = client.get("/app/teams/999999", query_string={"lt": people["ada-tr"]})
    assert outsider.status_code == 404 and "Bu kursta böyle bir ekip yok." in visible(outsider)


def test_a_challenge_reads_in_turkish_and_its_form_errors_too(client, people):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    window = {"starts_at": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
              "ends_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")}
    refused = client.post("/app/challenges/", data={"lt": people["boss-tr"], "goal_kind": "participation",
                                                    "goal_value": "150", **window},
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    errors = visible(refused)
    assert "Meydan okumaya bir başlık verin." in errors and "Katılım hedefi 1 ile 100 arasında bir yüzdedir." in errors
    assert "Give the challenge a title." not in errors

    created = client.post("/app/challenges/", data={"lt": people["boss"], "title": "Beş deneme", "goal_kind": "count",
                                                    "goal_value": "5", **window}, content_type="multipart/form-data")
    assert created.status_code == 303
    cid = re.search(r"/app/challenges/(\d+)", created.headers["Location"]).group(1)
    turkish = visible(client.get(f"/app/challenges/{cid}", query_string={"lt": people["ada-tr"]}))
    assert "Şu an açık" in turkish and "Uygun 5 deneme." in turkish and "5 denemeden 0" in turkish
    assert "Bu meydan okumanın tablosu" in turkish and "Open now" not in turkish
    english = visible(client.get(f"/app/challenges/{cid}", query_string={"lt": people["ada"]}))
    assert "Open now" in english and "5 matching experiments." in english and "0 of 5 experiments" in english


def test_insights_periods_and_shares_follow_the_language(client, people):
    turkish = client.get("/app/insights/", query_string={"lt": people["boss-tr"], "kind": "quarter",
                                                         "key": "2026-Q4"})
    assert turkish.status_code == 200
    page, html = visible(turkish), text(turkish)
    assert "İçgörüler: " in page and "Benimsenme eğilimi" in page and "2026 Ç4" in page
    assert '<option value="2026-Q4" selected>2026 Ç4</option>' in html
    months = visible(client.get("/app/insights/", query_string={"lt": people["boss-tr"], "kind": "month",
                                                                "key": "2026-11"}))
    assert "Kasım 2026" in months
    english = visible(client.get("/app/insights/", query_string={"lt": people["boss"], "kind": "month",
                                                                 "key": "2026-11"}))
    assert "November 2026" in english and "Kasım" not in english


def test_board_period_choices_are_cached_per_language(client, people, monkeypatch):
    """The period list is worked out once a day: a Turkish page must not leave Turkish labels for English ones."""
    monkeypatch.setattr(board_views, "utcnow", lambda: PAGE_NOW)
    board_views._period_options.cache_clear()
    turkish = text(client.get("/app/leaderboard", query_string={"lt": people["ada-tr"], "period": "week"}))
    assert ">Bu hafta: 30 Kas – 6 Ara</option>" in turkish and "Önceki aylar" in turkish
    english = text(client.get("/app/leaderboard", query_string={"lt": people["ada"], "period": "week"}))
    assert ">This week (30 Nov – 6 Dec)</option>" in english and "Earlier months" in english
    assert "Bu hafta" not in english


def test_a_team_a_manager_named_group_7_reads_as_typed_in_english_and_turkish(client, people):
    """Only the name Tinker gave a nameless LMS group ("Group <its LMS id>") is shown in the reader's language; a
    team a manager typed as "Group 7" keeps its name on every page, as the manager wrote it."""
    team_id = _team_with(client, people["boss"], "Group 7", "Ada Lovelace", "Bo Diddley")
    pages = [("/app/teams/manage", {}), (f"/app/teams/{team_id}", {}), (f"/app/teams/{team_id}/edit", {}),
             ("/app/leaderboard", {"tab": "teams"}), ("/app/challenges/new", {})]
    for token in ("boss", "boss-tr"):
        for path, query in pages:
            page = visible(client.get(path, query_string={"lt": people[token], **query}))
            assert "Group 7" in page and "Grup 7" not in page, (token, path)


def test_a_nameless_lms_groups_team_reads_in_turkish_in_the_insights_tables_too(app, client, people):
    """The insights page named the team "Grup g2" in its team picker and its chart, but "Group g2" (the stored
    English) in the hours-by-team table under them."""
    from plugin.teams.service import sync_lms_teams

    with app.app_context():
        ada = _actor(app, "ada")
        sync_lms_teams(ada.course_id, {"g2": ""}, {"g2": {ada.user_id}}, PAGE_NOW)
        log(ada, now=PAGE_NOW - timedelta(days=1), minutes_saved=45)
        db.session.commit()
    query = {"kind": "month", "key": "2026-12"}
    turkish = visible(client.get("/app/insights/", query_string={"lt": people["boss-tr"], **query}))
    assert "Grup g2" in turkish and "Group g2" not in turkish
    english = visible(client.get("/app/insights/", query_string={"lt": people["boss"], **query}))
    assert "Group g2" in english and "Grup g2" not in english
