"""Names and Role Provisioning: read a course's LMS roster (and its groups) and hand it to tenancy and teams.

LMS groups come one of three ways, whichever the platform offers:
- the NRPS group extension: `group_enrollments` on each member of the course roster;
- the 1EdTech LTI Course Groups Service (claim `.../lti-gs/claim/groupsservice`): the groups' names;
- Canvas, which offers neither: the launch lists the course's group ids in the custom parameter
  `canvas_course_group_ids` = `$com.instructure.Course.groupIds` ("the Canvas ids of all active groups in
  the current course", https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.tools_variable_substitutions),
  and each group's roster is an NRPS membership container at `/api/lti/groups/:group_id/names_and_roles`
  on the host of the course's `/api/lti/courses/:course_id/names_and_roles`, with the same NRPS scope,
  `context.title` = the group's name, and Link rel="next" paging
  (https://developerdocs.instructure.com/services/canvas/resources/names_and_role).

Each roster is asked for in large pages (`limit`, as NRPS defines it; Canvas otherwise serves 10 members a page).
A roster longer than MAX_PAGES pages fails the sync rather than being cut short. Paging follows
`Link: <...>; rel="next"` parsed here with the URL kept exactly as sent: pylti1p3 lower-cases
the whole header, which breaks case-sensitive page tokens. The bearer token only ever goes to the roster
service's own origin, whatever a Link header says.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from flask import current_app

from plugin.challenges import progress as challenge_progress
from plugin.core.names import tidy as tidy_name
from plugin.errors import DomainError
from plugin.extensions import db
from plugin.leaderboards import reconcile
from plugin.lti import claim_values, install, platform_http, service_token
from plugin.lti import messages as said
from plugin.lti.roles import map_roles
from plugin.outbox.registry import GiveUp, Retry
from plugin.teams import service as teams
from plugin.teams.names import lms_group_name
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Course, Platform
from plugin.tenancy.service import origin_of

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
GROUPS_SCOPE = install.GROUPS_SCOPE
GROUPS_CLAIM = "https://purl.imsglobal.org/spec/lti-gs/claim/groupsservice"
MEMBERS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
GROUPS_TYPE = "application/vnd.ims.lti-gs.v1.contextgroupcontainer+json"
TEST_USER_ROLE = "http://purl.imsglobal.org/vocab/lti/system/person#TestUser"
CANVAS_TEST_STUDENT = "Test Student"
MAX_PAGES = 500
# Members asked for per page (NRPS `limit`). Without it Canvas serves 10 a page (at most 50 when asked), and a
# course of more than MAX_PAGES x 10 members could never be read; platforms give at most their own maximum.
# Large, because Moodle, which answers a request without limit in one page, pages by it when it is given.
PAGE_SIZE = 1000

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")


class RosterError(Exception):
    """The platform's roster or groups service failed; the message says which and how."""


class Gone(RosterError):
    """The service answered 404: for one Canvas group, the group was deleted since the launch listed it."""


def next_link(header: str | None, base: str) -> str | None:
    """The rel="next" target of a Link header, resolved against base, its case untouched."""
    for match in _LINK.finditer(header or ""):
        for param in match.group(2).split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return urljoin(base, match.group(1).strip())
    return None


def with_page_size(url: str) -> str:
    """The roster URL asking for PAGE_SIZE members a page, its own query kept (a limit it names stays)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "limit" for name, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("limit", str(PAGE_SIZE))])))


def service_urls(services: dict) -> tuple[str, str | None] | None:
    """(memberships URL, groups URL or None) from a launch's service claims, or None without NRPS."""
    nrps = services.get("nrps") or {}
    url = nrps.get("context_memberships_url") if isinstance(nrps, dict) else None
    if not origin_of(url):
        return None
    groups = services.get("groups") or {}
    groups_url = groups.get("context_groups_url") if isinstance(groups, dict) else None
    return url, groups_url if origin_of(groups_url) else None


@dataclass
class Fetched:
    entries: list[tenancy.RosterEntry] = field(default_factory=list)
    enrollments: dict[str, list[str]] = field(default_factory=dict)  # sub -> LMS group ids
    groups: dict[str, str] | None = None  # LMS group id -> name; None: the platform offers no groups
    pages: int = 0


