"""Why a ledger entry was reversed, told from its key: the person's points history and their data export say it
beside the reversing row ("Reversed: … (kudos revoked: “…”)"), where the row alone said only "Reversed".

The reversing keys (see ledger.service.reverse_entry's callers):
- ``revoke:kudos:<kudos id>``: a manager revoked the kudos (its own points);
- ``unearn:kudos:<kudos id>:<entry id>``: a rule award the revoked kudos earned (replay.settle);
- ``revoke:<entry id>``: a manager revoked a badge award, and its rule's points went with it; before 2026-12-02 also
  the rule awards of a revoked kudos (told by the kudos revoked in the same moment as the entry was reversed);
- ``replay-reverse:<entry id>``: a recalculation of the rules (replay.service) found it not owed.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from plugin.badges.models import BadgeAward
from plugin.extensions import db
from plugin.ledger.models import REVOKED, LedgerEntry
from plugin.recognition.models import Kudos

KUDOS_REVOKED = "kudos_revoked"
BADGE_REVOKED = "badge_revoked"
REVOKED_BY_MANAGER = "revoked"
RECALCULATED = "recalculated"
OTHER = "reversed"

_KUDOS_PREFIXES = (REVOKED + "kudos:", "unearn:kudos:")
_REVERSED = aliased(LedgerEntry, name="reversed_entry")


@dataclass(frozen=True)
class Cause:
    kind: str                  # one of the names above
    reason: str | None = None  # what the manager wrote when they revoked it


def _kudos_id(key: str) -> int | None:
    parts = key.split(":")
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None


def causes(reversals: list[tuple[int, str]]) -> dict[int, Cause]:
    """(reversing entry id, its key) -> why: read in two queries for any number of rows."""
    out: dict[int, Cause] = {}
    kudos_of: dict[int, int] = {}
    by_manager: list[int] = []
    for entry_id, key in reversals:
        if key.startswith(_KUDOS_PREFIXES) and _kudos_id(key) is not None:
            kudos_of[entry_id] = _kudos_id(key)
        elif key.startswith("replay-reverse:"):
            out[entry_id] = Cause(RECALCULATED)
        elif key.startswith(REVOKED):
            by_manager.append(entry_id)
        else:
            out[entry_id] = Cause(OTHER)
    if kudos_of:
        reasons = dict(db.session.execute(select(Kudos.id, Kudos.revoked_reason).where(
            Kudos.id.in_(set(kudos_of.values())))).all())
        out.update({entry_id: Cause(KUDOS_REVOKED, reasons.get(kudos_id)) for entry_id, kudos_id in kudos_of.items()})
    if by_manager:
        # The badge award revoked with the entry: the same person, rule and fact as the entry it reversed. Or, before
        # 2026-12-02, the kudos the entry was paid for, revoked in the same moment (its rules' awards went then under
        # this key, their badges revoked with the kudos' reason): the kudos is why.
        found = {entry_id: (kudos_id, kudos_reason, award_id, badge_reason)
                 for entry_id, kudos_id, kudos_reason, award_id, badge_reason in db.session.execute(
            select(LedgerEntry.id, Kudos.id, Kudos.revoked_reason, BadgeAward.id, BadgeAward.revoked_reason)
            .join(_REVERSED, _REVERSED.id == LedgerEntry.reverses_id)
            .outerjoin(Kudos, (_REVERSED.source_type == "kudos") & (Kudos.id == _REVERSED.source_id)
                       & (Kudos.revoked_at == LedgerEntry.created_at))
            .outerjoin(BadgeAward, (BadgeAward.course_id == _REVERSED.course_id)
                       & (BadgeAward.user_id == _REVERSED.user_id) & (BadgeAward.rule_id == _REVERSED.rule_id)
                       & (BadgeAward.source_type == _REVERSED.source_type)
                       & (BadgeAward.source_id == _REVERSED.source_id) & BadgeAward.revoked_at.is_not(None)
                       & BadgeAward.unearned.is_(False))
            .where(LedgerEntry.id.in_(by_manager)))}
        for entry_id in by_manager:
            kudos_id, kudos_reason, award_id, badge_reason = found.get(entry_id, (None, None, None, None))
            out[entry_id] = (Cause(KUDOS_REVOKED, kudos_reason) if kudos_id is not None
                             else Cause(BADGE_REVOKED, badge_reason) if award_id is not None
                             else Cause(REVOKED_BY_MANAGER))
    return out
