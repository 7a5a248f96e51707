"""Every insight table (read from the same protected report as the pages) and the ledger for admins, as rows
for a CSV (plugin/core/spreadsheet.py writes them: formula-like text quoted, numbers as numbers)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, exists, select

from plugin.community.models import Reuse
from plugin.core.actor import Actor
from plugin.errors import Forbidden, NotFound
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.insights import periods
from plugin.insights.privacy import NOT_ENOUGH
from plugin.insights.report import Report
from plugin.ledger.models import LedgerEntry
from plugin.tenancy.models import Course


def _cells(row, names: list[str]) -> list:
    if row.suppressed:
        return [row.label, NOT_ENOUGH] + [""] * (len(names) - 1)
    return [row.label] + [row.figures.get(n) for n in names]


HOURS = ["people", "experiments", "minutes", "hours", "median"]
HOURS_HEAD = ["people", "experiments", "minutes saved (self-reported)", "hours", "median minutes per experiment"]


def tables(report: Report) -> dict[str, tuple[list[str], list[list]]]:
    """name -> (headers, rows): every table of the insights page, as it is shown there."""
    pillar_names = [p.name for p in report.pillars]
    return {
        # The period named in full ("Week 12, 2026 (from 16 Mar)", "Q3 2025"): the chart's short label ("W12",
        # "Q3 25") names no year, or only two of its digits, in a file read on its own.
        "adoption": (["period", "members", "with at least one experiment", "share %"],
                     [_cells(replace(r, label=periods.label(r.key)), ["roster", "active", "share"])
                      for r in report.trend]),
        "summary": (["measure", "value 1", "value 2", "value 3", "value 4"], _summary(report)),
        "hours-by-category": (["category", *HOURS_HEAD], [_cells(r, HOURS) for r in report.hours_by_category]),
        "hours-by-tool": (["tool", *HOURS_HEAD], [_cells(r, HOURS) for r in report.hours_by_tool]),
        "hours-by-team": (["team", *HOURS_HEAD], [_cells(r, HOURS) for r in report.hours_by_team]),
        "pillars": (["team", "experiments", *pillar_names, "gaps"],
                    [[r.label, NOT_ENOUGH] if r.suppressed else
                     [r.label, r.figures["experiments"], *[r.figures[p.id] for p in report.pillars],
                      "; ".join(r.figures["gaps"])] for r in report.pillar_coverage]),
        "help-network": (["team", "team", "confirmed helps", "people"],
                         [[e.a_name, e.b_name, e.helps, e.people] for e in report.network.edges]
                         + [[report.network.nodes[t], "(within the team)", n, ""]
                            for t, n in report.network.within.items()]),
        "most-reused": (["experiment", "category", "reused by"],
                        [[r.label, r.figures["category"], r.figures["reuses"]] for r in report.reused]),
    }


def _summary(report: Report) -> list[list]:
    def line(name, row, keys):
        return [name, NOT_ENOUGH] if row.suppressed else [name, *[row.figures[k] for k in keys]]
    return [
        line("adoption (members, active, share %, not started yet)", report.adoption,
             ["roster", "active", "share", "not_started"]),
        line("minutes saved, self-reported (people, experiments, minutes, median)", report.hours_total,
             ["people", "experiments", "minutes", "median"]),
        line("safe to fail (shared, did not work, rate %)", report.safe_to_fail, ["shared", "failed", "rate"]),
        line("confidence (rated, before, after, change)", report.confidence, ["rated", "before", "after", "delta"]),
        line("leaders go first (managers, logged in period, share %)", report.leaders,
             ["managers", "logged", "share"]),
        line("silo index (helps, across teams, share %)", report.silo, ["helps", "across", "share"]),
    ]


# The words of the insight tables above in the reader's language, for the CSV files the pages offer (the JSON API,
# like the rest of it, answers in English, and so does the admin's ledger export: ids and codes for other systems).
# Names people or admins wrote (categories, tools, teams, pillars, experiment titles) are not among them.
WORDS = {
    "period": _l("period"), "members": _l("members"), "with at least one experiment": _l("with at least one experiment"),
    "share %": _l("share %"), "measure": _l("measure"), "value 1": _l("value 1"), "value 2": _l("value 2"),
    "value 3": _l("value 3"), "value 4": _l("value 4"), "category": _l("category"), "tool": _l("tool"),
    "team": _l("team"), "people": _l("people"), "experiments": _l("experiments"),
    "minutes saved (self-reported)": _l("minutes saved (self-reported)"), "hours": _l("hours"),
    "median minutes per experiment": _l("median minutes per experiment"), "gaps": _l("gaps"),
    "confirmed helps": _l("confirmed helps"), "experiment": _l("experiment"), "reused by": _l("reused by"),
    "(within the team)": _l("(within the team)"),
    NOT_ENOUGH: _l("not enough people to report without identifying them"),
    "adoption (members, active, share %, not started yet)":
        _l("adoption (members, active, share %, not started yet)"),
    "minutes saved, self-reported (people, experiments, minutes, median)":
        _l("minutes saved, self-reported (people, experiments, minutes, median)"),
    "safe to fail (shared, did not work, rate %)": _l("safe to fail (shared, did not work, rate %)"),
    "confidence (rated, before, after, change)": _l("confidence (rated, before, after, change)"),
    "leaders go first (managers, logged in period, share %)":
        _l("leaders go first (managers, logged in period, share %)"),
    "silo index (helps, across teams, share %)": _l("silo index (helps, across teams, share %)"),
}


def in_reader_language(name: str, headers: list[str], rows: list[list]) -> tuple[list[str], list[list]]:
    """Table `name` of tables() with Tinker's own words in the reader's language: its headers (the pillars' own names
    aside), the summary's measures and the second column's "not enough people..." and "(within the team)". Every
    other cell (names people or admins wrote, numbers) is as it was."""
    ours = set(range(len(headers))) if name != "pillars" else {0, 1, len(headers) - 1}
    named = [str(WORDS[h]) if i in ours and h in WORDS else h for i, h in enumerate(headers)]

    def cell(i: int, value):
        if not isinstance(value, str) or value not in WORDS:
            return value
        if (i == 0 and name == "summary") or (i == 1 and value in (NOT_ENOUGH, "(within the team)")):
            return str(WORDS[value])
        return value
    return named, [[cell(i, value) for i, value in enumerate(row)] for row in rows]


LEDGER_HEAD = ["id", "created_at", "course_id", "course", "user_id", "amount", "dimension", "rule_id",
               "rule_version", "source_type", "source_id", "reverses_id"]


def ledger_rows(actor: Actor, course_id: int | None, since: datetime | None, until: datetime | None,
                after_id: int | None = None, limit: int | None = None) -> Iterator[list]:
    """The organisation's ledger (ids and amounts only), oldest first, optionally one course and [since, until).
    Checks run now; the rows are read as the CSV streams."""
    if not actor.can_administer:
        raise Forbidden(_("Only administrators export the ledger."))
    courses = dict(db.session.execute(select(Course.id, Course.title).where(
        Course.organisation_id == actor.organisation_id)).all())
    if course_id and course_id not in courses:
        raise NotFound(_("That course is not in your organisation."))
    query = select(LedgerEntry, _ANONYMOUS_SOURCE).where(LedgerEntry.organisation_id == actor.organisation_id)
    if course_id:
        query = query.where(LedgerEntry.course_id == course_id)
    if since:
        query = query.where(LedgerEntry.created_at >= since)
    if until:
        query = query.where(LedgerEntry.created_at < until)
    if after_id:  # the API's pages: ids only grow, so "after the last id seen" is a stable cursor
        query = query.where(LedgerEntry.id > after_id)
    if limit:
        query = query.limit(limit)

    def rows():
        for e, anonymous in db.session.execute(query.order_by(LedgerEntry.id).execution_options(yield_per=1000)):
            yield [e.id, e.created_at.isoformat(), e.course_id, courses.get(e.course_id, ""), e.user_id, e.amount,
                   e.dimension, e.rule_id, e.rule_version, e.source_type, None if anonymous else e.source_id,
                   e.reverses_id]
    return rows()


# An experiment shared without its author's name stays so in the export: its entries, and those its author earned
# when someone reused it, keep their user and amount (totals add up) but not the experiment's id, which the shared
# library shows beside the post.
_ANONYMOUS_SOURCE = (exists().where(and_(
    LedgerEntry.source_type == "experiment", Experiment.id == LedgerEntry.source_id, Experiment.anonymous))
    | exists().where(and_(
        LedgerEntry.source_type == "reuse", Reuse.id == LedgerEntry.source_id, Experiment.id == Reuse.experiment_id,
        Experiment.anonymous, Experiment.user_id == LedgerEntry.user_id))).label("anonymous_source")
