"""Tinker's calls to an LMS (dynamic registration, its key set, its token endpoint, grade and roster services):
plugin/outbox/http.request, kept to public addresses unless the operator allows LMSs on private networks.

An LMS's URLs come from whoever controls it: the configuration a registration link's holder points Tinker at, and
the service URLs in the launches that LMS signs. Unchecked, they could make Tinker call the server's own network (a
cloud metadata service, an internal admin page) and show what it answered in an error. So, as for webhooks and xAPI,
with TINKER_LTI_ALLOW_PRIVATE_PLATFORMS off (the default in production) every connection to an LMS must land on a
public address (the address checked is the one connected to) and goes direct, not through HTTP(S)_PROXY. An operator
whose LMS is on the organisation's own network, or who must reach LMSs through a proxy, turns it on.
"""
from __future__ import annotations

import requests
from flask import current_app, has_app_context

from plugin.outbox.http import NotPublic, Unfinished, refused_private, request

__all__ = ["NotPublic", "Unfinished", "call", "public_only", "refused_private"]


def public_only() -> bool:
    """Whether calls to an LMS must stay on public addresses (outside an app, a script's own: as configured there)."""
    return has_app_context() and not current_app.config.get("LTI_ALLOW_PRIVATE_PLATFORMS", False)


def call(method: str, url: str, *, timeout: float, keep: int | None = None, deadline: float | None = None,
         redirects: bool = False, **kwargs) -> requests.Response:
    """One request to an LMS (outbox.http.request): its whole answer read unless `keep` caps it, within `deadline`
    (default twice `timeout`). Raises NotPublic (a loopback, private or link-local address, where not allowed),
    Unfinished and requests' exceptions."""
    return request(method, url, timeout=timeout, public_only=public_only(), keep=keep, deadline=deadline,
                   redirects=redirects, **kwargs)
