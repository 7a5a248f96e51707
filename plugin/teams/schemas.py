"""Shapes at the edge: what a manager's team forms may send."""
from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

NAME_MAX = 190  # the column holds 200; roster sync keeps LMS names to 190 as well


class TeamIn(Schema):
    name = fields.String(required=True, error_messages={"required": "Give the team a name."},
                         validate=[validate.Length(min=1, error="Give the team a name."),
                                   validate.Length(max=NAME_MAX, error=f"Keep the name to {NAME_MAX} characters.")])

    @pre_load
    def _tidy(self, data, **kwargs):
        # Stray and doubled spaces would make "Red  team" and "Red team" two teams.
        if isinstance(data, dict) and isinstance(data.get("name"), str):  # a JSON body may be any value
            data = {**data, "name": " ".join(data["name"].split())}
        return data

    def load_form(self, form) -> dict:
        return self.load({"name": form.get("name", "")})


class MembersIn(Schema):
    user_ids = fields.List(fields.Integer(strict=False), required=True,
                           validate=[validate.Length(min=1, error="Choose at least one learner."),
                                     validate.Length(max=500, error="Add at most 500 learners at a time.")])

    def load_form(self, form) -> dict:
        return self.load({"user_ids": form.getlist("user_id")})