def _entry(member) -> tenancy.RosterEntry | None:
    if not isinstance(member, dict) or not isinstance(member.get("user_id"), str) or not member["user_id"]:
        return None
    lti_roles = tuple(r for r in member.get("roles") or [] if isinstance(r, str))
    role = map_roles(lti_roles)
    if role is None:  # nobody Tinker serves (e.g. only institution roles)
        return None
    name = member.get("name") or " ".join(
        str(member[k]) for k in ("given_name", "family_name") if isinstance(member.get(k), str) and member[k])
    name = tidy_name(str(name), 400) or None  # as a launch's name claim (claim_values.text)
    status = str(member.get("status") or "Active")
    return tenancy.RosterEntry(
        sub=member["user_id"][:400], role=role, lti_roles=lti_roles, active=status.lower() == "active", name=name,
        email=str(member["email"])[:400] if isinstance(member.get("email"), str) and member["email"] else None,
        test_user=name == CANVAS_TEST_STUDENT or TEST_USER_ROLE in lti_roles)


def _without_nul(page: dict) -> dict:
    """A page with NUL characters left out of its text, as a launch's (claim_values.without_nul); a member whose LMS
    id holds one is left out: no launch carries that id (it is refused), so nobody could ever be them."""
    members = page.get("members")
    if isinstance(members, list):
        page = {**page, "members": [m for m in members if not (
            isinstance(m, dict) and isinstance(m.get("user_id"), str) and "\x00" in m["user_id"])]}
    return claim_values.without_nul(page)


class _Client:
    """GETs pages from one platform's service with a cached bearer token (one refresh on 401)."""

    def __init__(self, platform: Platform, scope: str, now: datetime):
        self.client, self.scopes, self.now = service_token.ServiceClient.of(platform), (scope,), now
        self.timeout = current_app.config["LTI_HTTP_TIMEOUT"]

    def _token(self) -> str:
        try:
            return service_token.access_token(self.client, self.scopes, self.now)
        except (Retry, GiveUp, DomainError) as exc:
            raise RosterError(said.NO_TOKEN(message=getattr(exc, "message", exc))) from None

    def pages(self, url: str, accept: str):
        origin, seen = origin_of(url), set()
        while url:
            if url in seen:
                raise RosterError(said.ENDLESS(pages=len(seen), url=url))
            if len(seen) >= MAX_PAGES:  # never a roster cut short: its missing members would count as gone
                raise RosterError(said.TOO_MANY_PAGES(pages=MAX_PAGES, url=url))
            if origin_of(url) != origin:
                raise RosterError(said.OTHER_SITE(origin=origin_of(url)))
            seen.add(url)
            response = self._get(url, accept)
            try:
                body = response.json()
            except ValueError:
                raise RosterError(said.NOT_JSON(url=url)) from None
            if isinstance(body, dict) and b"\\u0000" in response.content:
                body = _without_nul(body)
            yield body if isinstance(body, dict) else {}
            url = next_link(response.headers.get("Link"), url)

    def _get(self, url: str, accept: str) -> requests.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": accept}
            try:
                # a page of a large course takes a while: the whole answer within ten times the timeout
                response = platform_http.call("GET", url, headers=headers, timeout=self.timeout,
                                              deadline=10 * self.timeout, redirects=True)
            except platform_http.NotPublic as exc:
                platform_http.refused_private(url, exc)
                raise RosterError(said.PRIVATE_ADDRESS(method="GET", url=url)) from None
            except requests.RequestException as exc:
                raise RosterError(said.UNREACHABLE(url=url, error=exc.__class__.__name__)) from None
            if response.status_code == 401 and attempt == 1:
                service_token.drop(self.client, self.scopes)
                continue
            if response.status_code == 404:
                raise Gone(said.ANSWERED(url=url, status=404))
            if response.status_code != 200:
                raise RosterError(said.ANSWERED(url=url, status=response.status_code))
            return response
        raise AssertionError("unreachable")


