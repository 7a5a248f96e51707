"""An LMS on a site of its own (https://localhost:<port>) that frames the tool (https://127.0.0.1:<port>)
and offers no LTI platform storage, as Moodle 4.4 does (or, with storage=1, offers it as Canvas does):

- GET  /course?sub=...   a course page: the login initiation is auto-posted into the iframe named tool-frame;
                         with &storage=1 it also sends lti_storage_target=_parent and answers the frame's
                         lti.capabilities / lti.put_data / lti.get_data postMessages (1EdTech Client Side
                         postMessages), keeping the values in the page
- GET  /auth             the OIDC authorisation endpoint: signs an id_token (a FakePlatform's key) and
                         auto-posts it with the state to the tool's redirect_uri

The platform's JWKS stays on the FakePlatform's own HTTP server, which the tool fetches.
"""
from __future__ import annotations

import html
import json
import threading

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.platform import FakePlatform
from tests.support.tls import server_context

AUTOPOST = """<!doctype html><title>{title}</title>
<form method="post" action="{action}" target="{target}">{fields}</form>
<script>document.forms[0].submit();</script>"""
COURSE = """<!doctype html><title>Course 101: Tinker</title>
<h1>Course 101</h1>
<iframe name="tool-frame" title="Tinker" src="about:blank" width="900" height="600"></iframe>
{storage}""" + AUTOPOST
STORAGE = """<script>
var stored = {}, frame = document.querySelector("iframe[name=tool-frame]");
window.addEventListener("message", function (event) {
  var data = event.data || {};
  if (event.source !== frame.contentWindow) { return; }
  if (data.subject === "lti.capabilities") {
    event.source.postMessage({subject: "lti.capabilities.response", message_id: data.message_id,
      supported_messages: [{subject: "lti.put_data"}, {subject: "lti.get_data"}]}, event.origin);
  } else if (data.subject === "lti.put_data" || data.subject === "lti.get_data") {
    var key = event.origin + " " + String(data.key);
    if (data.subject === "lti.put_data") { stored[key] = String(data.value); }
    event.source.postMessage({subject: data.subject + ".response", message_id: data.message_id,
      key: data.key, value: stored[key]}, event.origin);
  }
});
</script>"""


def _fields(values: dict) -> str:
    return "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                   for k, v in values.items())


class CrossSiteLms:
    def __init__(self, tool_base: str, cert, key, *, context_id: str = "course-101"):
        self.tool_base = tool_base
        self.context_id = context_id
        self.auth_requests: list[dict] = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True, ssl_context=server_context(cert, key))
        self.base = f"https://localhost:{self.server.server_port}"
        self.platform = FakePlatform(issuer=self.base, client_id="moodle-like-client", deployment_id="1")
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def course_url(self, sub: str, *, storage: bool = False) -> str:
        return f"{self.base}/course?sub={sub}" + ("&storage=1" if storage else "")

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/course":
            sub = request.args["sub"]
            fields = {"iss": self.platform.issuer, "login_hint": sub, "target_link_uri": f"{self.tool_base}/lti/launch",
                      "lti_message_hint": json.dumps({"cmid": 2, "sub": sub}), "client_id": self.platform.client_id,
                      "lti_deployment_id": self.platform.deployment_id}
            storage = request.args.get("storage") == "1"
            if storage:
                fields["lti_storage_target"] = "_parent"
            return Response(COURSE.format(title="Course 101", action=f"{self.tool_base}/lti/login",
                                          target="tool-frame", fields=_fields(fields),
                                          storage=STORAGE if storage else ""), mimetype="text/html")
        if request.path == "/auth":
            args = request.args.to_dict()
            self.auth_requests.append(args)
            hint = json.loads(args["lti_message_hint"])
            if args.get("login_hint") != hint["sub"] or args.get("client_id") != self.platform.client_id:
                return Response("bad request", status=400)
            claims = self.platform.claims(args["nonce"], sub=hint["sub"], context_id=self.context_id,
                                          name="Ada Learner")
            token = self.platform.sign(claims)
            return Response(AUTOPOST.format(title="Signing in", action=html.escape(args["redirect_uri"]), target="_self",
                                            fields=_fields({"id_token": token, "state": args["state"]})),
                            mimetype="text/html")
        return Response("not found", status=404)

    def close(self):
        self.server.shutdown()
        self.platform.close()
