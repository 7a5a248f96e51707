"""The revocation list of Open Badges 3.0 credentials, read as a verifier reads it: each organisation's list is its
own (its length follows nothing another organisation does), an index is random and says nothing about when or in
which order badges were awarded, revoking sets that one credential's bit, and an index never changes once given."""
from __future__ import annotations

import base64
import gzip
from dataclasses import replace

import jwt
import pytest
from sqlalchemy import select, update

from plugin.badges import credentials, status
from plugin.badges import openbadges as ob
from plugin.badges.models import BadgeAward, StatusEntry
from plugin.extensions import db
from tests.badges.conftest import World, award, make_world
from tests.services.factories import NOW, later
from tests.support.migrating import migrated_app, step_back_and_upgrade

URLS = ob.Urls("http://localhost")


def awards(world: World, count: int, first: int = 0) -> list[str]:
    """`count` awards to the world's learner, of badges extra-`first`... (one each); their public ids in award order."""
    from plugin.badges.service import get_or_create_badge

    pids = []
    for n in range(first, first + count):
        badge = get_or_create_badge(world.org_id, f"extra-{n}", NOW, name=f"Extra {n}", manual=True)
        pids.append(award(replace(world, badge_id=badge.id)))
    return pids


def award_id(pid: str) -> int:
    return db.session.scalar(select(BadgeAward.id).where(BadgeAward.public_id == pid))


def index_served(client, pid: str) -> int:
    """The statusListIndex of the award's credential as a wallet downloads it."""
    response = client.get(f"/ob/v3/credentials/{pid}.json")
    assert response.status_code == 200
    entry = response.get_json(force=True)["credentialStatus"]
    assert entry["id"].endswith(f"#{entry['statusListIndex']}")
    return int(entry["statusListIndex"])


def bits_served(client, organisation_id: int) -> bytes:
    """The organisation's status list as a verifier fetches and decodes it."""
    response = client.get(f"/ob/v3/issuers/{organisation_id}/status/revocation")
    assert response.status_code == 200
    return bits_of(response.get_data(as_text=True))


