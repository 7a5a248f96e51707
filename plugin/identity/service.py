"""Linking one person's identities across the LMSs of an organisation, and unlinking them.

Two ways in: a one-time code shown on the "Linked accounts" page of one LMS and typed into the same page of
another (short, single use, 15 minutes, a few wrong tries per identity per window, stored hashed), or at
launch by e-mail when both registrations are marked e-mail authoritative by the operator (off by default).
A person holds at most one identity per registration. Every link and unlink is audited, and the
organisation's boards are recomputed for the people concerned in the same transaction (ledger rows are
never touched: they keep naming the identity that earned them).

Links and unlinks of one organisation take turns (see _take_turns): two of them at once (two tabs, a code
typed while a launch links by e-mail, both sides unlinking) would otherwise both read the people as they
were and write over each other.
"""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from plugin.audit.service import record, record_system
from plugin.core import memo
from plugin.core.actor import Actor
from plugin.errors import Conflict, DomainError, InvalidInput, NotFound, RateLimited
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.identity.models import CODE, EMAIL, IdentityLink, LinkAttempt, LinkCode, Person
from plugin.identity.people import identities
from plugin.leaderboards.reconcile import relink_boards
from plugin.tenancy.models import Organisation, Platform, User

CODE_TTL = timedelta(minutes=15)
KEEP_EXPIRED = timedelta(days=1)      # an expired or used code still says "expired"/"already used" for a day
WRONG_TRIES = 5                       # wrong codes an identity may type per window
WRONG_WINDOW = timedelta(minutes=15)
# Crockford's base 32: no I, L, O or U, so what is read aloud or copied by hand is what was shown.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8                       # 40 bits: out of reach of WRONG_TRIES guesses per window
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class LinkRefused(DomainError):
    """A code that cannot link (wrong, expired, used, another organisation...). The caller commits before
    showing it: a wrong code counts against the identity's tries."""

    status, code, title = 422, "link_refused", "These accounts were not linked"


@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once, formatted "ABCD-EFGH"
    expires_at: datetime


@dataclass(frozen=True)
class LinkedAccount:
    user_id: int
    platform: str
    name: str
    method: str
    linked_at: datetime
    is_me: bool


def normalise(raw: str) -> str:
    """What the person typed, as stored codes are made: upper case, separators dropped, O/I/L read as 0/1."""
    return "".join(ch for ch in (raw or "").upper().translate(_READ_AS) if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


# --- taking turns ---------------------------------------------------------------------------------------
def _take_turns(organisation_id: int) -> None:
    """Hold the organisation's row FOR UPDATE until commit before reading who is linked with whom.

    Concurrent links and unlinks of the organisation then apply one after the other, each deciding on what the
    one before it committed (PostgreSQL reads committed data afresh per statement). Without it two requests
    both insert an account's link row (a unique violation), deadlock on each other's rows, or both add an
    account of one LMS to a person. FOR UPDATE, not NO KEY UPDATE, on purpose: a ledger entry's foreign key
    takes a KEY SHARE lock on the same row, so points posted meanwhile wait for the link and then go to the
    person's row, and a link waits for points being posted and then counts them (both orders are tested).
    Other writes of the organisation (courses, codes...) wait too, for as long as the link takes: linking is
    rare and short. SQLite serialises writers anyway (writes begin IMMEDIATE)."""
    db.session.execute(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update())
    if db.session.get_bind().dialect.name == "postgresql":
        # Written back as it is: an award whose preflight waited for the row (experiments.service) finds a new version
        # and reads the linked accounts again, as they are once this link is committed.
        db.session.execute(update(Organisation).where(Organisation.id == organisation_id).values(
            defaults_version=Organisation.defaults_version).execution_options(synchronize_session=False))
    memo.forget(db.session, IdentityLink.__tablename__)  # read before the turn: maybe stale
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, IdentityLink):
            db.session.expire(obj)


# --- reading ---------------------------------------------------------------------------------------------
def linked_accounts(actor: Actor) -> list[LinkedAccount]:
    """The identities of the actor's person (empty when this identity is linked to nobody)."""
    ids = identities(actor.user_id)
    if len(ids) < 2:
        return []
    rows = db.session.execute(select(User.id, User.name, Platform.name, Platform.issuer, IdentityLink.method,
                                     IdentityLink.linked_at)
                              .join(Platform, Platform.id == User.platform_id)
                              .join(IdentityLink, IdentityLink.user_id == User.id).where(User.id.in_(ids))
                              .order_by(User.id))
    return [LinkedAccount(uid, platform or issuer, name or _("Participant %(id)s", id=uid), method, linked_at,
                          uid == actor.user_id) for uid, name, platform, issuer, method, linked_at in rows]


