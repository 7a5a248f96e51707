"""Leaderboard pages: the individual and team boards, a person's privacy choice, the managers' board settings
and the CSV export. What a viewer may see is decided by plugin.leaderboards.service; these views only parse,
call it and render."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, stream_with_context
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.core.spreadsheet import csv_chunks
from plugin.extensions import db
from plugin.i18n import current_locale, format_date
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.leaderboards import service as boards
from plugin.leaderboards.models import MODES
from plugin.leaderboards.periods import ALL, MONTH, WEEK, current_key, first_day, kind_of, local_day, previous_keys
from plugin.leaderboards.queries import POINTS_PER_MEMBER, TEAM_MEASURES, Board, TeamRow
from plugin.ledger.models import TOTAL
from plugin.settings.service import time_zone
from plugin.web.auth import launch_url, requires_actor
from plugin.web.downloads import attachment

bp = Blueprint("boards", __name__, url_prefix="/app")

PEOPLE, TEAMS = boards.PEOPLE, boards.TEAMS
SCOPE_LABELS = {"course": _l("This course"), "organisation": _l("Whole organisation")}
MEASURE_LABELS = {POINTS_PER_MEMBER: _l("Points per member"), "experimenters": _l("Share who experimented"),
                  "helpers": _l("Share who helped")}
CURRENT_LABELS = {WEEK: _l("This week"), MONTH: _l("This month"), ALL: _l("All time")}
EARLIER = 5  # earlier weeks and months offered in the period list


class BoardQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE  # the launch token and confirmation flags ride along

    tab = fields.String(load_default=None, validate=validate.OneOf((PEOPLE, TEAMS)))
    scope = fields.String(load_default="course", validate=validate.OneOf(boards.SCOPES))
    period = fields.String(load_default=WEEK, validate=validate.Length(min=1, max=10))
    dimension = fields.String(load_default=TOTAL, validate=validate.Length(min=1, max=40))
    measure = fields.String(load_default=POINTS_PER_MEMBER, validate=validate.OneOf(TEAM_MEASURES))
    full = fields.Boolean(load_default=False)  # managers: every team, not the top and their own


def period_label(key: str, short: bool = False) -> str:
    """ "All time", "November 2026" or "Week 48, 23–29 Nov 2026"; short: "November", "23–29 Nov". Month names
    and the words come from the request's language (Babel and the catalog)."""
    start = first_day(key)
    if start is None:
        return str(CURRENT_LABELS[ALL])
    if kind_of(key) == MONTH:
        return format_date(start, "LLLL" if short else "LLLL y")
    end = start + timedelta(days=6)
    if short:
        return (f"{start.day}–{end.day} {format_date(end, 'MMM')}" if start.month == end.month
                else f"{format_date(start, 'd MMM')} – {format_date(end, 'd MMM')}")
    if start.year != end.year:
        span = f"{format_date(start, 'd MMM y')} – {format_date(end, 'd MMM y')}"
    elif start.month != end.month:
        span = f"{format_date(start, 'd MMM')} – {format_date(end, 'd MMM y')}"
    else:
        span = f"{start.day}–{end.day} {format_date(end, 'MMM y')}"
    return _("Week %(week)s, %(span)s", week=int(key.split("-W")[1]), span=span)


def period_options(organisation_id: int, chosen: str, now: datetime) -> tuple:
    """(group label, [(value, label)]) for the period select: the current periods, then earlier ones."""
    return _period_options(local_day(now, time_zone(organisation_id)), chosen, current_locale())


_UTC = ZoneInfo("UTC")


@lru_cache(maxsize=64)
def _period_options(day: date, chosen: str, locale: str) -> tuple:
    """Calendar arithmetic on the organisation's local day alone, so it is worked out once a day (and language),
    not per page. `locale` is part of the cache key: the labels are in the request's language."""
    now, tz = datetime.combine(day, time(12), tzinfo=timezone.utc), _UTC  # noon on that day, read in UTC
    current = [(kind, _("%(period)s (%(dates)s)", period=CURRENT_LABELS[kind],
                        dates=period_label(current_key(kind, now, tz), short=True))
                if kind != ALL else str(CURRENT_LABELS[ALL])) for kind in (WEEK, MONTH, ALL)]
    weeks = [(k, period_label(k)) for k in reversed(previous_keys(WEEK, now, tz, EARLIER + 1)[:-1])]
    months = [(k, period_label(k)) for k in reversed(previous_keys(MONTH, now, tz, EARLIER + 1)[:-1])]
    offered = {v for v, _ in current + weeks + months}
    if chosen not in offered:  # an older period reached by its key stays selectable
        (weeks if kind_of(chosen) == WEEK else months).insert(0, (chosen, period_label(chosen)))
    return ((_("Current"), tuple(current)), (_("Earlier weeks"), tuple(weeks)), (_("Earlier months"), tuple(months)))