def bits_of(token: str) -> bytes:
    """A status list credential's bitstring (multibase 'u', base64url, gzip)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    encoded = claims["credentialSubject"]["encodedList"]
    assert encoded.startswith("u")
    return gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))


def set_bits(bits: bytes) -> set[int]:
    return {i for i in range(len(bits) * 8) if bits[i // 8] & (0x80 >> (i % 8))}


def test_an_organisations_list_does_not_follow_another_organisations_awards(appctx, client):
    """A verifier of one organisation's badge must not learn how many badges the whole installation gave: the list
    used to be as long as the highest award id of every organisation."""
    a = make_world()
    a_pid = award(a)
    db.session.commit()
    index_served(client, a_pid)
    before = bits_served(client, a.org_id)
    assert len(before) * 8 == status.MIN_LIST_BITS

    b = make_world(organisation="Org B", issuer="https://lms.b.example", sub="b-1")
    b_pid = award(b)
    # As if the installation had made 200,000 awards since: B's award takes that id (the next one follows it).
    db.session.execute(update(BadgeAward).where(BadgeAward.public_id == b_pid).values(id=200_000))
    awards(b, 3)
    db.session.commit()
    index_served(client, b_pid)

    assert bits_served(client, a.org_id) == before


def test_new_awards_get_distinct_random_indexes_not_their_ids_nor_their_order(appctx, client):
    world = make_world()
    pids = awards(world, 20)
    db.session.commit()
    ids = [award_id(pid) for pid in pids]

    indexes = [index_served(client, pid) for pid in pids]  # credentials made in award order
    assert len(set(indexes)) == 20
    assert all(0 <= index < status.MIN_LIST_BITS for index in indexes)
    assert indexes != ids
    assert indexes != sorted(indexes)  # 20 random draws in increasing order: 1 in 20! (~2e18)


def test_an_awards_index_never_changes_across_credentials_and_formats(appctx, client):
    world = make_world()
    pid = award(world)
    db.session.commit()

    first = index_served(client, pid)
    token = client.get(f"/ob/v3/credentials/{pid}.jwt").get_data(as_text=True)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert int(claims["credentialStatus"]["statusListIndex"]) == first
    assert index_served(client, pid) == first
    db.session.rollback()
    assert db.session.scalar(select(StatusEntry.status_index).where(StatusEntry.award_id == award_id(pid))) == first


def test_revoking_sets_exactly_that_credentials_bit_in_its_own_organisations_list(appctx, client):
    from plugin.recognition.service import revoke_badge

    a = make_world()
    b = make_world(organisation="Org B", issuer="https://lms.b.example", sub="b-1")
    a_pids, b_pids = awards(a, 5), awards(b, 5)
    db.session.commit()
    a_indexes = [index_served(client, pid) for pid in a_pids]
    for pid in b_pids:
        index_served(client, pid)
    assert set_bits(bits_served(client, a.org_id)) == set() == set_bits(bits_served(client, b.org_id))

    revoke_badge(a.manager, award_id(a_pids[2]), "Awarded by mistake", later(5))
    db.session.commit()
    assert set_bits(bits_served(client, a.org_id)) == {a_indexes[2]}
    assert set_bits(bits_served(client, b.org_id)) == set()

    # An award revoked before any credential was made for it: its first credential is revoked in the list at once.
    [late] = awards(a, 1, first=5)
    revoke_badge(a.manager, award_id(late), "Awarded by mistake", later(6))
    db.session.commit()
    late_index = index_served(client, late)
    assert set_bits(bits_served(client, a.org_id)) == {a_indexes[2], late_index}


def test_a_list_more_than_half_taken_doubles_and_indexes_are_drawn_from_its_length(appctx, client, monkeypatch):
    """The minimum shrunk to 8 entries so a list fills: 4 taken fit in 8, a 5th makes it 16, a 9th 32."""
    monkeypatch.setattr(status, "MIN_LIST_BITS", 8)
    world = make_world()
    pids = awards(world, 9)
    db.session.commit()

    indexes = [index_served(client, pid) for pid in pids]
    assert all(index < 8 for index in indexes[:5])  # drawn while 0-4 of the 8 were taken
    assert all(index < 16 for index in indexes[5:])  # 5-8 taken: 16 long
    assert len(set(indexes)) == 9
    assert len(bits_served(client, world.org_id)) * 8 == 32  # 9 taken


@pytest.mark.parametrize(("taken", "highest", "length"), [
    (0, None, 131072), (65536, 131071, 131072), (65537, 131071, 262144), (1, 140000, 262144),
    (131073, 262143, 524288),
])
def test_list_length(taken, highest, length):
    assert status.length_for(taken, highest) == length


def test_two_requests_making_an_awards_first_credential_at_once_agree_on_its_index(app, appctx):
    """Two app instances asked for the same new award's credential at once: the second waits for the first's index
    (PostgreSQL: on its row; SQLite: its turn to write) and hands out the same one, with no error."""
    from tests.services.test_concurrency import race, while_the_first_waits_to_commit

    world = make_world()
    pid, other = awards(world, 2)

    def index_of(public_id):
        return lambda *_: credentials.credential(ob.hosted(public_id), URLS)["credentialStatus"]["statusListIndex"]

    def committed(work):
        def run(*args):
            index = work(*args)
            db.session.commit()
            return index
        return run

    first, second = while_the_first_waits_to_commit(app, index_of(pid), index_of(pid))
    assert first == second
    raced = race(app, committed(index_of(other)))
    assert len(set(raced)) == 1
    db.session.rollback()
    rows = db.session.execute(select(StatusEntry.award_id, StatusEntry.status_index)).all()
    assert sorted(rows) == sorted([(award_id(pid), int(first)), (award_id(other), int(raced[0]))])


def test_awards_from_before_random_indexes_keep_their_ids_as_indexes_and_their_bits(tmp_path):
    """Migration 0035: a credential handed out before it carries its award's id as its index; revoking the award must
    still set that bit, however high the id (the list is then long enough to hold it)."""
    from plugin.recognition.service import revoke_badge

    with migrated_app(tmp_path):
        world = make_world()
        early, far = awards(world, 2)
        # As if the installation had made 140,000 awards before this one: an id beyond the list's minimum length.
        db.session.execute(update(BadgeAward).where(BadgeAward.public_id == far).values(id=140_000))
        step_back_and_upgrade("0034")

        def served(pid):
            return int(credentials.credential(ob.hosted(pid), URLS)["credentialStatus"]["statusListIndex"])

        assert served(early) == award_id(early) and served(far) == 140_000
        revoke_badge(world.manager, award_id(far), "Awarded by mistake", later(5))
        bits = bits_of(credentials.status_list_jwt(world.org_id, URLS, later(6)))
        assert len(bits) * 8 == 2 * status.MIN_LIST_BITS and set_bits(bits) == {140_000}
        [new] = awards(world, 1, first=2)
        assert served(new) not in (award_id(early), 140_000) and served(new) < 2 * status.MIN_LIST_BITS
