"""The schema comes only from Alembic, and the models never drift from it."""
import sqlalchemy as sa
from sqlalchemy import select


def test_upgrade_builds_every_model_table(appctx):
    from plugin.extensions import db

    inspector = sa.inspect(db.engine)
    assert set(db.metadata.tables) <= set(inspector.get_table_names())
    assert "alembic_version" in inspector.get_table_names()


def test_models_match_migrations_no_drift(app):
    """`flask db check` fails when a model changed without a revision."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_drift_check_notices_a_model_change_without_revision(app):
    """Guard for the guard: a column added to a model but not to a migration makes the check fail."""
    from plugin.extensions import db

    table = db.metadata.tables["experiment"]
    column = sa.Column("drift_probe", sa.Integer, nullable=True)
    table.append_column(column)
    try:
        result = app.test_cli_runner().invoke(args=["db", "check"])
    finally:
        table._columns.remove(column)
    assert result.exit_code != 0


def test_the_newest_migration_downgrades_and_upgrades_again(app):
    """An operator's way back from a release: the newest revision's downgrade runs on this database, and its upgrade
    then rebuilds what the models expect."""
    import flask_migrate
    from alembic.script import ScriptDirectory

    from plugin.extensions import db

    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        newest = script.get_revision(script.get_current_head())
        try:
            flask_migrate.downgrade(revision=newest.down_revision)
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == newest.down_revision
        finally:
            flask_migrate.upgrade()
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_stored_diagnostics_lose_the_private_addresses_they_named(tmp_path):
    """Messages stored before 0041 named the address a refused host resolved to; the upgrade takes it out of
    deliveries' errors and notes and courses' roster statuses, leaving what now reads as the message says it."""
    from datetime import datetime, timezone

    from plugin.diagnostics import shown_diagnostic
    from plugin.extensions import db
    from plugin.outbox.models import OutboxItem
    from plugin.tenancy.models import Course
    from tests.services.factories import make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    webhook = ("Retry: the receiver at hooks.example.org answered from a private address (10.1.2.3), which this "
               "Tinker does not send to")
    grade = ("POST http://lms.internal/token: not called, it is on a private network address (10.0.0.5); the operator "
             "can allow LMSs there (TINKER_LTI_ALLOW_PRIVATE_PLATFORMS)")
    with migrated_app(tmp_path):
        course_id = make_actor(make_platform(), "ada").course_id
        course = db.session.get(Course, course_id)
        course.roster_status = ("error: GET http://lms.internal/roster: not called, it is on a private network "
                                "address (10.0.0.5); the operator can allow LMSs there "
                                "(TINKER_LTI_ALLOW_PRIVATE_PLATFORMS)")
        db.session.add_all([
            OutboxItem(kind="webhook", dedupe_key="w1", payload={}, status="pending", next_attempt_at=now,
                       last_error=webhook, created_at=now, updated_at=now),
            OutboxItem(kind="ags.score", dedupe_key="g1", payload={}, status="failed", next_attempt_at=now,
                       last_error=grade, note="Dismissed by the operator: not sent", created_at=now, updated_at=now)])
        step_back_and_upgrade("0040")
        errors = dict(db.session.execute(select(OutboxItem.dedupe_key, OutboxItem.last_error)).all())
        status = db.session.get(Course, course_id).roster_status
    assert errors["w1"] == ("Retry: the receiver at hooks.example.org answered from a private network address, which "
                            "this Tinker does not send to")
    assert errors["g1"] == grade.replace(" (10.0.0.5)", "")
    assert "10.0.0.5" not in status and "private network address;" in status
    assert shown_diagnostic(errors["w1"]) == errors["w1"]  # a message Tinker knows (translated for other readers)



def test_points_paid_before_the_quarter_hours_were_kept_still_fill_the_daily_cap(tmp_path):
    """0045 fills quarter_points from the ledger: what was paid today before the upgrade still counts towards
    today's cap, and a reversal counts in no quarter hour (as the writers keep them)."""
    from plugin.core.actor import Role
    from plugin.extensions import db
    from plugin.ledger.models import LedgerEntry, QuarterPoints
    from plugin.ledger.service import reverse_entry, verify_totals
    from plugin.settings.service import LimitsIn, limits, update_limits
    from tests.services.factories import NOW, later, log, make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    with migrated_app(tmp_path):
        platform = make_platform()
        admin, ada = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "ada")
        form = {k: str(v) for k, v in {**limits(ada.organisation_id).__dict__, "daily_points_cap": 20,
                                      "repeat_free_count": 100}.items()}
        update_limits(admin, LimitsIn().load(form), NOW)
        first = log(ada, NOW).experiment.id
        log(ada, later(20))
        reverse_entry(db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_id == first)), "undo", later(30))
        step_back_and_upgrade("0044")
        assert db.session.scalar(select(sa.func.sum(QuarterPoints.points))) == 20
        assert verify_totals() == []
        third = log(ada, later(40)).experiment.id
        assert db.session.scalar(select(sa.func.count()).select_from(LedgerEntry).where(
            LedgerEntry.source_id == third, LedgerEntry.source_type == "experiment")) == 0  # today's cap is full


