"""Tenancy services: organisations, registrations (operator only), and provisioning from a launch."""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import bindparam, delete, func, literal_column, or_, select, update
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from plugin.core import memo
from plugin.core.actor import Actor, Role
from plugin.core.db import dialect_name, insert_for_dialect, insert_ignore
from plugin.diagnostics import fit
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy.models import (
    ACTIVE,
    INACTIVE,
    Course,
    Deployment,
    FrameOrigin,
    Membership,
    Organisation,
    Platform,
    User,
)

DEFAULT_ORGANISATION = "Default organisation"


def get_or_create_organisation(name: str, now: datetime, timezone: str = "UTC") -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, timezone=timezone, created_at=now)
        db.session.add(org)
        db.session.flush()
    return org


DEFAULT_PORTS = {"http": 80, "https": 443}


MAX_URL = 1000
# A host as DNS names it (letters, digits, hyphens, underscores in dot-separated labels; non-ASCII names in their
# IDNA form) or an IPv6 literal: nothing else reaches an origin, which Content-Security-Policy headers and HTTP
# clients take as they are (a space, ";", "*" or "\" in a host would add sources or directives to a CSP, and
# URL parsers disagree where a host with a backslash ends).
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*")
_IPV6 = re.compile(r"[0-9a-f:.]{2,45}")
_UNSAFE_IN_URL = re.compile(r"[\\\x00-\x20\x7f]")


def _clean_host(hostname: str) -> str | None:
    if ":" in hostname:
        return f"[{hostname}]" if _IPV6.fullmatch(hostname) else None
    if not hostname.isascii():
        try:
            hostname = hostname.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return hostname if len(hostname) <= 253 and _HOST_NAME.fullmatch(hostname) else None


