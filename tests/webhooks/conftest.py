"""A real HTTP receiver on a thread, answering from a script, and an independent check of Standard Webhooks
signatures (written here from the spec, not imported from Tinker)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    script: list[tuple[int, str]] = field(default_factory=list)  # answers in order; then 204
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver():
    state = Receiver(url="")

    @Request.application
    def app(request: Request) -> Response:
        state.received.append(Received({k.lower(): v for k, v in request.headers.items()}, request.get_data()))
        status, text = state.script.pop(0) if state.script else (204, "")
        return Response(text, status=status, content_type="application/json" if text.startswith("{") else "text/plain")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/tinker"
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)


def verify(secret: str, received: Received) -> bool:
    """Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" keyed with the base64-decoded part of whsec_...,
    compared against each space-separated "v1,<base64>" in webhook-signature."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    signed = b".".join([received.headers["webhook-id"].encode(), received.headers["webhook-timestamp"].encode(),
                        received.body])
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in received.headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered)
