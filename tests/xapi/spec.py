"""The rules of xAPI 1.0.3 (Data, section 2.4) that a statement can be checked against on its own.

problems(statement) lists what breaks them (empty = conforms). Independent of Tinker's builders: it knows
the specification's properties, not ours. The integration test also has Ralph's own pydantic models of
the specification validate what its LRS stored (ralph_validate.py).
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

STATEMENT = {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version",
             "attachments"}
AGENT = {"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"}
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")
VERB = {"id", "display"}
ACTIVITY = {"objectType", "id", "definition"}
DEFINITION = {"name", "description", "type", "moreInfo", "extensions", "interactionType",
              "correctResponsesPattern", "choices", "scale", "source", "target", "steps"}
RESULT = {"score", "success", "completion", "response", "duration", "extensions"}
CONTEXT = {"registration", "instructor", "team", "contextActivities", "revision", "platform", "language",
           "statement", "extensions"}
CONTEXT_ACTIVITIES = {"parent", "grouping", "category", "other"}
# RFC 5646 in the shape xAPI needs (language[-script][-region][-variant]); enough to refuse junk.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MAILTO = re.compile(r"^mailto:[^@\s]+@[^@\s]+$")


def is_iri(value) -> bool:
    """An absolute IRI (scheme and something after it); xAPI IRIs for verbs, types and extensions."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme or "")) and bool(parts.netloc or parts.path)


def is_irl(value) -> bool:
    parts = urlsplit(value) if isinstance(value, str) else None
    return bool(parts and parts.scheme in ("http", "https") and parts.netloc)


def _unknown(where: str, found: dict, allowed: set) -> list[str]:
    return [f"{where}: unknown property {name!r}" for name in sorted(set(found) - allowed)]


def _language_map(where: str, value) -> list[str]:
    if not isinstance(value, dict) or not value:
        return [f"{where}: a language map must be a non-empty object"]
    out = []
    for tag, text in value.items():
        if not LANGUAGE_TAG.match(tag):
            out.append(f"{where}: {tag!r} is not an RFC 5646 language tag")
        if not isinstance(text, str):
            out.append(f"{where}.{tag}: must be a string")
    return out


def _extensions(where: str, value) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: extensions must be an object"]
    return [f"{where}: extension key {key!r} is not an IRI" for key in value if not is_iri(key)]


def _empty(where: str, value) -> list[str]:
    """No null values, and (as LRSs like Ralph enforce) no empty strings or objects, outside extensions."""
    out = []
    if value is None or value == "" or value == {}:
        return [f"{where}: empty value"]
    if isinstance(value, dict):
        for key, inner in value.items():
            if key != "extensions":
                out += _empty(f"{where}.{key}", inner)
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            out += _empty(f"{where}[{n}]", inner)
    return out


def agent_problems(where: str, agent) -> list[str]:
    if not isinstance(agent, dict):
        return [f"{where}: an Agent must be an object"]
    out = _unknown(where, agent, AGENT)
    if agent.get("objectType", "Agent") != "Agent":
        out.append(f"{where}: objectType must be Agent")
    ifis = [name for name in IFIS if name in agent]
    if len(ifis) != 1:
        out.append(f"{where}: exactly one inverse functional identifier is required, found {ifis}")
    if "mbox" in agent and not MAILTO.match(str(agent["mbox"])):
        out.append(f"{where}.mbox: must be mailto:address")
    if "account" in agent:
        account = agent["account"]
        if not isinstance(account, dict) or set(account) != {"homePage", "name"}:
            out.append(f"{where}.account: must have exactly homePage and name")
        else:
            if not is_irl(account["homePage"]):
                out.append(f"{where}.account.homePage: must be an IRL")
            if not isinstance(account["name"], str) or not account["name"]:
                out.append(f"{where}.account.name: must be a non-empty string")
    if "name" in agent and not isinstance(agent["name"], str):
        out.append(f"{where}.name: must be a string")
    return out


