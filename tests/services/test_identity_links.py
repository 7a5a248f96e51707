"""One person, several LMSs: linking identities of two registrations of one organisation by a one-time code or
by e-mail, unlinking, and what linking changes (organisation boards count the person once; badges and history
follow them) while the ledger and course boards stay per identity and rebuilt == maintained throughout."""
import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.badges.service import BadgeGrant, award_badge, get_or_create_badge, linked_badges
from plugin.core.actor import Actor, Role
from plugin.errors import Conflict, NotFound, RateLimited
from plugin.extensions import db
from plugin.identity import service as linking
from plugin.identity.models import IdentityLink, LinkAttempt, LinkCode, Person
from plugin.leaderboards import rebuild, reconcile
from plugin.leaderboards import service as boards
from plugin.leaderboards.queries import ANONYMOUS, Scope, board
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import Posting, post_entry
from plugin.privacy.erase import erase_person
from plugin.recognition.history import explanations
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Platform
from tests.services.factories import NOW, later, make_actor, make_platform

_keys = itertools.count(1)


@pytest.fixture
def moodle(appctx):
    return make_platform(issuer="https://moodle.example.org", client_id="moodle-1", organisation="Org A")


@pytest.fixture
def canvas(appctx):
    return make_platform(issuer="https://canvas.instructure.com", client_id="10000000000042", organisation="Org A")


def award(actor: Actor, points: int, now=NOW) -> int:
    return post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                              amount=points, dimension="experimenting", source_type="manual", source_id=None,
                              key=f"link-test:{next(_keys)}"), now)


def org_board(actor: Actor, viewer: int | None = None):
    return board(Scope.organisation(actor.organisation_id), viewer_user_id=viewer)


def standings(actor: Actor) -> list[tuple[int, str, int]]:
    return [(r.rank, r.name, r.points) for r in org_board(actor).rows]


def link_by_code(first: Actor, second: Actor, now=NOW) -> None:
    issued = linking.issue_code(first, now)
    linking.redeem_code(second, issued.code, later(1) if now is NOW else now)


def test_a_code_shown_in_moodle_and_typed_in_canvas_links_the_two_accounts(moodle, canvas):
    ada_m = make_actor(moodle, "3", name="Ada (Moodle)")
    ada_c = make_actor(canvas, "a1b2c3", context_id="academy-1", name="Ada (Canvas)")
    issued = linking.issue_code(ada_m, NOW)
    assert len(issued.code) == 9 and issued.code[4] == "-" and issued.expires_at == NOW + timedelta(minutes=15)
    assert db.session.scalar(select(LinkCode.code_hash)) != issued.code  # only a hash is kept
    # Typed by hand: lower case, no dash, spaces.
    accounts = linking.redeem_code(ada_c, " " + issued.code.replace("-", " ").lower(), later(2))
    assert [(a.user_id, a.is_me, a.method) for a in accounts] == [
        (ada_m.user_id, False, "code"), (ada_c.user_id, True, "code")]
    seen_from_moodle = linking.linked_accounts(ada_m)
    assert [a.platform for a in seen_from_moodle] == ["https://moodle.example.org", "https://canvas.instructure.com"]
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["identity.code_issued", "identity.linked"]


def test_a_code_from_another_organisation_is_refused(moodle):
    other_org = make_platform(issuer="https://canvas.other.example", client_id="c-9", organisation="Org B")
    mine = make_actor(moodle, "3")
    stranger = make_actor(other_org, "x")
    issued = linking.issue_code(stranger, NOW)
    with pytest.raises(linking.LinkRefused, match="another organisation"):
        linking.redeem_code(mine, issued.code, later(1))
    assert linking.linked_accounts(mine) == [] and db.session.scalar(select(func.count()).select_from(Person)) == 0