def _person_of(user_id: int) -> int | None:
    return db.session.scalar(select(IdentityLink.person_id).where(IdentityLink.user_id == user_id))


def _platforms(user_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(select(User.id, User.platform_id).where(User.id.in_(user_ids))).all())


# --- codes -----------------------------------------------------------------------------------------------
def issue_code(actor: Actor, now: datetime) -> IssuedCode:
    """A fresh code for this identity; any earlier unused one stops working. Codes and wrong tries of
    everyone that no longer matter go as well, so the tables stay small."""
    _turn_of(actor.user_id)  # two at once (two tabs): the second retires the first's code too
    db.session.execute(delete(LinkCode).where((LinkCode.user_id == actor.user_id)
                                              | (LinkCode.expires_at < now - KEEP_EXPIRED)))
    db.session.execute(delete(LinkAttempt).where(LinkAttempt.attempted_at <= now - WRONG_WINDOW))
    raw = "".join(secrets.choice(ALPHABET) for _i in range(CODE_LENGTH))
    code = f"{raw[:4]}-{raw[4:]}"
    expires = now + CODE_TTL
    db.session.add(LinkCode(code_hash=_hash(code), user_id=actor.user_id, organisation_id=actor.organisation_id,
                            created_at=now, expires_at=expires))
    db.session.flush()
    record(actor, "identity.code_issued", "user", actor.user_id, {"expires_at": expires.isoformat()}, now,
           course_scoped=False)
    return IssuedCode(code, expires)


def _wrong(actor: Actor, now: datetime, message: str, hint: str | None = None) -> LinkRefused:
    db.session.add(LinkAttempt(user_id=actor.user_id, attempted_at=now))
    db.session.flush()
    return LinkRefused(message, hint=hint, errors={"code": [message]})


def _turn_of(user_id: int) -> None:
    """Codes and guesses of one identity take turns on its account row (NO KEY UPDATE: points' foreign keys do not
    wait), each seeing what the one before it committed (SQLite serialises writers already)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def _check_tries(actor: Actor, now: datetime) -> None:
    _turn_of(actor.user_id)  # guesses at once each count the wrong tries the others recorded
    since = now - WRONG_WINDOW
    db.session.execute(delete(LinkAttempt).where(LinkAttempt.user_id == actor.user_id,
                                                 LinkAttempt.attempted_at <= since))  # only the window matters
    wrong, first = db.session.execute(select(func.count(), func.min(LinkAttempt.attempted_at)).where(
        LinkAttempt.user_id == actor.user_id, LinkAttempt.attempted_at > since)).one()
    if wrong >= WRONG_TRIES:
        wait = max(60, int((first + WRONG_WINDOW - now).total_seconds()))
        raise RateLimited(_("Too many wrong codes. Wait %(minutes)s minutes, then show a new code in your other "
                            "LMS and type it here.", minutes=(wait + 59) // 60), retry_after=wait)


def redeem_code(actor: Actor, raw: str, now: datetime) -> list[LinkedAccount]:
    """Link the actor's identity with the one that showed the code; returns the linked accounts."""
    if len(normalise(raw)) != CODE_LENGTH:
        raise InvalidInput(_("Type the 8 characters of the code shown in your other LMS."),
                           errors={"code": [_("The code has 8 letters and digits, like ABCD-1234.")]})
    _check_tries(actor, now)
    code = db.session.scalar(select(LinkCode).where(LinkCode.code_hash == _hash(raw)))
    show_new = _("Open Tinker's Linked accounts page in your other LMS to show a new code.")
    if code is None:
        raise _wrong(actor, now, _("This code is not valid. Check it and try again."), show_new)
    if code.organisation_id != actor.organisation_id:
        raise _wrong(actor, now, _("This code comes from an LMS of another organisation. Only accounts of one "
                                   "organisation can be linked."))
    if code.user_id == actor.user_id:
        raise LinkRefused(_("This code was shown in this account. Type it into Tinker in your other LMS."),
                          errors={"code": [_("Use the code in your other LMS.")]})
    if code.used_at is not None:
        raise _wrong(actor, now, _("This code was already used."), show_new)
    if code.expires_at <= now:
        raise _wrong(actor, now, _("This code has expired (codes work for 15 minutes)."), show_new)
    # Before the code is spent: refused for what the accounts are (the same LMS, say), it still works once the
    # person has done what the refusal asks. link() checks again, in turn.
    _linkable(actor.organisation_id, code.user_id, actor.user_id)
    used = db.session.execute(update(LinkCode).where(LinkCode.id == code.id, LinkCode.used_at.is_(None))
                              .values(used_at=now))
    if used.rowcount != 1:  # another request used it a moment ago
        raise _wrong(actor, now, _("This code was already used."), show_new)
    person_id = link(actor.organisation_id, code.user_id, actor.user_id, CODE, now)
    record(actor, "identity.linked", "person", person_id,
           {"method": CODE, "users": identities(actor.user_id), "code_of": code.user_id}, now, course_scoped=False)
    return linked_accounts(actor)