def test_entries_shared_when_logged_get_their_logging_time_as_the_moment_they_were_shared(tmp_path):
    """0053: an entry shared now and without shared_at (logged shared before it, or shared before 0052) gets its
    logging time, which a replay reads as shared when logged, as it read none; an entry shared after it was logged
    keeps its moment, and a private one stays without."""
    from plugin.experiments.models import Experiment
    from plugin.experiments.service import share_experiment
    from plugin.extensions import db
    from tests.services.factories import NOW, later, log, make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    with migrated_app(tmp_path):
        ada = make_actor(make_platform(), "ada")
        shared = log(ada, NOW, visibility="course").experiment.id
        assert db.session.get(Experiment, shared).shared_at == NOW  # as logged from now on
        kept = log(ada, later(1), visibility="private").experiment.id
        shared_later = log(ada, later(2), visibility="private").experiment.id
        share_experiment(ada, shared_later, "team", later(3))
        db.session.execute(sa.update(Experiment).where(Experiment.id == shared).values(shared_at=None))  # as before
        step_back_and_upgrade("0052")
        db.session.expire_all()
        assert {e.id: e.shared_at for e in db.session.scalars(select(Experiment))} == {
            shared: NOW, kept: None, shared_later: later(3)}


def test_names_stored_untidy_are_tidied_unless_another_holds_the_tidy_name(tmp_path):
    """0047: a tool stored as "Chat  GPT" (two spaces) is "Chat GPT" after the upgrade, so adding "Chat  GPT" again
    finds it instead of making a second; a team decomposed ("C" and a combining cedilla) is "Çizelge" on its team
    boards too; a name whose tidy form another holds, whatever its case, stays as it was."""
    from plugin.catalog.models import AiTool
    from plugin.catalog.service import add_item, items
    from plugin.core.actor import Role
    from plugin.extensions import db
    from plugin.insights.models import DataChange
    from plugin.leaderboards.models import TeamStanding
    from plugin.teams import service as teams
    from plugin.teams.models import Team
    from tests.services.factories import NOW, make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    with migrated_app(tmp_path):
        platform = make_platform()
        admin, boss = make_actor(platform, "admin", Role.ADMIN), make_actor(platform, "boss", Role.MANAGER)
        org = admin.organisation_id
        tool = add_item(admin, "tools", "Chat GPT").id
        twins = [add_item(admin, "tools", name).id for name in ("Gemini", "Gemini Pro")]
        team = teams.create_team(boss, {"name": "Cizelge"}, NOW).id
        teams.add_members(boss, team, [make_actor(platform, "ada").user_id], NOW)  # on the team boards now
        assert db.session.scalar(select(sa.func.count()).select_from(TeamStanding).where(TeamStanding.team_id == team))
        db.session.execute(sa.update(AiTool).where(AiTool.id == tool).values(name="Chat  GPT"))
        db.session.execute(sa.update(AiTool).where(AiTool.id == twins[1]).values(name="GEMINI\t"))
        db.session.execute(sa.update(Team).where(Team.id == team).values(name="C\u0327izelge"))
        db.session.execute(sa.update(TeamStanding).where(TeamStanding.team_id == team).values(name="C\u0327izelge"))
        changes = db.session.scalar(select(sa.func.count()).select_from(DataChange))
        step_back_and_upgrade("0046")
        names = dict(db.session.execute(select(AiTool.id, AiTool.name).where(AiTool.organisation_id == org)).all())
        assert (names[tool], names[twins[0]], names[twins[1]]) == ("Chat GPT", "Gemini", "GEMINI\t")
        assert db.session.get(Team, team).name == "Çizelge"
        assert set(db.session.scalars(select(TeamStanding.name).where(TeamStanding.team_id == team))) == {"Çizelge"}
        assert db.session.scalar(select(sa.func.count()).select_from(DataChange)) == changes + 1
        before = len(items(org, "tools"))
        assert add_item(admin, "tools", "Chat  GPT").id == tool and len(items(org, "tools")) == before


