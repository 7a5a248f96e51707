"""Experiments: the course's library (filters, cursor pages), logging one, reading one, the author's edits."""
from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from plugin.api.auth import guard
from plugin.api.schemas import Id, JsonBoolean, PageIn, PatchIn, Text, decode_cursor, page
from plugin.api.spec import Blueprint
from plugin.core.clock import utcnow
from plugin.experiments import queries, service
from plugin.experiments.models import Outcome, Visibility
from plugin.experiments.schemas import ExperimentIn, trim
from plugin.extensions import db

blp = Blueprint("api_experiments", __name__, url_prefix="/courses/<id:course_id>/experiments",
                description="AI experiments logged in a course (launch tokens only: they belong to people)")


class ExperimentOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    tool = fields.String(required=True)
    category = fields.String(required=True)
    outcome = fields.String(required=True)
    tried = fields.String(required=True)
    learned = fields.String(required=True)
    minutes_saved = fields.Integer(required=True, allow_none=True, metadata={"description": "null: not estimated"})
    visibility = fields.String(required=True)
    anonymous = fields.Boolean(required=True)
    author_id = fields.Integer(required=True, allow_none=True, metadata={"description": "null when anonymous"})
    author_name = fields.String(required=True)
    mine = fields.Boolean(required=True)
    hidden = fields.Boolean(required=True)
    confidence_before = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the author's own rating, to the author only (null for anyone else: confidence is reported as "
                       "group averages)"})
    confidence_after = fields.Integer(required=True, allow_none=True, metadata={
        "description": "as confidence_before"})
    created_at = fields.DateTime(required=True)


class ExperimentPageOut(Schema):
    items = fields.List(fields.Nested(ExperimentOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ExperimentCreateIn(ExperimentIn):
    """ExperimentIn with JSON's types: numbers and booleans as such, not as the strings a form sends."""

    task_category = Id(required=True)
    minutes_saved = fields.Integer(load_default=None, allow_none=True, strict=True,
                                   validate=validate.Range(min=0, max=100_000))
    anonymous = JsonBoolean(load_default=False)
    pillars = fields.List(Id(), load_default=list, validate=validate.Length(max=6))
    confidence_before = fields.Integer(load_default=None, allow_none=True, strict=True,
                                       validate=validate.Range(min=1, max=5))
    confidence_after = fields.Integer(load_default=None, allow_none=True, strict=True,
                                      validate=validate.Range(min=1, max=5))


class ExperimentFilterIn(PageIn):
    q = Text(validate=validate.Length(max=200), metadata={"description": "words in title, tried or learned"})
    outcome = fields.String(validate=validate.OneOf([o.value for o in Outcome]))
    category_id = Id(strict=False)
    tool_id = Id(strict=False)


class ShareIn(Schema):
    visibility = fields.String(required=True, validate=validate.OneOf([v.value for v in Visibility]))


class ExperimentPatchIn(PatchIn):
    title = Text(validate=validate.Length(min=3, max=200))
    tried = Text(validate=validate.Length(min=3, max=5000))
    confidence_after = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=5))

    @pre_load
    def _trim(self, data, **kwargs):
        return trim(data)


def _out(actor, row: dict) -> dict:
    e = row["experiment"]
    mine = e.user_id == actor.user_id
    return {**{k: getattr(e, k) for k in ("id", "title", "outcome", "tried", "learned", "minutes_saved", "visibility",
                                          "anonymous", "created_at")},
            # A person's confidence ratings are theirs: others see them only as group averages (the form says so).
            "confidence_before": e.confidence_before if mine else None,
            "confidence_after": e.confidence_after if mine else None,
            "tool": row["tool"], "category": row["category"], "author_name": row["author_name"],
            "author_id": row["author"].id if row["author"] is not None else None,
            "mine": mine, "hidden": e.hidden_at is not None}


@blp.route("")
@guard(blp)
@blp.etag
@blp.arguments(ExperimentFilterIn, location="query")
@blp.response(200, ExperimentPageOut)
def list_experiments(actor, args):
    """What the caller may see in the course, newest first; `next_cursor` fetches the next page."""
    limit = args["limit"]
    rows = queries.feed(actor, limit + 1, decode_cursor(args.get("cursor")), q=args.get("q", ""),
                        category_id=args.get("category_id"), tool_id=args.get("tool_id"), outcome=args.get("outcome"))
    return page([_out(actor, r) for r in rows], limit, lambda item: item["id"])


@blp.route("", methods=["POST"])
@guard(blp)
@blp.arguments(ExperimentCreateIn)
@blp.response(201, ExperimentOut)
@blp.alt_response(200, schema=ExperimentOut, description="The same submission_key was sent before: the first one")
def create_experiment(actor, data):
    """Log an experiment (observers may not). `submission_key` makes retries safe."""
    logged = service.log_experiment(actor, data, utcnow())
    db.session.commit()
    return _out(actor, queries.get_visible(actor, logged.experiment.id)), 201 if logged.created else 200


@blp.route("/<id:experiment_id>")
@guard(blp)
@blp.etag
@blp.response(200, ExperimentOut)
def read_experiment(actor, experiment_id):
    """One experiment the caller may see."""
    return _out(actor, queries.get_visible(actor, experiment_id))


@blp.route("/<id:experiment_id>", methods=["PATCH"])
@guard(blp)
@blp.arguments(ExperimentPatchIn)
@blp.response(200, ExperimentOut)
def update_experiment(actor, data, experiment_id):
    """The author edits the title, what they tried, or their confidence afterwards."""
    service.update_experiment(actor, experiment_id, data, utcnow())
    db.session.commit()
    return _out(actor, queries.get_visible(actor, experiment_id))


@blp.route("/<id:experiment_id>/share", methods=["POST"])
@guard(blp)
@blp.arguments(ShareIn)
@blp.response(200, ExperimentOut)
def share_experiment(actor, data, experiment_id):
    """The author shares an experiment with the team or course (or makes it private again)."""
    service.share_experiment(actor, experiment_id, data["visibility"], utcnow())
    db.session.commit()
    return _out(actor, queries.get_visible(actor, experiment_id))
