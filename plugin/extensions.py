"""Extensions, created unbound; create_app binds them."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from plugin.core.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
