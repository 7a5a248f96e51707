"""What Tinker tells an LMS about itself: the URLs, scopes, claims and placements shared by dynamic
registration and Canvas's developer-key JSON, so the two can never drift apart."""
from __future__ import annotations

from urllib.parse import urlsplit

from plugin.lti import claims as C

TITLE = "Tinker"
DESCRIPTION = ("Recognises the people who try AI at work: log AI experiments (failures included), "
               "earn points and badges, and follow the course leaderboard.")
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
# LTI Course Groups (the groups service beside NRPS): asked for at dynamic registration only from a platform whose
# configuration lists it (Canvas's developer-key JSON refuses scopes it does not know; Canvas serves group rosters
# through NRPS instead, plugin/lti/roster.py). A platform that sends a groups service claim without having granted
# this scope refuses the token, and the roster sync fails.
GROUPS_SCOPE = "https://purl.imsglobal.org/spec/lti-gs/scope/contextgroup.readonly"
# Tinker works without name and e-mail, but shows people by name where the LMS shares it.
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email", "locale")
# Substitution variables every launch carries: the course-copy history lets a copied course find
# its predecessor's settings.
CUSTOM_HISTORY = "context_id_history"
CUSTOM_PARAMETERS = {CUSTOM_HISTORY: "$Context.id.history"}
# Canvas only: the ids of the course's active groups, whose rosters Canvas serves at
# /api/lti/groups/:group_id/names_and_roles (plugin/lti/roster.py). Documented at
# https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.tools_variable_substitutions
# ("com.instructure.Course.groupIds: returns the Canvas ids of all active groups in the current course").
CUSTOM_COURSE_GROUPS = "canvas_course_group_ids"
CANVAS_CUSTOM_PARAMETERS = {**CUSTOM_PARAMETERS, CUSTOM_COURSE_GROUPS: "$com.instructure.Course.groupIds"}
# Canvas sends a person's name and e-mail address only to a tool registered at this privacy level
CANVAS_PRIVACY = "public"


def urls(base_url: str) -> dict[str, str]:
    return {"login": f"{base_url}/lti/login", "launch": f"{base_url}/lti/launch", "jwks": f"{base_url}/lti/jwks"}


def domain(base_url: str) -> str:
    """host[:port] of the tool, as LMSs match launch URLs against it."""
    return urlsplit(base_url).netloc


def canvas_config(base_url: str) -> dict:
    """Canvas's developer-key JSON (Admin > Developer Keys > + LTI Key > Enter URL)."""
    u = urls(base_url)

    def placement(name: str, message_type: str, text: str, **extra) -> dict:
        return {"placement": name, "message_type": message_type, "target_link_uri": u["launch"], "text": text,
                **extra}

    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "oidc_initiation_url": u["login"],
        "target_link_uri": u["launch"],
        "public_jwk_url": u["jwks"],
        "scopes": list(SCOPES),
        "extensions": [{
            "domain": domain(base_url),
            "tool_id": "tinker",
            "platform": "canvas.instructure.com",
            "privacy_level": CANVAS_PRIVACY,
            "settings": {
                "text": TITLE,
                "placements": [
                    placement("course_navigation", C.RESOURCE_LINK_REQUEST, TITLE, default="enabled"),
                    placement("link_selection", C.DEEP_LINKING_REQUEST, f"Add {TITLE} to a module"),
                    placement("assignment_selection", C.DEEP_LINKING_REQUEST, f"{TITLE} page as an assignment"),
                ],
            },
        }],
        "custom_fields": dict(CANVAS_CUSTOM_PARAMETERS),
    }