def test_people_and_course_names_stored_untidy_are_tidied(tmp_path):
    """0048: a person's name stored with a tab and a decomposed letter reads "Ayşe Yılmaz" (as a launch now stores
    it) without waiting for her next launch; one made only of control characters becomes no name ("Participant N",
    as when the LMS withholds it); the course's title and label lose their line break and spaces."""
    from plugin.extensions import db
    from plugin.insights.models import DataChange
    from plugin.tenancy.models import Course, User
    from tests.services.factories import make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    with migrated_app(tmp_path):
        platform = make_platform()
        ayse, blank, ada = (make_actor(platform, sub) for sub in ("ayse", "blank", "ada"))
        db.session.execute(sa.update(User).where(User.id == ayse.user_id).values(
            name="Ays\u0327e\tYılmaz "))
        db.session.execute(sa.update(User).where(User.id == blank.user_id).values(name="\x07 \x1b"))
        db.session.execute(sa.update(Course).where(Course.id == ada.course_id).values(
            title="Intro\nto  AI", label=" AI-101 "))
        changes = db.session.scalar(select(sa.func.count()).select_from(DataChange))
        step_back_and_upgrade("0047")
        assert db.session.get(User, ayse.user_id).display_name == "Ayşe Yılmaz"
        assert db.session.get(User, blank.user_id).name is None
        assert db.session.get(User, blank.user_id).display_name == f"Participant {blank.user_id}"
        assert db.session.get(User, ada.user_id).name == "Person ada"  # tidy already: left alone
        course = db.session.get(Course, ada.course_id)
        assert (course.title, course.label) == ("Intro to AI", "AI-101")
        assert db.session.scalar(select(sa.func.count()).select_from(DataChange)) == changes + 1


def test_a_name_written_or_erased_while_0048_runs_keeps_the_writers_value(tmp_path):
    """0048 runs while the service serves (docs/deploy.md, "Upgrading"): a launch that stores Ayşe's new name, and an
    erasure, between the migration's read of a batch and its update keep what they wrote; the migration does not put
    back a tidied copy of the old name over them. A course whose title is only control characters gets its context id,
    as a first launch without a title stores it."""
    from sqlalchemy import event

    from plugin.extensions import db
    from plugin.tenancy.models import Course, User
    from tests.services.factories import make_actor, make_platform
    from tests.support.migrating import migrated_app, step_back_and_upgrade

    with migrated_app(tmp_path):
        platform = make_platform()
        ayse, gone = make_actor(platform, "ayse"), make_actor(platform, "gone")
        db.session.execute(sa.update(User).where(User.id.in_([ayse.user_id, gone.user_id])).values(name="Ayşe\tYılmaz"))
        db.session.execute(sa.update(Course).where(Course.id == ayse.course_id).values(title="\x07\r\n"))
        context_id = db.session.get(Course, ayse.course_id).context_id
        meanwhile = {ayse.user_id: ("Ayşe Kaya", None), gone.user_id: ("Erased person", "2026-12-03 10:00:00")}

        def another_writer(conn, cursor, statement, parameters, context, executemany):
            """Just before the migration updates a person, another connection's write lands on that row."""
            if statement.startswith("UPDATE user_account") and parameters[1] in meanwhile:
                name, erased_at = meanwhile.pop(parameters[1])
                conn.connection.dbapi_connection.cursor().execute(
                    "UPDATE user_account SET name = ?, erased_at = ? WHERE id = ?", (name, erased_at, parameters[1]))

        event.listen(db.engine, "before_cursor_execute", another_writer)
        try:
            step_back_and_upgrade("0047")
        finally:
            event.remove(db.engine, "before_cursor_execute", another_writer)
        assert not meanwhile  # both writes happened between the read and the update
        assert db.session.get(User, ayse.user_id).name == "Ayşe Kaya"
        assert db.session.get(User, gone.user_id).name == "Erased person"
        assert db.session.get(Course, ayse.course_id).title == context_id


def test_the_configuration_tables_keep_their_version_triggers_through_the_newest_migration_and_back(tmp_path):
    """A write to a cached configuration table must move the organisation's version (migration 0023's triggers), or
    another process keeps serving the old configuration from memory. On SQLite a batch_alter_table copies the table
    without its triggers: 0043 did so to webhook_endpoint, and its endpoints' changes went unseen (found by
    tests/services/test_config_cache.py)."""
    import flask_migrate
    from alembic.script import ScriptDirectory

    from plugin.extensions import db, migrate
    from plugin.tenancy.config_cache import CONFIG_TABLES
    from tests.support.migrating import migrated_app

    def triggers() -> dict[str, int]:
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
        return {table: rows.count(table) for table in CONFIG_TABLES}

    with migrated_app(tmp_path):
        script = ScriptDirectory.from_config(migrate.get_config())
        head = script.get_revision(script.get_current_head())
        assert triggers() == dict.fromkeys(CONFIG_TABLES, 3)  # insert, update, delete
        db.session.remove()
        flask_migrate.downgrade(revision=head.down_revision)
        assert triggers() == dict.fromkeys(CONFIG_TABLES, 3)
        flask_migrate.upgrade()
        assert triggers() == dict.fromkeys(CONFIG_TABLES, 3)