def origin_of(url) -> str | None:
    """scheme://host[:port] of an http(s) URL: no credentials, no default port. None for anything else,
    including non-strings, overlong or malformed values from outside and hosts that are not a DNS name or an
    IP address (it never raises)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        return None
    url = url.strip()
    # A backslash, whitespace or a control character: URL parsers disagree where such a host ends (urlsplit takes
    # "https://evil.example\\@lms.example.edu/" for lms.example.edu, requests connects to evil.example), so the
    # origin checked would not be the one called.
    if _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        port = parts.port
        called = parse_url(url).host  # the host the HTTP client (urllib3, under requests) connects to
    except (ValueError, LocationParseError):  # e.g. a malformed IPv6 host or port
        return None
    host = _clean_host(parts.hostname)
    if host is None or (called or "").lower().strip("[]") != host.strip("[]"):
        return None
    suffix = f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{suffix}"


@dataclass(frozen=True)
class PlatformSpec:
    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...] = ()
    organisation: str | None = None  # None: "Default organisation" for a new registration, unchanged otherwise
    name: str = ""
    accept_new_deployments: bool | None = None
    email_authoritative: bool | None = None  # None: off for a new registration, unchanged otherwise


def register_platform(spec: PlatformSpec, now: datetime) -> Platform:
    """Create or update the registration for (issuer, client_id); never duplicates."""
    # the issuer too: a platform's iss is a URL, and one typed without its scheme would match no launch ever
    for field in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
        if not origin_of(getattr(spec, field)):
            raise InvalidInput(_("%(field)s must be an http(s) URL", field=field), errors={field: [_("Not an http(s) URL.")]})
    if not spec.issuer or not spec.client_id:
        raise InvalidInput(_("issuer and client id are required"))
    platform = db.session.scalar(
        select(Platform).where(Platform.issuer == spec.issuer, Platform.client_id == spec.client_id)
    )
    if platform is None:
        org = get_or_create_organisation(spec.organisation or DEFAULT_ORGANISATION, now)
        platform = Platform(issuer=spec.issuer, client_id=spec.client_id, created_at=now, organisation_id=org.id,
                            accept_new_deployments=bool(spec.accept_new_deployments),
                            email_authoritative=bool(spec.email_authoritative))
        db.session.add(platform)
    else:
        # A registration's courses, people and points belong to its organisation: never split them.
        if spec.organisation and spec.organisation != platform.organisation.name:
            raise Conflict(_(
                "This registration belongs to “%(current)s”; it cannot be moved to “%(other)s”. Register a new "
                "client id for the other organisation instead.", current=platform.organisation.name,
                other=spec.organisation))
        if spec.accept_new_deployments is not None:
            platform.accept_new_deployments = spec.accept_new_deployments
        if spec.email_authoritative is not None:
            platform.email_authoritative = spec.email_authoritative
    platform.auth_login_url = spec.auth_login_url
    platform.auth_token_url = spec.auth_token_url
    platform.key_set_url = spec.key_set_url
    platform.name = spec.name or platform.name or spec.issuer
    db.session.flush()
    for deployment_id in spec.deployment_ids:
        add_deployment(platform, deployment_id, now)
    issuer_origin = origin_of(spec.issuer)
    if issuer_origin:
        add_frame_origin(platform, issuer_origin, now, source="issuer")
    return platform


def add_deployment(platform: Platform, deployment_id: str, now: datetime) -> Deployment:
    insert_ignore(db.session, Deployment.__table__,
                  {"platform_id": platform.id, "deployment_id": deployment_id, "created_at": now},
                  ["platform_id", "deployment_id"])
    return db.session.scalar(select(Deployment).where(
        Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id))


def find_deployment(platform_id: int, deployment_id: str) -> Deployment | None:
    return db.session.scalar(select(Deployment).where(
        Deployment.platform_id == platform_id, Deployment.deployment_id == deployment_id))


def add_frame_origin(platform: Platform, origin: str, now: datetime, source: str = "operator") -> None:
    clean = origin_of(origin)
    if clean is None:
        raise InvalidInput(_("Not an origin: %(origin)s", origin=origin), errors={"origin": [_("Use scheme://host[:port].")]})
    insert_ignore(db.session, FrameOrigin.__table__,
                  {"platform_id": platform.id, "origin": clean, "source": source, "created_at": now},
                  ["platform_id", "origin"])


def remove_frame_origin(platform: Platform, origin: str) -> bool:
    """Remove the origin (as origin_of writes it, or exactly as stored: a row no longer taken as an origin)."""
    row = db.session.scalar(select(FrameOrigin).where(
        FrameOrigin.platform_id == platform.id, FrameOrigin.origin.in_({origin_of(origin) or origin, origin})))
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


def frame_origins(platform_id: int) -> list[str]:
    return list(db.session.scalars(
        select(FrameOrigin.origin).where(FrameOrigin.platform_id == platform_id).order_by(FrameOrigin.origin)))


def remove_platform(platform: Platform) -> None:
    """Delete a registration nobody has launched through (an operator's mistake, a paste of an example): its
    deployments, frame origins and pending logins go with it (their foreign keys cascade). One with courses or
    people is refused: their memberships, experiments, points and badges hang off it.

    The registration's row is locked first: a first launch through it, racing in, waits (its course or person
    names the registration) and then fails, or it was first and the removal is refused."""
    db.session.execute(select(Platform.id).where(Platform.id == platform.id).with_for_update())
    courses = db.session.scalar(select(func.count()).select_from(Course).where(Course.platform_id == platform.id))
    people = db.session.scalar(select(func.count()).select_from(User).where(User.platform_id == platform.id))
    if courses or people:
        raise Conflict(_(
            "People have launched Tinker through this registration (courses: %(courses)s, people: %(people)s): "
            "their records belong to it, so it cannot be removed. Update it with add-platform instead.",
            courses=courses, people=people))
    db.session.execute(delete(Platform).where(Platform.id == platform.id))
    db.session.expunge(platform)


def find_platform(issuer: str, client_id: str | None = None) -> Platform:
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    platforms = list(db.session.scalars(query.limit(2)))
    if len(platforms) != 1:
        raise NotFound(f"no single registration for issuer {issuer!r}" + (f" and client {client_id!r}" if client_id else ""))
    return platforms[0]


def issuer_spelled_otherwise(issuer: str) -> str | None:
    """A registered issuer that differs from `issuer` only by a trailing slash (never matched: the LTI spec
    wants iss exactly as registered), for the refusal to name; None when there is none."""
    bare = issuer.rstrip("/")
    return db.session.scalar(select(Platform.issuer).where(
        Platform.issuer.in_([bare, bare + "/"]), Platform.issuer != issuer).order_by(Platform.id).limit(1))


@dataclass(frozen=True)
class LaunchIdentity:
    """What a validated launch says about who and where, already free of LTI claim names."""

    platform_id: int
    deployment_pk: int
    context_id: str
    context_title: str
    context_label: str
    sub: str
    role: Role
    lti_roles: tuple[str, ...]
    name: str | None = None
    email: str | None = None
    locale: str | None = None


def provision(identity: LaunchIdentity, now: datetime) -> tuple[Course, User, Membership]:
    """Find or create the course, user and membership a launch names, refreshing what the LMS sent.

    Inserts are conflict-tolerant so two first launches racing on PostgreSQL both succeed.
    """
    platform = db.session.get(Platform, identity.platform_id)
    course_key = {"platform_id": platform.id, "deployment_id": identity.deployment_pk,
                  "context_id": identity.context_id}
    # A returning member (the usual launch): course, person and membership in one read.
    # Their membership row is locked first (PostgreSQL), before the flush below writes their account and then it: the
    # order a roster sync and an erasure take them in (membership, then account), so none of them deadlocks another.
    known = db.session.execute(select(Course, User, Membership).join(Membership, Membership.course_id == Course.id)
                               .join(User, User.id == Membership.user_id)
                               .where(*[Course.__table__.c[k] == v for k, v in course_key.items()],
                                      User.platform_id == platform.id, User.sub == identity.sub)
                               .with_for_update(of=Membership, key_share=True)).first()
    course, user, membership = known if known is not None else (None, None, None)
    if course is None:
        course = _found_or_inserted(select(Course).filter_by(**course_key), Course.__table__, {
            **course_key, "organisation_id": platform.organisation_id, "created_at": now,
            "title": identity.context_title or identity.context_id, "label": identity.context_label},
            list(course_key))
    course.title = identity.context_title or course.title
    course.label = identity.context_label or course.label

    if user is None:
        user = _found_or_inserted(select(User).where(User.platform_id == platform.id, User.sub == identity.sub),
                                  User.__table__, {"platform_id": platform.id, "sub": identity.sub,
                                                   "created_at": now}, ["platform_id", "sub"])
    # Only overwrite with what the LMS chose to share this time; never erase with a blank.
    user.name = identity.name or user.name
    user.email = identity.email or user.email
    user.locale = identity.locale or user.locale

    if membership is None:
        membership = _found_or_inserted(
            select(Membership).where(Membership.course_id == course.id, Membership.user_id == user.id),
            Membership.__table__, {"course_id": course.id, "user_id": user.id, "role": identity.role.value,
                                   "created_at": now}, ["course_id", "user_id"])
    membership.role = identity.role.value
    membership.lti_roles = " ".join(identity.lti_roles)
    membership.last_launch_at = now
    membership.status = ACTIVE  # a launch proves the LMS lets them in; the next roster sync has the last word
    db.session.flush()
    # What the launch just wrote is the person's standing: the board check after a launch need not read it back.
    remember_standing(course.id, user.id, membership.role, membership.status, membership.test_user)
    return course, user, membership


def _found_or_inserted(query, table, values: dict, conflict: list[str]):
    """The row `query` finds, inserting it first when missing (a returning learner, the usual launch, costs one
    read). The insert tolerates a conflict, so two first launches racing on PostgreSQL both succeed."""
    row = db.session.scalar(query)
    if row is None:
        insert_ignore(db.session, table, values, conflict)
        row = db.session.scalar(query)
    return row


def role_in(course_id: int, user_id: int) -> Role | None:
    """The person's role in the course, or None when they are not a member."""
    role = db.session.scalar(select(Membership.role).where(
        Membership.course_id == course_id, Membership.user_id == user_id))
    return Role(role) if role else None


