"""Linking and unlinking one person's accounts from two requests at once (two tabs, two LMSs, a launch that
links by e-mail while a code is typed elsewhere). Each caller runs in its own thread, session and
transaction, lined up by a barrier: neither may see a database error, one of them wins and the other gets a
clear refusal (or finds the work done), and afterwards a person still holds one account per LMS and the
organisation boards equal a rebuild from the ledger."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from plugin.errors import DomainError
from plugin.extensions import db
from plugin.identity import service as linking
from plugin.identity.models import IdentityLink, LinkAttempt, LinkCode, Person
from plugin.leaderboards import rebuild
from plugin.leaderboards.queries import Scope, board
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import Posting, post_entry
from plugin.tenancy.models import Platform, User
from tests.services.factories import NOW, later, make_actor, make_platform
from tests.services.test_concurrency import race

ROUNDS = 3  # a race is a matter of timing: each scenario is lined up a few times


@pytest.fixture
def lmss(appctx):
    moodle = make_platform(issuer="https://moodle.example.org", client_id="moodle-1", organisation="Org A")
    canvas = make_platform(issuer="https://canvas.instructure.com", client_id="10000000000042", organisation="Org A")
    sakai = make_platform(issuer="https://sakai.example.org", client_id="sakai-1", organisation="Org A")
    return moodle, canvas, sakai


def award(actor, points: int, key: str) -> None:
    post_entry(Posting(organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
                       amount=points, dimension="experimenting", source_type="manual", source_id=None, key=key), NOW)


def attempt(call):
    """What the caller sees: the call's result, or the domain error a page or the API would show."""
    try:
        result = call()
        db.session.commit()
        return result
    except DomainError as err:
        db.session.commit()  # as the page does: a refused code still counts against the tries
        return err


def assert_consistent(organisation_id: int) -> None:
    """Every person links two or more accounts, at most one per LMS, and the boards equal a rebuild."""
    rows = db.session.execute(select(IdentityLink.person_id, User.platform_id).join(
        User, User.id == IdentityLink.user_id).where(IdentityLink.person_id.is_not(None))).all()
    per_person = Counter(person for person, _platform in rows)
    assert all(count >= 2 for count in per_person.values()), per_person
    assert len(set(rows)) == len(rows), f"a person holds two accounts of one LMS: {rows}"
    assert set(per_person) == set(db.session.scalars(select(Person.id)))
    assert rebuild.verify(organisation_id) == {}


