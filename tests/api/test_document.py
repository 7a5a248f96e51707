"""The OpenAPI document: servers /api/v1, relative paths, bearer schemes, every API operation in it."""
from __future__ import annotations

import re

from tests.api.test_matrix import api_endpoints

DOC_ONLY = {"GET /openapi.json", "GET /docs", "GET /docs/assets/<name>"}


def test_document_is_relative_to_its_server_and_covers_every_operation(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and doc["servers"] == [{"url": "/api/v1"}]
    assert set(doc["components"]["securitySchemes"]) == {"launchToken", "apiToken"}
    assert all(s["type"] == "http" and s["scheme"] == "bearer" for s in doc["components"]["securitySchemes"].values())
    documented = set()
    for path, item in doc["paths"].items():
        assert not path.startswith("/api/"), path
        for method, op in item.items():
            if method == "parameters":
                continue
            documented.add(method.upper() + " " + re.sub(  # every path parameter an id but a reaction's kind
                r"{(\w+)}", lambda m: f"<{'string' if m.group(1) == 'kind' else 'id'}:{m.group(1)}>", path))
            assert op["security"] and op["operationId"]
            assert "default" in op["responses"]  # the error envelope, whatever the status
    assert documented == api_endpoints(app) - DOC_ONLY


def test_docs_assets_are_served_locally_and_only_the_known_ones(client):
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/v1/docs/assets/..%2Fswagger-ui.js.map").status_code == 404
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
    page = client.get("/api/v1/docs")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http" not in re.sub(r'(src|href)="/[^"]*"', "", page.get_data(as_text=True)).split("<body>")[1]


def test_links_name_operations_that_exist(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    ops = {op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m != "parameters"}
    links = [link for item in doc["paths"].values() for m, op in item.items() if m != "parameters"
             for response in op["responses"].values() if isinstance(response, dict)
             for link in response.get("links", {}).values()]
    assert len(links) >= 4 and {link["operationId"] for link in links} <= ops


def test_the_docs_page_follows_the_language_of_the_admin_page_that_links_to_it(client, launch):
    """A Turkish admin (the LMS's language, or their choice) whose browser asks for English: the link carries the
    language, and the page's own words (title, heading, the server picker's label) are Turkish."""
    admin = launch(role="admin", sub="boss", overrides={"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
        "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}})
    english = {"Accept-Language": "en"}
    for path in ("/app/admin/webhooks", "/app/admin/api-tokens/"):
        page = client.get(path, query_string={"lt": admin}, headers=english)
        assert page.status_code == 200, path
        link = re.search(r'href="(/api/v1/docs[^"]*)"', page.get_data(as_text=True)).group(1).replace("&amp;", "&")
        docs = client.get(link, headers=english).get_data(as_text=True)
        assert '<html lang="tr">' in docs and "Tinker API başvuru belgesi" in docs, path
        assert 'data-msg-server="Sunucu"' in docs
    assert '<html lang="en">' in client.get("/api/v1/docs", headers=english).get_data(as_text=True)
