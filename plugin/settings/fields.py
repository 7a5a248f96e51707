"""Whole-number form fields whose messages are read in the request's language (admin forms: limits, rule
params, retention). Marshmallow keeps a lazy message as the error itself rather than a list of messages, so
these fields resolve it to text when the error is raised."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from plugin.i18n import lazy_gettext as _l


class Whole(fields.Integer):
    def make_error(self, key: str, **kwargs) -> ValidationError:
        return ValidationError(str(self.error_messages[key]).format(**kwargs))


def whole(low: int, high: int, *, range_error=None, **kwargs) -> Whole:
    """An integer from low to high (strings of digits accepted, as forms send them)."""
    return Whole(strict=False, validate=validate.Range(
        min=low, max=high, error=range_error or _l("A whole number from {min} to {max}.")),
        error_messages={"invalid": _l("A whole number, please."), "required": _l("Fill this in."), "null": _l("Fill this in.")},
        **kwargs)