def head_revision(app) -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config()).get_current_head()


def version() -> str:
    """The revision the app's database is at (in an app context)."""
    from plugin.extensions import db

    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def test_an_upgrade_kept_waiting_for_a_table_gives_up_and_changes_nothing(app):
    """PostgreSQL: a migration that alters a table waits for the running service's transactions on it, and every
    request for that table queues behind the migration's wait. Past the migration lock timeout the upgrade gives up
    with a message saying so, nothing changed, and it runs once the table is free."""
    import threading

    import flask_migrate
    import pytest

    from plugin.extensions import db

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's writers wait their turn for the whole database (busy timeout)")

    with app.app_context():
        flask_migrate.downgrade(revision="0049")
        configured = app.config["MIGRATION_LOCK_TIMEOUT"]
        app.config["MIGRATION_LOCK_TIMEOUT"] = 0.2
        report = db.engine.connect()  # a long report reading the ledger
        report.execute(sa.text("LOCK TABLE ledger_entry IN ACCESS SHARE MODE"))
        pid = report.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        # Without a timeout the upgrade would wait for ever: the report is ended after 10 s, and the upgrade then passes.
        engine = db.engine

        def end_report():
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        ender = threading.Timer(10, end_report)
        ender.start()
        try:
            with pytest.raises(SystemExit) as stopped:
                flask_migrate.upgrade(revision="0050")  # alters ledger_entry's default
            assert "changed nothing" in str(stopped.value) and "TINKER_MIGRATION_LOCK_TIMEOUT (0.2 s)" in str(
                stopped.value)
            assert version() == "0049"
        finally:
            ender.cancel()
            report.invalidate()
            report.close()
            app.config["MIGRATION_LOCK_TIMEOUT"] = configured
            flask_migrate.upgrade()  # whatever happened: later tests share this database
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_an_upgrade_that_deadlocks_with_a_running_transaction_gives_up_and_changes_nothing(app):
    """PostgreSQL: a transaction that holds a table the upgrade alters later, then asks for one it already altered,
    deadlocks with it. When the upgrade is the side PostgreSQL ends, it says so, nothing changed, the other
    transaction goes on, and the upgrade runs afterwards."""
    import threading

    import flask_migrate
    import pytest

    from plugin.extensions import db

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: no lock order to cross")

    with app.app_context():
        with db.engine.connect() as conn:
            if not conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
                pytest.skip("deadlock_timeout is a superuser's setting")
            database = conn.execute(sa.text("SELECT quote_ident(current_database())")).scalar()

        def deadlock_check_after(setting: str) -> None:  # for the upgrade's new connection: which side looks first
            with db.engine.connect() as conn:
                conn.execute(sa.text(f"ALTER DATABASE {database} {setting}"))
                conn.commit()
            db.engine.dispose()

        configured, other, engine, outcome = app.config["MIGRATION_LOCK_TIMEOUT"], None, db.engine, {}
        crossing = None
        flask_migrate.downgrade(revision="0049")
        try:
            app.config["MIGRATION_LOCK_TIMEOUT"] = 60  # longer than the deadlock checks: the deadlock decides
            deadlock_check_after("SET deadlock_timeout = '5s'")  # room for a slow machine to cross the locks
            other = db.engine.connect()
            other.execute(sa.text("SET deadlock_timeout = '30s'"))  # the upgrade's check finds the cycle first
            other.execute(sa.text("LOCK TABLE badge_award IN ACCESS SHARE MODE"))  # 0050 alters it second

            def cross():
                with engine.connect() as watcher:  # until the upgrade holds ledger_entry and waits for badge_award
                    for _ in range(1000):
                        if watcher.execute(sa.text(
                                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'badge_award'::regclass "
                                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                        )).scalar():
                            break
                        threading.Event().wait(0.01)
                other.execute(sa.text("LOCK TABLE ledger_entry IN ACCESS SHARE MODE"))  # waits for the upgrade
                outcome["other"] = "went on"

            crossing = threading.Thread(target=cross, daemon=True)
            crossing.start()
            with pytest.raises(SystemExit) as stopped:
                flask_migrate.upgrade(revision="0050")
            assert "changed nothing: it deadlocked with another transaction" in str(stopped.value)
            crossing.join(20)
            assert outcome == {"other": "went on"}
            assert version() == "0049"
        finally:
            if crossing is not None:
                crossing.join(60)
            if other is not None:
                other.rollback()
                other.close()
            app.config["MIGRATION_LOCK_TIMEOUT"] = configured
            deadlock_check_after("RESET deadlock_timeout")
            flask_migrate.upgrade()
        assert version() == head_revision(app)  # and it ran afterwards, to the newest
