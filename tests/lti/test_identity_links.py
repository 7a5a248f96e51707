"""One person in two LMSs of one organisation, through real signed launches from two registrations: the
Linked accounts page (show a code in one, type it in the other, refusals, unlink), the organisation board
counting them once, and e-mail auto-link at launch only when the operator marked both registrations."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from plugin.badges.service import BadgeGrant, award_badge, get_or_create_badge
from plugin.extensions import db
from plugin.identity.models import IdentityLink
from plugin.leaderboards import rebuild
from plugin.tenancy.models import Platform
from tests.support.platform import FakePlatform, token_from
from tests.web.helpers import text, visible
from tests.web.test_boards import NOW, actor_of, award, page, rows

CODE = re.compile(r'data-testid="link-code-shown"><strong>([0-9A-Z]{4}-[0-9A-Z]{4})</strong>')


@pytest.fixture
def canvas(canvas_of_same_organisation):
    return canvas_of_same_organisation


def launch_from(lms, client, sub: str, context_id: str, name: str, **claims) -> str:
    response, _flow = lms.launch(client, sub=sub, context_id=context_id, name=name, overrides=claims)
    return token_from(response)


def show_code(client, token: str) -> str:
    response = client.post("/app/linked-accounts/code", data={"lt": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return CODE.search(text(response)).group(1)


def enter_code(client, token: str, code: str):
    return client.post("/app/linked-accounts/link", data={"lt": token, "code": code})


def linked_rows(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(IdentityLink).where(IdentityLink.person_id.is_not(None))).all())


def test_a_learner_links_moodle_and_canvas_with_a_code_and_is_counted_once(app, client, platform, canvas):
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    bo = launch_from(canvas, client, "bo", "academy", "Bo Diddley")
    award(app, actor_of(app, "3", "onboarding"), 30)
    award(app, actor_of(app, "a1b2", "academy"), 20)
    award(app, actor_of(app, "bo", "academy"), 40)
    before = page(client, bo, scope="organisation", period="all")
    assert [(r[1], r[2]) for r in rows(before)[0]] == [("Bo Diddley (you)", 40), ("Ada Lovelace", 30), ("Ada L.", 20)]

    start = client.get("/app/linked-accounts/", query_string={"lt": in_moodle})
    assert start.status_code == 200 and "This account is not linked to any other." in visible(start)
    code = show_code(client, in_moodle)
    linked = enter_code(client, in_canvas, code.lower())
    assert linked.status_code == 303
    after = client.get(linked.headers["Location"])
    assert "Your accounts are linked." in visible(after)
    assert "https://lms.example.edu" in visible(after) and "https://canvas.instructure.com (this account)" in visible(after)

    board = page(client, bo, scope="organisation", period="all")
    assert [(r[0], r[1], r[2]) for r in rows(board)[0]] == [(1, "Ada Lovelace", 50), (2, "Bo Diddley (you)", 40)]
    mine = page(client, in_canvas, scope="organisation", period="all")
    assert [(r[1], r[2], r[3]) for r in rows(mine)[0]][0] == ("Ada Lovelace (you)", 50, True)
    with app.app_context():
        assert rebuild.verify() == {}

    # The code works once.
    again = enter_code(client, bo, code)
    assert again.status_code == 422 and "This code was already used." in visible(again)

    # Unlink from Moodle's side: counted apart again.
    ada_canvas_id = actor_of(app, "a1b2", "academy").user_id
    assert client.post(f"/app/linked-accounts/unlink/{ada_canvas_id}", data={"lt": in_moodle}).status_code == 303
    board = page(client, bo, scope="organisation", period="all")
    assert [(r[1], r[2]) for r in rows(board)[0]] == [("Bo Diddley (you)", 40), ("Ada Lovelace", 30), ("Ada L.", 20)]
    with app.app_context():
        assert rebuild.verify() == {}


def test_badges_and_history_of_the_other_lms_show_on_my_pages(app, client, platform, canvas):
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    ada_canvas = actor_of(app, "a1b2", "academy")
    award(app, ada_canvas, 20)
    with app.app_context():
        badge = get_or_create_badge(ada_canvas.organisation_id, "pioneer", NOW, name="Canvas Pioneer")
        award_badge(BadgeGrant(badge_id=badge.id, organisation_id=ada_canvas.organisation_id,
                               course_id=ada_canvas.course_id, user_id=ada_canvas.user_id, key="pioneer:ada"), NOW)
        db.session.commit()
    assert "Canvas Pioneer" not in visible(client.get("/app/badges", query_string={"lt": in_moodle}))
    assert enter_code(client, in_moodle, show_code(client, in_canvas)).status_code == 303
    recognition = client.get("/app/recognition", query_string={"lt": in_moodle})
    assert "(in https://canvas.instructure.com · Course academy)" in visible(recognition)
    assert "Linked accounts (other learning platforms)" in visible(recognition)
    badges = client.get("/app/badges", query_string={"lt": in_moodle})
    assert "Badges from your linked accounts" in visible(badges) and "Canvas Pioneer" in visible(badges)
    assert "Earned in https://canvas.instructure.com · Course academy" in visible(badges)


def test_badges_of_the_other_lms_read_in_the_readers_language(app, client, platform, canvas):
    """In Turkish, a linked account's badge showed its date as "18 Nov 2026" and a seeded badge by its English name."""
    presentation = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"locale": "tr"}}
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace", **presentation)
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    ada_canvas = actor_of(app, "a1b2", "academy")
    with app.app_context():
        badge = get_or_create_badge(ada_canvas.organisation_id, "champion", NOW, name="Champion")
        award_badge(BadgeGrant(badge_id=badge.id, organisation_id=ada_canvas.organisation_id,
                               course_id=ada_canvas.course_id, user_id=ada_canvas.user_id, key="champion:ada"), NOW)
        db.session.commit()
    assert enter_code(client, in_moodle, show_code(client, in_canvas)).status_code == 303
    linked = re.search(r'<article class="badge-card" data-testid="linked-badge-[^"]*">(.*?)</article>',
                       text(client.get("/app/badges", query_string={"lt": in_moodle})), re.S).group(1)
    assert "Şampiyon" in linked and "Champion" not in linked
    assert "18 Kas 2026" in linked and "Nov" not in linked