def refused(result) -> bool:
    return isinstance(result, DomainError) and result.status in (404, 409, 422)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_accounts_typing_each_others_code_at_once_link_once(appctx, lmss, round_):
    moodle, canvas, _sakai = lmss
    m, c = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k")
    award(m, 30, "m")
    award(c, 20, "c")
    codes = {m.user_id: linking.issue_code(m, NOW).code, c.user_id: linking.issue_code(c, NOW).code}
    typists = [(m, codes[c.user_id]), (c, codes[m.user_id])]

    results = race(appctx, lambda i: attempt(lambda: linking.redeem_code(typists[i][0], typists[i][1], later(1))), 2)

    linked = [r for r in results if isinstance(r, list)]
    assert len(linked) == 1 and [a.user_id for a in linked[0]] == sorted([m.user_id, c.user_id])
    assert all(refused(r) for r in results if not isinstance(r, list)), results
    assert [(r.points) for r in board(Scope.organisation(m.organisation_id)).rows] == [50]
    assert_consistent(m.organisation_id)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_accounts_of_one_lms_racing_into_one_person_only_one_gets_in(appctx, lmss, round_):
    moodle, canvas, sakai = lmss
    c, s = make_actor(canvas, "c", context_id="k"), make_actor(sakai, "s", context_id="z")
    m1, m2 = make_actor(moodle, "31"), make_actor(moodle, "32")
    for n, actor in enumerate((c, s, m1, m2)):
        award(actor, 10 * (n + 1), f"a{n}")
    linking.redeem_code(s, linking.issue_code(c, NOW).code, later(1))  # c and s are one person already
    typists = [(m1, linking.issue_code(c, later(2)).code), (m2, linking.issue_code(s, later(2)).code)]

    results = race(appctx, lambda i: attempt(lambda: linking.redeem_code(typists[i][0], typists[i][1], later(3))), 2)

    assert sum(isinstance(r, list) for r in results) == 1, results
    [loser] = [r for r in results if not isinstance(r, list)]
    assert isinstance(loser, linking.LinkRefused) and "same LMS" in loser.message
    assert_consistent(c.organisation_id)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_code_typed_while_a_launch_links_by_e_mail(appctx, lmss, round_):
    moodle, canvas, _sakai = lmss
    for platform in (moodle, canvas):
        platform.email_authoritative = True
    m1 = make_actor(moodle, "31", email="ada@example.org")
    m2 = make_actor(moodle, "32", email="someone@example.org")
    c = make_actor(canvas, "c", context_id="k", email="ada@example.org")
    award(m1, 10, "m1")
    award(m2, 20, "m2")
    award(c, 40, "c")
    code = linking.issue_code(m2, NOW).code
    canvas_id = canvas.id

    def work(i):
        if i == 0:  # Ada's Canvas launch: her address names Moodle account m1
            launched_from = db.session.get(Platform, canvas_id)  # this thread's own session reads it
            return attempt(lambda: linking.link_by_email(launched_from, c.user_id, "ada@example.org", later(1)))
        return attempt(lambda: linking.redeem_code(c, code, later(1)))  # ...while she types m2's code

    by_email, by_code = race(appctx, work, 2)

    # Either order is right: the first link wins, the second sees a Canvas account taken by a Moodle one.
    if by_email == [m1.user_id]:
        assert isinstance(by_code, linking.LinkRefused) and "same LMS" in by_code.message
        partner = m1
    else:
        assert by_email == [] and [a.user_id for a in by_code] == sorted([m2.user_id, c.user_id])
        partner = m2
    assert [a.user_id for a in linking.linked_accounts(c)] == sorted([partner.user_id, c.user_id])
    assert_consistent(c.organisation_id)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_an_unlink_racing_a_link_into_the_same_person(appctx, lmss, round_):
    moodle, canvas, sakai = lmss
    m, c, s = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k"), make_actor(sakai, "s", context_id="z")
    for n, actor in enumerate((m, c, s)):
        award(actor, 10 * (n + 1), f"u{n}")
    linking.redeem_code(c, linking.issue_code(m, NOW).code, later(1))
    code = linking.issue_code(c, later(2)).code

    def work(i):
        if i == 0:
            return attempt(lambda: linking.unlink(m, c.user_id, later(3)))  # Moodle side drops the Canvas account
        return attempt(lambda: linking.redeem_code(s, code, later(3)))  # Sakai types the code Canvas showed

    unlinked, joined = race(appctx, work, 2)

    assert unlinked is None and isinstance(joined, list), (unlinked, joined)  # both apply, in either order
    linked_to_s = {a.user_id for a in linking.linked_accounts(s)}
    # Unlink first: Canvas and Sakai become one person. Link first: the three were one, then Canvas left.
    assert linked_to_s in ({c.user_id, s.user_id}, {m.user_id, s.user_id})
    left_alone = m if linked_to_s == {c.user_id, s.user_id} else c
    assert linking.linked_accounts(left_alone) == []
    assert_consistent(m.organisation_id)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_both_sides_unlinking_at_once(appctx, lmss, round_):
    moodle, canvas, _sakai = lmss
    m, c = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k")
    award(m, 30, "m")
    award(c, 20, "c")
    linking.redeem_code(c, linking.issue_code(m, NOW).code, later(1))
    sides = [(m, c.user_id), (c, m.user_id)]

    results = race(appctx, lambda i: attempt(lambda: linking.unlink(sides[i][0], sides[i][1], later(2))), 2)

    assert sorted(r is None for r in results) == [False, True], results
    assert all(r is None or refused(r) for r in results)
    assert linking.linked_accounts(m) == linking.linked_accounts(c) == []
    assert sorted(r.points for r in board(Scope.organisation(m.organisation_id)).rows) == [20, 30]
    assert_consistent(m.organisation_id)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_points_earned_while_the_accounts_are_being_linked(appctx, lmss, round_):
    """The ledger writer moves the person's organisation row; the link recomputes it from the ledger. Whichever
    commits first, the points end up counted once, on the person's row."""
    moodle, canvas, _sakai = lmss
    m, c = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k")
    award(m, 30, "m")
    award(c, 20, "c")
    code = linking.issue_code(m, NOW).code

    def work(i):
        if i == 0:
            return attempt(lambda: linking.redeem_code(c, code, later(1)))
        return attempt(lambda: award(c, 5, "c-during-link"))

    linked, _awarded = race(appctx, work, 2)

    assert isinstance(linked, list)
    assert [r.points for r in board(Scope.organisation(m.organisation_id)).rows] == [55]
    assert_consistent(m.organisation_id)


def _while_a_link_waits_to_commit(appctx, account, code: str, write) -> None:
    """Redeem `code` for `account` up to its flush, then run write() in another transaction and commit the link
    only once write() waits for a lock (or has finished)."""
    import threading

    from sqlalchemy import text

    from plugin.core.db import writing

    linked, go, errors = threading.Event(), threading.Event(), []

    def link():
        try:
            with appctx.app_context(), writing():
                linking.redeem_code(account, code, later(1))
                db.session.flush()
                linked.set()
                go.wait(30)
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            linked.set()

    def other():
        try:
            with appctx.app_context(), writing():
                write()
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    first = threading.Thread(target=link, daemon=True)
    first.start()
    assert linked.wait(30)
    second = threading.Thread(target=other, daemon=True)
    second.start()
    if db.engine.dialect.name == "postgresql":  # let the write reach the lock it waits on before the link commits
        for _try in range(3000):
            waiting = db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))
            db.session.rollback()
            if waiting or not second.is_alive():
                break
            threading.Event().wait(0.01)
    go.set()
    first.join(30)
    second.join(30)
    assert errors == [] and not first.is_alive() and not second.is_alive()


