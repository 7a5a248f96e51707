"""HTTP for outbox handlers that call another system (an LRS, a webhook receiver): one request, never following
redirects, where a transport failure means "try again later" and the receiver's own words are kept."""
from __future__ import annotations

from urllib.parse import urlsplit

import requests

from plugin.outbox.registry import Retry


def send(method: str, url: str, *, who: str, timeout: float, **kwargs) -> requests.Response:
    """The receiver's response; raises Retry (with a message naming `who`) when it could not be reached."""
    try:
        return requests.request(method, url, allow_redirects=False, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise Retry(f"{who} did not answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise Retry(f"could not connect to {who} at {urlsplit(url).netloc}") from None
    except requests.RequestException as exc:
        raise Retry(f"sending to {who} failed: {type(exc).__name__}: {str(exc)[:200]}") from None


def answer_text(response: requests.Response) -> str:
    """What the receiver said, shortened: a JSON error's message (detail/message/error) or the body's text."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300]
    if isinstance(body, dict):
        for field in ("detail", "message", "error", "errorMessage"):
            found = body.get(field)
            if isinstance(found, list):  # FastAPI-style validation errors: where and what, first few
                found = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg', '')}"
                                  if isinstance(e, dict) else str(e) for e in found[:3])
            if found:
                return str(found)[:300]
    return str(body)[:300]
