"""Edge schemas for Open Badges settings."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate


class IssuerIn(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=1000))
    email = fields.Email(load_default="", validate=validate.Length(max=400))
    description = fields.String(load_default="", validate=validate.Length(max=2000))

    @pre_load
    def _optional_email(self, data, **kwargs):
        # The form always sends the field; left empty (or cleared), the issuer has no contact e-mail.
        if hasattr(data, "get") and isinstance(data.get("email"), str) and not data["email"].strip():
            data = {k: v for k, v in dict(data).items() if k != "email"}
        return data