def test_points_posted_while_a_link_waits_to_commit_land_on_the_person(appctx, lmss):
    """The other order, forced: the link has recomputed the person's row but not committed yet when points
    for the Canvas account are posted. They must wait for the link and then count on the person's row (on
    SQLite the second writer waits at BEGIN IMMEDIATE anyway)."""
    moodle, canvas, _sakai = lmss
    m, c = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k")
    award(m, 30, "m")
    award(c, 20, "c")
    code = linking.issue_code(m, NOW).code
    db.session.commit()
    _while_a_link_waits_to_commit(appctx, c, code, lambda: award(c, 5, "c-while-linking"))
    assert [r.points for r in board(Scope.organisation(m.organisation_id)).rows] == [55]
    assert_consistent(m.organisation_id)


def test_launches_of_people_already_linked_by_e_mail_never_wait_for_a_link(appctx, lmss):
    """Every launch from an e-mail authoritative LMS looks for accounts to link. Once the person is linked
    there is nothing to do, and the launch must not queue behind links or points of the whole organisation."""
    import threading

    from sqlalchemy import text

    from plugin.core.db import writing
    from plugin.tenancy.models import Organisation

    moodle, canvas, _sakai = lmss
    for platform in (moodle, canvas):
        platform.email_authoritative = True
    m = make_actor(moodle, "3", email="ada@example.org")
    c = make_actor(canvas, "c", context_id="k", email="ada@example.org")
    assert linking.link_by_email(canvas, c.user_id, "ada@example.org", NOW) == [m.user_id]
    db.session.commit()
    held, release = threading.Event(), threading.Event()

    def hold_the_organisation():  # a link (or a ledger entry) of the organisation in progress elsewhere
        with appctx.app_context(), writing():
            db.session.execute(select(Organisation.id).where(Organisation.id == m.organisation_id).with_for_update())
            held.set()
            release.wait(30)
            db.session.rollback()

    holder = threading.Thread(target=hold_the_organisation, daemon=True)
    holder.start()
    try:
        assert held.wait(30)
        if db.engine.dialect.name == "postgresql":  # SQLite: the holder's write transaction blocks every writer
            db.session.execute(text("SET LOCAL lock_timeout = '3s'"))
            launched_from = db.session.get(Platform, canvas.id)
            assert linking.link_by_email(launched_from, c.user_id, "ada@example.org", later(5)) == []
            db.session.rollback()
    finally:
        release.set()
        holder.join(30)


def test_guesses_typed_at_once_get_no_more_than_the_wrong_tries_allowed(appctx, lmss):
    """A script sending eight guesses at once: the limit of wrong codes per quarter of an hour must hold, or each
    guess counts the tries before it without the others and every one of them is judged (more guesses per window)."""
    moodle, canvas, _sakai = lmss
    guesser = make_actor(canvas, "mallory", context_id="academy-1")
    linking.issue_code(make_actor(moodle, "ada"), NOW)

    results = race(appctx, lambda i: attempt(lambda: linking.redeem_code(guesser, f"AAAA-AA{i:02d}", later(1))))
    judged = [r for r in results if isinstance(r, linking.LinkRefused)]
    assert len(judged) == linking.WRONG_TRIES
    assert db.session.scalar(select(func.count()).select_from(LinkAttempt)) == linking.WRONG_TRIES


def test_of_two_codes_shown_at_once_only_one_stays_usable(appctx, lmss):
    """'Show a code' clicked twice (two tabs): each new code must retire the earlier one, as one at a time does, not
    leave two codes that link the account for a quarter of an hour."""
    moodle, canvas, _sakai = lmss
    ada_m = make_actor(moodle, "ada")
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    results = while_the_first_waits_to_commit(appctx, lambda: linking.issue_code(ada_m, later(1)).code,
                                              lambda: linking.issue_code(ada_m, later(1)).code)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LinkCode).where(LinkCode.user_id == ada_m.user_id)) == 1
    assert len(set(results)) == 2


def test_an_experiment_logged_while_a_link_waits_to_commit_lands_on_the_person(appctx, lmss):
    """As above, through an experiment's award: its preflight reads the accounts linked with the author's and then
    waits for the organisation's row the link holds. Once the link commits it must read them again, so the points go
    to the person's row on the organisation board, not to a second row of the account's own."""
    from tests.services.factories import log

    moodle, canvas, _sakai = lmss
    m, c = make_actor(moodle, "3"), make_actor(canvas, "c", context_id="k")
    award(m, 30, "m")
    award(c, 20, "c")
    log(c, later(0))  # the configuration kept, as on a running instance
    code = linking.issue_code(m, NOW).code
    db.session.commit()
    _while_a_link_waits_to_commit(appctx, c, code,
                                  lambda: log(c, later(2), title="Logged while the accounts were being linked"))
    rows = board(Scope.organisation(m.organisation_id)).rows
    assert len(rows) == 1 and rows[0].points == sum(db.session.scalars(
        select(LedgerEntry.amount).where(LedgerEntry.organisation_id == m.organisation_id)))
    assert_consistent(m.organisation_id)
