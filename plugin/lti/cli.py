"""`flask lti ...`: registrations, tool keys and frame origins (operator only)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.errors import DomainError
from plugin.extensions import db
from plugin.lti import housekeeping, key_cli, keys
from plugin.lti.key_cli import fail
from plugin.lti.models import LaunchSession, OidcState
from plugin.lti.registration_tokens import TOKEN_PARAM, issue_registration_token
from plugin.onboarding.service import ensure_defaults
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Platform

lti_cli = AppGroup("lti", help="LTI registrations, tool keys, frame origins and roster sync (operator only).")
for _command in key_cli.COMMANDS:
    lti_cli.add_command(_command)


# What docs/deploy.md's example has where the LMS's own values go: pasted as it is, it would register nonsense
# (or let https://school.instructure.com, a real host name, frame Tinker instead of the school's own Canvas).
_PLACEHOLDERS = {"CLIENT_ID", "DEPLOYMENT_ID"}
_PLACEHOLDER_WORDS = ("SCHOOL",)


def _refuse_placeholders(**given) -> None:
    for option, values in given.items():
        for value in (values,) if isinstance(values, str) else values:
            origin = "origin" in option  # a host name in capitals is the guide's, never an LMS's
            if value.strip().upper() in _PLACEHOLDERS or "..." in value or (
                    origin and any(word in value for word in _PLACEHOLDER_WORDS)):
                raise click.BadParameter(f"{value!r} is a placeholder: use the value your LMS shows.",
                                         param_hint=f"--{option.replace('_', '-')}")


@lti_cli.command("add-platform")
@click.option("--issuer", required=True)
@click.option("--client-id", required=True)
@click.option("--deployment-id", "deployment_ids", multiple=True, help="Repeat for several deployments.")
@click.option("--auth-url", required=True, help="The platform's OIDC authorisation endpoint.")
@click.option("--token-url", required=True, help="The platform's OAuth2 token endpoint.")
@click.option("--jwks-url", required=True, help="The platform's public key set URL.")
@click.option("--org", "organisation", default=None,
              help="Organisation of a new registration (default: 'Default organisation'); an existing one keeps its own.")
@click.option("--name", default="")
@click.option("--accept-new-deployments/--fixed-deployments", default=None,
              help="Record unknown deployment ids of this registration on first launch (e.g. Canvas sub-accounts).")
@click.option("--email-authoritative/--email-not-authoritative", default=None,
              help="This LMS's e-mail addresses are verified: link a person's identities of two such registrations "
                   "of the organisation by e-mail at launch (off by default; see docs/lms-setup.md).")
@click.option("--frame-origin", "frame_origins", multiple=True, help="An origin allowed to frame Tinker.")
def add_platform(issuer, client_id, deployment_ids, auth_url, token_url, jwks_url, organisation, name,
                 accept_new_deployments, email_authoritative, frame_origins):
    """Register an LMS, or update its registration (idempotent)."""
    _refuse_placeholders(client_id=client_id, deployment_id=deployment_ids, frame_origin=frame_origins)
    now = utcnow()
    with writing():
        try:
            platform = tenancy.register_platform(tenancy.PlatformSpec(
                issuer=issuer, client_id=client_id, auth_login_url=auth_url, auth_token_url=token_url,
                key_set_url=jwks_url, deployment_ids=tuple(deployment_ids), organisation=organisation, name=name,
                accept_new_deployments=accept_new_deployments, email_authoritative=email_authoritative), now)
            for origin in frame_origins:
                tenancy.add_frame_origin(platform, origin, now)
            ensure_defaults(platform.organisation_id, now)
            keys.ensure_key(now)
        except DomainError as err:
            fail(err)
        db.session.commit()
    deployments = ", ".join(d.deployment_id for d in platform.deployments) or "(none)"
    click.echo(f"Registered {issuer} / {client_id} for {platform.organisation.name!r}; deployments: {deployments}")


@lti_cli.command("remove-platform")
@click.option("--issuer", required=True)
@click.option("--client-id", default=None, help="Needed when several registrations share the issuer (hosted Canvas).")
def remove_platform(issuer, client_id):
    """Remove a registration nobody has launched through (one entered by mistake).

    A registration with courses or people stays: their records belong to it."""
    with writing():
        try:
            platform = tenancy.find_platform(issuer, client_id)
            organisation, client = platform.organisation.name, platform.client_id
            tenancy.remove_platform(platform)
        except DomainError as err:
            fail(err)
        db.session.commit()
    click.echo(f"Removed the registration {issuer} / {client} of {organisation!r}.")


@lti_cli.command("email-authoritative")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--issuer", required=True)
@click.option("--client-id", default=None, help="Needed when several registrations share the issuer (hosted Canvas).")
def email_authoritative(state, issuer, client_id):
    """Mark a registration's e-mail addresses as verified (on) or not (off, the default).

    When two registrations of one organisation are both on, a launch whose e-mail matches an identity of the
    other LMS links the two identities into one person. Never turn it on for an LMS where people can set
    their own address without verification."""
    with writing():
        try:
            platform = tenancy.find_platform(issuer, client_id)
        except DomainError as err:
            fail(err)
        platform.email_authoritative = state == "on"
        db.session.commit()
    others = [p.name or p.issuer for p in db.session.scalars(db.select(Platform).where(
        Platform.organisation_id == platform.organisation_id, Platform.email_authoritative.is_(True),
        Platform.id != platform.id))]
    click.echo(f"E-mail authoritative {state} for {issuer} / {platform.client_id}. Other e-mail authoritative "
               f"registrations of {platform.organisation.name!r}: {', '.join(others) or '(none)'}")


@lti_cli.command("registration-token")
@click.option("--org", "organisation", required=True,
              help="Organisation the registered platform will belong to (an existing one, unless --create-org).")
@click.option("--create-org", "create_organisation", is_flag=True, default=False,
              help="Start a new organisation of that name when there is none.")
@click.option("--expires-in", type=click.IntRange(60, 30 * 24 * 3600), default=24 * 3600, show_default=True,
              help="Seconds until the link expires.")
def registration_token(organisation, create_organisation, expires_in):
    """Print a single-use LTI Dynamic Registration link for one LMS (only its hash is stored)."""
    now = utcnow()
    with writing():
        try:
            issued = issue_registration_token(organisation, now, timedelta(seconds=expires_in),
                                              create_organisation=create_organisation)
        except DomainError as err:
            fail(err)
        db.session.commit()
    base = current_app.config["TINKER_BASE_URL"]
    click.echo(f"{base}/lti/register?{TOKEN_PARAM}={issued.token}")
    click.echo(f"Single use, for {issued.organisation!r}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC. "
               "The LMS admin pastes it as the tool URL of the LMS's dynamic registration (Moodle: Site "
               "administration > Plugins > Activity modules > External tool > Manage tools; Canvas: Admin > "
               "Developer Keys > + Developer Key > + LTI Registration). See docs/lms-setup.md.",
               err=True)


@lti_cli.command("show-config")
def show_config():
    """Print the URLs an LMS admin enters when adding Tinker."""
    base = current_app.config["TINKER_BASE_URL"]
    click.echo(f"Tool URL / target link URI:  {base}/lti/launch")
    click.echo(f"OIDC login initiation URL:   {base}/lti/login")
    click.echo(f"Redirect (launch) URL:       {base}/lti/launch")
    click.echo(f"Public keyset (JWKS) URL:    {base}/lti/jwks")
    click.echo(f"Canvas JSON configuration:   {base}/lti/canvas.json")
    for platform in db.session.scalars(db.select(Platform).order_by(Platform.id)):
        deployments = ", ".join(d.deployment_id for d in platform.deployments) or "(none)"
        origins = ", ".join(o.origin for o in platform.frame_origins) or "(none)"
        click.echo(f"- {platform.organisation.name}: {platform.issuer} client {platform.client_id}; "
                   f"deployments {deployments}; frame origins {origins}; auth {platform.auth_login_url}, "
                   f"token {platform.auth_token_url}, key set {platform.key_set_url}"
                   f"{'; new deployments recorded' if platform.accept_new_deployments else ''}")


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


@lti_cli.command("sync-roster")
def sync_roster():
    """Sync the LMS roster and groups of every course whose LMS offers Names and Role Provisioning."""
    from plugin.lti import roster_jobs

    results = roster_jobs.run_all(utcnow())
    for course_id, title, summary, error in results:
        # what the LMS answered is quoted in the error: its control characters shown, never sent to the terminal
        click.echo(f"course {course_id} {title!r}: " + (f"error: {_printable(error)}" if error else summary))
    if not results:
        click.echo("No course has a roster service yet (a launch with the Names and Roles claim records it).")
    if any(error for *_, error in results):
        raise SystemExit(1)


@lti_cli.command("purge-expired")
def purge_expired():
    """Delete expired OIDC login states and ended launch sessions now (launches do it too, at most once a minute
    per app instance; a cron entry is only worth it after long quiet spells)."""
    now = utcnow()
    counts = []
    with writing():
        for table in (OidcState.__table__, LaunchSession.__table__):
            total, removed = 0, housekeeping.BATCH
            while removed >= housekeeping.BATCH:  # short transactions: logins and launches go on meanwhile
                removed = housekeeping.purge(table, now)
                db.session.commit()
                total += removed
            counts.append(total)
    click.echo(f"Deleted {counts[0]} expired login states and {counts[1]} ended launch sessions.")


@lti_cli.command("frame-origin")
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.option("--issuer", required=True)
@click.option("--client-id", default=None)
@click.argument("origin")
def frame_origin(action, issuer, client_id, origin):
    """Allow (or stop allowing) an origin to frame Tinker for one registration."""
    if action == "add":
        _refuse_placeholders(origin=origin)
    with writing():
        try:
            platform = tenancy.find_platform(issuer, client_id)
            if action == "add":
                tenancy.add_frame_origin(platform, origin, utcnow())
            elif not tenancy.remove_frame_origin(platform, origin):
                raise click.ClickException(f"{origin} was not allowed for {issuer}")
        except DomainError as err:
            fail(err)
        db.session.commit()
    click.echo(f"Frame origins for {issuer}: {', '.join(tenancy.frame_origins(platform.id))}")
