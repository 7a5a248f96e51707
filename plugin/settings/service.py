"""Read and change an organisation's limits."""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from marshmallow import Schema
from sqlalchemy import bindparam, select

from plugin.audit.service import record
from plugin.core import memo
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.core.memo import store
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.settings.fields import whole
from plugin.settings.models import OrganisationSettings
from plugin.tenancy import config_cache


@dataclass(frozen=True)
class Limits:
    """A plain snapshot the pure rule engine can read."""

    daily_points_cap: int = 60
    repeat_free_count: int = 3
    repeat_factor_percent: int = 50
    duplicate_threshold_percent: int = 80
    min_reflection_chars: int = 20
    kudos_monthly_budget: int = 100
    help_pair_cap: int = 3
    help_pair_window_days: int = 30


LIMIT_FIELDS = [f.name for f in fields(Limits)]


def _limit(low: int, high: int):
    return whole(low, high, required=True)


class LimitsIn(Schema):
    daily_points_cap = _limit(0, 10_000)
    repeat_free_count = _limit(0, 100)
    repeat_factor_percent = _limit(0, 100)
    duplicate_threshold_percent = _limit(50, 100)
    min_reflection_chars = _limit(0, 2000)
    kudos_monthly_budget = _limit(0, 100_000)
    help_pair_cap = _limit(0, 1000)
    help_pair_window_days = _limit(1, 366)


def limits_row(organisation_id: int, lock: bool = False) -> OrganisationSettings:
    """The organisation's settings row, made if missing. lock (an admin's change): held until commit and read afresh,
    so a second save at once (two admins, a double click) waits and compares with what the first saved (its audit
    event says what it changed; a time zone set twice is changed, and the boards rebuilt, once)."""
    row = None if lock else db.session.get(OrganisationSettings, organisation_id)
    if row is None:
        insert_ignore(db.session, OrganisationSettings.__table__,
                      {"organisation_id": organisation_id, **Limits().__dict__}, ["organisation_id"],
                      returning=False)
        row = db.session.get(OrganisationSettings, organisation_id, with_for_update={"key_share": True} if lock else None,
                             populate_existing=lock)
    return row


_SETTINGS = OrganisationSettings.__table__
_SNAPSHOT = select(*[_SETTINGS.c[name] for name in LIMIT_FIELDS], _SETTINGS.c.time_zone).where(
    _SETTINGS.c.organisation_id == bindparam("organisation_id"))


def _snapshot(organisation_id: int) -> tuple[Limits, str | None]:
    """The organisation's limits and zone name, read once per transaction (forgotten when the row changes),
    or kept in memory across transactions under the organisation's configuration version (config_cache)."""
    def read():
        row = db.session.execute(_SNAPSHOT, {"organisation_id": organisation_id}).first()
        if row is None:
            return Limits(), None
        return Limits(*row[:-1]), row[-1]
    return config_cache.cached(organisation_id, "settings", (_SETTINGS.name,), read)


def limits(organisation_id: int) -> Limits:
    return _snapshot(organisation_id)[0]


def update_limits(actor: Actor, data: dict, now) -> Limits:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can change these limits."))
    row = limits_row(actor.organisation_id, lock=True)
    before = {name: getattr(row, name) for name in LIMIT_FIELDS}
    for name in LIMIT_FIELDS:
        setattr(row, name, data[name])
    db.session.flush()
    changed = {k: [before[k], data[k]] for k in LIMIT_FIELDS if before[k] != data[k]}
    if changed:
        record(actor, "settings.limits_changed", "organisation", actor.organisation_id, changed, now)
    return limits(actor.organisation_id)


UTC_NAME = "UTC"


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Built once: pages and awards ask often. A page's combined read may embed it (bind "organisation").
TIME_ZONE_OF = select(OrganisationSettings.time_zone).where(
    OrganisationSettings.organisation_id == bindparam("organisation"))


def time_zone_name(organisation_id: int) -> str:
    """Read once per transaction: a page asks for it several times (period keys, the period list, the hint),
    an award several times between its writes (which touch other tables: only a settings write forgets it).
    When this transaction already read the organisation's limits, their row gave the zone too."""
    def read() -> str:
        snapshot = memo.peek(db.session, ("settings", organisation_id)) or config_cache.peek(organisation_id, "settings")
        if snapshot is not None:
            return snapshot[1] or UTC_NAME
        return db.session.scalar(TIME_ZONE_OF, {"organisation": organisation_id}) or UTC_NAME
    return memo.remember(db.session, ("time_zone", organisation_id), (_SETTINGS.name,), read)


def remember_time_zone(organisation_id: int, name: str | None) -> None:
    """The zone as read by a caller's own statement (embedding TIME_ZONE_OF): time_zone_name asks no more."""
    store(db.session, ("time_zone", organisation_id), name or UTC_NAME, (_SETTINGS.name,))


def time_zone(organisation_id: int) -> ZoneInfo:
    """The zone that decides the organisation's days, ISO weeks and months."""
    return zone_named(time_zone_name(organisation_id))


def zone_named(name: str | None) -> ZoneInfo:
    """The zone of a settings row's name (UTC for none, or a name this machine does not know)."""
    try:
        return _zone(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):
        return _zone(UTC_NAME)


@lru_cache(maxsize=1)
def _all_zones() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "Factory"})


def time_zone_choices() -> list[str]:
    return sorted(_all_zones())


def set_time_zone(actor: Actor, name: str, now) -> bool:
    """Change the organisation's zone; True when it changed (boards must then be rebuilt by the caller)."""
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can change the time zone."))
    name = (name or "").strip()
    if name not in _all_zones():
        message = _("Choose a time zone from the list.")
        raise InvalidInput(message, errors={"time_zone": [message]})
    row = limits_row(actor.organisation_id, lock=True)
    before = row.time_zone or UTC_NAME
    if before == name:
        return False
    row.time_zone = name
    db.session.flush()
    record(actor, "settings.time_zone_changed", "organisation", actor.organisation_id, {"time_zone": [before, name]}, now)
    return True
