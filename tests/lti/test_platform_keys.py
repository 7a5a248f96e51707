"""Platform key sets: an unknown kid refetches the set, but at most once per MIN_REFETCH per key set whatever
arrives (junk kids cannot make Tinker hammer an LMS), and one LMS's slow key set holds up only its own
launches. The clock is injected; the key sets are served over real HTTP."""
from __future__ import annotations

import threading

import pytest

from plugin.errors import LaunchRejected
from plugin.lti import platform_keys
from tests.support.platform import FakePlatform
from tests.support.refusals import assert_refused_privately

TTL, TIMEOUT = 300.0, 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(platform_keys, "time", fake)
    platform_keys.forget()
    yield fake
    platform_keys.forget()


@pytest.fixture
def lms():
    platform = FakePlatform()
    yield platform
    platform.close()


def junk(url: str, n: int) -> None:
    for i in range(n):
        with pytest.raises(LaunchRejected, match="does not publish"):
            platform_keys.key_for(url, f"junk-{i}", TTL, TIMEOUT)


def test_unknown_kids_refetch_at_most_once_per_interval(clock, lms):
    url = lms.server.url
    platform_keys.key_for(url, "platform-key-1", TTL, TIMEOUT)
    assert lms.server.fetches == 1
    junk(url, 5)  # right after a fetch: nothing new to learn
    assert lms.server.fetches == 1
    clock.now += platform_keys.MIN_REFETCH
    junk(url, 5)  # one refetch for the five
    assert lms.server.fetches == 2
    # The LMS rotates its key: the first launch signed with it after the interval finds it.
    lms.rotate("platform-key-2")
    clock.now += platform_keys.MIN_REFETCH
    platform_keys.key_for(url, "platform-key-2", TTL, TIMEOUT)
    platform_keys.key_for(url, "platform-key-1", TTL, TIMEOUT)  # the old key stays usable while published
    assert lms.server.fetches == 3
    clock.now += TTL  # and the whole set is refreshed once its time to live is over
    platform_keys.key_for(url, "platform-key-2", TTL, TIMEOUT)
    assert lms.server.fetches == 4


def test_a_hanging_key_set_holds_up_only_its_own_platform(clock, lms):
    slow = FakePlatform(issuer="https://slow-lms.example", client_id="slow")
    slow.server.hold = threading.Event()
    try:
        stuck = threading.Thread(target=lambda: platform_keys.key_for(slow.server.url, "platform-key-1", TTL,
                                                                      TIMEOUT), daemon=True)
        stuck.start()
        while slow.server.fetches == 0 and stuck.is_alive():  # the slow LMS has the request and sits on it
            threading.Event().wait(0.01)
        done = threading.Event()
        threading.Thread(target=lambda: (platform_keys.key_for(lms.server.url, "platform-key-1", TTL, TIMEOUT),
                                         done.set()), daemon=True).start()
        assert done.wait(20), "another platform's key lookup waited for the hanging key set"
        assert stuck.is_alive()  # still waiting for its own LMS
    finally:
        slow.server.hold.set()
        stuck.join(10)
        slow.close()


def test_an_unreachable_key_set_is_tried_at_most_once_per_interval_and_known_keys_keep_working(clock, lms):
    url = lms.server.url
    platform_keys.key_for(url, "platform-key-1", TTL, TIMEOUT)
    lms.server.failing = True
    clock.now += TTL  # the cached set is due for a refresh, and the LMS's key set is down
    for _launch in range(5):
        platform_keys.key_for(url, "platform-key-1", TTL, TIMEOUT)  # the last good set still verifies
    assert lms.server.fetches == 2  # one try for the five
    for _launch in range(5):
        with pytest.raises(LaunchRejected, match="could not be fetched"):
            platform_keys.key_for(url, "rotated-meanwhile", TTL, TIMEOUT)
    assert lms.server.fetches == 2
    clock.now += platform_keys.MIN_REFETCH
    lms.server.failing = False
    lms.rotate("rotated-meanwhile")
    platform_keys.key_for(url, "rotated-meanwhile", TTL, TIMEOUT)
    assert lms.server.fetches == 3


