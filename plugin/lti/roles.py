"""LTI roles -> Tinker roles, in one table in one place.

| LTI role (context/membership, full URI or short form)          | Tinker role |
|-----------------------------------------------------------------|-------------|
| institution or system Administrator                             | admin       |
| Administrator of this context (membership, short or LTI 1.1 form) | manager     |
| Instructor and its sub-roles (TeachingAssistant, ...)           | manager     |
| ContentDeveloper                                                | manager     |
| Learner and its sub-roles                                       | learner     |
| Mentor (Canvas observer)                                        | observer    |

Tinker's admin sets organisation-wide rules, points and vision, so only an administrator of the institution or
the system (Moodle's site admin, Canvas's account admin) is one; an Administrator of one course is that
course's staff. Institution and system roles other than Administrator are ignored: a Canvas user who is
faculty at the institution but a learner in this course is a learner here. No roles claim, or no role above:
refused.
"""
from __future__ import annotations

from plugin.core.actor import Role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

# Context role name -> Tinker role. Sub-roles ("membership/Instructor#TeachingAssistant") map by parent.
CONTEXT_ROLES: dict[str, Role] = {
    "Administrator": Role.MANAGER,  # of this context only: course staff (the organisation's admin: below)
    "Instructor": Role.MANAGER,
    "TeachingAssistant": Role.MANAGER,
    "ContentDeveloper": Role.MANAGER,
    "Learner": Role.LEARNER,
    "Student": Role.LEARNER,  # LTI 1.1 short form some platforms still send
    "Mentor": Role.OBSERVER,
}
PRECEDENCE = [Role.ADMIN, Role.MANAGER, Role.LEARNER, Role.OBSERVER]


def _parse(role: str) -> tuple[str, str]:
    """Return (scope, name) where scope is membership, institution, system or '' (short form)."""
    role = role.strip()
    if role.startswith(LIS):
        path = role[len(LIS):]
        head, _, name = path.partition("#")
        parts = head.split("/")
        scope = parts[0]
        if scope == "membership" and len(parts) > 1:
            name = parts[1]  # sub-role: map by its parent role
        if scope in ("institution", "system"):
            return scope, name
        return "membership", name
    if role.startswith("urn:lti:"):
        kind, _, rest = role[len("urn:lti:"):].partition(":")
        name = rest.rsplit("/", 1)[-1]
        scope = {"role": "membership", "instrole": "institution", "sysrole": "system"}.get(kind, "")
        if scope == "membership" and "/" in rest.split("ims/lis/", 1)[-1]:
            name = rest.split("ims/lis/", 1)[-1].split("/")[0]
        return scope, name
    return "", role.rsplit("#", 1)[-1]


def map_roles(roles: list[str] | tuple[str, ...]) -> Role | None:
    found: set[Role] = set()
    for raw in roles:
        if not isinstance(raw, str):
            continue
        scope, name = _parse(raw)
        if name == "Administrator" and scope in ("institution", "system"):
            found.add(Role.ADMIN)
        elif scope in ("membership", "") and name in CONTEXT_ROLES:
            found.add(CONTEXT_ROLES[name])
    for role in PRECEDENCE:
        if role in found:
            return role
    return None
