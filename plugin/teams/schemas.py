"""Shapes at the edge: what a manager's team forms may send."""
from __future__ import annotations

from marshmallow import fields, pre_load, validate

from plugin.core.ids import ID_RANGE
from plugin.core.names import tidy as tidy_name
from plugin.core.schema import Schema
from plugin.i18n import lazy_gettext as _l

NAME_MAX = 190  # the column holds 200; roster sync keeps LMS names to 190 as well


class TeamIn(Schema):
    name = fields.String(required=True, error_messages={"required": _l("Give the team a name.")},
                         validate=[validate.Length(min=1, error=_l("Give the team a name.")),
                                   validate.Length(max=NAME_MAX, error=_l("Keep the name to %(max)s characters.", max=NAME_MAX))])

    @pre_load
    def _tidy(self, data, **kwargs):
        # As names are stored (core.names.tidy): "Red  team" and "Red team", or an "Ö" typed two ways, are one team.
        if isinstance(data, dict) and isinstance(data.get("name"), str):  # a JSON body may be any value
            data = {**data, "name": tidy_name(data["name"])}
        return data

    def load_form(self, form) -> dict:
        return self.load({"name": form.get("name", "")})


class MembersIn(Schema):
    user_ids = fields.List(fields.Integer(strict=False, validate=ID_RANGE), required=True,
                           validate=[validate.Length(min=1, error=_l("Choose at least one learner.")),
                                     validate.Length(max=500, error=_l("Add at most %(max)s learners at a time.", max=500))])

    def load_form(self, form) -> dict:
        return self.load({"user_ids": form.getlist("user_id")})
