import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy.exc import OperationalError

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)  # keep the app's loggers working
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def render_item(type_, obj, autogen_context):
    """Render the project's column types as plain SQLAlchemy ones so revisions never import the app."""
    from plugin.core.db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    conf_args.setdefault("render_item", render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        # SQLite batch migrations copy and drop tables that others reference: foreign key enforcement
        # must be off while they run (a pragma that only works outside a transaction), then back on.
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )
        try:
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    timeout = current_app.config.get("MIGRATION_LOCK_TIMEOUT", 5)
                    # 0 waits for ever; anything else at least 1 ms (0.0004 s must not round to "for ever")
                    milliseconds = max(1, round(timeout * 1000)) if timeout > 0 else 0
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{milliseconds}ms'")
                context.run_migrations()
        except OperationalError as exc:
            # lock_not_available, or deadlock_detected (a transaction holding one table waited for another the
            # upgrade already locked): either way the upgrade's transaction was rolled back whole
            state = getattr(exc.orig, "sqlstate", None)
            if state not in ("55P03", "40P01"):
                raise
            if state == "55P03":
                why = ("a table it alters stayed locked by another transaction for longer than "
                       f"TINKER_MIGRATION_LOCK_TIMEOUT ({current_app.config.get('MIGRATION_LOCK_TIMEOUT', 5)} s). "
                       "Run `flask db upgrade` again when the service is quieter, or with a longer timeout.")
            else:
                why = "it deadlocked with another transaction using the tables it alters. Run `flask db upgrade` again."
            raise SystemExit(f"The upgrade changed nothing: {why}") from exc
        finally:
            if sqlite:
                connection.rollback()
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
