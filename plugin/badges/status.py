"""Each award's place in its organisation's revocation list (a Bitstring Status List), and the list's bits.

W3C Bitstring Status List v1.0, Privacy Considerations (https://www.w3.org/TR/vc-bitstring-status-list/
#privacy-considerations): "Revocation Bitstring Length" sets a minimum of 131,072 entries (16 KB) for group privacy,
and "Decoy Values" advises implementers "to allocate status list entry indexes randomly". So an index is drawn at
random from the organisation's own list, and the list's length follows only that organisation's entries: an index
says nothing about when an award was made, and the list nothing about how many badges anyone else awarded (an index
used to be the installation-wide award id, and every list as long as the highest award id of all).

An award gets its index when its first Open Badges 3.0 credential is made, not when it is awarded: the award path
stays as it is, and an award that never leaves Tinker as a credential takes no entry. Once a credential carries the
index it never changes, and no other award of the organisation ever gets it (badge_status_entry: one row per award,
unique per organisation; an award is never deleted, and its foreign key would refuse it)."""
from __future__ import annotations

import base64
import gzip
import secrets
from datetime import datetime

from sqlalchemy import func, select

from plugin.badges.models import BadgeAward, StatusEntry
from plugin.core.db import insert_ignore
from plugin.extensions import db

MIN_LIST_BITS = 131072  # the specification's minimum (16 KB)
TRIES = 64  # draws that all hit taken entries of a list at most half full: 2**-64


def length_for(taken: int, highest: int | None) -> int:
    """An organisation's list length: MIN_LIST_BITS, doubled while more than half its entries are taken (so a
    random draw finds a free one in two tries on average) or while it would not reach the highest index given
    (awards from before random indexes keep theirs, their ids: migration 0035)."""
    length = MIN_LIST_BITS
    while taken * 2 > length or (highest is not None and highest >= length):
        length *= 2
    return length


def list_length(organisation_id: int) -> int:
    taken, highest = db.session.execute(select(func.count(), func.max(StatusEntry.status_index)).where(
        StatusEntry.organisation_id == organisation_id)).one()
    return length_for(taken, highest)


def _index_of(award_id: int) -> int | None:
    return db.session.scalar(select(StatusEntry.status_index).where(StatusEntry.award_id == award_id))


def status_index(award: BadgeAward) -> int:
    """The award's index in its organisation's list, drawn on first use (flushed: the caller commits before the
    credential carrying it leaves). Two requests drawing for one award at once end with one index: the second
    insert finds the first's row (PostgreSQL waits for the first to commit; SQLite writers take turns) and reads
    it back. A draw that hits another award's entry draws again."""
    found = _index_of(award.id)
    if found is not None:
        return found
    table = StatusEntry.__table__
    for _try in range(TRIES):
        drawn = secrets.randbelow(list_length(award.organisation_id))
        inserted = insert_ignore(db.session, table, {"award_id": award.id, "organisation_id": award.organisation_id,
                                                     "status_index": drawn}, conflict=None, key="award_id")
        if inserted is not None:
            return drawn
        found = _index_of(award.id)
        if found is not None:  # another request gave the award its index first
            return found
    raise RuntimeError(f"no free revocation list entry found for award {award.id} in {TRIES} draws")


def revocations(organisation_id: int) -> list[tuple[int | None, datetime]]:
    """(index, revoked at) of the organisation's revoked awards; index None when no credential was ever made."""
    return [tuple(row) for row in db.session.execute(
        select(StatusEntry.status_index, BadgeAward.revoked_at)
        .outerjoin(StatusEntry, StatusEntry.award_id == BadgeAward.id)
        .where(BadgeAward.organisation_id == organisation_id, BadgeAward.revoked_at.is_not(None)))]


def encoded_list(length: int, revoked: list[int]) -> str:
    """The list's bits, bit N set = the credential with index N revoked (MSB first, gzip, multibase 'u')."""
    bits = bytearray((length + 7) // 8)
    for index in revoked:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode().rstrip("=")