@dataclass(frozen=True)
class Standing:
    """A person's membership of a course as the award path needs it."""

    role: str
    status: str
    test_user: bool

    @property
    def counted(self) -> bool:  # the same test as models.counted_membership()
        return self.status == ACTIVE and not self.test_user

    @property
    def counted_learner(self) -> bool:
        return self.counted and self.role == Role.LEARNER.value


_MEMBERSHIP = MEMBERSHIP = Membership.__table__
_STANDING = select(_MEMBERSHIP.c.role, _MEMBERSHIP.c.status, _MEMBERSHIP.c.test_user).where(
    _MEMBERSHIP.c.course_id == bindparam("course_id"), _MEMBERSHIP.c.user_id == bindparam("user_id"))


# PostgreSQL: the person's membership row version once its lock is taken (the newest, after waiting for a holder).
LOCKED_VERSION = select(literal_column("xmin")).select_from(_MEMBERSHIP).where(
    _MEMBERSHIP.c.course_id == bindparam("course_id"), _MEMBERSHIP.c.user_id == bindparam("user_id")).with_for_update(
    key_share=True).scalar_subquery()


def standing_of_locked(author) -> tuple:
    """The person's role, status and test-user mark, and a fourth column, `unchanged`, for a combined read that takes the person's membership row lock
    for the transaction (PostgreSQL; SQLite serialises writers already): what awards a person in a course takes before
    reading their past awards, so two of their awards at once (two tabs, two instances) take turns and the second sees
    what the first paid (the daily cap, repeats, thresholds). The statement reads the rest of what it reads as it was
    when it began; `unchanged` is false when it waited for the row and the holder rewrote it meanwhile (another award
    of theirs, a role or status changed by a launch, their teams changed: change_standing). The caller then runs its
    read again: it holds the lock now, so that read waits for nobody and sees what the holder wrote.
    `author`: the membership table under a name, which the caller's statement joins on the person's row (bind
    course_id, user_id); its columns are read from that row, as the statement's snapshot has it."""
    # no row at all (their membership gone, as after an erasure): nothing to wait for, nothing to read again
    return (author.c.role, author.c.status, author.c.test_user,
            LOCKED_VERSION.is_not_distinct_from(literal_column(f"{author.name}.xmin")).label("unchanged"))