def activity_problems(where: str, activity) -> list[str]:
    if not isinstance(activity, dict):
        return [f"{where}: an Activity must be an object"]
    out = _unknown(where, activity, ACTIVITY)
    if activity.get("objectType", "Activity") != "Activity":
        out.append(f"{where}: objectType must be Activity")
    if not is_iri(activity.get("id")):
        out.append(f"{where}.id: must be an IRI")
    definition = activity.get("definition")
    if definition is not None:
        if not isinstance(definition, dict):
            return out + [f"{where}.definition: must be an object"]
        out += _unknown(f"{where}.definition", definition, DEFINITION)
        for name in ("name", "description"):
            if name in definition:
                out += _language_map(f"{where}.definition.{name}", definition[name])
        if "type" in definition and not is_iri(definition["type"]):
            out.append(f"{where}.definition.type: must be an IRI")
        if "moreInfo" in definition and not is_irl(definition["moreInfo"]):
            out.append(f"{where}.definition.moreInfo: must be an IRL")
        if "extensions" in definition:
            out += _extensions(f"{where}.definition.extensions", definition["extensions"])
    return out


def problems(statement: dict) -> list[str]:
    out = _unknown("statement", statement, STATEMENT)
    out += _empty("statement", statement)
    for required in ("actor", "verb", "object"):
        if required not in statement:
            out.append(f"statement.{required}: required")
    if "id" in statement:
        try:
            parsed = uuid.UUID(statement["id"])
            if str(parsed) != statement["id"] or parsed.variant != uuid.RFC_4122:
                out.append("statement.id: must be an RFC 4122 UUID in its canonical form")
        except (ValueError, TypeError, AttributeError):
            out.append("statement.id: must be a UUID")
    if "timestamp" in statement:
        stamp = statement["timestamp"]
        if not isinstance(stamp, str) or not ISO_8601.match(stamp):
            out.append("statement.timestamp: must be an ISO 8601 date-time with a time zone")
        else:
            datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if "actor" in statement:
        out += agent_problems("statement.actor", statement["actor"])
    verb = statement.get("verb")
    if isinstance(verb, dict):
        out += _unknown("statement.verb", verb, VERB)
        if not is_iri(verb.get("id")):
            out.append("statement.verb.id: must be an IRI")
        if "display" in verb:
            out += _language_map("statement.verb.display", verb["display"])
    elif verb is not None:
        out.append("statement.verb: must be an object")
    obj = statement.get("object")
    is_activity = isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity"
    if is_activity:
        out += activity_problems("statement.object", obj)
    elif isinstance(obj, dict) and obj.get("objectType") == "Agent":
        out += agent_problems("statement.object", obj)
    elif isinstance(obj, dict) and obj.get("objectType") == "StatementRef":
        out += _unknown("statement.object", obj, {"objectType", "id"})
        try:
            uuid.UUID(obj.get("id"))
        except (ValueError, TypeError, AttributeError):
            out.append("statement.object.id: a StatementRef names a statement by its UUID")
    elif obj is not None:
        out.append("statement.object: Tinker sends Activities, Agents and StatementRefs only")
    if isinstance(verb, dict) and verb.get("id") == "http://adlnet.gov/expapi/verbs/voided":
        if not (isinstance(obj, dict) and obj.get("objectType") == "StatementRef"):
            out.append("statement.object: a voiding statement's object must be a StatementRef")
    result = statement.get("result")
    if result is not None:
        out += _unknown("statement.result", result, RESULT)
        for flag in ("success", "completion"):
            if flag in result and not isinstance(result[flag], bool):
                out.append(f"statement.result.{flag}: must be a boolean")
        if "extensions" in result:
            out += _extensions("statement.result.extensions", result["extensions"])
    context = statement.get("context")
    if context is not None:
        out += _unknown("statement.context", context, CONTEXT)
        if ("platform" in context or "revision" in context) and not is_activity:
            out.append("statement.context: platform and revision only when the object is an Activity")
        if "instructor" in context:
            out += agent_problems("statement.context.instructor", context["instructor"])
        if "language" in context and not LANGUAGE_TAG.match(context["language"]):
            out.append("statement.context.language: must be a language tag")
        activities = context.get("contextActivities")
        if activities is not None:
            out += _unknown("statement.context.contextActivities", activities, CONTEXT_ACTIVITIES)
            for kind, found in activities.items():
                for n, activity in enumerate(found if isinstance(found, list) else [found]):
                    out += activity_problems(f"statement.context.contextActivities.{kind}[{n}]", activity)
        if "extensions" in context:
            out += _extensions("statement.context.extensions", context["extensions"])
    return out
