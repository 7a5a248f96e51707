"""Staged rotation of the tool's signing key: `flask lti rotate-key` publishes the new key at once and signs with it
only after a delay, so a platform that caches the tool's key set has fetched it before anything signed with it
arrives. Clocks are injected (the CLI's, the deep-linking view's, the signing calls' `now`, and the monotonic
clock behind the remembered signing key); nothing sleeps."""
from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from plugin.core.clock import utcnow
from plugin.errors import Conflict
from plugin.extensions import db
from plugin.lti import key_cli, keys, service_token
from plugin.lti import views as lti_views
from plugin.lti.service_token import ServiceClient
from plugin.tenancy.models import Platform
from tests.lti.test_deep_linking import picker_token, submitted_jwt
from tests.services.test_concurrency import race
from tests.support.ags import SCOPES, FakeAgs
from tests.support.platform import FakePlatform

DAY = timedelta(hours=24)


def published(client) -> list[str]:
    return [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]


def signer(app, now) -> str:
    with app.app_context():
        return jwt.get_unverified_header(keys.sign({"x": 1}, now=now))["kid"]


def rotate(cli, *args) -> tuple[str, str]:
    result = cli("lti", "rotate-key", *args)
    assert result.exit_code == 0, result.output
    return result.output, re.search(r"(?:New|First signing) key (\w+)", result.output).group(1)


def first_key(client) -> str:
    (kid,) = published(client)  # /lti/jwks makes the first key when there is none
    return kid


def states(app, now) -> dict[str, keys.KeyState]:
    with app.app_context():
        return {s.kid: s for s in keys.key_states(now)}


def _clock_of(module, monkeypatch):
    """`module`'s clock, moved forward on demand by the function returned."""
    offset = [timedelta(0)]
    monkeypatch.setattr(module, "utcnow", lambda: utcnow() + offset[0])

    def forward(delta: timedelta) -> None:
        offset[0] += delta

    return forward


@pytest.fixture
def cli_clock(monkeypatch):
    """The CLI's clock, moved forward on demand."""
    return _clock_of(key_cli, monkeypatch)


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch):
    fake = Monotonic()
    monkeypatch.setattr(keys, "time", fake)
    return fake


# --- what the operator sees -----------------------------------------------------------------------

def test_a_new_key_is_published_at_once_and_signs_a_day_later(app, client, cli):
    old = first_key(client)
    before = utcnow()
    output, new = rotate(cli)
    after = utcnow()
    assert published(client) == [old, new]  # both published; the signing key first
    starts = states(app, after)[new].signs_from
    assert before + DAY <= starts <= after + DAY
    assert f"signs from {starts:%Y-%m-%d %H:%M} UTC (in 24h); until then {old} signs" in output
    assert f"`flask lti remove-key {old}`" in output
    assert signer(app, after) == old
    assert signer(app, starts - timedelta(seconds=1)) == old
    assert signer(app, starts) == new


def test_after_sets_the_delay(app, client, cli):
    old = first_key(client)
    output, new = rotate(cli, "--after", "1h30m")
    starts = states(app, utcnow())[new].signs_from
    assert "(in 1h30m)" in output and f"signs from {starts:%Y-%m-%d %H:%M} UTC" in output
    assert signer(app, starts - timedelta(seconds=1)) == old and signer(app, starts) == new
    refused = cli("lti", "rotate-key", "--after", "90")
    assert refused.exit_code == 2 and "'90' is not a duration" in refused.output


def test_a_delay_shorter_than_instances_take_to_see_the_key_is_refused(app, client, cli):
    old = first_key(client)
    refused = cli("lti", "rotate-key", "--after", "30s")
    assert refused.exit_code == 2
    assert "--after 30s is shorter than 1m" in refused.output and "--now" in refused.output
    assert published(client) == [old]  # nothing added
    _, new = rotate(cli, "--after", "1m")
    assert published(client) == [old, new]


@pytest.mark.parametrize("args", [["--now"], ["--after", "0"]])
def test_now_signs_with_the_new_key_at_once_and_removes_nothing(app, client, cli, args):
    old = first_key(client)
    output, new = rotate(cli, *args)
    assert signer(app, utcnow()) == new
    assert published(client) == [new, old]
    assert f"New key {new} signs now" in output
    assert f"Nothing was removed: {old} stays published (if it leaked, remove it now with " \
           f"`flask lti remove-key {old}`)" in output
    assert cli("lti", "remove-key", old).exit_code == 0  # a leaked key goes at once
    assert published(client) == [new]


def test_rotate_key_on_an_empty_table_makes_a_first_key_that_signs_at_once(app, client, cli):
    """The deploy guide's step 5 (`db upgrade`, then `lti rotate-key`): no key to wait for."""
    output, kid = rotate(cli)
    assert output.startswith(f"First signing key {kid}: it signs now")
    assert published(client) == [kid] and signer(app, utcnow()) == kid