def lock_organisation(organisation_id: int) -> None:
    """Take turns on the organisation's row (PostgreSQL; SQLite serialises writers already): changes of its
    configuration that check what is there first (lists, levels, rules, its defaults) run one after another, the
    second reading what the first committed. NO KEY UPDATE: awards (the KEY SHARE locks of their foreign keys on the
    row) need not wait for it."""
    db.session.execute(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update(key_share=True))


def lock_standing(course_id: int, *user_ids: int) -> None:
    """Take these people's membership row locks (see standing_of_locked) where no combined read takes them, in
    membership id order (PostgreSQL locks the rows as it returns them; the ORM's flush, a roster sync's, updates them
    in that order too), so two callers locking the same people take turns instead of deadlocking.

    PostgreSQL: the rows are rewritten as they are, as change_standing does. An award reads the person's past awards
    in the statement that takes their row (log_experiment's preflight), as they were when that statement began: a
    holder that wrote awards of theirs (a share, a kudos, a confirmed help) and committed while it waited, or just
    before it took the row, is then told by the row's new version, and the award reads again."""
    if dialect_name(db.session) != "postgresql" or not user_ids:
        db.session.execute(select(_MEMBERSHIP.c.id).where(_MEMBERSHIP.c.course_id == course_id,
                                                          _MEMBERSHIP.c.user_id.in_(user_ids))
                           .order_by(_MEMBERSHIP.c.id).with_for_update(key_share=True)).all()
        return
    if len(set(user_ids)) == 1:  # one row: locked and rewritten by one statement
        db.session.execute(_REWRITE_ONE, {"of_course": course_id, "of_user": user_ids[0]})
        return
    change_standing_where((_MEMBERSHIP.c.course_id == course_id) & _MEMBERSHIP.c.user_id.in_(user_ids))


