"""Run inside ralph's own virtualenv: reads a JSON list of statements on stdin and prints, as JSON, the
errors Ralph's pydantic models of xAPI 1.0.3 (BaseXapiStatement: strict, no unknown properties, no empty
values) find in each one (an empty list = valid)."""
import json
import sys

from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement

found = []
for statement in json.load(sys.stdin):
    try:
        BaseXapiStatement(**statement)
        found.append([])
    except ValidationError as exc:
        found.append([f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()])
json.dump(found, sys.stdout)
