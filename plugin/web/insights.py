"""Insights for managers (their course and its teams) and admins (the organisation): pages, CSV exports,
a printable team summary, the minimum group size setting and the ledger export."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, redirect, render_template, request, stream_with_context
from marshmallow import Schema, ValidationError, fields, validate

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.core.ids import ID_RANGE, MAX_ID
from plugin.core.spreadsheet import csv_chunks
from plugin.errors import InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.insights import export, periods, privacy, report, scope
from plugin.insights.periods import KINDS, QUARTER
from plugin.leaderboards.periods import FIRST_YEAR, LAST_YEAR, midnight
from plugin.settings.service import time_zone
from plugin.web.auth import launch_url, requires_actor
from plugin.web.charts import Series, bar_chart, decimal_text, hbar_chart, percent_text
from plugin.web.downloads import attachment
from plugin.web.insights_charts import network_svg

bp = Blueprint("insights", __name__, url_prefix="/app/insights")


_PERIOD = _l("Choose a period from the list: a week, a month or a quarter.")
_TEAM = _l("Choose a team from the list.")
_COURSE = _l("Choose a course from the list.")


class FiltersIn(Schema):
    # Worded for a person: a stale or hand-edited link lands here (?kind=year, ?team=all)
    kind = fields.String(load_default=QUARTER, validate=validate.OneOf(KINDS, error=_PERIOD))
    key = fields.String(load_default=None, validate=validate.Length(max=10, error=_PERIOD))
    team = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=MAX_ID, error=_TEAM),
                          error_messages={"invalid": _TEAM})
    course = fields.Integer(load_default=None, strict=False, validate=validate.Range(
        min=1, max=MAX_ID, error=_COURSE), error_messages={"invalid": _COURSE})


def _scope(actor: Actor, args=None) -> scope.Scope:
    """The insight's scope from the page's filters (`args`: the request's query string unless given)."""
    args = request.args if args is None else args
    raw = {k: v for k, v in args.items() if k in FiltersIn().fields and v != ""}
    try:
        data = FiltersIn().load(raw)
    except ValidationError as err:
        raise InvalidInput(_("Some filters need attention."), errors=err.messages) from err
    return scope.resolve(actor, scope.Filters(data["kind"], data["key"], data["team"], data["course"]), utcnow())


@bp.get("/")
@requires_actor(Role.MANAGER, Role.ADMIN)
def overview(actor: Actor):
    return _overview_page(actor)


def _overview_page(actor: Actor, errors: dict | None = None, status: int = 200, ledger: dict | None = None):
    """The page; sent back with `errors` (the admin's minimum group size refused), it keeps what was typed. `ledger`:
    the ledger export's filters as sent, refused with `errors` (the page then shows the default period: the
    export's query string names its own course, not the page's)."""
    s = _scope(actor, {} if ledger is not None else None)
    r = report.build(s)
    return render_template("insights/overview.html", actor=actor, s=s, r=r, charts=_charts(r),
                           periods=[(k, periods.label(k)) for k in scope.period_choices(s, utcnow())],
                           not_enough=_("not enough people to report without identifying them"),
                           all_courses=scope.organisation_courses(actor),
                           saved=request.args.get("saved"), errors=errors or {}, ledger=ledger or {},
                           ledger_first=date(FIRST_YEAR, 1, 1).isoformat(),
                           ledger_last=date(LAST_YEAR, 12, 31).isoformat(),
                           typed=request.form.get("min_group_size") if errors and ledger is None else None), status


def _charts(r: report.Report) -> dict:
    trend = [row for row in r.trend if not row.suppressed]
    categories = [row for row in r.hours_by_category if not row.suppressed]
    tools = [row for row in r.hours_by_tool if not row.suppressed]
    return {
        "trend": bar_chart("adoption-trend", _("Share of members with at least one experiment"),
                           [row.label for row in trend], [row.figures["share"] for row in trend], max_value=100,
                           value_text=percent_text,
                           description=_("Adoption by period; the table below has the numbers."),
                           empty_text=_("Nothing to show for this group")),
        "categories": hbar_chart("hours-categories", _("Hours saved by task category (self-reported)"),
                                 [row.label for row in categories],
                                 [Series(_("Hours"), [row.figures["hours"] for row in categories])],
                                 value_text=decimal_text, empty_text=_("Nothing to show for this group")),
        "tools": hbar_chart("hours-tools", _("Hours saved by AI tool (self-reported)"), [row.label for row in tools],
                            [Series(_("Hours"), [row.figures["hours"] for row in tools])],
                            value_text=decimal_text, empty_text=_("Nothing to show for this group")),
        "network": network_svg(r.network),
    }


@bp.get("/export/<name>.csv")
@requires_actor(Role.MANAGER, Role.ADMIN)
def export_csv(actor: Actor, name: str):
    s = _scope(actor)
    tables = export.tables(report.build(s))
    if name not in tables:
        raise NotFound(_("There is no insight table called “%(name)s”.", name=name))
    headers, rows = export.in_reader_language(name, *tables[name])
    suffix = f"-team{s.team.id}" if s.team else ""
    return _csv(csv_chunks(headers, rows), f"tinker-{name}-{s.key}{suffix}.csv")


def _csv(chunks, filename: str) -> Response:
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(filename),
                             "Cache-Control": "no-store"})