def test_wrong_codes_are_refused_clearly_and_then_limited(app, client, platform, canvas):
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada")
    short = enter_code(client, in_canvas, "ABC")
    assert short.status_code == 422 and "Type the 8 characters" in visible(short)
    own = show_code(client, in_canvas)
    mistaken = enter_code(client, in_canvas, own)
    assert mistaken.status_code == 422 and "This code was shown in this account" in visible(mistaken)
    for _ in range(5):
        wrong = enter_code(client, in_canvas, "ZZZZ-ZZZZ")
        assert wrong.status_code == 422 and "This code is not valid" in visible(wrong)
        assert "Linked accounts page in your other LMS" in visible(wrong)
    limited = enter_code(client, in_canvas, show_code(client, in_moodle))
    assert limited.status_code == 429 and "Too many wrong codes" in visible(limited)
    assert linked_rows(app) == 0


def test_a_code_from_another_organisations_lms_is_refused(app, client, cli, platform):
    elsewhere = FakePlatform(issuer="https://canvas.other.example", client_id="c-9", deployment_id="d-9")
    try:
        assert cli(*elsewhere.register_args(org="Other Org")).exit_code == 0
        mine = launch_from(platform, client, "3", "onboarding", "Ada")
        theirs = launch_from(elsewhere, client, "x", "k", "Stranger")
        refused = enter_code(client, mine, show_code(client, theirs))
        assert refused.status_code == 422 and "another organisation" in visible(refused)
        assert linked_rows(app) == 0
    finally:
        elsewhere.close()


@pytest.mark.parametrize("marked, linked", [((), False), (("moodle",), False), (("canvas",), False),
                                            (("moodle", "canvas"), True)])
def test_the_same_e_mail_links_at_launch_only_when_both_registrations_are_marked(
        app, client, cli, platform, canvas, marked, linked):
    lms = {"moodle": platform, "canvas": canvas}
    for name in marked:
        result = cli("lti", "email-authoritative", "on", "--issuer", lms[name].issuer)
        assert result.exit_code == 0, result.output
    launch_from(platform, client, "3", "onboarding", "Ada", email="ada@example.org")
    launch_from(canvas, client, "a1b2", "academy", "Ada", email="ADA@example.org")
    assert linked_rows(app) == (2 if linked else 0)


