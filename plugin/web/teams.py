"""Team pages: managers keep the course's teams; a team's members and the course's managers follow its progress.

Endpoints other pages link to: teams.show (team_id), teams.mine, teams.manage.
"""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from markupsafe import Markup, escape
from marshmallow import ValidationError

from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import Conflict, InvalidInput
from plugin.extensions import db
from plugin.i18n import format_date, format_decimal, format_percent, ngettext
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.teams import service as teams
from plugin.teams.progress import TeamProgress, figures_from, team_progress
from plugin.teams.schemas import MembersIn, TeamIn
from plugin.web import charts
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("teams", __name__, url_prefix="/app/teams")
MANAGERS = (Role.MANAGER, Role.ADMIN)
OUTCOME_COLOURS = {"worked": "#276738", "partly": "#8a5a00", "failed": "#9b2c2c"}
TABLE_NOTE = _l("The same numbers are in the table after the chart (Show as table).")


@bp.get("/")
@requires_actor()
def mine(actor: Actor):
    return render_template("teams/mine.html", actor=actor, teams=teams.my_teams(actor))


@bp.get("/<id:team_id>")
@requires_actor()
def show(actor: Actor, team_id: int):
    progress = team_progress(actor, team_id, utcnow())
    return render_template("teams/team_show.html", actor=actor, p=progress, charts=_charts(progress),
                           tables=_tables(progress))


def _tables(p: TeamProgress) -> dict[str, Markup]:
    """The body rows of each chart's table alternative, formatted for the reader's language (built here rather
    than in the template: a dozen weeks of formatted cells cost the page more in Jinja than anything else).
    Empty when there is nothing to show."""
    return {name: _body(rows) for name, rows in _cells(p).items()}


def _body(rows: list[list[str]]) -> Markup:
    """<tr> rows: the first cell heads its row, the others are numbers."""
    return Markup("".join(
        f'<tr><th scope="row">{escape(row[0])}</th>' + "".join(f'<td class="num">{escape(c)}</td>' for c in row[1:])
        + "</tr>" for row in rows))


def _cells(p: TeamProgress) -> dict[str, list[list[str]]]:
    return {
        "participation": [[w.key, format_date(w.starts_on, "d MMM y"),
                           _("%(count)s of %(total)s", count=format_decimal(w.experimenters),
                             total=format_decimal(w.members)), format_percent(w.percent / 100)] for w in p.weeks],
        "categories": [[c.label, format_decimal(c.month), format_decimal(c.all_time)] for c in p.categories],
        "outcomes": [[o.label, format_decimal(o.month), format_decimal(o.all_time)] for o in p.outcomes],
    }


def _charts(p: TeamProgress) -> dict[str, Markup]:
    month, all_time, note = _("This month (%(month)s)", month=p.month_label), _("All time"), str(TABLE_NOTE)
    return {
        "participation": charts.bar_chart(
            "participation", ngettext("Share of members who logged an experiment, week by week, last %(num)s week",
                                      "Share of members who logged an experiment, week by week, last %(num)s weeks",
                                      len(p.weeks)),
            [w.short for w in p.weeks], [w.percent for w in p.weeks], max_value=100,
            value_text=charts.percent_text, description=note),
        "categories": charts.hbar_chart(
            "categories", _("Experiments by category, this month and all time"), [c.label for c in p.categories],
            [charts.Series(month, [c.month for c in p.categories]),
             charts.Series(all_time, [c.all_time for c in p.categories])], description=note),
        "outcomes": charts.hbar_chart(
            "outcomes", _("Experiments by outcome, this month and all time"), [month, all_time],
            [charts.Series(str(o.label), [o.month, o.all_time], OUTCOME_COLOURS.get(o.key)) for o in p.outcomes],
            stacked=True, description=note),
    }


# --- managers ---------------------------------------------------------------------------------------------
def _list_page(actor: Actor, errors: dict | None = None, values: dict | None = None, status: int = 200):
    return render_template("teams/manage.html", actor=actor, teams=teams.course_teams(actor),
                           figures_from=figures_from(actor.organisation_id),
                           errors=errors or {}, values=values or {}), status


@bp.get("/manage")
@requires_actor(*MANAGERS)
def manage(actor: Actor):
    return _list_page(actor)


@bp.post("/manage")
@requires_actor(*MANAGERS)
def create(actor: Actor):
    try:
        team = teams.create_team(actor, TeamIn().load_form(request.form), utcnow())
    except ValidationError as err:
        return _list_page(actor, err.messages, request.form.to_dict(), 422)
    except Conflict as err:
        db.session.rollback()
        return _list_page(actor, err.form_errors(), request.form.to_dict(), err.status)
    db.session.commit()
    return redirect(launch_url("teams.edit", team_id=team.id, done="created"), 303)


def _edit_page(actor: Actor, team_id: int, errors: dict | None = None, values: dict | None = None,
               status: int = 200):
    team = teams.get_team(actor, team_id)
    search = request.args.get("q", "").strip()[:100]
    summary = teams.summary_of(team)
    people, more = ([], False) if summary.from_lms else teams.candidates(actor, team.id, search)
    return render_template("teams/team_edit.html", actor=actor, team=team, summary=summary,
                           members=teams.members_of(actor, team.id), people=people, more=more, search=search,
                           errors=errors or {}, values={"name": team.name, **(values or {})}), status


@bp.get("/<id:team_id>/edit")
@requires_actor(*MANAGERS)
def edit(actor: Actor, team_id: int):
    return _edit_page(actor, team_id)


@bp.post("/<id:team_id>/rename")
@requires_actor(*MANAGERS)
def rename(actor: Actor, team_id: int):
    try:
        teams.rename_team(actor, team_id, TeamIn().load_form(request.form), utcnow())
    except ValidationError as err:
        return _edit_page(actor, team_id, err.messages, request.form.to_dict(), 422)
    except Conflict as err:
        db.session.rollback()
        return _edit_page(actor, team_id, err.form_errors(), request.form.to_dict(), err.status)
    db.session.commit()
    return redirect(launch_url("teams.edit", team_id=team_id, done="renamed"), 303)


@bp.post("/<id:team_id>/members")
@requires_actor(*MANAGERS)
def members_add(actor: Actor, team_id: int):
    try:
        added = teams.add_members(actor, team_id, MembersIn().load_form(request.form)["user_ids"], utcnow())
    except ValidationError as err:
        return _edit_page(actor, team_id, {"user_id": err.messages.get("user_ids", [_("Choose learners.")])}, None, 422)
    except InvalidInput as err:
        db.session.rollback()  # the learners ticked stay ticked
        return _edit_page(actor, team_id, err.form_errors(), {"user_id": request.form.getlist("user_id")}, err.status)
    db.session.commit()
    return redirect(launch_url("teams.edit", team_id=team_id, done="added", n=len(added)), 303)


@bp.post("/<id:team_id>/members/<id:user_id>/remove")
@requires_actor(*MANAGERS)
def member_remove(actor: Actor, team_id: int, user_id: int):
    removed = teams.remove_member(actor, team_id, user_id, utcnow())
    db.session.commit()
    return redirect(launch_url("teams.edit", team_id=team_id, done="removed" if removed else "unchanged"), 303)


@bp.post("/<id:team_id>/delete")
@requires_actor(*MANAGERS)
def delete(actor: Actor, team_id: int):
    teams.delete_team(actor, team_id, utcnow())
    db.session.commit()
    return redirect(launch_url("teams.manage", done="deleted"), 303)