@dataclass(frozen=True)
class Summary:
    """The small board a dashboard shows: what the course's mode lets this viewer see, all time (the full page
    starts on this week)."""

    view: boards.View
    board: Board | None
    teams: list[TeamRow] | None
    period: str


def summary(actor: Actor, now: datetime, limit: int = 10) -> Summary:
    view = boards.view_of(actor)
    board = boards.individual_board(actor, "course", ALL, TOTAL, now, limit=limit) if view.individual else None
    teams = None if view.individual or not view.teams else boards.teams_board(actor, ALL, POINTS_PER_MEMBER, now,
                                                                              limit=limit).rows
    return Summary(view, board, teams, ALL)


@bp.app_template_global()
def shows_boards(actor: Actor) -> bool:
    """Whether the nav offers the leaderboard: hidden from learners when the course turned boards off."""
    view = boards.view_of(actor)
    return view.individual or view.teams


_QUERY = BoardQueryIn()  # built once: a schema's construction costs more than a load


def _board_query(args) -> dict:
    """The board's link parameters; one it cannot take (a stale or hand-edited link: `scope=all`, an empty
    dimension) falls back to its default view, as the feed's filters do, rather than a page of the schema's words."""
    try:
        return _QUERY.load(args)
    except ValidationError as err:
        return _QUERY.load({key: value for key, value in args.items() if key not in err.messages})


@bp.get("/leaderboard")
@requires_actor()
def leaderboard(actor: Actor):
    query, now = _board_query(request.args), utcnow()
    page = boards.board_page(actor, now, **query)  # 422: unknown period or dimension
    # A board the course's mode closes is said so inside the page, nav included.
    return render_template("learner/leaderboard.html", actor=actor, query=query, view=page.view, tab=page.tab,
                           dimensions=page.dimensions, hidden=page.hidden, zone=page.zone, board=page.board,
                           teams=page.teams, closed=page.closed, period_label=period_label(page.period),
                           periods=period_options(actor.organisation_id, query["period"], now), scopes=SCOPE_LABELS,
                           measures=MEASURE_LABELS), 403 if page.closed else 200


@bp.post("/leaderboard/privacy")
@requires_actor()
def privacy(actor: Actor):
    hidden = boards.set_opt_out(actor, request.form.get("hidden") == "on", utcnow())
    db.session.commit()
    return redirect(launch_url("boards.leaderboard", privacy="hidden" if hidden else "shown"), 303)


@bp.get("/leaderboard.csv")
@requires_actor(Role.MANAGER, Role.ADMIN)
def leaderboard_csv(actor: Actor):
    query = _board_query(request.args)
    period, dimension, found = boards.individual_export(actor, query["scope"], query["period"], query["dimension"],
                                                        utcnow())

    # the whole board, written as it is read: a large course's file is never built in memory
    body = csv_chunks([_("rank"), _("name"), _("points")], ([r.rank, r.name, r.points] for r in found))
    filename = f"leaderboard-{query['scope']}-{period}-{dimension}.csv"
    return Response(stream_with_context(body), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(filename), "Cache-Control": "no-store"})


def _settings_page(actor: Actor, values: dict | None = None, errors: dict | None = None, status: int = 200):
    current = boards.settings_of(actor.course_id)
    return render_template("manager/boards.html", actor=actor, values=values or current.__dict__, modes=MODES,
                           errors=errors or {}), status


@bp.get("/manage/boards")
@requires_actor(Role.MANAGER, Role.ADMIN)
def settings(actor: Actor):
    return _settings_page(actor)


@bp.post("/manage/boards")
@requires_actor(Role.MANAGER, Role.ADMIN)
def settings_save(actor: Actor):
    form = {k: request.form[k] for k in ("mode", "relative") if k in request.form}
    try:
        boards.update_settings(actor, boards.SettingsIn().load(form), utcnow())
    except ValidationError as err:
        return _settings_page(actor, {"mode": form.get("mode"), "relative": "relative" in form}, err.messages, 422)
    db.session.commit()
    return redirect(launch_url("boards.settings", saved=1), 303)
