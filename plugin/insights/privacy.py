"""Minimum group size: every aggregate shown covers at least k people, after every combination of filters.

Rows of a table that cover fewer than k people are suppressed; when the suppressed rows together still cover
fewer than k people (so a total minus the shown rows would give them away), the smallest shown rows are
suppressed too, until what is hidden covers at least k people or everything is hidden.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from marshmallow import Schema, fields, validate

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.insights.models import DEFAULT_MIN_GROUP, InsightSetting

NOT_ENOUGH = "not enough people to report without identifying them"


class InsightSettingsIn(Schema):
    min_group_size = fields.Integer(required=True, strict=False, validate=validate.Range(min=2, max=100))


def min_group_size(organisation_id: int) -> int:
    row = db.session.get(InsightSetting, organisation_id)
    return row.min_group_size if row is not None else DEFAULT_MIN_GROUP


def set_min_group_size(actor: Actor, data: dict, now) -> int:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators change the minimum group size."))
    insert_ignore(db.session, InsightSetting.__table__, {"organisation_id": actor.organisation_id,
                                                         "min_group_size": DEFAULT_MIN_GROUP},
                  ["organisation_id"], returning=False)
    row = db.session.get(InsightSetting, actor.organisation_id)
    before = row.min_group_size
    row.min_group_size = data["min_group_size"]
    db.session.flush()
    if before != row.min_group_size:
        record(actor, "insights.min_group_changed", "organisation", actor.organisation_id,
               {"min_group_size": [before, row.min_group_size]}, now, course_scoped=False)
    return row.min_group_size


@dataclass(frozen=True)
class Row:
    """One line of an insight table: a label, the people it covers, and its figures (None when suppressed)."""

    key: Any
    label: str
    people: frozenset[int]
    figures: dict | None

    @property
    def suppressed(self) -> bool:
        return self.figures is None


def protect(rows: list[Row], k: int, secondary: bool = True, withheld: frozenset = frozenset()) -> list[Row]:
    """Suppress rows under k people, and those whose keys are `withheld` (by differencing); with `secondary` (rows
    that split one total, like categories) also enough further rows that the total minus the shown rows never
    isolates fewer than k people. Team rows use primary suppression only: each team can be chosen as a filter on
    its own, so each stands or falls alone."""
    small = [r for r in rows if len(r.people) < k or r.key in withheld]
    hidden: set[int] = set().union(*(r.people for r in small)) if small else set()
    keys = {id(r) for r in small}
    if small and secondary:
        for r in sorted((r for r in rows if id(r) not in keys), key=lambda r: (len(r.people), r.label)):
            if len(hidden) >= k:
                break
            keys.add(id(r))
            hidden |= r.people
    return [replace(r, figures=None) if id(r) in keys else r for r in rows]


def enough(people, k: int) -> bool:
    return len(people) >= k
