"""Every insight table (read from the same protected report as the pages) and the ledger for admins, as rows
for a CSV (plugin/core/spreadsheet.py writes them: formula-like text quoted, numbers as numbers)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from plugin.core.actor import Actor
from plugin.errors import Forbidden, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
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
    query = select(LedgerEntry).where(LedgerEntry.organisation_id == actor.organisation_id)
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
        for e in db.session.scalars(query.order_by(LedgerEntry.id).execution_options(yield_per=1000)):
            yield [e.id, e.created_at.isoformat(), e.course_id, courses.get(e.course_id, ""), e.user_id, e.amount,
                   e.dimension, e.rule_id, e.rule_version, e.source_type, e.source_id, e.reverses_id]
    return rows()
