"""An audit entry's details as the audit page shows them: "label: value" lines in the reader's language.

The row keeps the JSON as recorded (English keys, stored values) for exports and machines; only the page
reads it this way. Labels name the keys Tinker records (grep `record(` across plugin/); an unknown key is
shown as itself. Values stay as stored (a title someone typed stays as typed), except that yes/no, numbers
and dates read in the reader's language, Tinker's own codes (CODES) read in the words of the page where they
were chosen, and a change recorded as [before, after] reads "before → after".
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import format_datetime

from plugin.challenges.models import ACCEPTED, RETURNED, SUBMITTED
from plugin.course_copy.service import GRADE_SYNC_LABELS
from plugin.i18n import format_decimal
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.identity.models import CODE, EMAIL
from plugin.leaderboards.models import OFF, ON, TEAM_ONLY
from plugin.onboarding.names import seeded
from plugin.tokens.service import BY_OPERATOR, SCOPES
from plugin.webhooks.service import EVENTS
from plugin.xapi.service import SECRET_CHANGED

DETAIL_LABELS = {
    # identity links
    "expires_at": _l("Expires"),
    "method": _l("Method"),
    "users": _l("Accounts"),
    "users_before": _l("Accounts before"),
    "code_of": _l("Code issued to account"),
    "user": _l("Account"),
    "user_id": _l("Account"),
    "user_ids": _l("Accounts"),
    # texts, names, versions
    "name": _l("Name"),
    "title": _l("Title"),
    "mission": _l("Sandbox mission"),
    "reason": _l("Reason"),
    "status": _l("Status"),
    "version": _l("Version"),
    "changed": _l("Changed"),
    "awarded": _l("Already awarded"),
    "members": _l("Members"),
    "levels": _l("Levels"),
    # recognition
    "receiver": _l("Receiver"),
    "points": _l("Points"),
    "badge": _l("Badge"),
    # counts
    "count": _l("Count"),
    "deliveries": _l("Deliveries"),
    "delivery": _l("Delivery"),
    "rows": _l("Rows"),
    "experiments": _l("Experiments"),
    "older_than_days": _l("Older than (days)"),
    "counts": _l("Records changed"),
    "pseudonym": _l("Pseudonym"),
    "format": _l("Format"),
    # settings
    "time_zone": _l("Time zone"),
    "min_group_size": _l("Minimum group size"),
    "experiment_text_retention_days": _l("Experiment text kept (days)"),
    "daily_points_cap": _l("Experiment points per person per day, at most"),
    "repeat_free_count": _l("Same tool on the same task: full points this many times in 30 days"),
    "repeat_factor_percent": _l("Points for a repeat beyond those (percent)"),
    "duplicate_threshold_percent": _l("Near-duplicate text threshold (percent)"),
    "min_reflection_chars": _l("Minimum reflection length for a failed experiment"),
    "kudos_monthly_budget": _l("Kudos points per manager per month"),
    "help_pair_cap": _l("Confirmed helps between the same two people that earn points"),
    "help_pair_window_days": _l("Days over which confirmed helps are counted"),
    "mode": _l("Boards"),
    "relative": _l("Relative mode"),
    # integrations
    "enabled": _l("On"),
    "endpoint": _l("LRS endpoint"),
    "key": _l("Key"),
    "send_email": _l("Send e-mail addresses"),
    "secret": _l("Secret (password)"),
    "url": _l("Address"),
    "events": _l("Events"),
    "previous_signs_until": _l("The replaced secret signs until"),
    "scopes": _l("Scopes"),
    "days": _l("Valid for (days)"),
    "by": _l("By"),
    # a learner's erasure: what was erased or removed, per kind of record
    "reports": _l("Reports"),
    "peer_help": _l("Peer help"),
    "peer_help_declined": _l("Peer help declined"),
    "kudos": _l("Kudos"),
    "badge_awards": _l("Badge awards"),
    "mission_evidence": _l("Mission evidence"),
    "badge_recipient": _l("Badge recipient profile"),
    "launch_sessions": _l("Sign-ins"),
    "pending_grade_pushes": _l("Grade syncs waiting"),
    "emails": _l("E-mails waiting"),
    "audit_reasons": _l("Audit log reasons"),
    "identity_links": _l("Account links"),
    "webhooks_rewritten": _l("Webhook deliveries rewritten"),
    "xapi_cancelled": _l("xAPI statements cancelled"),
    "xapi_scrubbed": _l("xAPI statements scrubbed"),
    # course copy
    "source_course_id": _l("Copied from course"),
    "boards": _l("Leaderboard settings"),  # its "mode" reads "Boards"
    "grade_sync": _l("Grade sync"),
    "challenges": _l("Challenges copied"),
    "challenges_left_out": _l("Challenges left out"),
}

# Actions whose details hold each changed setting as [before, after].
CHANGES = {"team.renamed", "settings.time_zone_changed", "settings.limits_changed", "insights.min_group_changed",
           "privacy.retention_changed", "xapi.settings_changed", "boards.settings_changed"}
DATES = {"expires_at", "previous_signs_until"}
# Keys whose values are ids (of accounts, courses, badges, deliveries): names, not amounts, so never grouped
# ("12345", not "12,345", which a Turkish reader would take for twelve and a bit as "12.345").
IDS = {"user", "user_id", "user_ids", "users", "users_before", "code_of", "receiver", "badge", "delivery",
       "source_course_id"}

# What a rule's or a challenge's "changed" lists: the fields, named as their edit forms name them.
FIELDS = {
    # a rule (rules.models.VERSIONED_FIELDS)
    "name": _l("Name"), "description": _l("Description"), "condition": _l("What earns it"),
    "params": _l("Condition details"), "points": _l("Points"), "dimension": _l("Dimension"), "badge_id": _l("Badge"),
    "repeatable": _l("Can be earned again (otherwise once per person and course)"),
    "cooldown_days": _l("Cooldown (days)"), "cap_count": _l("At most (times)"),
    "cap_window_days": _l("…per (days, 0 = ever)"), "active": _l("Active"),
    # a challenge (challenges.service._checked, and its data set)
    "title": _l("Title"), "goal_kind": _l("Goal measured by"), "goal_value": _l("Goal"), "starts_at": _l("Starts"),
    "ends_at": _l("Ends (not included)"), "team_id": _l("Team"), "task_category_id": _l("Task category"),
    "ai_tool_id": _l("AI tool"), "scenario": _l("Practice scenario"), "reflection_prompt": _l("Reflection prompt"),
    "champion_id": _l("AI champion"), "dataset": _l("Synthetic data set"),
}
# Keys whose values are Tinker's own codes from a fixed set, never text someone typed: code -> the words the page where
# it was chosen shows (the same message, so the same translation). Only these keys are looked up, so a title that
# happens to be a code word ("accepted") stays as typed; a code missing here (recorded by another version) shows as
# stored. A list of codes, or a string of them separated by spaces (an API token's scopes), reads code by code,
# joined by semicolons (a scope's words hold commas).
CODES = {
    "method": {CODE: _l("with a code"), EMAIL: _l("by e-mail")},  # the Linked accounts page
    "mode": {ON: _l("On"), TEAM_ONLY: _l("Team boards only"), OFF: _l("Off")},  # the Leaderboard settings page
    "status": {SUBMITTED: _l("Waiting for review"), RETURNED: _l("Returned for revision"),  # a mission's evidence
               ACCEPTED: _l("Accepted")},
    "changed": FIELDS,
    "events": EVENTS,  # a webhook's
    "scopes": SCOPES,  # an API token's
    "grade_sync": GRADE_SYNC_LABELS,  # a course copy's
    "format": {"json": "JSON", "csv": "CSV"},  # a download of one's own data
    "by": {BY_OPERATOR: _l("The Tinker operator, at the command line")},
    "secret": {SECRET_CHANGED: _l("changed (never shown)")},  # the xAPI connection's
}


# Keys whose values pair a name with a number, the name one Tinker may have seeded (plugin/onboarding/names.py).
SEEDED_NAMES = {"levels"}


def detail_label(key: str) -> str:
    return str(DETAIL_LABELS.get(key, key))


def _coded(codes: dict, value) -> str | None:
    """A code's words, a list's or a space-separated string's code by code; None when the value is no code here."""
    if isinstance(value, list):
        return "; ".join(str(codes.get(item, item)) if isinstance(item, str) else _value(item) for item in value)
    if not isinstance(value, str):
        return None
    if value in codes:
        return str(codes[value])
    parts = value.split()
    return "; ".join(str(codes[p]) for p in parts) if len(parts) > 1 and all(p in codes for p in parts) else None


