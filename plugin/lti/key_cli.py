"""`flask lti rotate-key`, `keys`, `remove-key` and `jwks`: the tool's signing keys (plugin/lti/keys.py)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.errors import DomainError
from plugin.extensions import db
from plugin.lti import keys


def fail(err: DomainError):
    """Exit the `flask lti` command with the domain's message and hint (plugin/lti/cli.py uses it too)."""
    raise click.ClickException(err.message + (f" {err.hint}" if err.hint else ""))


class Duration(click.ParamType):
    """10m, 2h, 1d12h, 90s, or 0."""

    name = "duration"
    UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    LONGEST = timedelta(days=30)

    def convert(self, value, param, ctx):
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        if text != "0" and not re.fullmatch(r"(?:\d+[smhd])+", text):
            self.fail(f"{value!r} is not a duration: say e.g. 10m, 2h, 1d12h, or 0", param, ctx)
        span = timedelta(seconds=sum(int(n) * self.UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", text)))
        if span > self.LONGEST:
            self.fail(f"{value!r} is longer than {_span(self.LONGEST)}", param, ctx)
        return span


def _span(delta: timedelta) -> str:
    """2h, 10m, 24h, 3d12h (hours up to two days: "24h" reads better than "1d")."""
    seconds = int(delta.total_seconds())
    days = seconds // 86400 if seconds >= 2 * 86400 else 0
    seconds -= days * 86400
    parts = [f"{amount}{unit}" for amount, unit in ((days, "d"), (seconds // 3600, "h"), (seconds % 3600 // 60, "m"),
                                                    (seconds % 60, "s")) if amount]
    return "".join(parts) or "0s"


def _minutes(delta: timedelta) -> timedelta:
    """Rounded up to a whole minute, when longer than one (seconds are noise in "signs in 1h59m53s")."""
    return delta if delta < timedelta(minutes=1) else timedelta(minutes=-(-delta.total_seconds() // 60))


def _utc(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@click.command("rotate-key")
@click.option("--after", "delay", type=Duration(), default=None, metavar="DURATION",
              help=f"How long platforms have to fetch the new key before it signs (default "
                   f"{_span(keys.STAGE_FOR)}; at least 1m; e.g. 10m, 2h, 1d; 0 is --now).")
@click.option("--now", "at_once", is_flag=True, default=False,
              help="Sign with the new key at once, for a leaked key: platforms still holding the old key set refuse "
                   "what it signs until they fetch it again. It removes nothing by itself: remove the leaked key "
                   "with `flask lti remove-key KID`.")
@with_appcontext
def rotate_key(delay, at_once):
    """Publish a new tool signing key now and sign with it after a delay.

    The previous key signs meanwhile, and stays published until removed (`flask lti keys` shows which may go).
    While one new key waits, another rotation is refused (cancel it with remove-key) unless --now. When no key
    can sign meanwhile (none yet, or the signing key no longer decrypts with TINKER_SECRET_KEY), the new key
    signs at once."""
    if at_once and delay:
        raise click.UsageError("--now and --after say different things: give one of them.")
    delay = timedelta(0) if at_once else keys.STAGE_FOR if delay is None else delay
    shortest = timedelta(seconds=keys.CURRENT_TTL)
    if timedelta(0) < delay < shortest:
        # An instance reads which key signs once a minute: one that last read it before this rotation would go on
        # signing with the old key for up to a minute past a shorter wait's end.
        raise click.UsageError(f"--after {_span(delay)} is shorter than {_span(shortest)}, the time every instance "
                               "takes to see a new key: wait at least that long, or sign at once with --now.")
    now = utcnow()
    with writing():
        try:
            rotation = keys.rotate_key(now, now + delay)
        except DomainError as err:
            fail(err)
        db.session.commit()
    kid, previous, jwks = rotation.key.kid, rotation.previous, f"{current_app.config['TINKER_BASE_URL']}/lti/jwks"
    if previous is None:
        click.echo(f"First signing key {kid}: it signs now, and {jwks} publishes it.")
    elif rotation.signs_from > now:
        click.echo(f"New key {kid} is published at {jwks} now and signs from {_utc(rotation.signs_from)} (in "
                   f"{_span(delay)}); until then {previous.kid} signs. Once the new key signs, retire the old one: "
                   f"`flask lti remove-key {previous.kid}` (`flask lti keys` shows each key's state).")
    else:
        if delay:  # asked to wait, but the signing key is unreadable
            click.echo(f"The signing key {previous.kid} cannot be decrypted with this TINKER_SECRET_KEY, so nothing "
                       f"could sign while a new key waited {_span(delay)}.")
        removal = f"`flask lti remove-key {previous.kid}`"
        click.echo(f"New key {kid} signs now. Platforms that still hold the tool's old key set refuse what it signs "
                   f"until they fetch {jwks} again. Nothing was removed: {previous.kid} stays published" +
                   (f" (if it leaked, remove it now with {removal})." if previous.readable else f"; remove it with {removal}."))
    for waiting in rotation.abandoned:
        click.echo(f"Key {waiting} waited to sign and now never will: remove it with `flask lti remove-key {waiting}`.")


@click.command("keys")
@with_appcontext
def list_keys():
    """List the tool's keys: the one signing, one waiting to sign, and older ones (published, signing nothing)."""
    now = utcnow()
    states = keys.key_states(now)
    if not states:
        click.echo("No tool key yet: `flask lti rotate-key` makes the first.")
        return
    width = max(len(s.kid) for s in states)
    click.echo(f"{'KID'.ljust(width)}  CREATED (UTC)     STATE")
    for s in states:
        state = {keys.SIGNING: f"signing (since {_utc(s.signs_from)})",
                 keys.NEXT: f"next: signs from {_utc(s.signs_from)} (in {_span(_minutes(s.signs_from - now))})",
                 keys.OLDER: "published, not signing (older)"}[s.state]
        unreadable = "" if s.readable else "; cannot be decrypted with this TINKER_SECRET_KEY"
        click.echo(f"{s.kid.ljust(width)}  {s.created_at:%Y-%m-%d %H:%M}  {state}{unreadable}")
    if any(s.state == keys.OLDER for s in states):
        click.echo("An older key signs nothing: remove it (`flask lti remove-key KID`) once the key signing now has "
                   "signed for a few minutes (what the older key signed before is used up by then).")


@click.command("remove-key")
@click.argument("kid")
@with_appcontext
def remove_key(kid):
    """Stop publishing a tool key: an older one, or one still waiting to sign (which cancels that rotation).

    The key signing now is never removed: rotate first."""
    with writing():
        try:
            removed = keys.remove_key(kid, utcnow())
        except DomainError as err:
            fail(err)
        db.session.commit()
    if removed.state == keys.NEXT:
        click.echo(f"Cancelled the rotation: removed key {kid}, which was to sign from {_utc(removed.signs_from)}; "
                   "the signing key goes on signing.")
    else:
        click.echo(f"Removed key {kid}.")


@click.command("jwks")
@with_appcontext
def print_jwks():
    """Print the tool's public key set (what /lti/jwks serves)."""
    click.echo(json.dumps(keys.public_jwks(), indent=2))


COMMANDS = (rotate_key, list_keys, remove_key, print_jwks)
