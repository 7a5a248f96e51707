"""Insights: the same protected report as the pages (small groups suppressed), as tables, for a course or team."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, Text
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.insights import export, periods, report, scope
from plugin.insights.version import data_version

blp = Blueprint("api_insights", __name__, url_prefix="/courses/<id:course_id>/insights",
                description="Insights reports (managers, admins; API tokens: scope insights:read)")


class InsightsIn(Schema):
    kind = fields.String(load_default=periods.QUARTER, validate=validate.OneOf(periods.KINDS))
    key = Text(validate=validate.Length(max=10), metadata={"description": "a period of that kind, e.g. 2026-Q4"})
    team_id = Id(strict=False, metadata={"description": "one team of the course"})


class TableOut(Schema):
    headers = fields.List(fields.String(), required=True)
    rows = fields.List(fields.List(fields.Raw(allow_none=True)), required=True)


class InsightsOut(Schema):
    course_id = fields.Integer(required=True)
    team_id = fields.Integer(required=True, allow_none=True)
    team = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True)
    period = fields.String(required=True)
    label = fields.String(required=True)
    min_group_size = fields.Integer(required=True)
    tables = fields.Dict(keys=fields.String(), values=fields.Nested(TableOut), required=True)


@blp.route("")
@guard(blp, "insights:read")
@blp.etag
@blp.arguments(InsightsIn, location="query")
@blp.response(200, InsightsOut)
def course_insights(actor, args):
    """Every insights table for the course (or one team) and period, as the insights page shows them."""
    now = utcnow()
    blp.weak_etag(actor.user_id, actor.course_id, actor.role.value, data_version(actor.course_id, now))
    s = scope.resolve(actor, scope.Filters(args["kind"], args.get("key"), args.get("team_id"), actor.course_id), now)
    tables = export.tables(report.build(s))
    return {"course_id": actor.course_id, "team_id": s.team.id if s.team else None,
            "team": s.team.name if s.team else None, "kind": s.kind, "period": s.key, "label": s.label,
            "min_group_size": s.k,
            "tables": {name: {"headers": headers, "rows": rows} for name, (headers, rows) in tables.items()}}