def _value(value, key: str = "") -> str:
    if value is None:
        return "–"
    if key in CODES and (shown := _coded(CODES[key], value)) is not None:
        return shown
    if key in IDS and isinstance(value, (int, list, tuple)) and not isinstance(value, bool):
        return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (int, float)):
        return format_decimal(value)
    if isinstance(value, dict):
        return ", ".join(f"{detail_label(k)}: {_value(v, k)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        # (name, threshold) pairs; a level still named as seeded reads in the reader's language, as on the Scoring page
        name = seeded if key in SEEDED_NAMES else _value
        return ", ".join(f"{name(v[0])} ({_value(v[1])})" if isinstance(v, (list, tuple)) and len(v) == 2
                         else _value(v) for v in value)
    if key in DATES:
        try:
            return format_datetime(datetime.fromisoformat(value), "dd MMM y HH:mm")
        except (TypeError, ValueError):
            pass
    return str(value)


def details_view(action: str, details) -> list[tuple[str, str]]:
    """(label, value) per recorded key, in the order recorded."""
    if not isinstance(details, dict):
        return [] if details in (None, "") else [("", _value(details))]
    lines = []
    for key, value in details.items():
        if action in CHANGES and isinstance(value, list) and len(value) == 2:
            shown = f"{_value(value[0], key)} → {_value(value[1], key)}"
        else:
            shown = _value(value, key)
        lines.append((detail_label(key), shown))
    return lines
