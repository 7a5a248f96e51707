"""Run inside ralph's own virtualenv: `python ralph_server.py PORT DATA_DIR PASSWORD USERNAME...`.

Serves Ralph's LRS (ralph-malph, FastAPI) on 127.0.0.1:PORT with its filesystem backend under DATA_DIR.
Each USERNAME is a Basic-auth user (password PASSWORD) with every scope and a store of its own (Ralph's
`target`: a folder of its own under DATA_DIR/statements), so tests sharing the server never see each
other's statements. Ralph reads its configuration from the environment when it is first
imported, so the variables are set before the import. Its filesystem backend creates its statements file
on the first write and refuses the next one (operation type CREATE), so writes are switched to APPEND.
"""
import json
import os
import sys
from pathlib import Path

port, data_dir, password, usernames = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
for username in usernames:
    (data_dir / "statements" / username).mkdir(parents=True, exist_ok=True)

import bcrypt  # noqa: E402  (Ralph's own dependency)

auth_file = data_dir / "auth.json"
hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()  # a test server: fast rounds
auth_file.write_text(json.dumps([{
    "username": username,
    "hash": hashed,
    "scopes": ["all"],
    "agent": {"objectType": "Agent", "account": {"homePage": "http://127.0.0.1", "name": username}},
    "target": username,
} for username in usernames]))
os.environ.update({
    "RALPH_APP_DIR": str(data_dir / "app"),
    "RALPH_AUTH_FILE": str(auth_file),
    "RALPH_HISTORY_FILE": str(data_dir / "app" / "history.json"),
    "RALPH_RUNSERVER_BACKEND": "fs",
    "RALPH_RUNSERVER_AUTH_BACKENDS": "basic",
    "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data_dir / "statements"),
})

import uvicorn  # noqa: E402
from ralph.backends.data.base import BaseOperationType  # noqa: E402
from ralph.backends.lrs.fs import FSLRSBackend  # noqa: E402

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

from ralph.api import app  # noqa: E402

uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
