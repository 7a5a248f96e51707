"""Community library actions on an experiment: react, reuse, report; managers hide and restore."""
from __future__ import annotations

from flask import Blueprint, redirect, request

from plugin.community import service as community
from plugin.core.actor import Actor, Role
from plugin.core.clock import utcnow
from plugin.errors import InvalidInput
from plugin.extensions import db
from plugin.web.auth import launch_url, requires_actor

bp = Blueprint("community", __name__, url_prefix="/app/experiments/<id:experiment_id>")
ACTIONS = {
    "react": lambda actor, eid, form, now: community.react(actor, eid, form.get("kind", ""), now),
    "unreact": lambda actor, eid, form, now: community.withdraw_reaction(actor, eid, form.get("kind", ""), now),
    "reuse": lambda actor, eid, form, now: community.mark_reused(actor, eid, now),
    "report": lambda actor, eid, form, now: community.report(actor, eid, form.get("reason", ""), now),
    "hide": lambda actor, eid, form, now: community.hide(actor, eid, form.get("reason", ""), now),
    "unhide": lambda actor, eid, form, now: community.unhide(actor, eid, now),
}


@bp.post("/<action>")
@requires_actor(Role.LEARNER, Role.MANAGER, Role.ADMIN)
def act(actor: Actor, experiment_id: int, action: str):
    handler = ACTIONS.get(action)
    if handler is None:
        return redirect(launch_url("learner.experiment_show", experiment_id=experiment_id), 303)
    try:
        changed = handler(actor, experiment_id, request.form, utcnow())
    except InvalidInput as err:
        db.session.rollback()
        if action not in ("report", "hide"):
            raise
        from plugin.web.learner import experiment_page

        return experiment_page(actor, experiment_id, action, err.form_errors(), err.status)
    db.session.commit()
    # Sent from a page gone stale (another tab, Back): say what stands, not that it was done now.
    done = UNCHANGED.get(action, action) if changed is False else action
    return redirect(launch_url("learner.experiment_show", experiment_id=experiment_id, done=done), 303)


# An action that found nothing to do (False from the service) -> what the page says instead.
UNCHANGED = {"react": "reacted-before", "unreact": "no-reaction", "reuse": "reused-before"}
