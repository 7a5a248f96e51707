"""Run inside the validator's own virtualenv: `python ob_validate.py CONTEXT_JSON (--url URL | --file PATH)
[--email ADDRESS] [--allow-host HOST:PORT]`; prints the validator's JSON report. The OB 2.0 context is
served from the copy the tool ships (never fetched); hosts other than the tool under test are refused."""
import argparse
import json
import sys
from urllib.parse import urlparse

import requests

parser = argparse.ArgumentParser()
parser.add_argument("context")
parser.add_argument("--url")
parser.add_argument("--file")
parser.add_argument("--email")
parser.add_argument("--allow-host", action="append", default=[])
args = parser.parse_args()

with open(args.context) as fh:
    context_text = fh.read()
original = requests.Session.request
fetched = []


def offline_request(self, method, url, *a, **kw):
    fetched.append(url)
    if url.rstrip("/") in ("https://w3id.org/openbadges/v2", "http://w3id.org/openbadges/v2"):
        response = requests.models.Response()
        response.status_code, response.url, response.encoding = 200, url, "utf-8"
        response._content = context_text.encode()
        response.headers["Content-Type"] = "application/ld+json"
        return response
    if urlparse(url).netloc not in args.allow_host:
        raise requests.exceptions.ConnectionError(f"offline test: refusing to fetch {url}")
    return original(self, method, url, *a, **kw)


requests.Session.request = offline_request

from openbadges import verify  # noqa: E402

options = {"use_cache": False, "cache_backend": None}
profile = {"email": args.email} if args.email else None
if args.file:
    # Unbaked by 1EdTech's own baker; it hands an SVG's verify URL back as bytes, which verify() cannot
    # take on Python 3, so decode it before validating.
    from openbadges_bakery import unbake

    with open(args.file, "rb") as fh:
        unbaked = unbake(fh)
    unbaked = unbaked.decode("utf-8") if isinstance(unbaked, bytes) else unbaked
    result = verify(unbaked, recipient_profile=profile, **options)
    result["unbaked"] = unbaked
else:
    result = verify(args.url, recipient_profile=profile, **options)
result["fetched"] = fetched
json.dump(result, sys.stdout, default=str)
