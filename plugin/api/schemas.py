"""Shapes shared by the API's resources: cursor pages and text that every database accepts."""
from __future__ import annotations

import base64

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from plugin.core.ids import ID_RANGE, MAX_ID


class Text(fields.String):
    """A string without NUL characters (PostgreSQL refuses them in text columns)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("Text may not contain NUL characters.")
        return text


class JsonBoolean(fields.Boolean):
    """true or false only: the JSON API does not read "on" or "1" as a form would."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Id(fields.Integer):
    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", ID_RANGE)
        super().__init__(**kwargs)


class PatchIn(Schema):
    """A partial update: at least one field, so an empty or missing body is refused, not a silent no-op."""

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Send at least one field to change.", "_schema")


class PageIn(Schema):
    cursor = Text(metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        number = int(value)
        if kind != "id" or not 1 <= number <= MAX_ID:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"cursor": ["Not a cursor this API handed out."]}) from None
    return number


def page(items: list, limit: int, last_id) -> dict:
    """items holds up to limit + 1 rows: the extra one only says there is a next page."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(last_id(items[-1])) if more and items else None}
