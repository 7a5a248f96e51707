"""HTML front door: thin views over the domain services."""
from __future__ import annotations

from flask import Flask, g, redirect, render_template, url_for

from plugin.core.ids import IdConverter
from plugin.web.auth import TOKEN_FIELD, launch_url
from plugin.web.security import frame_origins
from plugin.web.static_urls import register_static_versions


def register_web(app: Flask) -> None:
    from plugin.web.accounts import bp as accounts
    from plugin.web.admin import bp as admin
    from plugin.web.admin_rules import bp as admin_rules
    from plugin.web.admin_tokens import bp as admin_tokens
    from plugin.web.boards import bp as boards
    from plugin.web.challenges import bp as challenges
    from plugin.web.community import bp as community
    from plugin.web.health import bp as health
    from plugin.web.insights import bp as insights
    from plugin.web.language import bp as language
    from plugin.web.learner import bp as learner
    from plugin.web.manage import bp as manage
    from plugin.web.openbadges import bp as openbadges
    from plugin.web.privacy import bp as privacy
    from plugin.web.public import bp as public
    from plugin.web.recognition import bp as recognition
    from plugin.web.teams import bp as teams
    from plugin.web.vision import bp as vision
    from plugin.web.webhooks import bp as admin_webhooks
    from plugin.web.xapi import bp as admin_xapi
    from plugin.web.xapi import vocabulary as xapi_vocabulary

    app.url_map.converters["id"] = IdConverter  # <id:...>: a row id in range, else 404 (never a database error)
    for bp in (learner, boards, recognition, community, manage, admin, admin_rules, public, health, challenges, teams,
               vision, insights, privacy, admin_tokens, language):
        app.register_blueprint(bp)
    app.register_blueprint(openbadges)
    app.register_blueprint(admin_xapi)
    app.register_blueprint(admin_webhooks)
    app.register_blueprint(xapi_vocabulary)
    app.register_blueprint(accounts)
    register_static_versions(app)

    @app.get("/")
    def index():
        if app.config["DEV_LMS_ENABLED"]:
            return redirect(url_for("devlms.home"))
        return render_template("index.html")

    # Globals (not a context processor) so imported macros see them too.
    app.jinja_env.globals.update(lurl=launch_url, token_field=TOKEN_FIELD, current_token=lambda: g.get("launch_token"),
                                 platform_origins=lambda: " ".join(frame_origins()) if g.get("actor") else "")
