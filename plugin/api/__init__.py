"""The JSON API under /api/v1: flask-smorest blueprints over the domain services, one OpenAPI document."""
from __future__ import annotations

from flask import Flask, request

PREFIX = "/api/v1"


def register_api(app: Flask) -> None:
    from plugin.api import (
        accounts,
        awards,
        challenges,
        community,
        courses,
        docs,
        experiments,
        insights,
        leaderboards,
        ledger,
        progress,
        rules,
        teams,
        webhooks,
    )
    from plugin.api.cli import api_cli
    from plugin.api.spec import TinkerApi

    api = TinkerApi(app)
    for module in (courses, teams, experiments, community, leaderboards, progress, challenges, awards, insights, ledger,
                   rules, webhooks, accounts):
        api.register_blueprint(module.blp, url_prefix=PREFIX + module.blp.url_prefix)
    app.register_blueprint(docs.bp, url_prefix=PREFIX)
    app.cli.add_command(api_cli)

    @app.after_request
    def _bearer_challenge(response):
        if response.status_code == 401 and request.path.startswith(PREFIX + "/"):
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="tinker"')
        return response