_REWRITE_ONE = update(_MEMBERSHIP).where(_MEMBERSHIP.c.course_id == bindparam("of_course"),
                                         _MEMBERSHIP.c.user_id == bindparam("of_user")).values(
    status=_MEMBERSHIP.c.status)


def account_erased() -> Forbidden:
    """What a person is told when their account was erased while their request waited for their membership row (see
    lock_standing): nothing they sent is kept under the erased account."""
    return Forbidden(_("Your account here was erased at your organisation's request: nothing more is saved for it."))


def lock_own_account(actor: Actor) -> None:
    """Before a person's own write that keeps their words (mission evidence, a report): their membership row, as an
    erasure of them takes it (PostgreSQL), then whether they are erased. An erasure that began first has finished by
    then, and what they sent is refused rather than kept under the erased account; one that begins later waits for
    this write to commit, then erases it with the rest."""
    lock_standing(actor.course_id, actor.user_id)
    if db.session.scalar(select(User.erased_at).where(User.id == actor.user_id)) is not None:
        raise account_erased()


def change_standing(course_id: int, *user_ids: int) -> None:
    """Take these people's membership row locks (lock_standing) for a change of what their awards read with their
    standing (their teams), and rewrite the rows as they are (PostgreSQL): an award that waited for them then finds
    its read out of date (standing_of_locked's `unchanged`) and reads the person's teams again, as they now are."""
    lock_standing(course_id, *user_ids)  # PostgreSQL: which rewrites them


def change_standing_in_organisation(organisation_id: int) -> None:
    """change_standing for every member of the organisation's courses (membership id order, as lock_standing), for a
    change of what every award there reads (its time zone, which decides the week and month an award counts in): an
    award in progress finishes first (the caller's rebuild from the ledger then counts it), and one that begins later
    waits for the change and reads the organisation's configuration again, as it now is."""
    change_standing_where(_MEMBERSHIP.c.course_id.in_(select(Course.id).where(Course.organisation_id == organisation_id)))


def change_standing_in_course(course_id: int) -> None:
    """change_standing for every member of the course, for a change of what all their awards count toward (a
    challenge's window, filters or goal: its recount reads everyone's experiments)."""
    change_standing_where(_MEMBERSHIP.c.course_id == course_id)


def change_standing_where(clause) -> None:
    """The membership rows `clause` picks, locked in id order and rewritten as they are (PostgreSQL): what a writer
    that changes what those people's awards read takes (see lock_standing)."""
    db.session.execute(select(_MEMBERSHIP.c.id).where(clause).order_by(_MEMBERSHIP.c.id)
                       .with_for_update(key_share=True)).all()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(update(_MEMBERSHIP).where(clause).values(status=_MEMBERSHIP.c.status))


def remember_standing(course_id: int, user_id: int, role: str | None, status: str | None, test_user) -> None:
    memo.store(db.session, ("standing", course_id, user_id),
               None if role is None else Standing(role, status, bool(test_user)), (_MEMBERSHIP.name,))


def standing(course_id: int, user_id: int) -> Standing | None:
    """The person's membership of the course (None: not a member), read once per transaction."""
    def read():
        row = db.session.execute(_STANDING, {"course_id": course_id, "user_id": user_id}).first()
        return None if row is None else Standing(row.role, row.status, bool(row.test_user))
    return memo.remember(db.session, ("standing", course_id, user_id), (_MEMBERSHIP.name,), read)