# --- linking ---------------------------------------------------------------------------------------------
def _linkable(organisation_id: int, first: int, second: int) -> tuple[list[int], list[int]]:
    """The identities of the two people to join, or why they cannot be joined (raises)."""
    mine, theirs = identities(first), identities(second)
    if set(mine) & set(theirs):
        raise Conflict(_("These accounts are already linked."))
    everyone = mine + theirs
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(everyone)))}
    orgs = dict(db.session.execute(select(Platform.id, Platform.organisation_id).where(
        Platform.id.in_({u.platform_id for u in users.values()}))).all())
    if any(orgs[u.platform_id] != organisation_id for u in users.values()):
        raise LinkRefused(_("Only accounts of one organisation can be linked."))
    if any(u.erased_at is not None for u in users.values()):
        raise LinkRefused(_("An erased account cannot be linked."))
    platforms = _platforms(everyone)
    if set(platforms[u] for u in mine) & set(platforms[u] for u in theirs):
        raise LinkRefused(_("Both accounts come from the same LMS. Tinker links one account per LMS: unlink the "
                            "other account of this LMS first."))
    return mine, theirs


def link(organisation_id: int, first: int, second: int, method: str, now: datetime) -> int:
    """Make the two identities (and whoever they are already linked with) one person; returns its id.
    Refuses identities of another organisation, two identities of one registration, or erased accounts."""
    _take_turns(organisation_id)
    mine, theirs = _linkable(organisation_id, first, second)
    everyone = mine + theirs
    people = [_person_of(group[0]) for group in (mine, theirs) if len(group) > 1]
    if people:
        person_id = min(people)
    else:
        person = Person(organisation_id=organisation_id, created_at=now)
        db.session.add(person)
        db.session.flush()
        person_id = person.id
    for user_id in everyone:
        row = db.session.get(IdentityLink, user_id)
        if row is None:
            db.session.add(IdentityLink(user_id=user_id, person_id=person_id, method=method, linked_at=now))
        elif row.person_id != person_id:
            row.person_id, row.linked_at, row.unlinked_at = person_id, now, None
            row.method = method if user_id in (first, second) else row.method
    db.session.flush()
    _drop_empty_people(organisation_id)
    relink_boards(organisation_id, everyone)
    return person_id


def unlink(actor: Actor, user_id: int, now: datetime) -> None:
    """Take one identity (the actor's own, or another of their person's) out of the person. The identity then
    counts on its own again, and e-mail auto-link leaves it alone until it is linked again with a code."""
    _take_turns(actor.organisation_id)
    ids = identities(actor.user_id)
    if len(ids) < 2 or user_id not in ids:
        raise NotFound(_("That account is not linked to you."))
    person_id = _person_of(user_id)
    _detach(user_id, now)
    if len(ids) == 2:  # one identity left: no person any more
        _detach(next(u for u in ids if u != user_id), now, declined=False)
    db.session.flush()
    _drop_empty_people(actor.organisation_id)
    relink_boards(actor.organisation_id, ids)
    record(actor, "identity.unlinked", "person", person_id, {"user": user_id, "users_before": ids}, now,
           course_scoped=False)


def _detach(user_id: int, now: datetime, declined: bool = True) -> None:
    row = db.session.get(IdentityLink, user_id)
    if declined:  # the row stays as "unlinked": no automatic relinking by e-mail
        row.person_id, row.unlinked_at = None, now
    else:
        db.session.delete(row)


def _drop_empty_people(organisation_id: int) -> None:
    db.session.flush()
    db.session.execute(delete(Person).where(Person.organisation_id == organisation_id, ~Person.id.in_(
        select(IdentityLink.person_id).where(IdentityLink.person_id.is_not(None)))))


