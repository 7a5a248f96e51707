"""AI tools and task categories: admins edit them; everyone picks from them."""
from __future__ import annotations

from sqlalchemy import func, select

from plugin.catalog.models import AiTool, TaskCategory, ValueTag
from plugin.core import memo, text_fold
from plugin.core.actor import Actor
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.tenancy import service as tenancy

KINDS = {"tools": AiTool, "categories": TaskCategory, "values": ValueTag}


def _model(kind: str):
    if kind not in KINDS:
        raise NotFound(_("No list called %(kind)s.", kind=kind))
    return KINDS[kind]


def items(organisation_id: int, kind: str, include_inactive: bool = False) -> list:
    """The organisation's list, in its order; read once per transaction (a page asks for the tools more than once:
    the form and the vision beside it)."""
    model = _model(kind)

    def read() -> list:
        query = select(model).where(model.organisation_id == organisation_id)
        if not include_inactive:
            query = query.where(model.active.is_(True))
        return list(db.session.scalars(query.order_by(model.position, model.name)))
    return list(memo.remember(db.session, ("catalog", organisation_id, kind, include_inactive),
                              (model.__tablename__,), read))


def find_active(organisation_id: int, kind: str, item_id: int):
    model = _model(kind)
    item = db.session.get(model, item_id)
    if item is None or item.organisation_id != organisation_id or not item.active:
        return None
    return item


def _require_admin(actor: Actor) -> None:
    if not actor.can_administer:
        raise Forbidden(_("Only the organisation's administrators can change these lists."))


def _clean_name(name: str) -> str:
    name = tidy_name(name)
    if not name or len(name) > 100:
        raise InvalidInput(_("A name of 1 to 100 characters is needed."), errors={"name": [_("1 to 100 characters.")]})
    return name


def _owned(actor: Actor, kind: str, item_id: int):
    _require_admin(actor)
    item = db.session.get(_model(kind), item_id)
    if item is None or item.organisation_id != actor.organisation_id:
        raise NotFound(_("That item does not exist."))
    return item


def add_item(actor: Actor, kind: str, name: str):
    _require_admin(actor)
    return ensure_item(actor.organisation_id, kind, name)


def _take_turns(organisation_id: int, kind: str) -> None:
    """Changes of an organisation's lists that check the list first take turns (tenancy.lock_organisation)."""
    tenancy.lock_organisation(organisation_id)
    memo.forget(db.session, _model(kind).__tablename__)  # read before the turn: maybe stale


def ensure_item(organisation_id: int, kind: str, name: str):
    model = _model(kind)
    name = _clean_name(name)
    # The same name added twice at once (a double click, two admins, "ÖNERİ" beside "Öneri"): the second finds the
    # first's item instead of adding another, or failing on the names' unique constraint.
    _take_turns(organisation_id, kind)
    folded, fold_word = text_fold.folder()  # "öneri" is "Öneri" too
    existing = db.session.scalar(select(model).where(model.organisation_id == organisation_id,
                                                     folded(model.name) == fold_word(name)))
    if existing is not None:
        existing.active = True
        return existing
    position = db.session.scalar(select(func.coalesce(func.max(model.position), 0)).where(
        model.organisation_id == organisation_id)) + 1
    item = model(organisation_id=organisation_id, name=name, position=position, active=True)
    db.session.add(item)
    db.session.flush()
    return item


def set_active(actor: Actor, kind: str, item_id: int, active: bool):
    item = _owned(actor, kind, item_id)
    if not active and item.active:
        # Two admins turning off the last two at once would each count two on: the second counts what the first left.
        _take_turns(actor.organisation_id, kind)
    if not active and item.active and len(items(actor.organisation_id, kind)) <= 1:
        raise Conflict(_("Keep at least one active item in the list."))
    item.active = active
    db.session.flush()
    return item


def rename_item(actor: Actor, kind: str, item_id: int, name: str):
    item = _owned(actor, kind, item_id)
    model = _model(kind)
    name = _clean_name(name)
    _take_turns(actor.organisation_id, kind)  # two items renamed alike at once: the second sees the first's name
    folded, fold_word = text_fold.folder()
    clash = db.session.scalar(select(model).where(model.organisation_id == actor.organisation_id,
                                                  folded(model.name) == fold_word(name), model.id != item.id))
    if clash is not None:
        raise Conflict(_("“%(name)s” is already in the list.", name=name))
    item.name = name
    db.session.flush()
    return item
