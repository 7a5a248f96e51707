"""What a launch keeps up to date besides the session it starts: expired states and ended sessions are deleted
(now and then, not on every request), and a returning person's course, name, role and status follow the LMS
(a launch that repeats what Tinker holds only records the launch time)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from plugin.extensions import db
from plugin.lti import housekeeping
from plugin.lti import views as lti_views
from plugin.lti.models import LaunchSession, OidcState
from plugin.tenancy.models import INACTIVE, Course, Membership, User
from tests.support.platform import LTI, token_from

LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock(monkeypatch):
    """The launch views' clock, moved forward on demand (the id_token's own times stay real and valid)."""
    offset = [timedelta(0)]
    real = lti_views.utcnow
    monkeypatch.setattr(lti_views, "utcnow", lambda: real() + offset[0])

    def forward(delta: timedelta) -> None:
        offset[0] += delta

    return forward


def _database_backend_only(app):
    if app.config.get("REDIS_URL"):
        pytest.skip("oidc_state rows live in Redis with a TTL there (tests/lti/test_shared_store_redis.py)")


def _states(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(OidcState.state)))


def _expire_states(app, *states: str) -> None:
    with app.app_context():
        db.session.execute(update(OidcState).where(OidcState.state.in_(states)).values(expires_at=LONG_AGO))
        db.session.commit()


def test_expired_states_are_deleted_by_a_later_login(client, platform, app, clock):
    _database_backend_only(app)
    stale, live = platform.login(client), platform.login(client)
    _expire_states(app, stale.state)
    clock(housekeeping.PURGE_EVERY)  # this instance's last purge (if any) is a minute old by then
    fresh = platform.login(client)
    assert _states(app) == {live.state, fresh.state}


def test_between_purges_an_expired_state_is_refused_and_the_next_purge_deletes_it(client, platform, app, clock):
    _database_backend_only(app)
    clock(housekeeping.PURGE_EVERY)
    platform.login(client)  # purges now: the next purge is a minute away
    stale = platform.login(client)
    _expire_states(app, stale.state)
    platform.login(client)
    assert stale.state in _states(app)  # not yet deleted, but it no longer launches:
    client.set_cookie(lti_views.state_cookie(stale.state), stale.state)  # as the browser that started it
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(stale.nonce)),
                                                "state": stale.state})
    assert response.status_code == 400 and b"unknown or has expired" in response.data
    clock(housekeeping.PURGE_EVERY)
    platform.login(client)
    assert stale.state not in _states(app)


def test_a_backlog_larger_than_a_batch_is_deleted_by_the_following_logins(client, platform, app, clock, monkeypatch):
    _database_backend_only(app)
    monkeypatch.setattr(housekeeping, "BATCH", 2)
    monkeypatch.setattr(housekeeping, "_STATEMENTS", {})
    stale = [platform.login(client).state for _ in range(5)]
    _expire_states(app, *stale)
    clock(housekeeping.PURGE_EVERY)
    platform.login(client)  # deletes 2 of 5 and stays due
    assert len(_states(app) & set(stale)) == 3
    platform.login(client)
    platform.login(client)  # 2 + 2 + 1: done
    assert not _states(app) & set(stale)


def test_ended_launch_sessions_are_deleted_by_a_later_launch(client, platform, app, clock):
    old = token_from(platform.launch(client, sub="old")[0])
    with app.app_context():
        db.session.execute(update(LaunchSession).values(expires_at=LONG_AGO))
        db.session.commit()
    assert client.get("/app/", query_string={"lt": old}).status_code == 401
    clock(housekeeping.PURGE_EVERY)
    token_from(platform.launch(client, sub="new")[0])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LaunchSession)) == 1


def test_cli_purge_deletes_every_expired_state_and_ended_session(client, platform, app, cli, monkeypatch):
    _database_backend_only(app)
    monkeypatch.setattr(housekeeping, "BATCH", 2)  # several batches, one command
    monkeypatch.setattr(housekeeping, "_STATEMENTS", {})
    for sub in ("a", "b", "c"):
        token_from(platform.launch(client, sub=sub)[0])
    stale = [platform.login(client).state for _ in range(3)]
    live = platform.login(client).state
    _expire_states(app, *stale)
    with app.app_context():
        db.session.execute(update(LaunchSession).values(expires_at=LONG_AGO))
        db.session.commit()
    result = cli("lti", "purge-expired")
    assert result.exit_code == 0, result.output
    assert "3 expired login states" in result.output and "3 ended launch sessions" in result.output
    assert live in _states(app) and not _states(app) & set(stale)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LaunchSession)) == 0


# --- a returning person ---------------------------------------------------------------------------

def _member(app, sub: str) -> tuple[User, Membership, Course]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.sub == sub))
        membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
        course = db.session.get(Course, membership.course_id)
        db.session.expunge_all()
        return user, membership, course


def test_a_returning_launch_records_its_time_and_keeps_everything_else(client, platform, app, clock):
    token_from(platform.launch(client, sub="ada", name="Ada Lovelace")[0])
    _user, first, _course = _member(app, "ada")
    clock(timedelta(minutes=5))
    token_from(platform.launch(client, sub="ada", name=None)[0])  # an LMS that withholds the name this time
    user, again, _course = _member(app, "ada")
    assert again.last_launch_at - first.last_launch_at >= timedelta(minutes=5)
    assert user.name == "Ada Lovelace" and again.role == "learner" and again.id == first.id


def test_names_and_titles_from_the_lms_are_stored_as_names_are(client, platform, app):
    """NFC, control characters left out, single spaces: a name an LMS sends decomposed is the name typed on a
    keyboard that composes it, and no escape code or line break reaches pages, exports or logs."""
    token_from(platform.launch(client, sub="cy", name="Ays\u0327e\x1b[1m  O\u0308ztu\u0308rk\n", overrides={
        LTI + "context": {"id": "course-1", "title": "Ölçme\x07 ve\r\nDeğerlendirme", "label": "O\u0308D\x00"}})[0])
    user, _membership, course = _member(app, "cy")
    assert (user.name, course.title, course.label) == ("Ayşe [1m Öztürk", "Ölçme ve Değerlendirme", "ÖD")


def test_a_returning_launch_brings_new_names_titles_and_roles(client, platform, app):
    token_from(platform.launch(client, sub="bo", role="learner", name="Bo")[0])
    response, _ = platform.launch(client, sub="bo", role="instructor", name="Bo Canvas", overrides={
        LTI + "context": {"id": "course-1", "title": "Renamed course", "label": "RC"}})
    token_from(response)
    user, membership, course = _member(app, "bo")
    assert (user.name, membership.role, course.title, course.label) == ("Bo Canvas", "manager", "Renamed course", "RC")


def test_a_launch_reactivates_a_member_the_roster_had_marked_inactive(client, platform, app):
    token_from(platform.launch(client, sub="cy")[0])
    with app.app_context():
        db.session.execute(update(Membership).values(status=INACTIVE))
        db.session.commit()
    token_from(platform.launch(client, sub="cy")[0])
    assert _member(app, "cy")[1].status == "active"


def test_a_learner_who_comes_back_as_instructor_leaves_the_board_and_a_returning_learner_stays(client, platform,
                                                                                                 app):
    from plugin.leaderboards.queries import Scope
    from plugin.leaderboards.queries import board as course_board
    from plugin.ledger.service import Posting, post_entry

    for sub, name in (("ada", "Ada"), ("bo", "Bo")):
        token_from(platform.launch(client, sub=sub, name=name)[0])
    with app.app_context():
        for sub, points in (("ada", 10), ("bo", 5)):
            user = db.session.scalar(select(User).where(User.sub == sub))
            membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
            course = db.session.get(Course, membership.course_id)
            post_entry(Posting(organisation_id=course.organisation_id, course_id=course.id, user_id=user.id,
                               amount=points, dimension="experimenting", source_type="manual", source_id=None,
                               key=f"returning:{sub}"), datetime.now(timezone.utc))
        db.session.commit()
        course_id = membership.course_id
    token_from(platform.launch(client, sub="bo", name="Bo")[0])  # nothing changed
    token_from(platform.launch(client, sub="ada", role="instructor", name="Ada")[0])
    with app.app_context():
        assert [row.name for row in course_board(Scope.course(course_id)).rows] == ["Bo"]


# --- one launch, posted several times at once ------------------------------------------------------

def test_the_same_launch_posted_four_times_at_once_starts_exactly_one_session(platform, live_server, app):
    """The checks run before the state is spent (in its own short write transaction): of simultaneous posts
    of one id_token exactly one wins, the others are refused as already used, none fails otherwise."""
    import threading
    from urllib.parse import parse_qs, urlsplit

    import requests

    base = live_server.base_url
    login = requests.post(f"{base}/lti/login", allow_redirects=False, timeout=30, data={
        "iss": platform.issuer, "login_hint": "racer", "target_link_uri": f"{base}/lti/launch",
        "client_id": platform.client_id, "lti_deployment_id": platform.deployment_id})
    assert login.status_code == 302, login.text[:500]
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    form = {"id_token": platform.sign(platform.claims(query["nonce"][0], sub="racer")), "state": query["state"][0]}
    barrier, answers = threading.Barrier(4), []

    def post() -> None:
        barrier.wait()
        answer = requests.post(f"{base}/lti/launch", data=form, cookies=login.cookies, allow_redirects=False,
                               timeout=30)
        answers.append((answer.status_code, "already used" in answer.text))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [(303, False), (400, True), (400, True), (400, True)]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LaunchSession)) == 1
