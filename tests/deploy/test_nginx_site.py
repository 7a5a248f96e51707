"""The nginx site of docs/deploy.md, as written there, in front of Tinker under gunicorn configured as the guide's
environment file configures it (TINKER_TRUST_PROXY=1, an https public URL): `nginx -t` accepts it; plain HTTP is
sent to HTTPS; over verified TLS a learner launches from the LMS (whose key set the tool fetches through the public
URL too) and logs an experiment; nginx's request id is the one the app echoes and the one nginx's access log names;
static files come from nginx with a week's caching; nginx adds no X-Frame-Options that would keep the LMS from
framing the tool; and a body over the site's limit is refused before it reaches the app.

Only the addresses change (ports above 1024, a test certificate for localhost, this checkout's static directory,
the app's port): every substitution must find its text in the guide, so the test follows the guide's edits."""
from __future__ import annotations

import datetime as dt
import html
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from plugin.devlms.roster import PEOPLE_BY_SUB
from tests.support.instances import ROOT, Instance, experiment_fields, free_port, instance_env
from tests.web.helpers import autopost, next_url

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")


def _guide_site() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/deploy.md should hold one nginx site"
    return blocks[0]


def _logged(access_log: Path, request_ids: list[str]) -> list[str]:
    """The access log's lines for these requests (by the request id each ends with), once nginx has written them."""
    deadline = time.monotonic() + 5
    while True:
        lines = {line.rsplit(" ", 1)[-1]: line for line in access_log.read_text().splitlines()}
        if all(i in lines for i in request_ids) or time.monotonic() > deadline:
            return [lines.get(i, f"(no line for request {i})") for i in request_ids]
        time.sleep(0.1)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (what certbot's files are to the guide)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _substitute(site: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in site, f"docs/deploy.md's nginx site no longer has {old!r}"
        site = site.replace(old, new)
    return site


@pytest.fixture
def behind_nginx(app, db_url, tmp_path, monkeypatch):
    from plugin.core.clock import utcnow
    from plugin.devlms.seed import seed
    from plugin.extensions import db

    http_port, https_port, app_port = free_port(), free_port(), free_port()
    public = f"https://localhost:{https_port}"
    cert, key = _certificate(tmp_path)
    site = _substitute(_guide_site(), {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",  # IPv6: a test machine may have none
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "server_name tinker.example.org;": "server_name localhost;",
        "/etc/letsencrypt/live/tinker.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/tinker.example.org/privkey.pem": str(key),
        "alias /srv/tinker/app/static/;": f"alias {ROOT}/static/;",
        "proxy_pass http://127.0.0.1:8000;": f"proxy_pass http://127.0.0.1:{app_port};",
        "access_log /var/log/nginx/access.log tinker;": f"access_log {tmp_path}/access.log tinker;",
    })
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    # What Debian's /etc/nginx/nginx.conf gives a site (mime types), with every path in the test's directory; as
    # root, workers stay root (Debian's www-data may not read a checkout under /root).
    conf = tmp_path / "nginx.conf"
    conf.write_text("\n".join([
        "user root;" if os.geteuid() == 0 else "", "daemon off;", "worker_processes 1;",
        f"pid {tmp_path}/nginx.pid;", f"error_log {tmp_path}/error.log warn;", "events {}", "http {",
        "    include /etc/nginx/mime.types;", "    default_type application/octet-stream;", "    access_log off;",
        *[f"    {name}_temp_path {path};" for name, path in (("client_body", temp["body"]), ("proxy", temp["proxy"]),
                                                          ("fastcgi", temp["fastcgi"]), ("uwsgi", temp["uwsgi"]),
                                                          ("scgi", temp["scgi"]))],
        site, "}"]))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr  # the guide's `nginx -t`
    proxy = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(conf)], stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / "nginx.stderr", "w"), start_new_session=True)  # noqa: SIM115

    with app.app_context():
        seed(public, utcnow())
        db.session.commit()
    # The test certificate is the one trusted, by this test and by the app (whose development LMS fetches its key
    # set through the public URL, as a tool fetches an LMS's).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    tinker = Instance(instance_env(db_url, public, tmp_path, TINKER_TRUST_PROXY="1"), tmp_path / "app.log",
                      app_port)
    try:
        tinker.wait()
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{public}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert proxy.poll() is None and time.monotonic() < deadline, (tmp_path / "error.log").read_text() \
                    if (tmp_path / "error.log").exists() else "nginx did not start"
                time.sleep(0.1)
        yield public, f"http://127.0.0.1:{http_port}", tinker, tmp_path / "access.log"
    finally:
        proxy.terminate()
        proxy.wait(15)
        tinker.stop()