def members(course_id: int, roles: tuple[Role, ...] | None = None) -> list[User]:
    query = select(User).join(Membership, Membership.user_id == User.id).where(Membership.course_id == course_id)
    if roles:
        query = query.where(Membership.role.in_([r.value for r in roles]))
    return list(db.session.scalars(query.order_by(User.name, User.id)))


def colleagues(course_id: int, user_id: int, roles: tuple[Role, ...]) -> list[User]:
    """Members of the course in those roles that a person may name in kudos, awards or help: anyone but themself
    and erased accounts (the services refuse those too)."""
    query = select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.course_id == course_id, Membership.role.in_([r.value for r in roles]), User.id != user_id,
        User.erased_at.is_(None))
    return list(db.session.scalars(query.order_by(User.name, User.id)))


# --- Roster (Names and Role Provisioning, read by plugin/lti/roster.py) ----------------------------
@dataclass(frozen=True)
class RosterEntry:
    """One person on the LMS roster, already free of LTI claim names."""
    sub: str
    role: Role
    lti_roles: tuple[str, ...]
    active: bool
    name: str | None = None
    email: str | None = None
    test_user: bool = False


@dataclass
class RosterCounts:
    added: int = 0
    updated: int = 0
    deactivated: int = 0
    erased: int = 0  # people the roster lists whose account was erased (left out)
    user_ids: dict[str, int] = dataclass_field(default_factory=dict)  # sub -> user id of everyone on the roster


def set_roster_service(course_id: int, roster_url: str, groups_url: str | None,
                       group_ids: tuple[str, ...] | None = None) -> None:
    """Remember the roster service a launch announced; group_ids: the LMS's group ids when it listed them."""
    groups = groups_url or Course.groups_url  # no write at all when nothing changed
    listed = Course.lms_group_ids if group_ids is None else ",".join(group_ids)
    changed = (Course.roster_url.is_distinct_from(roster_url) | Course.groups_url.is_distinct_from(groups)
               | Course.lms_group_ids.is_distinct_from(listed))
    db.session.execute(update(Course).where(Course.id == course_id, changed).values(
        roster_url=roster_url, groups_url=groups, lms_group_ids=listed))


def claim_roster_sync(course_id: int, now: datetime, interval: timedelta) -> bool:
    """True for the one caller (across app instances) that may sync this course now."""
    claimed = db.session.execute(update(Course).where(
        Course.id == course_id, Course.roster_url.is_not(None),
        or_(Course.roster_sync_at.is_(None), Course.roster_sync_at <= now - interval)).values(roster_sync_at=now))
    return claimed.rowcount == 1


def record_roster_status(course_id: int, status: str, now: datetime) -> None:
    db.session.execute(update(Course).where(Course.id == course_id).values(roster_status=fit(status, 400),
                                                                         roster_sync_at=now))


def roster_courses() -> list[Course]:
    return list(db.session.scalars(select(Course).where(Course.roster_url.is_not(None)).order_by(Course.id)))


ERASED_SUB = "erased:"


def _erased_mark(platform_id: int, sub: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"erased-sub:{platform_id}:{sub}".encode(), hashlib.sha256).hexdigest()[:32]


def erased_sub(user_id: int, platform_id: int, sub: str) -> str:
    """The LMS id an erased account keeps: not the person's (their next launch starts a fresh, empty account), but a
    keyed digest of it, by which a roster sync knows the LMS still lists someone who was erased and leaves them out."""
    return f"{ERASED_SUB}{user_id}:{_erased_mark(platform_id, sub)}"


ROSTER_CHUNK = 1000  # subs per IN list, rows per statement


def _chunks(items: list, size: int | None = None):
    size = size or ROSTER_CHUNK
    for start in range(0, len(items), size):
        yield items[start:start + size]