def test_a_key_set_never_fetched_refuses_clearly_without_hammering(clock):
    down = FakePlatform(issuer="https://down-lms.example", client_id="down")
    down.server.failing = True
    try:
        for _launch in range(5):
            with pytest.raises(LaunchRejected, match="could not be fetched"):
                platform_keys.key_for(down.server.url, "platform-key-1", TTL, TIMEOUT)
        assert down.server.fetches == 1
    finally:
        down.close()


def test_only_signing_keys_of_a_key_set_are_kept():
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    from plugin.lti.platform_keys import _parse

    def jwk(kid, **extra):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": kid, **extra}

    parsed = _parse({"keys": [jwk("signing", use="sig"), jwk("unmarked"), jwk("encryption", use="enc")]})
    assert sorted(parsed) == ["signing", "unmarked"]


def test_a_key_set_sent_a_byte_at_a_time_is_given_up_within_twice_the_timeout(clock, lms):
    """Each read waits at most the timeout, and a byte every 0.2 s never lets one wait that long: the whole exchange is
    bounded too, or one platform could hold a launch (and every launch waiting for its keys) as long as it liked."""
    import time as real

    lms.server.trickle = 0.2
    started = real.monotonic()
    with pytest.raises(LaunchRejected, match="could not be fetched") as refused:
        platform_keys.key_for(lms.server.url, "platform-key-1", TTL, 1.0)
    assert real.monotonic() - started < 6  # twice the timeout, and a last read; the key set takes ~100 s this way
    assert "did not finish arriving within 2 s" in refused.value.hint


def test_a_huge_key_set_is_refused_not_read_into_memory(clock, lms):
    lms.server.padding = platform_keys.MAX_KEY_SET
    with pytest.raises(LaunchRejected, match="could not be fetched") as refused:
        platform_keys.key_for(lms.server.url, "platform-key-1", TTL, TIMEOUT)
    assert "more than 256 KB" in refused.value.hint
    lms.server.padding = 0
    clock.now += platform_keys.MIN_REFETCH
    assert platform_keys.key_for(lms.server.url, "platform-key-1", TTL, TIMEOUT)


def test_a_launch_waits_for_another_launchs_fetch_of_the_same_key_set_no_longer_than_the_fetch_may_last(
        clock, lms, monkeypatch):
    """A fetch stuck where no timeout reaches (a host name the resolver never answers): launches of the same platform
    wait for it at most as long as a fetch may last, then are refused, rather than pile up behind it."""
    import time as real

    stuck, release = threading.Event(), threading.Event()

    def hanging(_url, _timeout):
        stuck.set()
        release.wait(30)
        raise LaunchRejected("gave up")

    monkeypatch.setattr(platform_keys, "_download", hanging)
    first = threading.Thread(target=lambda: pytest.raises(LaunchRejected, platform_keys.key_for, lms.server.url,
                                                          "platform-key-1", TTL, 0.5), daemon=True)
    first.start()
    try:
        assert stuck.wait(10)
        started = real.monotonic()
        with pytest.raises(LaunchRejected, match="being fetched"):
            platform_keys.key_for(lms.server.url, "junk", TTL, 0.5)
        assert real.monotonic() - started < 2.5  # 2 x 0.5 s + 1 s
    finally:
        release.set()
        first.join(10)


def test_where_lmss_are_kept_to_public_addresses_a_key_set_on_the_servers_own_network_is_never_fetched(
        app, clock, lms, monkeypatch, caplog):
    """A launch from an LMS whose key set URL is on a private address (here loopback) is refused before Tinker
    connects, the address in the operator's log only; allowed (development, or the operator's TINKER_LTI_ALLOW_PRIVATE_PLATFORMS),
    the same key set is fetched."""
    with app.app_context():
        monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", False)
        with pytest.raises(LaunchRejected, match="could not be fetched") as refused:
            platform_keys.key_for(lms.server.url, "platform-key-1", TTL, TIMEOUT)
        assert_refused_privately(str(refused.value.hint), caplog.text)
        assert lms.server.fetches == 0
        clock.now += platform_keys.MIN_REFETCH
        monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", True)
        platform_keys.key_for(lms.server.url, "platform-key-1", TTL, TIMEOUT)
        assert lms.server.fetches == 1
