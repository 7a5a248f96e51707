"""Test setup through the real services: register a platform, fill the organisation's defaults,
provision people into courses as a launch would, and build the Actor a launch would hand over."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.experiments.schemas import ExperimentIn
from plugin.experiments.service import Logged, log_experiment
from plugin.onboarding.service import ensure_defaults
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Platform

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def platform_spec(issuer: str = "https://lms.example.edu", client_id: str = "client-1",
                  organisation: str = "Org A", deployment_ids: tuple[str, ...] = ("dep-1",),
                  **fields) -> tenancy.PlatformSpec:
    return tenancy.PlatformSpec(
        issuer=issuer, client_id=client_id, auth_login_url=f"{issuer}/auth", auth_token_url=f"{issuer}/token",
        key_set_url=f"{issuer}/jwks", deployment_ids=deployment_ids, organisation=organisation, **fields)


def make_platform(issuer: str = "https://lms.example.edu", client_id: str = "client-1",
                  organisation: str = "Org A", deployment_id: str = "dep-1") -> Platform:
    """A registered platform whose organisation has its default tools, categories, rules and badge."""
    platform = tenancy.register_platform(
        platform_spec(issuer, client_id, organisation, deployment_ids=(deployment_id,)), NOW)
    ensure_defaults(platform.organisation_id, NOW)
    return platform


def identity(platform: Platform, sub: str, role: Role = Role.LEARNER, context_id: str = "course-1",
             name: str | None = None, context_title: str | None = None, deployment_id: str = "dep-1",
             email: str | None = None) -> tenancy.LaunchIdentity:
    deployment = tenancy.find_deployment(platform.id, deployment_id)
    return tenancy.LaunchIdentity(
        platform_id=platform.id, deployment_pk=deployment.id, context_id=context_id,
        context_title=f"Course {context_id}" if context_title is None else context_title,
        context_label=context_id.upper(), sub=sub, role=role, lti_roles=(f"role:{role.value}",),
        name=name, email=email)


def make_actor(platform: Platform, sub: str, role: Role = Role.LEARNER, context_id: str = "course-1",
               name: str | None = "", **kw) -> Actor:
    """Provision (as a launch does) and return the Actor for `sub` acting in `context_id`.

    name "" gives a made-up "Person <sub>"; None is a launch whose LMS withholds the name.
    """
    if name == "":
        name = f"Person {sub}"
    course, user, _membership = tenancy.provision(identity(platform, sub, role, context_id, name, **kw), NOW)
    return Actor(user_id=user.id, course_id=course.id, organisation_id=course.organisation_id,
                 platform_id=platform.id, role=role, display_name=user.display_name)


def experiment_data(organisation_id: int, **overrides) -> dict:
    """Form input as the edge schema loads it; picks the organisation's first tool and category."""
    raw = {
        "submission_key": secrets.token_hex(8),
        "title": "Drafted an outline with AI",
        "ai_tool": str(items(organisation_id, "tools")[0].id),
        "task_category": items(organisation_id, "categories")[0].id,
        # Distinct words each time: identical text would (rightly) be caught as a near-duplicate.
        "tried": "Asked for a workshop outline, then edited it: " + " ".join(secrets.token_hex(3) for _ in range(8)),
        "outcome": "worked",
        "learned": "",
        "sensitive_data": "no",
        "visibility": "course",
    }
    raw.update(overrides)
    return ExperimentIn().load(raw)


def log(actor: Actor, now: datetime = NOW, **overrides) -> Logged:
    return log_experiment(actor, experiment_data(actor.organisation_id, **overrides), now)