def sync_members(course_id: int, entries: list[RosterEntry], now: datetime) -> RosterCounts:
    """Make memberships match the roster; nobody is deleted: missing, Inactive or Deleted people become inactive.
    Someone erased is not brought back by the roster (only by launching Tinker again themselves).

    In statements of up to ROSTER_CHUNK rows, not a statement (or an ORM object) per member: the membership rows
    stay locked until the commit, and every award in the course waits on its author's. A 20,000-member course's
    first sync took 66 s one member at a time (3.6 s now), the next, with nothing to change, 2.9 s (0.3 s now)."""
    course = db.session.get(Course, course_id)
    platform_id = course.platform_id
    counts = RosterCounts()
    # Every membership row of the course, locked in id order (lock_standing's order) before any is written: the writes
    # below change some, and the teams' sync after it (change_standing) locks others; taken piecemeal, a person's own
    # write locking two of them in id order (peer help) held one the sync wanted while waiting for one it held.
    existing = {row.sub: row for row in db.session.execute(
        select(Membership.id, Membership.user_id, Membership.role, Membership.lti_roles, Membership.status,
               Membership.test_user, User.sub, User.name, User.email)
        .join(User, User.id == Membership.user_id).where(Membership.course_id == course_id)
        .order_by(Membership.id).with_for_update(key_share=True, of=Membership))}
    roster = {e.sub: e for e in entries}
    # Accounts of the people not yet members: found, or made (conflict-tolerant: one may be launching right now).
    accounts = {row.sub: row for row in existing.values()}
    newcomers = [sub for sub in roster if sub not in existing]
    for chunk in _chunks(newcomers):
        accounts.update((row.sub, row) for row in db.session.execute(select(
            User.id.label("user_id"), User.sub, User.name, User.email).where(
            User.platform_id == platform_id, User.sub.in_(chunk))))
    # in key order: two courses' syncs making the same new accounts at once take turns instead of deadlocking
    unknown = sorted(sub for sub in newcomers if sub not in accounts)
    if unknown:
        erased = {sub.rsplit(":", 1)[-1] for sub in db.session.scalars(select(User.sub).where(
            User.platform_id == platform_id, User.sub.startswith(ERASED_SUB)))}
        if erased:
            kept = [sub for sub in unknown if _erased_mark(platform_id, sub) not in erased]
            counts.erased, unknown = len(unknown) - len(kept), kept
        users = User.__table__
        made = insert_for_dialect(dialect_name(db.session), users).on_conflict_do_nothing(
            index_elements=["platform_id", "sub"]).returning(users.c.id.label("user_id"), users.c.sub, users.c.name,
                                                             users.c.email)
        for chunk in _chunks(unknown):
            accounts.update((row.sub, row) for row in db.session.execute(made, [
                {"platform_id": platform_id, "sub": sub, "created_at": now, "name": roster[sub].name,
                 "email": roster[sub].email} for sub in chunk]))
        # made meanwhile by someone's first launch (rare): looked up (not with the IN lists above: the table's
        # statistics predate this transaction's rows, and a plan for a few rows scanned them all per list)
        for sub in [sub for sub in unknown if sub not in accounts]:
            accounts[sub] = db.session.execute(select(User.id.label("user_id"), User.sub, User.name, User.email).where(
                User.platform_id == platform_id, User.sub == sub)).one()

    renamed: dict[frozenset, list[dict]] = {}
    changed: dict[frozenset, list[dict]] = {}
    joining = []
    for sub, entry in roster.items():
        account = accounts.get(sub)
        if account is None:  # erased
            continue
        counts.user_ids[sub] = account.user_id
        names = {k: v for k, v in (("name", entry.name), ("email", entry.email)) if v and v != getattr(account, k)}
        if names:
            renamed.setdefault(frozenset(names), []).append({"b_id": account.user_id, **_bound(names)})
        wanted = {"role": entry.role.value, "lti_roles": " ".join(entry.lti_roles),
                  "status": ACTIVE if entry.active else INACTIVE, "test_user": entry.test_user}
        membership = existing.pop(sub, None)
        if membership is None:
            joining.append({"course_id": course_id, "user_id": account.user_id, "created_at": now, **wanted})
            continue
        if membership.role == Role.ADMIN.value:
            # An institution or system role comes with the person's launch; a course roster lists course roles
            # (a site admin teaching the course is its Instructor there): only a launch takes the admin role away.
            wanted["role"] = Role.ADMIN.value
        moved = {k: v for k, v in wanted.items() if getattr(membership, k) != v}
        if moved:
            leaving = membership.status == ACTIVE and wanted["status"] == INACTIVE
            counts.deactivated += leaving
            counts.updated += not leaving
            changed.setdefault(frozenset(moved), []).append({"b_id": membership.id, **_bound(moved)})
    for membership in existing.values():  # not on the roster
        if membership.status != INACTIVE:
            changed.setdefault(frozenset({"status"}), []).append({"b_id": membership.id, "b_status": INACTIVE})
            counts.deactivated += 1
    joining.sort(key=lambda row: row["user_id"])  # in key order, as above
    _lock_accounts([row["b_id"] for rows in renamed.values() for row in rows])
    for rows in _chunks(joining):
        counts.added += len(db.session.execute(insert_for_dialect(dialect_name(db.session), Membership.__table__)
                                               .on_conflict_do_nothing(index_elements=["course_id", "user_id"])
                                               .returning(Membership.__table__.c.id), rows).all())
    _update_by_id(User.__table__, renamed)
    _update_by_id(Membership.__table__, changed)
    # what the session holds of these rows is stale now (the statements bypassed it)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, (Membership, User)):
            db.session.expire(obj)
    return counts


