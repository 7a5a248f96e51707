"""log_experiment: the one path by which an experiment enters Tinker (pages, API, CLI and seeder alike)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.orm import make_transient_to_detached

from plugin.catalog.models import AiTool, TaskCategory
from plugin.challenges import progress as challenges
from plugin.core.actor import Actor
from plugin.core.db import Hot, dialect_name, insert_for_dialect
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.experiments import award_write
from plugin.experiments.models import Experiment, Outcome, SensitiveData, Visibility
from plugin.experiments.schemas import OTHER_TOOL
from plugin.experiments.similarity import fingerprint, most_similar, shingles
from plugin.extensions import db
from plugin.facts import tallies
from plugin.facts.db import DbFacts
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.identity import people
from plugin.leaderboards import aggregates, board_rows
from plugin.ledger import pending as award_rows
from plugin.outbox import grades
from plugin.rules import events as E
from plugin.rules import service as rules
from plugin.settings.service import limits, zone_named
from plugin.tenancy import config_cache
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course, Membership, Organisation, User
from plugin.vision import service as vision
from plugin.vision.coaching import SENSITIVE_DATA, UNAPPROVED_TOOL
from plugin.vision.models import ExperimentPillar
from plugin.webhooks import events as webhooks
from plugin.xapi import service as xapi


@dataclass(frozen=True)
class Logged:
    experiment: Experiment
    recognitions: list[rules.Recognition]
    created: bool
    forced_private: bool


def log_experiment(actor: Actor, data: dict, now: datetime, edited_is_new: bool = False) -> Logged:
    """Record an experiment and award what it earns. `data` is ExperimentIn-loaded.

    A repeated submission_key (double click, browser retry) returns the first experiment unchanged. With
    `edited_is_new` (the web form, whose key the browser keeps when the person goes Back to it after saving), the
    entry is kept under the key and a digest of what was sent: the same content sent again (a retry; Back, then Save)
    is the entry saved, whatever was changed on it since (shared, reworded through the API), and other content
    (pillars included) a new entry.
    The shared rank rows of the boards are written last (board_rows.ranks_last), just before the caller commits.
    On PostgreSQL every row the award writes goes in that last statement (ledger/pending.py): before it, the award
    only reads, in its preflight.
    """
    with board_rows.ranks_last():
        return _log(actor, {**data, "submission_key": _sent_key(data)} if edited_is_new else data, now)


def short_reflection(actor: Actor, data: dict) -> str | None:
    """Why a failed experiment's reflection (`data`: ExperimentIn-loaded) would earn no points for trying: shorter than
    the organisation's minimum, for the person to add to it or save it as it is before logging it (the web form asks);
    None when it is long enough, or nothing would be earned anyway."""
    least = limits(actor.organisation_id).min_reflection_chars
    written = len(data.get("learned", "").strip())
    if not actor.can_earn or data["outcome"] != Outcome.FAILED.value or least <= 1 or written >= least:
        return None
    if not any(r.condition == "each_experiment" and r.points > 0 for r in rules.active_rules(actor.organisation_id)):
        return None  # no rule pays for trying: nothing to lose
    return _("A reflection earns the points for trying from %(n)s characters, and this one has %(written)s. Add a "
             "sentence on what you learned or would try differently, or save it as it is.", n=least, written=written)


def _sent(data: dict) -> tuple:
    """What the form says of an entry, as its row keeps it (what `_sent_key` digests)."""
    other = data["ai_tool"] == OTHER_TOOL
    return (data["title"].strip(), data["tried"].strip(), data.get("learned", "").strip(), data["outcome"],
            None if other else int(data["ai_tool"]), data["ai_tool_other"].strip() if other else None,
            int(data["task_category"]), data.get("minutes_saved"), data["sensitive_data"],
            Visibility.PRIVATE.value if data["sensitive_data"] != SensitiveData.NO.value else data["visibility"],
            bool(data.get("anonymous")) and data["outcome"] == Outcome.FAILED.value, data.get("confidence_before"),
            data.get("confidence_after"))


def sent_key(stored: str) -> str:
    """The key a form sent, from the key its entry is kept under (`_sent_key`: the sent key, up to 40 characters,
    then "~" and a digest); a key kept as sent (the JSON API's) comes back as it is."""
    return stored.split("~", 1)[0]


def _sent_key(data: dict) -> str:
    """The form's key and a digest of what it sent (the key too: two keys alike in their first 40 characters stay
    apart). What was sent, not the row: a row changed since still matches the form sent again unchanged."""
    sent = (data["submission_key"], *_sent(data), sorted(set(data.get("pillars") or [])))
    digest = hashlib.sha256(json.dumps(sent, default=str).encode()).hexdigest()[:20]
    return f"{data['submission_key'][:40]}~{digest}"  # 61 characters at most: the column holds 64


def _log(actor: Actor, data: dict, now: datetime) -> Logged:
    if not actor.can_contribute:
        raise Forbidden(_("Observers can read Tinker but not log experiments."))
    other_tool = data["ai_tool"] == OTHER_TOOL
    postgresql = dialect_name(db.session) == "postgresql"
    text = " ".join([data["title"], data["tried"], data.get("learned", "")])
    shingled = shingles(text)
    hashes = fingerprint(shingled) if postgresql else None  # PostgreSQL: only texts sharing one come back
    params = {"course_id": actor.course_id, "user_id": actor.user_id, "key": data["submission_key"],
              "organisation_id": actor.organisation_id, "task_category_id": data["task_category"],
              "ai_tool_id": None if other_tool else int(data["ai_tool"]), "now": now,
              "recent_since": now - DUPLICATE_WINDOW, "recent_limit": DUPLICATE_RECENT, "shingles": hashes}
    # PostgreSQL: what the rules will ask is read in the preflight too, when this process knows the organisation's
    # configuration (checked against the version the preflight reads).
    ahead = _facts_ahead(actor, data, now) if postgresql and actor.can_earn else None
    preflight = _preflight(ahead)
    if ahead is not None:
        params.update(ahead.read.params)
    first = preflight.all(db.session, params)[0]
    if not first[_UNCHANGED] or (postgresql and not first[_COLUMNS]):
        # It waited for the author's row while another of their awards (or a change of their teams or standing) was
        # being saved, or for the organisation's row while an identity link was, and read the rest as it was before:
        # their recent entries without that one, their teams or linked accounts as they were. Read again, in turn
        # now (PostgreSQL).
        first = preflight.all(db.session, params)[0]
    (existing_id, category_id, tool_id, role, status, test_user, _unchanged, any_approved, this_approved, version,
     grade_sync, linked, teams, first_team, any_challenge, erased, recent) = first[:_COLUMNS]
    tenancy.remember_standing(actor.course_id, actor.user_id, role, status, test_user)
    aggregates.remember_teams_and_challenges(actor.course_id, actor.user_id, now, teams, first_team, any_challenge)
    config_cache.remember_version(actor.organisation_id, version)
    grades.remember_enabled(actor.course_id, grade_sync)
    people.remember_identities(actor.user_id, linked)
    if ahead is not None and ahead.version != version:
        ahead = None  # the configuration changed since this process kept it: the rules' facts are read again
    if existing_id is not None:
        return Logged(db.session.get(Experiment, existing_id), [], created=False, forced_private=False)
    if erased:  # an erasure of the author finished while this waited for their row (see _NEW_ROW)
        raise tenancy.account_erased()

    if category_id is None:
        raise InvalidInput(_("Choose a task category from the list."), errors={"task_category": [_("Choose a task category from the list.")]})
    tool_other = None
    if other_tool:
        tool_other = data["ai_tool_other"].strip()
    else:
        if tool_id is None:
            raise InvalidInput(_("Choose an AI tool from the list, or Other."), errors={"ai_tool": [_("Choose an AI tool from the list, or Other.")]})
    # Anything but a clear "no" about confidential data keeps the entry to its author.
    forced_private = data["sensitive_data"] != SensitiveData.NO.value
    chosen_pillars = _pillars(actor, data.get("pillars") or [])
    coaching = coaching_reasons(actor.organisation_id, tool_id, data["sensitive_data"],
                                approved=vision.approved_from(tool_id, any_approved, this_approved))
    visibility = Visibility.PRIVATE.value if forced_private else data["visibility"]
    org_limits = limits(actor.organisation_id)
    duplicate_of, score = most_similar(text, _pairs(recent), shingled)
    learned = data.get("learned", "").strip()

    row = dict(
        _UNSET, organisation_id=actor.organisation_id, course_id=actor.course_id, user_id=actor.user_id,
        submission_key=data["submission_key"], title=data["title"].strip(), ai_tool_id=tool_id,
        ai_tool_other=tool_other, task_category_id=category_id, tried=data["tried"].strip(),
        outcome=data["outcome"], learned=learned, minutes_saved=data.get("minutes_saved"),
        sensitive_data=data["sensitive_data"], visibility=visibility, created_at=now,
        anonymous=bool(data.get("anonymous")) and data["outcome"] == Outcome.FAILED.value,
        reflection_chars=len(learned), confidence_before=data.get("confidence_before"),
        confidence_after=data.get("confidence_after"), coaching=",".join(coaching),
        duplicate_of_id=duplicate_of if score * 100 >= org_limits.duplicate_threshold_percent else None,
        shingle_hashes=hashes,
        # Shared when logged: its sharing rules are paid now. Kept, so that making it private and sharing it again
        # leaves it there (share_experiment sets it only on an entry never shared before).
        shared_at=now if visibility != Visibility.PRIVATE.value else None,
    )
    metrics = aggregates.experiment_metrics(row["minutes_saved"], category_id, row["outcome"])
    counted = tallies.of_row(row)
    if postgresql:
        experiment = _held(actor, row, first[_DRAWN], first[_DRAWN + 1:_DRAWN + 1 + LEDGER_IDS], metrics, counted,
                           now, bool(chosen_pillars))
    else:
        # INSERT ... ON CONFLICT DO NOTHING on the submission key: the same submission racing in from another
        # request or instance finds the winner, with no savepoint around the insert.
        experiment_id = _INSERT.scalar(db.session, row)
        if experiment_id is None:
            return _logged_before(actor, data["submission_key"])
        experiment = _as_loaded(experiment_id, row)
        aggregates.record_activity(actor.organisation_id, actor.course_id, actor.user_id, now, metrics)
        tallies.add(actor.course_id, actor.user_id, counted)
    if chosen_pillars:
        db.session.add_all([ExperimentPillar(experiment_id=experiment.id, pillar_id=p) for p in chosen_pillars])
        db.session.flush()

    recognitions: list[rules.Recognition] = []
    if actor.can_earn:
        event = experiment_event(experiment)
        if ahead is not None and not event.attrs["near_duplicate"]:  # read by the preflight
            facts = ahead.facts
            ahead.read.event = event
            facts.take_experiment_read(ahead.read, _facts_rows(first[-1]))
        else:
            facts = DbFacts(actor.course_id, actor.user_id, actor.organisation_id)
            if not event.attrs["near_duplicate"]:  # a near-duplicate earns nothing: its rules ask no facts
                facts.prefetch_experiment(event, org_limits.min_reflection_chars,
                                          awards_of=rules.asking_rules(actor.organisation_id))
        recognitions = rules.process(event, facts, org_limits, now)
        grades.points_changed(actor.course_id, actor.user_id, now)
    if any_challenge:
        award_rows.flush()  # challenge progress reads the experiments (ledger/pending.py)
    challenges.on_experiment_logged(experiment, now)
    xapi.experiment_logged(experiment, now)
    webhooks.experiment_logged(experiment, now)
    return Logged(experiment, recognitions, created=True, forced_private=forced_private)


def _as_loaded(experiment_id: int, row: dict) -> Experiment:
    """The row just inserted as a detached Experiment, as if loaded: every column given (nothing reads it back), set
    as loading sets them, past the per-attribute change events Experiment(**row) fires (a quarter of the ORM's part
    of an award). It stays out of the session (it has no relationships to load): the commit has nothing to expire,
    and a caller reading it after committing (its id, for the page it redirects to) sends no SELECT to reload it.
    session.merge() takes it back in where a caller wants to change it."""
    experiment = _NEW_EXPERIMENT()
    experiment.__dict__.update(row, id=experiment_id)
    make_transient_to_detached(experiment)
    return experiment


_NEW_EXPERIMENT = Experiment.__mapper__.class_manager.new_instance


def _pillars(actor: Actor, ids: list[int]) -> list[int]:
    if not ids:
        return []
    active = {p.id for p in vision.pillars(actor.organisation_id)}
    if not set(ids) <= active:
        raise InvalidInput(_("Choose pillars from the AI vision's list."),
                           errors={"pillars": [_("Choose pillars from the AI vision's list.")]})
    return sorted(set(ids))


def coaching_reasons(organisation_id: int, tool_id: int | None, sensitive_data: str,
                     approved: bool | None = None) -> list[str]:
    """Why the author gets a private coaching note: never a penalty, never shown to anyone else.
    `approved`: whether the vision approves the tool, when the caller already read it."""
    reasons = []
    if not (vision.tool_approved(organisation_id, tool_id) if approved is None else approved):
        reasons.append(UNAPPROVED_TOOL)
    if sensitive_data != SensitiveData.NO.value:
        reasons.append(SENSITIVE_DATA)
    return reasons


def experiment_event(experiment: Experiment) -> E.Event:
    """The structured facts of an experiment, as rules (and replays) see them."""
    return E.Event(
        name=E.EXPERIMENT_LOGGED, organisation_id=experiment.organisation_id, course_id=experiment.course_id,
        user_id=experiment.user_id, source_type="experiment", source_id=experiment.id,
        occurred_at=experiment.created_at,
        attrs={"outcome": experiment.outcome, "reflection_chars": experiment.reflection_chars,
               "tool_key": experiment.tool_key, "category_id": experiment.task_category_id,
               "shared": experiment.shared, "near_duplicate": experiment.duplicate_of_id is not None},
    )


DUPLICATE_WINDOW = timedelta(days=90)
# A new entry is compared with at most this many of its author's most recent ones in the window: what one award
# reads and compares stays the same however many entries a prolific author has logged (re-posting an old text
# after this many other entries is farming nothing: the daily cap and diminishing returns still apply).
DUPLICATE_RECENT = 50


_X = Experiment.__table__
_UNSET = {column.key: None for column in _X.columns if column.key != "id"}  # what an insert leaves empty
BY_KEY = select(_X.c.id).where(_X.c.course_id == bindparam("course_id"), _X.c.user_id == bindparam("user_id"),
                                _X.c.submission_key == bindparam("key"))


def _active_item(table):
    return select(table.c.id).where(table.c.id == bindparam(f"{table.name}_id"), table.c.active.is_(True),
                                    table.c.organisation_id == bindparam("organisation_id")).scalar_subquery()


# One round trip before anything is written: the submission key already used?, the chosen category and
# tool (ids when they are the organisation's active ones, as catalog.service.find_active decides), the
# author's membership (the award path asks for it several times; its row locked, so the author's awards racing in
# from two tabs or instances take turns and the second's facts read sees what the first paid), the vision's approval of the tool and the
# organisation's configuration version (its limits, rules, xAPI and webhook settings then come from memory),
# and what the award's writers would each ask again: grade sync on?, linked accounts, teams, open challenges.
# Last, the author's :recent_limit most recent entries in the course since :since (the near-duplicate check's
# window), as one JSON array of [id, text as most_similar compares it]: one value, not a row per
# entry (a row each cost the driver and Python more than the database spent finding them). PostgreSQL sends only
# those sharing a word triple with the new entry's (Experiment.shingle_hashes).
# The preflight's `unchanged` column: after the key, the category and the tool, the author's role, status and
# test-user mark, then `unchanged` (_first).
_UNCHANGED = 6


# The author's account erased (what _NEW_ROW checks again as it writes): refused before anything is written.
_ERASED = exists().where(User.id == bindparam("user_id"), User.erased_at.is_not(None))


_AUTHOR = Membership.__table__.alias("author")
_ORG = Organisation.__table__.alias("org")
_ORGANISATION_VERSION = select(literal_column("xmin")).select_from(Organisation.__table__).where(
    Organisation.__table__.c.id == bindparam("organisation_id"))


def _first(dialect: str) -> tuple[list, object]:
    """The preflight's first columns and the rows they are read from: the author's membership row, the
    organisation's row and the author's teams (how many, the lowest) each read once, joined to one row, rather than
    once per column (a scan each); a row not there reads as NULL. `unchanged`: PostgreSQL's as
    tenancy.standing_of_locked makes it; always true on SQLite, which serialises writers (no award waits for the
    author's row)."""
    one = select(literal_column("1").label("one")).subquery("one")
    rows = one.outerjoin(_AUTHOR, and_(_AUTHOR.c.course_id == bindparam("course_id"),
                                       _AUTHOR.c.user_id == bindparam("user_id"))).outerjoin(
        _ORG, _ORG.c.id == bindparam("organisation_id")).join(aggregates.MY_TEAMS_ROW, true())
    standing = tenancy.standing_of_locked(_AUTHOR) if dialect == "postgresql" else (
        _AUTHOR.c.role, _AUTHOR.c.status, _AUTHOR.c.test_user, literal(True).label("unchanged"))
    teams = aggregates.MY_TEAMS_ROW.c
    return [BY_KEY.scalar_subquery(), _active_item(TaskCategory.__table__).label("category"),
            _active_item(AiTool.__table__).label("tool"), *standing, vision.ANY_APPROVED, vision.THIS_APPROVED,
            _ORG.c.config_version, grades.ENABLED, people.LINKED_COUNT, teams.teams, teams.first_team,
            aggregates.ANY_OPEN_CHALLENGE, _ERASED], rows


_TEXT = _X.c.title + " " + _X.c.tried + " " + func.coalesce(_X.c.learned, "")


def _recent_texts(dialect: str):
    mine = (_X.c.course_id == bindparam("course_id"), _X.c.user_id == bindparam("user_id"),
            _X.c.created_at >= bindparam("recent_since", type_=_X.c.created_at.type))
    # The newest :recent_limit, read backwards off the author's (course, user, created_at) index.
    newest = (_X.c.created_at.desc(), _X.c.id.desc())
    limit = bindparam("recent_limit", type_=Integer)
    if dialect == "postgresql":
        from sqlalchemy import ARRAY, or_
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        latest = select(_X.c.id, _X.c.created_at, _X.c.title, _X.c.tried, _X.c.learned, _X.c.shingle_hashes).where(
            *mine).order_by(*newest).limit(limit).subquery()
        # Of those, the texts sharing a word triple with the new entry's (:shingles, similarity.fingerprint), or
        # not fingerprinted: the others score 0 and are never its near-duplicate, so their text is neither put
        # together nor sent.
        sharing = or_(latest.c.shingle_hashes.is_(None),
                      latest.c.shingle_hashes.op("&&")(bindparam("shingles", type_=ARRAY(Integer))))
        text = latest.c.title + " " + latest.c.tried + " " + func.coalesce(latest.c.learned, "")
        return select(func.json_agg(aggregate_order_by(func.json_build_array(latest.c.id, text),
                                                       latest.c.created_at, latest.c.id))).where(
            sharing).scalar_subquery()
    latest = select(_X.c.id, _X.c.created_at, _TEXT.label("text")).where(*mine).order_by(*newest).limit(
        limit).subquery()
    # SQLite (3.40: no ORDER BY inside an aggregate) aggregates in the order its FROM subquery gives: the index's,
    # newest first (sorting them back to oldest first here cost a temporary B-tree per award; _pairs reverses).
    return select(func.json_group_array(func.json_array(latest.c.id, latest.c.text))).scalar_subquery()


_COLUMNS = 17  # the preflight's columns above (_first and the recent entries)
# PostgreSQL: after them whether the organisation's row was taken unchanged, the course's row, then the drawn ids
_DRAWN = _COLUMNS + 2
# PostgreSQL: the ledger entry ids the preflight draws, for the entries the rules post (ledger/pending.py): the
# default rules post one per experiment, two when a bonus pays too. More are posted at once, as before.
LEDGER_IDS = 2
_SEQUENCES = ("experiment_id_seq", "ledger_entry_id_seq")
_PREFLIGHTS: dict[tuple | None, Hot] = {}


def _preflight(ahead: _Ahead | None) -> Hot:
    """The preflight (SQLite: _first and the recent entries). PostgreSQL adds the rows of the organisation and the
    course locked FOR KEY SHARE, the new experiment's id and LEDGER_IDS ledger entry ids drawn from their sequences,
    and with `ahead` the rules' facts (DbFacts.experiment_read, as it counts the new entry in) as one JSON array of
    rows (_DRAWN: where those columns are).

    The locks are what the foreign keys of the award's rows take at the end of its one write. Taken here, before
    any team, board or rank row is locked, whoever holds either row FOR UPDATE and then writes such rows (an identity
    link moves board rows; a team's rename, under its course's row, its standing) is waited for first, as it was
    when the experiment was inserted by a statement of its own."""
    key = None if ahead is None else ahead.read.key
    hot = _PREFLIGHTS.get(key)
    if hot is None:
        def build(dialect):
            columns, rows = _first(dialect)
            columns.append(_recent_texts(dialect).label("recent"))
            if dialect != "postgresql":
                return select(*columns).select_from(rows)
            # The organisation's row as locked against the one this statement's snapshot reads (as the author's
            # row is): an identity link rewrites it under its lock, so an award that waited for a link reads again
            # whose board rows it moves.
            columns.append(_ORGANISATION_VERSION.with_for_update(read=True, key_share=True).scalar_subquery()
                           .is_not_distinct_from(literal_column(f"{_ORG.name}.xmin")))
            course = Course.__table__
            columns.append(select(course.c.id).where(course.c.id == bindparam("course_id"))
                           .with_for_update(read=True, key_share=True).scalar_subquery())
            columns += [_drawn(_SEQUENCES[0])] + [_drawn(_SEQUENCES[1]) for _ in range(LEDGER_IDS)]
            if ahead is not None:
                facts = ahead.read.select().subquery()
                columns.append(select(func.json_agg(func.json_build_array(*facts.c))).scalar_subquery())
            return select(*columns).select_from(rows)
        hot = _PREFLIGHTS[key] = Hot(build)
    return hot


def _drawn(sequence: str):
    """The next id of `sequence`."""
    return func.nextval(literal_column(f"'{sequence}'::regclass"))


@dataclass
class _Ahead:
    """The rules' facts read by the preflight: what reads them and how, under the configuration version kept."""
    version: int
    facts: DbFacts
    read: object  # facts.db.ExperimentRead


def _facts_ahead(actor: Actor, data: dict, now: datetime) -> _Ahead | None:
    """What the rules of the new entry will ask, with the arguments they will ask it with, from the configuration
    this process keeps for the organisation (None when it keeps none: the facts are read after the preflight)."""
    known = config_cache.latest(actor.organisation_id, "settings", "asking_rules")
    if known is None:
        return None
    version, ((org_limits, zone_name), asking) = known
    other = data["ai_tool"] == OTHER_TOOL
    facts = DbFacts(actor.course_id, actor.user_id, actor.organisation_id, zone=zone_named(zone_name))
    event = E.Event(name=E.EXPERIMENT_LOGGED, organisation_id=actor.organisation_id, course_id=actor.course_id,
                    user_id=actor.user_id, source_type="experiment", source_id=0, occurred_at=now,
                    attrs={"tool_key": "other" if other else f"tool:{int(data['ai_tool'])}",
                           "category_id": data["task_category"]})
    learned = data.get("learned", "").strip()
    new = {"visibility": Visibility.PRIVATE.value if data["sensitive_data"] != SensitiveData.NO.value
           else data["visibility"], "outcome": data["outcome"], "reflection_chars": len(learned), "created_at": now}
    return _Ahead(version, facts, facts.experiment_read(event, org_limits.min_reflection_chars, asking, new=new))


def _facts_rows(rows) -> list:
    """The preflight's facts rows (a JSON array of arrays, decoded by the driver; None: no row)."""
    return rows or []


def _held(actor: Actor, row: dict, experiment_id: int, ledger_ids, metrics: dict, counted: dict, now: datetime,
          pillars: bool) -> Experiment:
    """PostgreSQL: the new experiment, its activity and tallies held back (ledger/pending.py) under the id the
    preflight drew, for the award's one write at its end (experiments/award_write.py); the entries its rules post
    wait with it. An author counting in a team has their activity written now (their team's figures follow from
    the stored values read back). With pillars, the experiment is written at once (their rows refer to it)."""
    activity = aggregates.quiet_activity(actor.organisation_id, actor.course_id, actor.user_id, now, metrics)
    if activity is None:
        aggregates.record_activity(actor.organisation_id, actor.course_id, actor.user_id, now, metrics)
        activity = []
    award_rows.flush()  # an award before this one in the transaction (one ranks_last around both) goes first
    award_rows.start(award_rows.Pending(award_write.write, {
        **row, "id": experiment_id, "periods": [p for p, _m, _v in activity],
        "metrics": [m for _p, m, _v in activity], "values": [v for _p, _m, v in activity],
        **tallies.as_arrays(counted)}, list(ledger_ids)))
    if pillars:
        award_rows.flush()
    return _as_loaded(experiment_id, row)


def _logged_before(actor: Actor, submission_key: str) -> Logged:
    """The entry already logged under the key (the insert found it), or the refusal of an author erased meanwhile."""
    earlier = _by_key(actor, submission_key)
    if earlier is None:  # not the key used before: the author was erased while this waited (see _NEW_ROW)
        raise tenancy.account_erased()
    return Logged(earlier, [], created=False, forced_private=False)


def _pairs(recent) -> list:
    """The preflight's recent entries, oldest first: PostgreSQL's driver hands the JSON back decoded (None: no
    entries), SQLite's as text, newest first."""
    if recent is None:
        return []
    return json.loads(recent)[::-1] if isinstance(recent, str) else recent


# The new row, written only while its author's account is not erased: an erasure that took the author's membership
# row first has this award wait in the preflight, and this statement (read after that wait) then finds the account
# erased and writes nothing, rather than keep the entry's text under the erased account.
def _new_row(columns):
    return select(*(bindparam(key, type_=_X.c[key].type) for key in columns)).where(~_ERASED)


_NEW_ROW = _new_row(_UNSET)


def _new_entry(dialect: str, with_id: bool = False):
    """INSERT ... ON CONFLICT DO NOTHING on the submission key (_NEW_ROW), returning the new id (none when the key
    was used). `with_id`: the id is given (drawn by the preflight), as the :id parameter."""
    columns = ["id", *_UNSET] if with_id else list(_UNSET)
    return insert_for_dialect(dialect, _X).from_select(columns, _new_row(columns)).on_conflict_do_nothing(
        index_elements=["course_id", "user_id", "submission_key"]).returning(_X.c.id)


def _turn():
    """The author's membership row, locked since the preflight, written back as it is (PostgreSQL, a CTE of the
    insert): an award of theirs that waited for it meanwhile finds it rewritten (tenancy.standing_of_locked's
    `unchanged`) and reads again what it read before the wait, this entry among their recent ones (the near-duplicate
    check)."""
    member = tenancy.MEMBERSHIP
    return update(member).where(member.c.course_id == bindparam("course_id", type_=Integer),
                                member.c.user_id == bindparam("user_id", type_=Integer)).values(
        status=member.c.status).cte("turn")


# SQLite's insert (PostgreSQL's goes in the award's one write: insert_with_activity_ctes).
_INSERT = Hot(_new_entry, writes=(_X.name,))


def insert_with_activity_ctes():
    """PostgreSQL: the new experiment under its given id (the award's one write, experiments/award_write.py), and
    from the inserted row (none when the key was used) the person's member_stat rows (aggregates.quiet_activity:
    period, metric, value as three arrays) and experiment tallies (tallies.as_arrays), with the author's turn: the
    `entry` CTE and the others."""
    from sqlalchemy import ARRAY, BigInteger, String, true
    from sqlalchemy.dialects.postgresql import insert

    from plugin.leaderboards.models import MemberStat

    entry = _new_entry("postgresql", with_id=True).cte("entry")
    stat = MemberStat.__table__
    given = func.unnest(bindparam("periods", type_=ARRAY(String)), bindparam("metrics", type_=ARRAY(String)),
                        bindparam("values", type_=ARRAY(BigInteger))).table_valued(
        "period", "metric", "value").render_derived()
    add = insert(stat).from_select(["course_id", "user_id", "period", "metric", "value"], select(
        bindparam("course_id", type_=Integer), bindparam("user_id", type_=Integer), given.c.period, given.c.metric,
        given.c.value).select_from(entry).join(given, true()))
    add = add.on_conflict_do_update(index_elements=["course_id", "user_id", "period", "metric"],
                                    set_={"value": stat.c.value + add.excluded.value}).cte("activity")
    tally = tallies.T
    counted = func.unnest(bindparam("tally_buckets", type_=ARRAY(String)),
                          bindparam("tally_values", type_=ARRAY(BigInteger))).table_valued(
        "bucket", "value").render_derived()
    count = insert(tally).from_select(["course_id", "user_id", "bucket", "value"], select(
        bindparam("course_id", type_=Integer), bindparam("user_id", type_=Integer), counted.c.bucket,
        counted.c.value).select_from(entry).join(counted, true()))
    count = count.on_conflict_do_update(index_elements=["course_id", "user_id", "bucket"],
                                        set_={"value": tally.c.value + count.excluded.value}).cte("tally")
    return entry, (add, count, _turn())


def _by_key(actor: Actor, submission_key: str) -> Experiment | None:
    experiment_id = db.session.scalar(BY_KEY, {"course_id": actor.course_id, "user_id": actor.user_id,
                                               "key": submission_key})
    return None if experiment_id is None else db.session.get(Experiment, experiment_id)


OUTCOME_LABELS = {Outcome.WORKED.value: _l("Worked"), Outcome.PARTLY.value: _l("Partly worked"),
                  Outcome.FAILED.value: _l("Did not work")}  # lazy: read in the reader's language


EDITABLE = ("title", "tried", "confidence_after")


def _own(actor: Actor, experiment_id: int, lock: bool = False) -> Experiment:
    """The actor's own experiment; `lock`: its row locked for the transaction and read afresh (PostgreSQL: a
    concurrent change of it waits, and what this one reads is what the other committed)."""
    if not actor.can_contribute:  # an author whose role became observer keeps their entries as they are
        raise Forbidden(_("Observers can read Tinker but not change experiments."))
    experiment = db.session.get(Experiment, experiment_id, with_for_update=True, populate_existing=True) if lock \
        else db.session.get(Experiment, experiment_id)
    if experiment is None or experiment.course_id != actor.course_id:
        raise NotFound(_("No such experiment in this course."))
    if experiment.user_id != actor.user_id:
        raise Forbidden(_("Only the author changes an experiment."))
    return experiment


def update_experiment(actor: Actor, experiment_id: int, data: dict, now: datetime) -> Experiment:
    """The author corrects the wording (title, what they tried) or rates their confidence afterwards.

    Fields that earned points or feed the boards (outcome, reflection, minutes, tool, category) stay as
    logged: changing them would need a recalculation, which is the replay's job, not an edit's."""
    experiment = _own(actor, experiment_id)
    for name in EDITABLE:
        if name in data:
            value = data[name].strip() if isinstance(data[name], str) else data[name]
            setattr(experiment, name, value)
    db.session.flush()
    return experiment


def share_experiment(actor: Actor, experiment_id: int, visibility: str, now: datetime) -> Experiment:
    """The author widens (or narrows) who sees an experiment.

    An entry that may hold confidential or personal data stays private. Becoming shared counts for the
    sharing rules at once, as of the day it was logged but under the points cap of today too, and the first time
    is kept (shared_at; an entry shared when logged has it already) for replays to pay them there as well (the
    ledger's keys keep that to one award);
    making it private again takes no points back, as with every correction: a replay does that (its xAPI
    statement is voided at once, though: staff read the LRS). The row is locked
    first: two requests sharing it at once would each see it private and count it shared twice. Before it, the
    author's membership row, as logging takes it: the sharing rules' points fall under the same daily cap, and an
    entry logged meanwhile must see them (and they it)."""
    tenancy.lock_standing(actor.course_id, actor.user_id)
    experiment = _own(actor, experiment_id, lock=True)
    if visibility not in {v.value for v in Visibility}:
        raise InvalidInput(_("Choose private, team or course."), errors={"visibility": [_("Choose private, team or course.")]})
    if visibility != Visibility.PRIVATE.value and experiment.sensitive_data != SensitiveData.NO.value:
        message = _("This entry may hold confidential or personal data, so it stays private.")
        raise InvalidInput(message, errors={"visibility": [message]})
    was_shared = experiment.shared
    experiment.visibility = visibility
    if experiment.shared and not was_shared and experiment.shared_at is None:
        experiment.shared_at = now  # first shared: its sharing rules are paid now (below), where a replay pays them
    db.session.flush()
    if experiment.shared != was_shared:
        tallies.shared_changed(experiment, experiment.shared)
    if experiment.shared and not was_shared:
        xapi.experiment_logged(experiment, now)  # withheld while private; once per sharing (its key)
    if was_shared and not experiment.shared:
        xapi.experiment_unshared(actor, experiment, now)
    if experiment.shared and not was_shared and actor.can_earn:
        event = experiment_event(experiment)
        rules.process(replace(event, attrs={**event.attrs, "paid_at": now}), DbFacts(actor.course_id, actor.user_id),
                      limits(actor.organisation_id), now)
        grades.points_changed(actor.course_id, actor.user_id, now)
    return experiment
