"""A marshmallow Schema whose messages may be lazy (flask_babel.lazy_gettext), for schemas defined at import time.

marshmallow keeps a lazy "required"/"invalid" message as it is, not in a list; views join a field's messages and
the JSON API dumps them. Errors leave this schema as plain lists of strings, read in the request's language."""
from __future__ import annotations

from marshmallow import Schema as _Schema
from marshmallow import ValidationError


def plain(messages):
    if isinstance(messages, dict):
        return {key: plain(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [plain(m) if isinstance(m, (dict, list, tuple)) else str(m) for m in messages]
    return [str(messages)]


class Schema(_Schema):
    def handle_error(self, error: ValidationError, data, *, many: bool, **kwargs):
        raise ValidationError(plain(error.messages), data=error.data, valid_data=error.valid_data) from None
