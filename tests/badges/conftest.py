"""Badge fixtures: an organisation with a manager, a learner and a manually awardable badge; the 1EdTech
Open Badges validator (PyPI `openbadges` 1.1.2) in a virtualenv of its own; a real local SMTP server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from plugin.core.actor import Actor, Role
from tests.services.factories import NOW, make_actor, make_platform

VALIDATOR = "openbadges==1.1.2"
# It pins libraries that do not import on Python 3.11; these upgrades make it run.
VALIDATOR_UPGRADES = ["click", "pycryptodome", "python-jose", "pytz"]
CONTEXT = Path(__file__).resolve().parents[2] / "plugin" / "badges" / "contexts" / "openbadges-v2.json"
RUNNER = Path(__file__).with_name("ob_validate.py")


@dataclass
class World:
    org_id: int
    manager: Actor
    learner: Actor
    badge_id: int


def make_world(organisation: str = "Org A", issuer: str = "https://lms.example.edu", email: str | None = None,
               sub: str = "learner-1") -> World:
    from plugin.badges.service import get_or_create_badge

    platform = make_platform(issuer=issuer, organisation=organisation)
    manager = make_actor(platform, "manager-1", role=Role.MANAGER)
    learner = make_actor(platform, sub, email=email)
    badge = get_or_create_badge(platform.organisation_id, "ai-champion", NOW, name="AI Champion", manual=True,
                                description="Champions careful AI use.", criteria="Showed colleagues how.",
                                colour="#2b8a3e", tags="ai, champion")
    return World(platform.organisation_id, manager, learner, badge.id)


def award(world: World, comment: str = "Ran a brown-bag on prompt hygiene.") -> str:
    """Award the badge to the learner by hand; returns the assertion's public id."""
    from plugin.badges.models import BadgeAward
    from plugin.extensions import db
    from plugin.recognition.service import award_badge_manually

    award_id = award_badge_manually(world.manager, receiver_id=world.learner.user_id, badge_id=world.badge_id,
                                    comment=comment, now=NOW)
    return db.session.get(BadgeAward, award_id).public_id


@pytest.fixture(scope="session")
def ob_validator():
    """run(url=... | file=..., email=..., host=...) -> the validator's report. Its CLI exits 0 even when the
    badge is invalid, so we read the JSON report."""
    root = Path(os.environ.get("TINKER_OB_VALIDATOR_VENV") or Path.home() / ".cache" / "tinker" / "ob-validator")
    python = root / "bin" / "python"
    if not (root / ".ready").exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", VALIDATOR], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-U", *VALIDATOR_UPGRADES], check=True,
                           capture_output=True)
        except subprocess.CalledProcessError as exc:  # e.g. no access to PyPI
            pytest.skip(f"could not set up the Open Badges validator: {exc.stderr.decode()[-500:]}")
        (root / ".ready").write_text(VALIDATOR)

    def run(*, url: str | None = None, file: Path | None = None, email: str | None = None,
            host: str | None = None) -> dict:
        args = [str(python), str(RUNNER), str(CONTEXT)]
        args += ["--url", url] if url else ["--file", str(file)]
        if email:
            args += ["--email", email]
        if host:
            args += ["--allow-host", host]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    return run


def errors(report: dict) -> list[str]:
    return [f"{m.get('name')}: {m.get('result')}" for m in report["report"]["messages"]
            if m.get("messageLevel") == "ERROR"]


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port (aiosmtpd); .messages holds what it received."""
    import socket
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.host, inbox.port = "127.0.0.1", port
    yield inbox
    controller.stop()