@bp.get("/summary")
@requires_actor(Role.MANAGER, Role.ADMIN)
def summary(actor: Actor):
    s = _scope(actor)
    return render_template("insights/summary.html", actor=actor, s=s, r=report.build(s),
                           not_enough=_("not enough people to report without identifying them"), printed_at=utcnow())


@bp.post("/settings")
@requires_actor(Role.ADMIN)
def settings_save(actor: Actor):
    try:
        privacy.set_min_group_size(actor, privacy.InsightSettingsIn().load(
            {"min_group_size": request.form.get("min_group_size", "")}), utcnow())
    except ValidationError:
        db.session.rollback()  # shown again with what was typed (an error page lost the form)
        message = _("The minimum group size is a whole number from %(min)s to %(max)s.", min=2, max=100)
        return _overview_page(actor, {"min_group_size": [message]}, 422)
    db.session.commit()
    return redirect(launch_url("insights.overview", saved=1), 303)


_DAYS = validate.Range(min=date(FIRST_YEAR, 1, 1), max=date(LAST_YEAR, 12, 31),
                       error=_l("Choose a date between the years %(first)s and %(last)s.", first=FIRST_YEAR,
                          last=LAST_YEAR))


class LedgerFiltersIn(Schema):
    course = fields.Integer(load_default=None, strict=False, validate=ID_RANGE)
    since = fields.Date(load_default=None, validate=_DAYS)
    until = fields.Date(load_default=None, validate=_DAYS)  # the day after it ends the export: no overflow


@bp.get("/ledger.csv")
@requires_actor(Role.ADMIN)
def ledger_csv(actor: Actor):
    sent = {k: v for k, v in request.args.items() if k in LedgerFiltersIn().fields and v}
    try:
        data = LedgerFiltersIn().load(sent)
    except ValidationError as err:  # the page again, the export's form with what was sent and why (no file)
        errors = {name: [str(m) for m in messages] for name, messages in err.messages.items()}
        return _overview_page(actor, errors, 422, ledger=sent)

    tz = time_zone(actor.organisation_id)  # days are the organisation's, as every period of the reports

    def at(day):
        return midnight(day, tz) if day else None

    until = at(data["until"] + timedelta(days=1)) if data["until"] else None  # the "to" day is included
    rows = export.ledger_rows(actor, data["course"], at(data["since"]), until)
    return _csv(csv_chunks(export.LEDGER_HEAD, rows), "tinker-ledger.csv")
