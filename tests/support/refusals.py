"""What a refused call to a private network address leaves: a message for the admin or teacher who set the URL, and
the address for the operator's log only (plugin/outbox/http.refused_private)."""
from __future__ import annotations

import re


def assert_refused_privately(message: str, log: str, address: str = "127.0.0.1") -> None:
    """`message` (what the page, record or error says) calls it a private network address without naming the address
    in any form (the URL or host typed may hold it, always with its port: "127.0.0.1:8080"); `log` (the captured log)
    names it."""
    assert "private network address" in message, message
    assert not re.search(rf"(?<![\d.]){re.escape(address)}(?![\d.]|:\d)", message), message
    assert f"private network address ({address})" in log, log
