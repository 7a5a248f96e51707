"""The schema comes only from Alembic, and the models never drift from it."""
import sqlalchemy as sa


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