# --- e-mail, at launch -------------------------------------------------------------------------------------
def email_key(email: str | None) -> str:
    """How two addresses are compared: Unicode case-folded in Python, so both databases agree (SQLite's lower()
    folds ASCII only, PostgreSQL's follows the server's locale)."""
    return unicodedata.normalize("NFC", (email or "").strip()).casefold()


# ASCII characters that NFC and case folding also make of some other character (K of the Kelvin sign, i of İ, s of
# ſ, ss of ß, ff of ﬀ...): where the key has one, the stored address may hold that other character instead.
_FOLDED_FROM_OTHERS = frozenset(";`afhijklnstwy")


def _email_pattern(key: str) -> str:
    """A LIKE pattern that every address whose email_key() is `key` matches once lower()ed by either database: the
    key's other ASCII characters in order (`%`, `_` and the escape taken literally), a wildcard for the rest."""
    out: list[str] = []
    for char in key:
        if char.isascii() and char not in _FOLDED_FROM_OTHERS:
            out.append("\\" + char if char in "%_\\" else char)
        elif not out or out[-1] != "%":
            out.append("%")
    return "".join(out)


def link_by_email(platform: Platform, user_id: int, email: str | None, now: datetime) -> list[int]:
    """At launch: link this identity with identities of the organisation's other e-mail authoritative
    registrations that carry the same address. Nothing happens unless this registration is e-mail
    authoritative too; an identity that was unlinked is left alone; an address that names several accounts
    of one registration (this one included) links none of them. Returns the identities linked now."""
    address = email_key(email)
    if not platform.email_authoritative or not address or "@" not in address:
        return []
    candidates = [(uid, platform_id) for uid, platform_id, other in db.session.execute(
        select(User.id, User.platform_id, User.email).join(Platform, Platform.id == User.platform_id).where(
            Platform.organisation_id == platform.organisation_id, Platform.email_authoritative.is_(True),
            User.id != user_id, func.lower(User.email).like(_email_pattern(address), escape="\\"),
            User.erased_at.is_(None)))
        if email_key(other) == address]
    if any(platform_id == platform.id for _uid, platform_id in candidates):
        return []  # another account of this LMS has the address too: which of the two is the person?
    if not candidates or not _to_link(user_id, candidates):  # the common launches: no turn taken
        return []
    _take_turns(platform.organisation_id)
    linked = []
    for other in _to_link(user_id, candidates):  # again, in turn: another request may have linked meanwhile
        try:
            with db.session.begin_nested():
                person_id = link(platform.organisation_id, user_id, other, EMAIL, now)
        except (LinkRefused, Conflict):
            continue
        linked.append(other)
        record_system(platform.organisation_id, "identity.linked", "person", person_id,
                      {"method": EMAIL, "users": identities(user_id)}, now)
    return linked


def _to_link(user_id: int, candidates) -> list[int]:
    """The accounts an e-mail link would add: one per registration (an address naming several accounts of one
    registration links none), none that was unlinked, none of a registration the person already has."""
    me = db.session.get(IdentityLink, user_id)
    if me is not None and me.person_id is None:
        return []
    per_platform: dict[int, list[int]] = {}
    for uid, platform_id in candidates:
        per_platform.setdefault(platform_id, []).append(uid)
    mine = identities(user_id)
    held = set(_platforms(mine).values())
    out = []
    for platform_id, uids in sorted(per_platform.items()):
        if len(uids) != 1 or uids[0] in mine or platform_id in held:
            continue
        other = db.session.get(IdentityLink, uids[0])
        if other is None or other.person_id is not None:
            out.append(uids[0])
    return out


# --- erasure ---------------------------------------------------------------------------------------------
def forget(organisation_id: int, user_id: int) -> int:
    """An identity being erased leaves its person (the others stay linked when two or more remain) and its
    codes and tries go. Returns how many rows went."""
    _take_turns(organisation_id)
    ids = identities(user_id)
    gone = db.session.execute(delete(LinkCode).where(LinkCode.user_id == user_id)).rowcount or 0
    gone += db.session.execute(delete(LinkAttempt).where(LinkAttempt.user_id == user_id)).rowcount or 0
    gone += db.session.execute(delete(IdentityLink).where(IdentityLink.user_id == user_id)).rowcount or 0
    rest = [u for u in ids if u != user_id]
    if len(rest) == 1:
        db.session.execute(delete(IdentityLink).where(IdentityLink.user_id == rest[0]))
    _drop_empty_people(organisation_id)
    if len(ids) > 1:
        relink_boards(organisation_id, ids)
    return gone
