"""Edge schemas for Open Badges settings."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class IssuerIn(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    email = fields.Email(load_default="", validate=validate.Length(max=400))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