def test_expired_used_and_own_codes_are_refused_with_clear_reasons(moodle, canvas):
    ada_m = make_actor(moodle, "3")
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    bo_c = make_actor(canvas, "bo", context_id="academy-1")
    stale = linking.issue_code(ada_m, NOW)
    with pytest.raises(linking.LinkRefused, match="expired"):
        linking.redeem_code(ada_c, stale.code, later(15))
    with pytest.raises(linking.LinkRefused, match="shown in this account"):
        linking.redeem_code(ada_m, linking.issue_code(ada_m, later(16)).code, later(17))
    fresh = linking.issue_code(ada_m, later(20))
    linking.redeem_code(ada_c, fresh.code, later(21))
    with pytest.raises(linking.LinkRefused, match="already used"):
        linking.redeem_code(bo_c, fresh.code, later(22))
    # A new code replaces the one shown before: the earlier one stops working.
    first, second = linking.issue_code(ada_m, later(30)), linking.issue_code(ada_m, later(31))
    with pytest.raises(linking.LinkRefused, match="not valid"):
        linking.redeem_code(bo_c, first.code, later(32))
    assert [a.user_id for a in linking.linked_accounts(ada_m)] == [ada_m.user_id, ada_c.user_id]
    assert second.code != first.code


def test_two_accounts_of_one_lms_are_never_linked(moodle, canvas):
    ada = make_actor(moodle, "3")
    ada_again = make_actor(moodle, "33")
    with pytest.raises(linking.LinkRefused, match="same LMS"):
        link_by_code(ada, ada_again)
    # Nor through a third account: Canvas links to one Moodle account, then the other Moodle account is refused.
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    link_by_code(ada, ada_c)
    with pytest.raises(linking.LinkRefused, match="same LMS"):
        link_by_code(ada_again, ada_c, later(5))
    with pytest.raises(Conflict, match="already linked"):
        link_by_code(ada_c, ada, later(6))


def test_guessing_codes_is_limited_per_account_and_the_wait_ends(moodle, canvas):
    ada_m = make_actor(moodle, "3")
    guesser = make_actor(canvas, "mallory", context_id="academy-1")
    real = linking.issue_code(ada_m, NOW)
    for i in range(linking.WRONG_TRIES):
        with pytest.raises(linking.LinkRefused, match="not valid"):
            linking.redeem_code(guesser, f"AAAA-AAA{i}", later(1))
    with pytest.raises(RateLimited, match="Too many wrong codes"):
        linking.redeem_code(guesser, real.code, later(2))  # even the right code: no more tries now
    assert linking.linked_accounts(guesser) == []
    # A quarter of an hour after the wrong tries, a fresh code works again.
    linking.redeem_code(guesser, linking.issue_code(ada_m, later(16)).code, later(17))
    assert len(linking.linked_accounts(guesser)) == 2


def test_the_organisation_board_counts_a_linked_person_once_with_their_points_summed(moodle, canvas):
    ada_m = make_actor(moodle, "3", name="Ada Lovelace")
    ada_c = make_actor(canvas, "ada", context_id="academy-1", name="Ada L.")
    bo = make_actor(canvas, "bo", context_id="academy-1", name="Bo Diddley")
    award(ada_m, 30)
    award(ada_c, 20)
    award(bo, 40)
    assert standings(ada_m) == [(1, "Bo Diddley", 40), (2, "Ada Lovelace", 30), (3, "Ada L.", 20)]
    link_by_code(ada_m, ada_c)
    assert standings(ada_m) == [(1, "Ada Lovelace", 50), (2, "Bo Diddley", 40)]
    assert org_board(ada_m).participants == 2
    # Each of her accounts sees the one row as theirs; course boards stay per course and per account.
    for me in (ada_m, ada_c):
        mine = boards.individual_board(me, "organisation", "all", "total", NOW)
        assert mine.viewer.points == 50 and mine.viewer.rank == 1
    assert [(r.name, r.points) for r in board(Scope.course(ada_c.course_id)).rows] == [("Bo Diddley", 40), ("Ada L.", 20)]
    # Points earned after linking land on the person's row, week and month boards included.
    award(ada_c, 5, later(60))
    assert standings(ada_m)[0] == (1, "Ada Lovelace", 55)
    week = boards.individual_board(ada_c, "organisation", "week", "total", later(60))
    assert week.viewer.points == 55
    assert rebuild.verify() == {}
    # The ledger was not touched: every row still names the account that earned it.
    assert sorted(db.session.execute(select(LedgerEntry.user_id, LedgerEntry.amount)).all()) == sorted(
        [(ada_m.user_id, 30), (ada_c.user_id, 20), (bo.user_id, 40), (ada_c.user_id, 5)])


