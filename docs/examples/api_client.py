#!/usr/bin/env python3
"""Export a team's insights and award a badge through Tinker's JSON API.

Standard library only. The script knows Tinker through its OpenAPI document alone: it reads the server
URL and the operations (by operationId) from /api/v1/openapi.json, then calls them with an API token.

    python api_client.py --base https://tinker.example.edu --token tkn_... \\
        --team "Blue team" --out insights.json --award-to 42 --badge champion --comment "Led the pilot"

The token needs the scopes insights:read (export) and awards:write (award). Exit status: 0 done,
1 an API error (its code and message are printed), 2 something asked for does not exist.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '?')}: {error.get('message', body)}")
        self.status, self.code, self.errors = status, error.get("code"), error.get("errors", {})


class Client:
    def __init__(self, base: str, token: str):
        self.token = token
        spec_url = base.rstrip("/") + "/api/v1/openapi.json"
        self.spec = self._request("GET", spec_url)
        self.server = urllib.parse.urljoin(spec_url, self.spec["servers"][0]["url"])
        self.operations = {op["operationId"]: (method.upper(), path)
                           for path, item in self.spec["paths"].items()
                           for method, op in item.items() if isinstance(op, dict) and "operationId" in op}

    def _request(self, method: str, url: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            try:
                payload = json.load(err)
            except ValueError:
                payload = {}
            raise ApiError(err.code, payload) from None

    def call(self, operation_id: str, *, query: dict | None = None, body=None, **path_params):
        method, path = self.operations[operation_id]
        url = self.server.rstrip("/") + path.format(**path_params)
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return self._request(method, url, body)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="Tinker's address, e.g. https://tinker.example.edu")
    parser.add_argument("--token", required=True, help="an API token (tkn_...)")
    parser.add_argument("--course-id", type=int, help="default: the first course of the organisation with the team")
    parser.add_argument("--team", required=True, help="the team's name")
    parser.add_argument("--kind", default="quarter", choices=["week", "month", "quarter"])
    parser.add_argument("--out", default="-", help="file for the insights JSON (default: standard output)")
    parser.add_argument("--award-to", type=int, help="user id of a learner to award a badge to")
    parser.add_argument("--badge", default="champion", help="slug of a manual badge")
    parser.add_argument("--comment", default="Recognised through the API")
    args = parser.parse_args(argv)

    try:
        api = Client(args.base, args.token)
        courses = [c for c in api.call("list_courses") if args.course_id in (None, c["id"])]
        found = None
        for course in courses:
            team = next((t for t in api.call("course_teams", course_id=course["id"]) if t["name"] == args.team), None)
            if team:
                found = (course, team)
                break
        if found is None:
            print(f"No team named {args.team!r} in the token's courses.", file=sys.stderr)
            return 2
        course, team = found
        report = api.call("course_insights", course_id=course["id"], query={"team_id": team["id"], "kind": args.kind})
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if args.out == "-":
            print(text)
        else:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            print(f"Insights for {team['name']} ({course['title']}, {report['label']}) written to {args.out}.",
                  file=sys.stderr)

        if args.award_to is not None:
            badge = next((b for b in api.call("list_badges", course_id=course["id"]) if b["slug"] == args.badge), None)
            if badge is None or not badge["manual"]:
                print(f"No badge {args.badge!r} that may be awarded by hand.", file=sys.stderr)
                return 2
            try:
                award = api.call("award_badge", course_id=course["id"],
                                 body={"user_id": args.award_to, "badge_id": badge["id"], "comment": args.comment})
                print(f"Awarded {award['badge_name']} to user {award['user_id']} (award {award['id']}).",
                      file=sys.stderr)
            except ApiError as err:
                if err.code != "conflict":
                    raise
                print(f"User {args.award_to} already holds {badge['name']}.", file=sys.stderr)
    except ApiError as err:
        print(f"Tinker API error {err}", file=sys.stderr)
        for field, messages in (err.errors or {}).items():
            print(f"  {field}: {' '.join(map(str, messages))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
