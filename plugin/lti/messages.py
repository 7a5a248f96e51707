"""What grade sync (AGS) stores as a delivery's error or note, and the roster sync as a course's status
(plugin/diagnostics.py)."""
from __future__ import annotations

from plugin.diagnostics import N_, Message
from plugin.outbox.messages import Peer

# plugin/lti/keys.py (signing a token request: a grade delivery's Retry, a roster sync's "no access token")
NO_TOOL_KEY = Message(N_("the tool has no key yet: run `flask lti rotate-key`"))
TOOL_KEY_UNREADABLE = Message(N_("the tool key cannot be decrypted: was TINKER_SECRET_KEY changed?"))

# plugin/lti/service_token.py (a grade delivery's Retry, a roster sync's "no access token")
CACHE_UNREACHABLE = Message(N_("shared cache unreachable: %(error)s"))
TOKEN_REQUEST_FAILED = Message(N_("token request to %(url)s failed: %(error)s"))
TOKEN_REFUSED = Message(N_("token request refused: HTTP %(status)d %(detail)s"))
NOT_A_TOKEN = Message(N_("token response is not an OAuth2 token: %(detail)s"))

# plugin/lti/ags.py
REQUEST_FAILED = Message(N_("%(method)s %(url)s failed: %(error)s"))
# plugin/lti/platform_http.py (grade and roster services): the URL refused (its address goes to the log only), never
# what answers there
PRIVATE_ADDRESS = Message(N_("%(method)s %(url)s: not called, it is on a private network address; the operator can "
                             "allow LMSs there (TINKER_LTI_ALLOW_PRIVATE_PLATFORMS)"))
SERVER_ERROR = Message(N_("%(method)s %(url)s: HTTP %(status)d"))
TOKEN_REFUSED_AT = Message(N_("%(method)s %(url)s: the platform refused the access token (401)"))
COURSE_GONE = Message(N_("course %(course)d no longer exists"))
LOOKUP_REFUSED = Message(N_("looking for the line item: HTTP %(status)d %(detail)s"))
NO_LINEITEMS = Message(N_("grade sync has no line items endpoint for this course"))
UPDATE_REFUSED = Message(N_("updating the line item: HTTP %(status)d %(detail)s"))
CREATE_REFUSED = Message(N_("creating the line item: HTTP %(status)d %(detail)s"))
NO_ID = Message(N_("the platform's line item answer has no id"))
ID_HOLDS_NUL = Message(N_("the platform's line item id holds a NUL character, which Tinker cannot store: %(url)s"))
ID_TOO_LONG = Message(N_("the platform's line item id is longer than %(limit)d characters, which Tinker cannot "
                         "store: %(url)s"))
SYNC_OFF = Message(N_("grade sync is off"))
LINEITEM = Message(N_("line item %(url)s"))
LINEITEM_PENDING = Message(N_("the course's line item is not made yet"))
NOT_SENT = Message(N_("not sent: grade sync is off or the person is not a learner here"))
NOT_GRADED_400 = Message(N_("the platform does not grade this user (400): not retried"))
NOT_GRADED_422 = Message(N_("the platform does not grade this user (422): not retried"))
SCORE_REFUSED = Message(N_("the platform refused the score: HTTP 422 %(detail)s"))
NEWER_SCORE = Message(N_("the platform holds a newer score (409)"))
TOKEN_REFUSED_401 = Message(N_("the platform refused the access token (401)"))
LINEITEM_GONE = Message(N_("the line item is gone (404)"))
POST_REFUSED = Message(N_("posting the score: HTTP %(status)d %(detail)s"))

# plugin/lti/roster.py and roster_jobs.py: a course's roster status
ROSTER_ERROR = Message(N_("error: %(message)s"), nested=("message",))
NO_TOKEN = Message(N_("no access token: %(message)s"), nested=("message",))
UNEXPECTED = Message(N_("the sync failed unexpectedly (%(error)s); the roster was left as it was, and the server log "
                        "has the details"))
ENDLESS = Message(N_("paging does not end (%(pages)d pages, then %(url)s again)"))
TOO_MANY_PAGES = Message(N_("stopped after %(pages)d pages (next %(url)s); the roster was left as it was"))
OTHER_SITE = Message(N_("the next page is on another site (%(origin)s); not following it"))
NOT_JSON = Message(N_("%(url)s did not answer JSON"))
UNREACHABLE = Message(N_("%(url)s unreachable (%(error)s)"))
ANSWERED = Message(N_("%(url)s answered HTTP %(status)d"))
NO_ROSTER = Message(N_("the course has no roster service"))
SYNCED = Message(N_("%(added)d added, %(updated)d updated, %(deactivated)d deactivated; no LMS groups"))
SYNCED_ERASED = Message(N_("%(added)d added, %(updated)d updated, %(deactivated)d deactivated, %(erased)d erased "
                           "left out; no LMS groups"))
SYNCED_TEAMS = Message(N_("%(added)d added, %(updated)d updated, %(deactivated)d deactivated; %(teams)d LMS teams "
                          "(%(created)d new), %(joined)d joined, %(left)d left"))
SYNCED_ERASED_TEAMS = Message(N_("%(added)d added, %(updated)d updated, %(deactivated)d deactivated, %(erased)d "
                                 "erased left out; %(teams)d LMS teams (%(created)d new), %(joined)d joined, "
                                 "%(left)d left"))

# plugin/lti/platform_keys.py (the hint of a launch refused for want of the platform's keys)
KEY_SET = Peer(
    unfinished=Message(N_("the key set did not finish arriving within %(seconds)s s")),
    private=Message(N_("the key set at %(host)s answered from a private network address")),
    slow=Message(N_("the key set did not answer within %(seconds)s s")),
    unreachable=Message(N_("could not connect to the key set at %(host)s")),
    failed=Message(N_("fetching the key set failed: %(error)s")))