def test_unlinking_from_either_side_restores_separate_counting(moodle, canvas):
    ada_m = make_actor(moodle, "3", name="Ada Lovelace")
    ada_c = make_actor(canvas, "ada", context_id="academy-1", name="Ada L.")
    award(ada_m, 30)
    award(ada_c, 20)
    link_by_code(ada_m, ada_c)
    linking.unlink(ada_c, ada_m.user_id, later(5))  # from Canvas, unlink the Moodle account
    assert standings(ada_m) == [(1, "Ada Lovelace", 30), (2, "Ada L.", 20)]
    assert linking.linked_accounts(ada_m) == linking.linked_accounts(ada_c) == []
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0
    assert rebuild.verify() == {}
    link_by_code(ada_c, ada_m, later(10))
    linking.unlink(ada_m, ada_m.user_id, later(11))  # or one's own account
    assert standings(ada_m) == [(1, "Ada Lovelace", 30), (2, "Ada L.", 20)]
    assert rebuild.verify() == {}
    with pytest.raises(NotFound):
        linking.unlink(ada_m, ada_c.user_id, later(12))
    assert "identity.unlinked" in db.session.scalars(select(AuditEvent.action))


def test_three_lmss_make_one_person_and_a_link_between_two_people_merges_them(moodle, canvas):
    third = make_platform(issuer="https://brightspace.example.org", client_id="bs-1", organisation="Org A")
    m, c, b = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k"), make_actor(third, "b", context_id="z")
    for actor, points in ((m, 10), (c, 20), (b, 30)):
        award(actor, points)
    link_by_code(m, c)
    link_by_code(b, c, later(5))
    assert [a.user_id for a in linking.linked_accounts(b)] == sorted([m.user_id, c.user_id, b.user_id])
    assert [(r.user_id, r.points) for r in org_board(m).rows] == [(min(m.user_id, c.user_id, b.user_id), 60)]
    assert rebuild.verify() == {}
    linking.unlink(m, c.user_id, later(6))  # two stay linked
    assert sorted(r.points for r in org_board(m).rows) == [20, 40]
    assert rebuild.verify() == {}


def test_a_linked_account_leaving_its_course_takes_only_its_points_off_the_person(moodle, canvas):
    ada_m = make_actor(moodle, "3")
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    award(ada_m, 30)
    award(ada_c, 20)
    link_by_code(ada_m, ada_c)
    tenancy.sync_members(ada_c.course_id, [], NOW)  # the Canvas roster no longer lists her
    reconcile.reconcile_course(ada_c.course_id)
    assert [r.points for r in org_board(ada_m).rows] == [30]
    assert rebuild.verify() == {}
    tenancy.provision(tenancy.LaunchIdentity(
        platform_id=canvas.id, deployment_pk=canvas.deployments[0].id, context_id="academy-1", context_title="",
        context_label="", sub="ada", role=Role.LEARNER, lti_roles=()), later(1))
    reconcile.reconcile_member(ada_c.course_id, ada_c.user_id)
    assert [r.points for r in org_board(ada_m).rows] == [50]
    assert rebuild.verify() == {}


def test_hiding_ones_name_in_one_lms_hides_the_linked_person_everywhere(moodle, canvas):
    ada_m = make_actor(moodle, "3", name="Ada Lovelace")
    ada_c = make_actor(canvas, "ada", context_id="academy-1", name="Ada L.")
    bo = make_actor(canvas, "bo", context_id="academy-1", name="Bo")
    award(ada_m, 30)
    award(ada_c, 20)
    link_by_code(ada_m, ada_c)
    boards.set_opt_out(ada_c, True, NOW)  # hidden in Canvas; her board row is held by the Moodle account
    assert boards.is_opted_out(ada_m)
    assert org_board(ada_m, viewer=bo.user_id).rows[0].name == ANONYMOUS
    assert board(Scope.course(ada_m.course_id), viewer_user_id=bo.user_id).rows[0].name == ANONYMOUS
    boards.set_opt_out(ada_m, False, NOW)  # shown again from the other LMS: shown everywhere
    assert org_board(ada_m, viewer=bo.user_id).rows[0].name == "Ada Lovelace"