def fetch(course_id: int, now: datetime) -> Fetched:
    """Read the whole roster (and group names) of a course; no database writes."""
    course = db.session.get(Course, course_id)
    if course is None or not course.roster_url:
        raise RosterError(said.NO_ROSTER())
    platform = db.session.get(Platform, course.platform_id)
    fetched = Fetched()
    offered = course.groups_url is not None
    for page in _Client(platform, NRPS_SCOPE, now).pages(with_page_size(course.roster_url), MEMBERS_TYPE):
        fetched.pages += 1
        for member in page.get("members") or []:
            entry = _entry(member)
            if entry is None:
                continue
            fetched.entries.append(entry)
            if isinstance(member.get("group_enrollments"), list):
                offered = True
                fetched.enrollments[entry.sub] = [str(g["group_id"]) for g in member["group_enrollments"]
                                                  if isinstance(g, dict) and g.get("group_id") is not None]
    if offered:
        fetched.groups = _group_names(platform, course.groups_url, now)
        for group_ids in fetched.enrollments.values():
            for group_id in group_ids:
                fetched.groups.setdefault(group_id, lms_group_name(group_id))
    elif course.lms_group_ids is not None and canvas_group_url(course.roster_url, "0"):
        _canvas_groups(platform, course, fetched, now)
    return fetched


_CANVAS_COURSE_ROSTER = re.compile(r"^(https?://[^/?#]+(?:/[^?#]*)?)/api/lti/courses/[^/?#]+/names_and_roles(?:\?.*)?$")


def canvas_group_url(course_roster_url: str | None, group_id: str) -> str | None:
    """Canvas's roster URL of one group, beside the course's (None when the course roster is not Canvas's)."""
    match = _CANVAS_COURSE_ROSTER.match(course_roster_url or "")
    return f"{match.group(1)}/api/lti/groups/{group_id}/names_and_roles" if match else None


def _canvas_groups(platform: Platform, course: Course, fetched: Fetched, now: datetime) -> None:
    """Read each listed Canvas group's roster: its name (context.title) and which course members are in it.
    A group deleted since the launch listed it (404) is left out; any other failure fails the sync, so teams
    are never emptied by an LMS hiccup."""
    known = {entry.sub for entry in fetched.entries}
    client = _Client(platform, NRPS_SCOPE, now)
    fetched.groups = {}
    for group_id in [g for g in course.lms_group_ids.split(",") if g]:
        name, subs = None, []
        try:
            for page in client.pages(with_page_size(canvas_group_url(course.roster_url, group_id)), MEMBERS_TYPE):
                fetched.pages += 1
                context = page.get("context") if isinstance(page.get("context"), dict) else {}
                name = name or (str(context["title"])[:190] if context.get("title") else None)
                subs += [m["user_id"] for m in page.get("members") or [] if isinstance(m, dict)
                         and isinstance(m.get("user_id"), str) and m["user_id"] in known and str(m.get("status") or "Active").lower() == "active"]
        except Gone:
            continue
        fetched.groups[group_id] = name or lms_group_name(group_id)
        for sub in subs:
            fetched.enrollments.setdefault(sub, []).append(group_id)


def _group_names(platform: Platform, url: str | None, now: datetime) -> dict[str, str]:
    names: dict[str, str] = {}
    if url:
        for page in _Client(platform, GROUPS_SCOPE, now).pages(url, GROUPS_TYPE):
            for group in page.get("groups") or []:
                if isinstance(group, dict) and group.get("id") is not None:
                    group_id = str(group["id"])
                    names[group_id] = tidy_name(str(group.get("name") or ""), 190) or lms_group_name(group_id)[:190]
    return names


def apply(course_id: int, fetched: Fetched, now: datetime) -> str:
    """Write a fetched roster: memberships through tenancy, LMS groups through teams. Flushes; returns a summary."""
    counts = tenancy.sync_members(course_id, fetched.entries, now)
    done = {"added": counts.added, "updated": counts.updated, "deactivated": counts.deactivated,
            "erased": counts.erased}
    if fetched.groups is None:
        summary = (said.SYNCED_ERASED if counts.erased else said.SYNCED)(**done)
    else:
        members: dict[str, set[int]] = defaultdict(set)
        for sub, group_ids in fetched.enrollments.items():
            if sub not in counts.user_ids:  # erased: left out of the course, so of its teams too
                continue
            for group_id in group_ids:
                members[group_id].add(counts.user_ids[sub])
        team_counts = teams.sync_lms_teams(course_id, fetched.groups, members, now)
        summary = (said.SYNCED_ERASED_TEAMS if counts.erased else said.SYNCED_TEAMS)(
            **done, teams=team_counts.teams, created=team_counts.created, joined=team_counts.joined,
            left=team_counts.left)
    reconcile.reconcile_course(course_id)  # who counts on boards and in team figures follows the roster
    challenge_progress.recount_open(course_id, now)  # and in the open challenges' progress
    tenancy.record_roster_status(course_id, summary, now)
    return summary
