"""Extensions, created unbound; create_app binds them."""
from flask.globals import _cv_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from plugin.core.db import Base


def _app_context_id() -> int:
    """The session's scope, the current app context, as Flask-SQLAlchemy's default scope function gives it
    (`id(app_ctx._get_current_object())`), read from Flask's context variable itself instead of through werkzeug's
    proxy: every use of `db.session` asks, some forty times an award, and the proxy cost ten times the read."""
    try:
        return id(_cv_app.get())
    except LookupError:
        raise RuntimeError("Working outside of application context.") from None


db = SQLAlchemy(model_class=Base, session_options={"scopefunc": _app_context_id})
migrate = Migrate(compare_type=True, render_as_batch=True)
