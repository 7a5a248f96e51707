"""Dimensions and levels: defaults for a new organisation, admin edits, a learner's progress."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import bindparam, select

from plugin.core import text_fold
from plugin.core.actor import Actor
from plugin.core.db import read
from plugin.core.memo import memoised
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.ledger.models import TOTAL
from plugin.levels.ladder import Progress, Step, progress
from plugin.levels.models import Dimension, Level
from plugin.tenancy import service as tenancy

DEFAULT_DIMENSIONS = [
    ("experimenting", "Experimenting", "Trying AI on real work, whatever the outcome."),
    ("helping", "Helping", "Helping colleagues with their experiments, confirmed by them."),
    ("sharing", "Sharing", "Sharing what you learned so others can reuse it."),
]
DEFAULT_LADDER = [("Curious", 0), ("Explorer", 40), ("Practitioner", 120), ("Pathfinder", 300), ("Catalyst", 600)]


def ensure_defaults(organisation_id: int) -> None:
    if db.session.scalar(select(Dimension.id).where(Dimension.organisation_id == organisation_id).limit(1)) is None:
        for position, (key, name, description) in enumerate(DEFAULT_DIMENSIONS):
            db.session.add(Dimension(organisation_id=organisation_id, key=key, name=name, description=description,
                                     position=position))
    if db.session.scalar(select(Level.id).where(Level.organisation_id == organisation_id).limit(1)) is None:
        for name, threshold in DEFAULT_LADDER:
            db.session.add(Level(organisation_id=organisation_id, name=name, threshold=threshold))
    db.session.flush()


def dimensions(organisation_id: int) -> list[Dimension]:
    return list(db.session.scalars(select(Dimension).where(Dimension.organisation_id == organisation_id)
                                   .order_by(Dimension.position, Dimension.id)))


_NAMES = (select(Dimension.key, Dimension.name).where(Dimension.organisation_id == bindparam("organisation"))
          .order_by(Dimension.position, Dimension.id))  # built once: pages ask often


def dimension_names(organisation_id: int) -> dict[str, str]:
    """key -> name in the organisation's order; read once per transaction, a fresh dict for every caller."""
    return dict(memoised(db.session, ("dimension_names", organisation_id), lambda: tuple(
        read(db.session, _NAMES, {"organisation": organisation_id}).all())))


def ladder(organisation_id: int) -> list[Step]:
    return [Step(l.name, l.threshold) for l in db.session.scalars(
        select(Level).where(Level.organisation_id == organisation_id).order_by(Level.threshold))]


def progress_of(organisation_id: int, points: int) -> Progress:
    return progress(points, ladder(organisation_id))


def _require_admin(actor: Actor) -> None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can change dimensions and levels."))


def _take_turns(organisation_id: int) -> None:
    """Changes of the organisation's dimensions or ladder that check what is there first take turns
    (tenancy.lock_organisation): the second (two tabs, two admins, a double click) reads what the first committed."""
    tenancy.lock_organisation(organisation_id)


def add_dimension(actor: Actor, name: str, description: str = "") -> Dimension:
    _require_admin(actor)
    name = tidy_name(name)
    # folded as every name is compared ("İletişim" is "iletişim": casefold() alone kept İ's dot, a key of its own)
    key = re.sub(r"[\W_]+", "-", text_fold.key(name)).strip("-")[:40]
    if not key:
        raise InvalidInput(_("Give the dimension a name."), errors={"name": [_("Required.")]})
    if key == TOTAL:  # every dimension's points also go to the total: one keyed "total" would count them twice
        raise Conflict(_("“%(name)s” is the sum of all dimensions already: give this one another name.", name=name))
    _take_turns(actor.organisation_id)  # the same name added twice at once: the second is told it exists
    if any(d.key == key or text_fold.key(d.name) == text_fold.key(name) for d in db.session.scalars(
            select(Dimension).where(Dimension.organisation_id == actor.organisation_id))):
        raise Conflict(_("There is already a dimension called “%(name)s”.", name=name))
    position = len(dimensions(actor.organisation_id))
    dimension = Dimension(organisation_id=actor.organisation_id, key=key, name=name[:100],
                          description=(description or "")[:300], position=position)
    db.session.add(dimension)
    db.session.flush()
    return dimension


def set_levels(actor: Actor, steps: list[tuple[str, int]], now: datetime | None = None) -> list[Level]:
    """Replace the ladder. Levels are computed from points, so nothing awarded changes. Given `now`, the "a level
    is reached" rules naming a level whose threshold moved follow it (a new version of each)."""
    _require_admin(actor)
    clean = [(tidy_name(name, 100), int(threshold)) for name, threshold in steps if tidy_name(name)]
    if not clean:
        raise InvalidInput(_("Keep at least one level."), errors={"levels": [_("At least one level.")]})
    thresholds = [t for _, t in clean]
    if len(set(thresholds)) != len(thresholds) or min(thresholds) != 0 or any(t < 0 for t in thresholds):
        raise InvalidInput(_("Thresholds must be distinct, not negative, and the first level must start at 0."),
                           errors={"levels": [_("Distinct thresholds starting at 0.")]})
    names = [text_fold.key(n) for n, _ in clean]
    if len(set(names)) != len(names):  # "level reached" rules name their level
        raise InvalidInput(_("Give each level a name of its own."), errors={"levels": [_("Names must differ.")]})
    _take_turns(actor.organisation_id)  # two saves at once: the second replaces the first's ladder whole
    _keep_named_levels(actor.organisation_id, {n for n, _ in clean})
    for level in db.session.scalars(select(Level).where(Level.organisation_id == actor.organisation_id)):
        db.session.delete(level)
    db.session.flush()
    rows = [Level(organisation_id=actor.organisation_id, name=n, threshold=t) for n, t in sorted(clean, key=lambda x: x[1])]
    db.session.add_all(rows)
    db.session.flush()
    if now is not None:
        from plugin.rules.definitions import follow_ladder

        follow_ladder(actor, {row.name: row.threshold for row in rows}, now)
    return rows


def _keep_named_levels(organisation_id: int, names: set[str]) -> None:
    """An active "a level is reached" rule names its level: taking that level off the ladder would leave the rule
    firing at the old threshold for a level nobody sees any more, so it is refused, naming the rule."""
    from plugin.rules.models import Rule

    for rule in db.session.scalars(select(Rule).where(Rule.organisation_id == organisation_id, Rule.active.is_(True),
                                                      Rule.condition == "level_reached").order_by(Rule.id)):
        level = (rule.params or {}).get("level")
        if text_fold.key(level or "") not in {text_fold.key(n) for n in names}:  # a name stored before it was tidied
            message = _("The rule “%(rule)s” recognises reaching “%(level)s”: keep that level, or change or switch off "
                        "the rule first.", rule=rule.name, level=level)
            raise InvalidInput(message, errors={"levels": [message]})


def require_dimension(organisation_id: int, key: str) -> Dimension:
    dimension = db.session.scalar(select(Dimension).where(Dimension.organisation_id == organisation_id,
                                                          Dimension.key == key))
    if dimension is None:
        raise NotFound(_("No dimension “%(key)s”.", key=key))
    return dimension