def test_keys_lists_what_each_key_does(app, client, cli, cli_clock):
    oldest = first_key(client)
    _, middle = rotate(cli, "--now")
    _, newest = rotate(cli, "--after", "2h")
    result = cli("lti", "keys")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["KID", "CREATED", "(UTC)", "STATE"]
    listed = states(app, utcnow())
    assert lines[1].startswith(f"{newest}  {listed[newest].created_at:%Y-%m-%d %H:%M}  next: signs from "
                               f"{listed[newest].signs_from:%Y-%m-%d %H:%M} UTC (in 2h)")
    assert lines[2].startswith(f"{middle}  ") and lines[2].endswith(
        f"  signing (since {listed[middle].signs_from:%Y-%m-%d %H:%M} UTC)")
    assert lines[3].startswith(f"{oldest}  ") and lines[3].endswith("  published, not signing (older)")
    assert "remove it (`flask lti remove-key KID`)" in lines[4]

    cli_clock(timedelta(hours=2))  # the waiting key has started
    lines = cli("lti", "keys").output.splitlines()
    assert lines[1].startswith(f"{newest}  ") and "  signing (since " in lines[1]
    assert lines[2].endswith("published, not signing (older)") and lines[3].endswith("published, not signing (older)")


# --- removing keys --------------------------------------------------------------------------------

def test_remove_key_refuses_the_signing_key_and_cancels_a_waiting_one(app, client, cli):
    old = first_key(client)
    refused = cli("lti", "remove-key", old)
    assert refused.exit_code == 1 and "that is the key signing now" in refused.output
    _, new = rotate(cli)
    refused = cli("lti", "remove-key", old)  # it still signs until the new key starts
    assert refused.exit_code == 1 and "that is the key signing now" in refused.output
    starts = states(app, utcnow())[new].signs_from
    cancelled = cli("lti", "remove-key", new)
    assert cancelled.exit_code == 0, cancelled.output
    assert f"Cancelled the rotation: removed key {new}, which was to sign from {starts:%Y-%m-%d %H:%M} UTC" \
        in cancelled.output
    assert published(client) == [old]
    assert signer(app, starts + timedelta(days=1)) == old  # the switch is gone with it
    missing = cli("lti", "remove-key", "no-such-kid")
    assert missing.exit_code == 1 and "no tool key with kid 'no-such-kid'" in missing.output


def test_the_old_key_may_go_once_the_new_one_signs(app, client, cli, cli_clock):
    old = first_key(client)
    _, new = rotate(cli)
    cli_clock(DAY + timedelta(minutes=5))
    refused = cli("lti", "remove-key", new)
    assert refused.exit_code == 1 and "that is the key signing now" in refused.output
    assert cli("lti", "remove-key", old).exit_code == 0
    assert published(client) == [new]


# --- rotating twice ---------------------------------------------------------------------------------

def test_a_second_rotation_while_a_key_waits_is_refused_unless_now(app, client, cli):
    old = first_key(client)
    _, waiting = rotate(cli)
    refused = cli("lti", "rotate-key", "--after", "10m")
    assert refused.exit_code == 1
    assert f"key {waiting} already waits to sign" in refused.output
    assert f"`flask lti remove-key {waiting}`" in refused.output and "--now" in refused.output
    assert published(client) == [old, waiting]  # nothing added

    output, urgent = rotate(cli, "--now")  # the old key leaked meanwhile
    assert f"Key {waiting} waited to sign and now never will" in output
    assert signer(app, utcnow()) == urgent
    assert signer(app, utcnow() + 2 * DAY) == urgent  # past the abandoned key's moment: still the newest
    assert states(app, utcnow() + 2 * DAY)[waiting].state == keys.OLDER


# --- the secret key changed -----------------------------------------------------------------------

def test_when_the_signing_key_no_longer_decrypts_the_new_key_signs_at_once(app, client, cli, platform, monkeypatch):
    """Staging would leave nothing able to sign for a day: the deep-linking page's advice ("run `flask lti
    rotate-key`, then try again") works right away."""
    old = first_key(client)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key-entirely-0123456789")
    listing = cli("lti", "keys").output
    assert "signing (since" in listing and "cannot be decrypted with this TINKER_SECRET_KEY" in listing
    output, new = rotate(cli)
    assert f"The signing key {old} cannot be decrypted with this TINKER_SECRET_KEY, so nothing could sign while a " \
           "new key waited 24h." in output
    assert f"New key {new} signs now" in output and f"`flask lti remove-key {old}`" in output
    token = picker_token(client, platform)
    answer = submitted_jwt(client.post("/lti/deep-link", data={"lt": token, "view": "leaderboard"}))
    assert jwt.get_unverified_header(answer)["kid"] == new


# --- what platforms receive -------------------------------------------------------------------------

@pytest.fixture
def view_clock(monkeypatch):
    """The LTI views' clock (the deep-linking answer is signed at its `now`)."""
    return _clock_of(lti_views, monkeypatch)