def _lock_accounts(user_ids: list[int]) -> None:
    """The accounts about to be renamed, locked in id order (PostgreSQL) after the course's membership rows (the
    order an erasure and a launch take them in too): accounts are shared between courses, and two courses' syncs
    writing them in roster order deadlocked."""
    if dialect_name(db.session) != "postgresql":
        return
    for chunk in _chunks(sorted(user_ids)):
        db.session.execute(select(User.id).where(User.id.in_(chunk)).order_by(User.id)
                           .with_for_update(key_share=True)).all()


def _bound(values: dict) -> dict:
    return {f"b_{k}": v for k, v in values.items()}


def _update_by_id(table, groups: dict[frozenset, list[dict]]) -> None:
    """One executemany per set of columns changed (the data version's hook sees which: a membership's LTI role
    strings alone, or an e-mail, change nothing a page shows)."""
    for columns, rows in groups.items():
        statement = update(table).where(table.c.id == bindparam("b_id")).values(
            {c: bindparam(f"b_{c}") for c in sorted(columns)})
        for chunk in _chunks(rows):
            db.session.execute(statement, chunk)


def course_learners(actor: Actor) -> list[User]:
    """The learners of the actor's course, for staff picking a receiver or a team member."""
    if not actor.can_manage:
        raise Forbidden(_("Only managers and administrators list the course's learners."))
    return members(actor.course_id, (Role.LEARNER,))


def choose_language(actor: Actor, launch_session_id: str, code: str) -> str:
    """The person's own choice of language: this launch shows it at once, and later launches start in it
    (the LMS's locale claim only decides for people who never chose)."""
    from plugin.i18n import supported
    from plugin.lti.models import LaunchSession

    chosen = supported(code)
    if chosen is None or chosen != code:
        raise InvalidInput(_("That language is not offered."), errors={"language": [_("Choose English or Turkish.")]})
    db.session.get(User, actor.user_id).preferred_locale = chosen
    db.session.get(LaunchSession, launch_session_id).locale = chosen
    return chosen
