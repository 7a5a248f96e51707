"""The points ledger: the caller's own entries with the reason for each, and the organisation's export."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin.api.auth import guard
from plugin.api.schemas import Id, decode_cursor, encode_cursor
from plugin.api.spec import Blueprint
from plugin.insights import export
from plugin.recognition.history import explanations

blp = Blueprint("api_ledger", __name__, url_prefix="", description="Points and why (API tokens: scope ledger:read)")


class ExplanationOut(Schema):
    at = fields.DateTime(required=True)
    points = fields.Integer(required=True)
    dimension = fields.String(required=True)
    why = fields.String(required=True)
    source = fields.String(required=True)
    experiment_id = fields.Integer(required=True, allow_none=True)
    badge = fields.Function(lambda e: e.badge.name if e.badge else None, required=True, allow_none=True)
    revoked = fields.String(required=True, allow_none=True)


class MineIn(Schema):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500))


class ExportIn(Schema):
    course_id = Id(strict=False)
    since = fields.DateTime(metadata={"description": "entries created at or after (ISO 8601 with offset)"})
    until = fields.DateTime(metadata={"description": "entries created before"})
    cursor = fields.String(validate=validate.Length(max=40))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))

    @validates_schema
    def _aware(self, data, **kwargs):
        for name in ("since", "until"):
            if data.get(name) is not None and data[name].tzinfo is None:
                raise ValidationError("Give a time zone offset, e.g. 2026-11-01T00:00:00Z.", name)
            if data.get(name) is not None and not 1900 <= data[name].year <= 9000:
                raise ValidationError("Choose a date between the years 1900 and 9000.", name)


class EntryOut(Schema):
    id = fields.Integer(required=True)
    created_at = fields.String(required=True)
    course_id = fields.Integer(required=True)
    course = fields.String(required=True)
    user_id = fields.Integer(required=True)
    amount = fields.Integer(required=True)
    dimension = fields.String(required=True)
    rule_id = fields.Integer(required=True, allow_none=True)
    rule_version = fields.Integer(required=True, allow_none=True)
    source_type = fields.String(required=True, allow_none=True)
    source_id = fields.Integer(required=True, allow_none=True)
    reverses_id = fields.Integer(required=True, allow_none=True)


class ExportOut(Schema):
    items = fields.List(fields.Nested(EntryOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


@blp.route("/courses/<id:course_id>/ledger/mine")
@guard(blp)
@blp.etag
@blp.arguments(MineIn, location="query")
@blp.response(200, ExplanationOut(many=True))
def my_ledger(actor, args):
    """The caller's points and badges in the course, newest first, each with its rule, version and fact."""
    return explanations(actor, limit=args["limit"])


@blp.route("/ledger")
@guard(blp, "ledger:read")
@blp.arguments(ExportIn, location="query")
@blp.response(200, ExportOut)
def export_ledger(actor, args):
    """The organisation's ledger (ids and amounts only), oldest first, in pages (administrators)."""
    limit = args["limit"]
    rows = list(export.ledger_rows(actor, args.get("course_id"), args.get("since"), args.get("until"),
                                   after_id=decode_cursor(args.get("cursor")), limit=limit + 1))
    items = [dict(zip(export.LEDGER_HEAD, row)) for row in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if len(rows) > limit else None}
