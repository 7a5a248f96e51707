"""Driving the HTML pages the way a browser inside the LMS frame does: token in links and forms."""
from __future__ import annotations

import html
import re
import uuid


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def visible(response) -> str:
    """The page's text as a reader hears it: tags stripped, white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(response))).strip()


def options(page_html: str, select_name: str) -> dict[str, str]:
    block = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', page_html, re.S).group(1)
    return {label.strip(): value for value, label in re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', block)}


def experiment_form(client, token: str, **overrides) -> dict:
    page = client.get("/app/experiments/new", query_string={"lt": token})
    assert page.status_code == 200, text(page)[:500]
    body = text(page)
    tools, categories = options(body, "ai_tool"), options(body, "task_category")
    data = {
        "lt": token,
        "submission_key": re.search(r'name="submission_key" value="([^"]+)"', body).group(1),
        "title": "Asked an AI to draft a quiz",
        "ai_tool": tools["ChatGPT"],
        "task_category": categories["Assessment design"],
        "tried": "Gave it the learning outcomes and asked for ten questions.",
        "outcome": "failed",
        "learned": "It invented facts; next time I will paste the source text.",
        "minutes_saved": "0",
        "sensitive_data": "no",
        "visibility": "course",
    }
    data.update(overrides)
    return data


def log_experiment(client, token: str, **overrides):
    data = experiment_form(client, token, **overrides)
    return client.post("/app/experiments", data=data)


def new_key() -> str:
    return uuid.uuid4().hex


def autopost(session, response):
    """Submit an auto-posting platform form (dev LMS login initiation, id_token post) as a browser would."""
    body = response.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', body).group(1))
    fields = {html.unescape(n): html.unescape(v)
              for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}
    return session.post(action, data=fields, allow_redirects=False)


def next_url(login_response) -> str:
    """Where the tool's login sends the browser: a redirect, or (when the LMS offered platform storage)
    the page that stores state and nonce in the LMS frame and then goes on (data-next)."""
    if login_response.status_code == 302:
        return login_response.headers["Location"]
    match = re.search(r'id="lti-storage"[^>]*data-next="([^"]+)"', login_response.text, re.S)
    assert match, login_response.text[:500]
    return html.unescape(match.group(1))