def test_badges_and_history_follow_the_person(moodle, canvas):
    ada_m = make_actor(moodle, "3")
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    award(ada_c, 20)
    badge = get_or_create_badge(canvas.organisation_id, "pioneer", NOW, name="Pioneer")
    award_badge(BadgeGrant(badge_id=badge.id, organisation_id=ada_c.organisation_id, course_id=ada_c.course_id,
                           user_id=ada_c.user_id, key="pioneer:ada"), NOW)
    assert linked_badges(ada_m.organisation_id, ada_m.user_id) == []
    assert explanations(ada_m, linked=True) == []
    link_by_code(ada_m, ada_c)
    [(award_row, shown, origin)] = linked_badges(ada_m.organisation_id, ada_m.user_id)
    assert shown.slug == "pioneer" and origin == "https://canvas.instructure.com · Course academy-1"
    history = explanations(ada_m, linked=True)
    assert {(e.points, e.origin) for e in history} == {(20, origin), (0, origin)}
    assert explanations(ada_m) == []  # the API's per-course history is unchanged
    linking.unlink(ada_m, ada_c.user_id, later(1))
    assert linked_badges(ada_m.organisation_id, ada_m.user_id) == []


def _mark(platform: Platform, on: bool) -> None:
    platform.email_authoritative = on
    db.session.flush()


@pytest.mark.parametrize("moodle_on, canvas_on, linked", [(False, False, False), (True, False, False),
                                                          (False, True, False), (True, True, True)])
def test_e_mail_links_at_launch_only_when_both_registrations_are_e_mail_authoritative(
        moodle, canvas, moodle_on, canvas_on, linked):
    _mark(moodle, moodle_on)
    _mark(canvas, canvas_on)
    ada_m = make_actor(moodle, "3", email="Ada@Example.org")
    ada_c = make_actor(canvas, "ada", context_id="academy-1", email="ada@example.org")
    done = linking.link_by_email(canvas, ada_c.user_id, "ada@example.org", NOW)
    assert (done == [ada_m.user_id]) is linked
    assert len(linking.linked_accounts(ada_c)) == (2 if linked else 0)
    if linked:
        assert linking.linked_accounts(ada_c)[0].method == "email"
        assert db.session.scalar(select(AuditEvent.actor_role).where(AuditEvent.action == "identity.linked")) == "system"


@pytest.mark.parametrize("stored, given", [("Şebnem.Öztürk@Example.org", "şebnem.öztürk@example.org"),
                                            ("JOSÉ.ÇELİK@example.org", "josé.çeli\u0307k@example.org"),
                                            ("ada_o%x@Example.org", "ADA_O%X@example.org")])
def test_e_mail_links_addresses_that_differ_only_in_non_ascii_capitals(moodle, canvas, stored, given):
    """One LMS sends the address as the person typed it, the other lower-cased: the same person on either
    database (SQLite's lower() folds ASCII only, PostgreSQL's depends on the server's locale). `_` and `%` in an
    address are letters, never wildcards."""
    _mark(moodle, True)
    _mark(canvas, True)
    ada_m = make_actor(moodle, "3", email=stored)
    make_actor(moodle, "4", email=stored.replace("@", "x@"))  # another person whose address only starts the same
    ada_c = make_actor(canvas, "ada", context_id="academy-1", email=given)
    assert linking.link_by_email(canvas, ada_c.user_id, given, NOW) == [ada_m.user_id]


def test_e_mail_link_never_guesses_and_respects_an_unlink(moodle, canvas):
    _mark(moodle, True)
    _mark(canvas, True)
    ada_m = make_actor(moodle, "3", email="ada@example.org")
    make_actor(moodle, "33", email="ada@example.org")  # two Moodle accounts with her address: ambiguous
    ada_c = make_actor(canvas, "ada", context_id="academy-1", email="ada@example.org")
    assert linking.link_by_email(canvas, ada_c.user_id, "ada@example.org", NOW) == []
    assert linking.link_by_email(canvas, ada_c.user_id, None, NOW) == []
    # Once the second Moodle account is gone from the address, the link is made; after an unlink it is not redone.
    make_actor(moodle, "33", email="someone.else@example.org")  # the LMS now sends another address for them
    assert linking.link_by_email(canvas, ada_c.user_id, "ada@example.org", NOW) == [ada_m.user_id]
    linking.unlink(ada_c, ada_m.user_id, later(1))
    assert linking.link_by_email(canvas, ada_c.user_id, "ada@example.org", later(2)) == []
    assert linking.link_by_email(moodle, ada_m.user_id, "ada@example.org", later(2)) == []
    link_by_code(ada_m, ada_c, later(3))  # a code still links them
    assert len(linking.linked_accounts(ada_m)) == 2