def test_the_guides_nginx_site_serves_tinker_over_https_to_an_lms_launch(behind_nginx):
    public, plain, _tinker, access_log = behind_nginx

    to_https = requests.get(f"{plain}/readyz", headers={"Host": "localhost"}, allow_redirects=False)
    assert to_https.status_code == 301 and to_https.headers["Location"] == "https://localhost/readyz"

    ready = requests.get(f"{public}/readyz")
    assert ready.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", ready.headers["X-Request-ID"])  # nginx's $request_id, passed on and echoed
    # nginx's own access log names the request by the same id (the site's log_format)
    deadline = time.monotonic() + 5
    while '"GET /readyz HTTP/1.1" 200' not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(line for line in access_log.read_text().splitlines() if '"GET /readyz HTTP/1.1" 200' in line)
    assert line.endswith(" " + ready.headers["X-Request-ID"]), line

    # A launch through the proxy over verified TLS, at the tool's public URL.
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{public}/dev/lms/launch",
                                           data={"sub": "dev-learner-30", "course": "dev-course-202"}))
    launched = autopost(browser, browser.get(next_url(login)))
    assert launched.status_code in (302, 303), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", launched.text))[:1500]
    token = re.search(r"lt=([^&]+)", launched.headers["Location"]).group(1)
    home = browser.get(urljoin(f"{public}/", launched.headers["Location"]))
    assert home.status_code == 200 and html.escape(PEOPLE_BY_SUB["dev-learner-30"].name) in home.text
    assert "X-Frame-Options" not in home.headers
    assert "frame-ancestors" in home.headers["Content-Security-Policy"]  # the tool's own, naming the LMS origins
    # The launch token each in-frame URL carries signs its holder in: nginx's access log keeps "lt=-" in its place,
    # in the request and in the referrer (a page of Tinker's linking to the next), and logs the rest as it was.
    frame_page = urljoin(f"{public}/", launched.headers["Location"])
    followed = browser.get(f"{public}/app/leaderboard?lt={token}&period=week", headers={"Referer": frame_page})
    assert followed.status_code == 200
    twice = browser.get(f"{public}/app/leaderboard?lt={token}&lt={token}", headers={"Referer": frame_page})
    assert twice.status_code == 200
    logged_lines = _logged(access_log, [r.headers["X-Request-ID"] for r in (home, followed, twice)])
    path = urlsplit(frame_page).path
    assert f'"GET {path}?lt=- HTTP/1.1" 200' in logged_lines[0], logged_lines[0]
    assert '"-" "python-requests/' in logged_lines[0], logged_lines[0]  # no referrer: "-", as Debian's format
    assert '"GET /app/leaderboard?lt=-&period=week HTTP/1.1" 200' in logged_lines[1], logged_lines[1]
    assert f'"{public}{path}?lt=-"' in logged_lines[1], logged_lines[1]  # the referrer
    assert '"GET /app/leaderboard?- HTTP/1.1" 200' in logged_lines[2], logged_lines[2]  # a second token: no query
    title = f"Behind nginx {secrets.token_hex(3)}"
    logged = browser.post(f"{public}/app/experiments", allow_redirects=False, data={
        **experiment_fields(browser, public, token), "title": title, "tried": "Logged through the proxy."})
    assert logged.status_code == 303
    page = browser.get(urljoin(f"{public}/", logged.headers["Location"]))
    assert page.status_code == 200 and title in html.unescape(page.text)

    sheet = next(p for p in sorted((ROOT / "static" / "css").glob("*.css")))
    served = requests.get(f"{public}/static/css/{sheet.name}")
    assert served.status_code == 200 and served.content == sheet.read_bytes()
    assert served.headers["Cache-Control"] == "max-age=604800"  # nginx's `expires 7d`, not the app's answer
    assert "X-Request-ID" not in served.headers  # nginx served it: the app never saw the request
    # The pages name it by version (a release that changes it names a new URL: the week's caching cannot keep an
    # old copy in use), and nginx serves that URL too.
    linked = html.unescape(re.search(r'href="(/static/css/tinker\.css\?v=[0-9a-f]{12})"', page.text).group(1))
    versioned = requests.get(f"{public}{linked}")
    assert versioned.status_code == 200 and versioned.content == (ROOT / "static/css/tinker.css").read_bytes()
    assert "X-Request-ID" not in versioned.headers

    # Over the site's 3 MB: nginx refuses it (the app, which refuses more than 2 MB itself, never sees it).
    too_big = requests.post(f"{public}/app/experiments", data=b"x" * (4 * 1024 * 1024),
                            headers={"Content-Type": "application/octet-stream"})
    assert too_big.status_code == 413 and "X-Request-ID" not in too_big.headers

    # No token the person was handed along the way is in the access log.
    handed = set(re.findall(r"lt=([A-Za-z0-9._~%-]+)", home.text + page.text)) | {token}
    log = access_log.read_text()
    assert not [t for t in handed if t in log], "a launch token reached nginx's access log"
    over_app = requests.post(f"{public}/app/experiments", data=b"x" * (2 * 1024 * 1024 + 1024),
                             headers={"Content-Type": "application/octet-stream"})
    assert over_app.status_code == 413 and "X-Request-ID" in over_app.headers  # this one reached the app