def test_deep_linking_answers_carry_the_old_kid_until_the_new_key_signs(app, client, cli, platform, view_clock):
    old = first_key(client)
    _, new = rotate(cli)
    before, after = picker_token(client, platform), picker_token(client, platform)
    answer = submitted_jwt(client.post("/lti/deep-link", data={"lt": before, "view": "leaderboard"}))
    assert jwt.get_unverified_header(answer)["kid"] == old
    view_clock(DAY + timedelta(seconds=1))
    answer = submitted_jwt(client.post("/lti/deep-link", data={"lt": after, "view": "leaderboard"}))
    assert jwt.get_unverified_header(answer)["kid"] == new
    key = next(k for k in client.get("/lti/jwks").get_json()["keys"] if k["kid"] == new)
    claims = jwt.decode(answer, jwt.PyJWK(key).key, algorithms=["RS256"], audience=platform.issuer,
                        options={"verify_iat": False})  # issued by the view's clock, a day ahead
    assert claims["iss"] == platform.client_id


def test_a_platform_caching_the_key_set_from_before_the_rotation_keeps_getting_tokens(app, client, cli):
    """The platform fetched the tool's key set before the rotation and refreshes it within the day: every client
    assertion verifies against what it holds (with a rotation that signed at once, the next one was refused)."""
    held = {}
    ags = FakeAgs("client-123", lambda: held["set"])
    lms = FakePlatform()
    try:
        assert cli(*lms.register_args(token_url=ags.token_url)).exit_code == 0
        service_token.forget()
        held["set"] = client.get("/lti/jwks").get_json()
        (old,) = [k["kid"] for k in held["set"]["keys"]]
        _, new = rotate(cli)
        with app.app_context():
            target = ServiceClient.of(db.session.scalars(select(Platform)).one())
            now = utcnow()
            assert service_token.access_token(target, tuple(SCOPES), now)
            assert jwt.get_unverified_header(ags.token_requests[-1]["client_assertion"])["kid"] == old

            held["set"] = client.get("/lti/jwks").get_json()  # its daily refresh, before the new key signs
            service_token.forget()
            assert service_token.access_token(target, tuple(SCOPES), now + DAY + timedelta(minutes=1))
            assert jwt.get_unverified_header(ags.token_requests[-1]["client_assertion"])["kid"] == new
        assert not ags.token_errors
    finally:
        service_token.forget()
        lms.close()
        ags.close()


# --- several instances ------------------------------------------------------------------------------

@pytest.mark.parametrize("delay", [timedelta(seconds=20), timedelta(minutes=10)])
def test_another_instance_switches_by_current_ttl_after_the_new_key_starts(app, client, monotonic, delay):
    """This process stands for an instance that remembered the signing key just before another instance staged a
    new one: it never signs with the new key early, and does by CURRENT_TTL after its start at the latest (at its
    very start when it has read the table since the rotation, as with any delay longer than CURRENT_TTL)."""
    old = first_key(client)
    t0 = utcnow()
    with app.app_context():
        assert keys.sign({}, now=t0)  # remembered here
        remembered = dict(keys._current)
        new = keys.rotate_key(t0, t0 + delay).key.kid  # "on another instance"
        db.session.commit()
        keys._current.update(remembered)  # which leaves this one's memory as it was
    switched, step = None, timedelta(seconds=5)
    moment = t0
    while switched is None and moment < t0 + delay + 3 * timedelta(seconds=keys.CURRENT_TTL):
        moment += step
        monotonic.now += step.total_seconds()
        kid = signer(app, moment)
        assert kid == old or moment >= t0 + delay, moment - t0  # never early
        if kid == new:
            switched = moment
    assert switched is not None and switched - (t0 + delay) <= timedelta(seconds=keys.CURRENT_TTL)
    if delay > timedelta(seconds=keys.CURRENT_TTL):
        assert switched == t0 + delay


@pytest.mark.parametrize("round_", range(3))
def test_rotations_at_the_same_moment_stage_one_key(app, client, round_):
    """Two operators (or a retried deploy script) rotating at once: one new key waits, the others are refused, as
    they would be one after the other. Without turns both read that no key waits and each add one."""
    first = first_key(client)
    now = utcnow()

    def rotate_at_once(_i):
        try:
            rotation = keys.rotate_key(now, now + DAY)
        except Conflict as err:
            db.session.rollback()
            return err
        db.session.commit()
        return rotation.key.kid

    with app.app_context():
        results = race(app, rotate_at_once, 3)
    staged = [r for r in results if isinstance(r, str)]
    assert len(staged) == 1 and sum(isinstance(r, Conflict) for r in results) == 2, results
    assert published(client) == [first, staged[0]]
    assert {kid: s.state for kid, s in states(app, now).items()} == {first: keys.SIGNING, staged[0]: keys.NEXT}


def test_two_instances_making_the_first_key_at_once_make_one(app, client):
    def first(_i):
        keys.ensure_key(utcnow())
        db.session.commit()

    with app.app_context():
        race(app, first, 3)
    assert len(published(client)) == 1