def test_erasing_one_linked_account_unlinks_it(moodle, canvas):
    ada_m = make_actor(moodle, "3", name="Ada Lovelace")
    ada_c = make_actor(canvas, "ada", context_id="academy-1", name="Ada L.")
    admin = make_actor(canvas, "admin", Role.ADMIN, context_id="academy-1")
    award(ada_m, 30)
    award(ada_c, 20)
    link_by_code(ada_m, ada_c)
    erasure = erase_person(admin, ada_c.user_id, later(1))
    assert erasure.counts["identity_links"] >= 1
    assert linking.linked_accounts(ada_m) == []
    assert db.session.get(IdentityLink, ada_c.user_id) is None
    assert sorted(r.points for r in org_board(ada_m).rows) == [20, 30]
    assert rebuild.verify() == {}


def test_codes_and_wrong_tries_that_no_longer_matter_are_cleared(moodle, canvas):
    ada_m, bo_m = make_actor(moodle, "3"), make_actor(moodle, "4")
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    linking.issue_code(ada_m, NOW)  # never used
    with pytest.raises(linking.LinkRefused):
        linking.redeem_code(ada_c, "ZZZZ-ZZZZ", later(1))
    assert db.session.scalar(select(func.count()).select_from(LinkAttempt)) == 1
    # The next day someone else shows a code: Ada's stale code and wrong try are gone, Bo's new code stays.
    fresh = linking.issue_code(bo_m, NOW + timedelta(days=1, minutes=30))
    assert db.session.scalar(select(func.count()).select_from(LinkAttempt)) == 0
    assert list(db.session.scalars(select(LinkCode.user_id))) == [bo_m.user_id]
    assert linking.redeem_code(ada_c, fresh.code, NOW + timedelta(days=1, minutes=31))


def test_an_address_two_accounts_of_the_launching_lms_share_links_neither(moodle, canvas):
    """A shared address (a team mailbox, a re-used test address) on two Moodle accounts: whichever of them
    launches first must not be taken for the Canvas person with that address."""
    _mark(moodle, True)
    _mark(canvas, True)
    ada_c = make_actor(canvas, "ada", context_id="academy-1", email="ada@example.org")
    ada_m = make_actor(moodle, "3", email="ada@example.org")
    make_actor(moodle, "33", email="Ada@Example.org")  # another Moodle account with the same address
    assert linking.link_by_email(moodle, ada_m.user_id, "ada@example.org", NOW) == []
    assert linking.linked_accounts(ada_c) == []
    assert linking.linked_accounts(ada_m) == []


def test_a_code_refused_for_another_account_of_the_same_lms_still_works_after_the_advised_unlink(moodle, canvas):
    """Refused with "unlink the other account of this LMS first", the person does so and types the same code again
    (still within its 15 minutes): it links, instead of saying the code was already used."""
    old_m, new_m = make_actor(moodle, "3"), make_actor(moodle, "33")
    ada_c = make_actor(canvas, "ada", context_id="academy-1")
    link_by_code(old_m, ada_c)
    issued = linking.issue_code(new_m, later(2))
    with pytest.raises(linking.LinkRefused, match="same LMS"):
        linking.redeem_code(ada_c, issued.code, later(3))
    db.session.commit()  # as the page does: a refused code is kept refused
    linking.unlink(ada_c, old_m.user_id, later(4))
    linking.redeem_code(ada_c, issued.code, later(5))
    assert {a.user_id for a in linking.linked_accounts(ada_c)} == {ada_c.user_id, new_m.user_id}
