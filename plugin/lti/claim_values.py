"""The values of a verified launch's optional claims. A claim of the wrong type is ignored, as if the LMS had
left it out (a mature tool launches anyway); text is cut to what Tinker keeps, and a value that is useless cut
short (an e-mail address, a locale, a URL) is ignored when it does not fit."""
from __future__ import annotations

import re

from plugin.core.names import tidy as tidy_name
from plugin.lti import claims as C
from plugin.lti.install import CUSTOM_COURSE_GROUPS, CUSTOM_HISTORY
from plugin.tenancy.service import MAX_URL

# The claims that name something (a registration, a deployment, a person, a course, a login): one holding a NUL
# character names nothing Tinker knows, and is refused; in any other text the character is left out (PostgreSQL
# refuses it in text it stores or compares).
IDS = ("iss", C.DEPLOYMENT_ID, "sub", "nonce")


def nul_in_ids(claims: dict) -> str | None:
    """The first id claim (IDS, then context.id) holding a NUL character, by name; None when none does."""
    for name in IDS:
        if isinstance(claims.get(name), str) and "\x00" in claims[name]:
            return name.rsplit("/", 1)[-1]
    context = claims.get(C.CONTEXT)
    if isinstance(context, dict) and isinstance(context.get("id"), str) and "\x00" in context["id"]:
        return "context.id"
    return None


def without_nul(value):
    """The value with NUL characters left out of all its text, keys included."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def text(value, limit: int) -> str | None:
    """An optional name claim (a person's, a course's title or label) as names are stored (core.names.tidy: NFC, no
    control characters, single spaces), cut to `limit` characters; None when it is empty or not text."""
    return (tidy_name(value, limit) or None) if isinstance(value, str) else None


def whole_text(value, limit: int) -> str | None:
    """An optional text claim that is useless cut short (an e-mail address, a locale, a URL): None when it is
    empty, not text, or longer than `limit`."""
    return (value or None) if isinstance(value, str) and len(value) <= limit else None


def _presentation(claims: dict) -> dict:
    value = claims.get(C.LAUNCH_PRESENTATION)
    return value if isinstance(value, dict) else {}


def person(claims: dict) -> dict:
    """name, email and locale, as tenancy.LaunchIdentity takes them (None: not said, or not usable)."""
    given = " ".join(part for part in (claims.get("given_name"), claims.get("family_name"))
                     if isinstance(part, str) and part)
    return {"name": text(claims.get("name"), 400) or text(given, 400),
            "email": whole_text(claims.get("email"), 400),
            "locale": whole_text(_presentation(claims).get("locale"), 20) or whole_text(claims.get("locale"), 20)}


def return_url(claims: dict) -> str | None:
    return whole_text(_presentation(claims).get("return_url"), MAX_URL)


def context_history(custom) -> tuple[str, ...]:
    """Canvas substitutes $Context.id.history with a comma-separated list, most recent first; an LMS that
    does not know the variable sends it back unsubstituted (or leaves it out)."""
    raw = custom.get(CUSTOM_HISTORY) if isinstance(custom, dict) else None
    if not isinstance(raw, str) or raw.startswith("$"):
        return ()
    return tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))[:20]


_GROUP_ID = re.compile(r"\d{1,20}")
MAX_GROUPS = 500  # group rosters read per sync; a course with more keeps the first ones Canvas lists


def course_group_ids(custom) -> tuple[str, ...] | None:
    """Canvas substitutes $com.instructure.Course.groupIds with "23,24,..." (empty when the course has no
    groups). None when the LMS did not substitute it: then it says nothing about groups."""
    raw = custom.get(CUSTOM_COURSE_GROUPS) if isinstance(custom, dict) else None
    if not isinstance(raw, str) or raw.startswith("$"):
        return None
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not all(_GROUP_ID.fullmatch(i) for i in ids):
        return None
    return tuple(dict.fromkeys(ids))[:MAX_GROUPS]
