"""URLs that come from outside (platform configurations, claims, query strings)."""
from __future__ import annotations

from urllib.parse import urlsplit

from plugin.tenancy.service import origin_of

MAX_URL = 1000


def http_origin(value) -> str | None:
    """scheme://host[:port] of an http(s) URL; None for anything else, including non-strings, overlong or
    malformed values (never raises)."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    try:
        urlsplit(value)
        return origin_of(value)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
