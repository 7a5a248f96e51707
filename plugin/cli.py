"""Operator commands: `flask demo seed`, `flask ledger ...`; `flask lti ...` lives in plugin/lti/cli.py."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.extensions import db
from plugin.lti import keys

demo_cli = AppGroup("demo", help="Demo data for the development LMS.")
ledger_cli = AppGroup("ledger", help="Check and rebuild totals from the points ledger.")
outbox_cli = AppGroup("outbox", help="Deliveries to the outside world (grade sync, ...), sent after commit.")


@demo_cli.command("seed")
@click.option("--force", is_flag=True, help="Seed even if demo experiments exist.")
def seed(force):
    """Register the development LMS and load demo people, teams and experiments (unless present)."""
    from plugin.devlms.seed import already_seeded
    from plugin.devlms.seed import seed as run_seed

    if not current_app.config["DEV_LMS_ENABLED"]:  # production: no made-up people in the real database
        raise click.ClickException("the development LMS is off here (TINKER_ENV=production or TINKER_DEV_LMS=0); "
                                   "demo data is only for trying Tinker with it.")
    base = current_app.config["TINKER_BASE_URL"]
    with writing():
        now = utcnow()
        keys.ensure_key(now)
        if already_seeded(base) and not force:
            from plugin.devlms.seed import demo_organisation_id
            from plugin.onboarding.service import ensure_current

            ensure_current(demo_organisation_id(base), now)
            db.session.commit()
            click.echo("Demo data already present.")
            return
        counts = run_seed(base, now)
        db.session.commit()
    click.echo(f"Demo data loaded: {counts['people']} course memberships, {counts['experiments']} experiments.")


@ledger_cli.command("verify")
def ledger_verify():
    """Compare maintained totals with the ledger; exit 1 on any difference."""
    from plugin.ledger.service import verify_totals

    diffs = verify_totals()
    for course_id, user_id, dimension, stored, expected in diffs:
        click.echo(f"course {course_id} user {user_id} {dimension}: stored {stored}, ledger says {expected}")
    if diffs:
        raise SystemExit(1)
    click.echo("Totals match the ledger.")


@ledger_cli.command("rebuild")
def ledger_rebuild():
    """Recompute every total from the ledger."""
    from plugin.ledger.service import rebuild_totals

    with writing():
        rows = rebuild_totals()
        db.session.commit()
    click.echo(f"Rebuilt {rows} total rows from the ledger.")


def _organisation_id(name: str | None) -> int | None:
    from plugin.tenancy.models import Organisation

    if not name:
        return None
    org = db.session.scalar(db.select(Organisation).where(Organisation.name == name))
    if org is None:
        raise click.ClickException(f"no organisation named {name!r}")
    return org.id


@ledger_cli.command("rebuild-aggregates")
@click.option("--org", "organisation", default=None, help="Organisation name (default: every organisation).")
def ledger_rebuild_aggregates(organisation):
    """Recompute totals, boards, rank buckets and team figures from the ledger and the facts."""
    import time

    from plugin.leaderboards.rebuild import rebuild
    from plugin.ledger.service import rebuild_totals

    started = time.perf_counter()
    with writing():
        organisation_id = _organisation_id(organisation)
        totals = rebuild_totals(organisation_id=organisation_id)
        result = rebuild(organisation_id)
        db.session.commit()
    click.echo(f"Rebuilt {result.board_rows} board rows, {result.member_rows} member figures, "
               f"{result.tally_rows} experiment tallies, {result.teams} teams, "
               f"{result.challenges} challenge boards" + (f", {totals} totals" if totals else "")
               + f" in {time.perf_counter() - started:.1f} s.")


@ledger_cli.command("verify-aggregates")
@click.option("--org", "organisation", default=None, help="Organisation name (default: every organisation).")
def ledger_verify_aggregates(organisation):
    """Rebuild inside a rolled-back savepoint and compare with what the writers maintained; exit 1 on any
    difference."""
    from plugin.leaderboards.rebuild import verify

    with writing():
        diffs = verify(_organisation_id(organisation))
        db.session.rollback()
    for table, (only_maintained, only_rebuilt) in sorted(diffs.items()):
        click.echo(f"{table}: {len(only_maintained)} rows only maintained, {len(only_rebuilt)} only rebuilt")
        for row in sorted(only_maintained)[:20]:
            click.echo(f"  maintained {row}")
        for row in sorted(only_rebuilt)[:20]:
            click.echo(f"  rebuilt    {row}")
    if diffs:
        raise SystemExit(1)
    click.echo("Boards, team figures and experiment tallies match the ledger and the facts.")


@ledger_cli.command("replay")
@click.option("--org", "organisation", default=None, help="Organisation name (default: every organisation).")
@click.option("--rule", "rule_ids", type=int, multiple=True, help="Only these rules (repeatable).")
@click.option("--dry-run/--apply", default=True, help="Show the difference (default) or post it.")
def ledger_replay(organisation, rule_ids, dry_run):
    """What the current rules would award, against what the ledger holds; --apply posts the difference
    as reversing and new entries (rows are never edited)."""
    from plugin.replay.service import replay
    from plugin.tenancy.models import Organisation

    query = db.select(Organisation).order_by(Organisation.id)
    with writing():
        if organisation:
            query = query.where(Organisation.id == _organisation_id(organisation))
        for org in db.session.scalars(query).all():
            report = replay(org.id, utcnow(), apply=not dry_run, rule_ids=list(rule_ids) or None)
            click.echo(f"{org.name}: {len(report.points)} point changes, {len(report.new_badges)} new badges, "
                       f"{len(report.lost_badges)} badges no longer earned (kept; revoke by hand if right)"
                       + (" - applied" if report.applied else " - dry run"))
            for change in report.points:
                click.echo(f"  course {change.course_id} user {change.user_id} rule {change.rule_id}: "
                           f"{change.current:+d} -> {change.desired:+d}  ({':'.join(map(str, change.identity[1:]))})")
            for award in report.new_badges:
                click.echo(f"  course {award.course_id} user {award.user_id}: new badge {award.rule.badge_id}")
        db.session.commit()


@outbox_cli.command("run")
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Deliveries claimed at a time.")
def outbox_run(batch):
    """Deliver everything due now (cron this: retries wait for it); reports done, retried and failed."""
    from plugin.outbox.service import Counts, process_due

    total, failing = Counts(), {}  # a receiver that failed is tried once in the run
    while True:
        counts = process_due(utcnow(), batch, failing=failing)
        total.done, total.retried, total.failed, total.held = (
            total.done + counts.done, total.retried + counts.retried, total.failed + counts.failed,
            total.held + counts.held)
        total.notes += counts.notes
        if counts.claimed < batch or counts.done == 0:  # all there was, or every receiver in it failing
            break
    for note in total.notes:
        click.echo(f"  {note}")
    held = f" ({total.held} of them not sent: their receiver had just failed)" if total.held else ""
    click.echo(f"Outbox: {total.done} delivered, {total.retried} to retry later, {total.failed} failed{held}.")
    # The operator's every-minute cron is the one periodic hook Tinker has: experiment text past its
    # organisation's retention period goes here too (a no-op once the old text is gone).
    from plugin.privacy.cli import purge_now

    purged = sum(purge_now().values())
    if purged:
        click.echo(f"Privacy: text removed from {purged} experiments past the retention period.")
    from plugin.insights.changes import prune

    with writing():
        prune(utcnow())  # the ETags' change log keeps a day (only its newest row matters)
        db.session.commit()
    from plugin.outbox.retention import trim

    # Bodies of deliveries finished more than TINKER_OUTBOX_KEEP_DAYS ago: up to 10,000 a minute, so the first run
    # after an upgrade that finds years of them stays short (`flask outbox trim` does them all at once).
    trimmed = trim(utcnow(), batches=TRIM_BATCHES_PER_RUN)
    if trimmed:
        click.echo(f"Outbox: {trimmed} finished deliveries trimmed to what is still read.")


TRIM_BATCHES_PER_RUN = 20  # of 500: about 40 ms each on PostgreSQL here, 10,000 deliveries a minute


@outbox_cli.command("trim")
def outbox_trim():
    """Trim every delivery finished (delivered or dismissed) more than TINKER_OUTBOX_KEEP_DAYS ago to what pages
    and later deliveries still read: webhook bodies, xAPI statements' actor and object, e-mail addresses and text go;
    the rows, their keys and their outcomes stay. `flask outbox run` does up to 10,000 a minute."""
    from flask import current_app

    from plugin.outbox.retention import trim

    count = trim(utcnow())
    days = current_app.config["OUTBOX_KEEP_DAYS"]
    click.echo(f"Outbox: {count} finished {'delivery' if count == 1 else 'deliveries'} trimmed "
               f"(older than {days} {'day' if days == 1 else 'days'}).")


def _age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    days, hours, minutes = seconds // 86400, seconds // 3600 % 24, seconds // 60 % 60
    return (f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else
            f"{minutes}m {seconds % 60}s" if minutes else f"{seconds}s")


def _utc(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _one_line(text: str | None, width: int = 100) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[:width - 1] + "…"


@outbox_cli.command("status")
@click.option("--limit", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="Most recent failed deliveries listed, and receivers failing now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for monitoring scripts).")
@click.option("--fail-on-failed", is_flag=True, help="Exit 1 when any delivery has failed (for a monitoring cron).")
def outbox_status(limit, as_json, fail_on_failed):
    """Deliveries per kind: pending (due now, the oldest due since when), in flight, failed, delivered and
    dismissed in the last 24 h; then the most recent failed ones, the receivers failing now (webhook endpoints, LRSs,
    LMS grade services, the SMTP server) and the bodies still to be trimmed."""
    import json

    from plugin.outbox.status import outbox_status as read_status

    status = read_status(utcnow(), limit)
    total = status.total
    if as_json:
        def counts(row):
            return {"pending": row.pending, "due": row.due,
                    "oldest_due_at": row.oldest_due.isoformat() if row.oldest_due else None,
                    "oldest_due_seconds": int((status.now - row.oldest_due).total_seconds()) if row.oldest_due
                    else None, "in_flight": row.in_flight, "failed": row.failed, "done_24h": row.done_recently,
                    "dismissed_24h": row.dismissed_recently}

        click.echo(json.dumps({
            "now": status.now.isoformat(), "total": counts(total),
            "kinds": {row.kind: {**counts(row), "handled": row.handled} for row in status.kinds},
            "recent_failures": [{"id": f.id, "kind": f.kind, "course_id": f.course_id, "attempts": f.attempts,
                                 "updated_at": f.updated_at.isoformat(), "last_error": f.last_error}
                                for f in status.failures],
            "failing_receivers": [{"lane": r.lane, "name": r.name, "pending": r.pending, "retrying": r.retrying,
                                   "attempts": r.attempts, "last_tried_at": r.last_tried.isoformat(),
                                   "next_try_at": r.next_try.isoformat(), "last_error": r.last_error}
                                  for r in status.receivers],
            "trim": {"keep_days": status.trim.keep_days, "untrimmed": status.trim.untrimmed,
                     "oldest_finished_at": status.trim.oldest.isoformat() if status.trim.oldest else None}},
            indent=2))
    else:
        width = max(len(row.kind) + 1 for row in [*status.kinds, total])
        click.echo(f"Outbox at {_utc(status.now)}")
        click.echo(f"{'kind':<{width}} {'pending':>8} {'due':>6} {'oldest due':>11} {'in flight':>10} {'failed':>7} "
                   f"{'done 24h':>9} {'dismissed 24h':>14}")
        for row in [*status.kinds, total]:
            oldest = _age((status.now - row.oldest_due).total_seconds()) if row.oldest_due else "-"
            name = row.kind + ("" if row.handled else "*")
            click.echo(f"{name:<{width}} {row.pending:>8} {row.due:>6} {oldest:>11} {row.in_flight:>10} "
                       f"{row.failed:>7} {row.done_recently:>9} {row.dismissed_recently:>14}")
        if not all(row.handled for row in status.kinds):
            click.echo("* no handler here: these wait for an instance that has one (an upgrade under way?).")
        if status.failures:
            click.echo(f"\nMost recent failed deliveries ({len(status.failures)} of {total.failed}); "
                       f"`flask outbox retry` queues them again:")
            for f in status.failures:
                click.echo(f"  #{f.id} {f.kind}, course {f.course_id if f.course_id is not None else '-'}, "
                           f"attempts {f.attempts}, {_utc(f.updated_at)}: {_one_line(f.last_error)}")
        elif total.failed:
            click.echo(f"\n{total.failed} failed deliveries.")
        else:
            click.echo("\nNo failed deliveries.")
        if status.receivers:
            click.echo("\nReceivers failing now (their deliveries wait for a retry; each receiver is tried once a "
                       "pass):")
            for r in status.receivers:
                when = status.now - r.next_try
                due = "due now" if when.total_seconds() >= 0 else f"next try in {_age(-when.total_seconds())}"
                name = f", {r.name}" if r.name else ""
                click.echo(f"  {r.lane}{name}: {r.retrying} of {r.pending} waiting failed a try (up to {r.attempts}), "
                           f"last tried {_utc(r.last_tried)}, {due}: {_one_line(r.last_error)}")
        elif limit:
            click.echo("\nNo receiver is failing now.")
        trim = status.trim
        if trim.untrimmed:
            click.echo(f"\nFinished deliveries past the keeping time ({trim.keep_days} d) with their bodies still on: "
                       f"{trim.untrimmed}, the oldest finished {_utc(trim.oldest)}. `flask outbox run` trims them, "
                       "`flask outbox trim` all at once.")
        else:
            click.echo(f"\nNo finished delivery past the keeping time ({trim.keep_days} d) keeps its body.")
    if fail_on_failed and total.failed:
        raise SystemExit(1)


def _known_kinds(_ctx, _param, value: tuple[str, ...]) -> tuple[str, ...]:
    from plugin.outbox.registry import kinds

    unknown = sorted(set(value) - set(kinds()))
    if unknown:
        raise click.BadParameter(f"unknown kind {', '.join(unknown)}; the kinds are: {', '.join(kinds())}")
    return value


def _failed_deliveries(verb: str):
    """The filters `retry` and `dismiss` share; neither acts on every failed delivery unless --all says so."""
    def decorate(command):
        def chosen(kinds, course_id, ids, everything):
            if not (kinds or course_id is not None or ids or everything):
                raise click.UsageError(f"name what to {verb} (--kind, --course, --id), or --all for every failed "
                                       "delivery.")
            return command(kinds=kinds, course_id=course_id, ids=ids)

        chosen.__name__, chosen.__doc__ = command.__name__, command.__doc__
        for option in reversed((
                click.option("--kind", "kinds", multiple=True, callback=_known_kinds,
                             help="Only this kind (repeatable)."),
                click.option("--course", "course_id", type=int, default=None, help="Only this course's (its id)."),
                click.option("--id", "ids", type=int, multiple=True, help="Only this delivery (its id; repeatable)."),
                click.option("--all", "everything", is_flag=True,
                             help="Every failed delivery (needed when no filter is given)."))):
            chosen = option(chosen)
        return chosen

    return decorate


@outbox_cli.command("retry")
@_failed_deliveries("retry")
def outbox_retry(kinds, course_id, ids):
    """Make failed deliveries due again with a fresh count of attempts (after fixing what made them fail); the
    next `flask outbox run` sends them."""
    from plugin.outbox.status import retry_failed_deliveries

    with writing():
        count = retry_failed_deliveries(utcnow(), kinds=kinds, course_id=course_id, ids=ids)
        db.session.commit()
    click.echo(f"Outbox: {count} failed {'delivery' if count == 1 else 'deliveries'} queued again"
               + ("; the next `flask outbox run` sends them." if count else "."))


@outbox_cli.command("dismiss")
@_failed_deliveries("dismiss")
def outbox_dismiss(kinds, course_id, ids):
    """Give up on failed deliveries (an address that no longer exists, a course removed from the LMS): they are not
    sent, leave the failed counts (and `status --fail-on-failed`), and their pages show them as dismissed with nothing
    to send again. Only a newer payload queued under the same key brings one back (a learner's next grade)."""
    from plugin.outbox.status import dismiss_failed_deliveries

    with writing():
        count = dismiss_failed_deliveries(utcnow(), kinds=kinds, course_id=course_id, ids=ids)
        db.session.commit()
    click.echo(f"Outbox: {count} failed {'delivery' if count == 1 else 'deliveries'} dismissed"
               + ("." if not count else "; it will not be sent." if count == 1 else "; they will not be sent."))


def register_cli(app: Flask) -> None:
    from plugin.lti.cli import lti_cli

    for group in (lti_cli, demo_cli, ledger_cli, outbox_cli):
        app.cli.add_command(group)
    from plugin.badges.cli import badges_cli

    app.cli.add_command(badges_cli)
    from plugin.privacy.cli import privacy_cli

    app.cli.add_command(privacy_cli)
