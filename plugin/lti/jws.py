"""Compact JWS, parsed once. PyJWT 2.14+ checks base64 segments byte by byte in Python, and reading the
header, the unverified claims and then verifying would pay that three times per launch (BENCH.md, B1).
Here the token is split and decoded once (a C-speed regex guards the alphabet) and the signature is
checked with PyJWT's own RSA algorithm objects."""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from jwt.algorithms import get_default_algorithms

SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # an empty signature reaches the alg check ("none")
_ALGORITHMS = get_default_algorithms()
RSA_ALGORITHMS = {name: _ALGORITHMS[name] for name in ("RS256", "RS384", "RS512")}


class MalformedToken(ValueError):
    pass


@dataclass(frozen=True)
class ParsedToken:
    header: dict
    claims: dict
    signing_input: bytes
    signature: bytes
    holds_nul: bool = False  # some text in the claims holds a NUL character (JSON writes it \u0000)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def parse(token: str) -> ParsedToken:
    parts = token.split(".")
    if len(parts) != 3 or not all(SEGMENT.fullmatch(part) for part in parts):
        raise MalformedToken("not a compact JWS")
    try:
        payload = _b64(parts[1])
        header, claims = json.loads(_b64(parts[0])), json.loads(payload)
        signature = _b64(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise MalformedToken("undecodable segment") from None
    except RecursionError:  # JSON nested thousands deep: no genuine token is
        raise MalformedToken("nested too deeply") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise MalformedToken("header and claims must be JSON objects")
    return ParsedToken(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature,
                       holds_nul=b"\\u0000" in payload)


def signature_valid(token: ParsedToken, key, alg: str) -> bool:
    algorithm = RSA_ALGORITHMS.get(alg)
    return algorithm is not None and algorithm.verify(token.signing_input, key, token.signature)