def test_an_e_mail_the_platform_calls_unverified_never_links(app, client, cli, platform, canvas):
    for lms in (platform, canvas):
        assert cli("lti", "email-authoritative", "on", "--issuer", lms.issuer).exit_code == 0
    launch_from(platform, client, "3", "onboarding", "Ada", email="ada@example.org")
    launch_from(canvas, client, "a1b2", "academy", "Ada", email="ada@example.org", email_verified=False)
    assert linked_rows(app) == 0
    launch_from(canvas, client, "a1b2", "academy", "Ada", email="ada@example.org")
    assert linked_rows(app) == 2


def test_e_mail_authoritative_is_off_by_default_and_set_by_the_operator(app, cli, platform, canvas):
    with app.app_context():
        assert not any(db.session.scalars(select(Platform.email_authoritative)))
    result = cli("lti", "email-authoritative", "on", "--issuer", canvas.issuer, "--client-id", canvas.client_id)
    assert result.exit_code == 0 and "E-mail authoritative on" in result.output
    result = cli(*platform.register_args(), "--email-authoritative")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(db.session.scalars(select(Platform.email_authoritative))) == {True}
    assert cli("lti", "email-authoritative", "off", "--issuer", canvas.issuer).exit_code == 0
    with app.app_context():
        assert dict(db.session.execute(select(Platform.issuer, Platform.email_authoritative)).all()) == {
            platform.issuer: True, canvas.issuer: False}
    assert cli("lti", "email-authoritative", "on", "--issuer", "https://unknown.example").exit_code != 0


def test_nobody_unlinks_or_sees_someone_elses_accounts(app, client, platform, canvas):
    ada_m = launch_from(platform, client, "3", "onboarding", "Ada")
    ada_c = launch_from(canvas, client, "a1b2", "academy", "Ada")
    bo = launch_from(canvas, client, "bo", "academy", "Bo")
    teacher = launch_from(canvas, client, "t", "academy", "Teacher", **{
        "https://purl.imsglobal.org/spec/lti/claim/roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]})
    assert enter_code(client, ada_c, show_code(client, ada_m)).status_code == 303
    ada_moodle_id = actor_of(app, "3", "onboarding").user_id
    for token in (bo, teacher):  # another learner, or the course's teacher: not theirs to unlink
        assert client.post(f"/app/linked-accounts/unlink/{ada_moodle_id}", data={"lt": token}).status_code == 404
        assert "Ada" not in visible(client.get("/app/linked-accounts/", query_string={"lt": token}))
    assert client.post(f"/app/linked-accounts/unlink/{ada_moodle_id}").status_code == 401  # no launch token
    assert client.post("/app/linked-accounts/code").status_code == 401
    assert linked_rows(app) == 2


def test_a_code_between_accounts_already_linked_says_so_on_the_page(app, client, platform, canvas):
    """Two tabs typing each other's code: the second finds the accounts linked by the first."""
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace")
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    from_moodle, from_canvas = show_code(client, in_moodle), show_code(client, in_canvas)
    assert enter_code(client, in_canvas, from_moodle).status_code == 303
    late = enter_code(client, in_moodle, from_canvas)
    assert late.status_code == 409 and "These accounts are already linked." in visible(late)
    assert 'name="code"' in text(late)  # still the Linked accounts page, not an error page
    assert linked_rows(app) == 2


def test_the_linked_date_is_the_organisations_day_in_the_readers_language(app, client, platform, canvas, launch):
    """Linked late on 30 November UTC is 1 December in Istanbul; a Turkish reader reads 'Ara', not 'Dec'/'Nov'."""
    from datetime import datetime, timezone

    from tests.support.platform import LTI
    from tests.web.test_boards import set_time_zone

    assert set_time_zone(client, launch(role="admin", sub="root"), "Europe/Istanbul").status_code == 303
    turkish = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr-TR"}}
    in_moodle = launch_from(platform, client, "3", "onboarding", "Ada Lovelace", **turkish)
    in_canvas = launch_from(canvas, client, "a1b2", "academy", "Ada L.")
    assert enter_code(client, in_canvas, show_code(client, in_moodle)).status_code == 303
    with app.app_context():
        for link in db.session.scalars(select(IdentityLink)):
            link.linked_at = datetime(2026, 11, 30, 22, 30, tzinfo=timezone.utc)
        db.session.commit()
    table = visible(client.get("/app/linked-accounts/", query_string={"lt": in_moodle}))
    assert "01 Ara 2026" in table and "30 Nov 2026" not in table
