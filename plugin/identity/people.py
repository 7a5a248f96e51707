"""Who is this person: read-side lookups over identity_link, for boards, badges and history views.

Ranks and aggregates key a linked person by their "board holder": the lowest account id among the person's
identities (an unlinked identity holds its own rows). It is derived from identity_link alone, so a rebuild
from the ledger arrives at the same rows the writers maintained.
"""
from __future__ import annotations

from sqlalchemy import bindparam, func, select

from plugin.core import memo
from plugin.extensions import db
from plugin.identity.models import IdentityLink, Person

_LINK = IdentityLink.__table__
_OTHER = _LINK.alias("other_link")
_PERSON_OF = select(_OTHER.c.user_id).select_from(_LINK.join(_OTHER, _OTHER.c.person_id == _LINK.c.person_id)).where(
    _LINK.c.user_id == bindparam("user_id")).order_by(_OTHER.c.user_id)


# For a caller's own statement (bind "user_id"): how many accounts the person has, for remember_identities.
LINKED_COUNT = select(func.count()).select_from(_LINK.join(_OTHER, _OTHER.c.person_id == _LINK.c.person_id)).where(
    _LINK.c.user_id == bindparam("user_id")).scalar_subquery()


def remember_identities(user_id: int, linked: int) -> None:
    """LINKED_COUNT as read by a caller's statement: an account linked to no other one is its own person, and
    identities() asks no more in this transaction."""
    if linked <= 1:
        memo.store(db.session, ("identities", user_id), [user_id], (_LINK.name,))


def identities(user_id: int) -> list[int]:
    """Every account of the person this account belongs to, lowest id first (just itself when unlinked).
    Read once per transaction, forgotten when identity_link is written."""
    def read():
        found = list(db.session.scalars(_PERSON_OF, {"user_id": user_id}))
        return found or [user_id]
    return memo.remember(db.session, ("identities", user_id), (_LINK.name,), read)


def board_holder(user_id: int) -> int:
    """The account that holds the person's rows on organisation boards."""
    return identities(user_id)[0]


def holders(organisation_id: int | None = None) -> dict[int, int]:
    """account id -> board holder, for every linked account (of one organisation, or all)."""
    query = select(_LINK.c.user_id, func.min(_OTHER.c.user_id)).select_from(
        _LINK.join(_OTHER, _OTHER.c.person_id == _LINK.c.person_id)).group_by(_LINK.c.user_id)
    if organisation_id is not None:
        query = query.where(_LINK.c.person_id.in_(select(Person.id).where(Person.organisation_id == organisation_id)))
    return {user_id: holder for user_id, holder in db.session.execute(query)}
