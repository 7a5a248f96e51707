"""What a webhook delivery stores as its error or note (plugin/diagnostics.py)."""
from __future__ import annotations

from plugin.diagnostics import N_, Message
from plugin.outbox.messages import Peer

REMOVED = Message(N_("the endpoint was removed"))
TURNED_OFF = Message(N_("the endpoint is turned off"))
SECRET_UNREADABLE = Message(N_("the signing secret can no longer be read (the app's secret key changed): add the "
                               "endpoint again"))
PRIVATE_HOST = Message(N_("the receiver's host resolves to a private network address, which this Tinker does not "
                          "send to"))
ACCEPTED = Message(N_("accepted (HTTP %(status)d)"))
ANSWERED = Message(N_("the receiver answered HTTP %(status)d: %(detail)s"))
REDIRECTS = Message(N_("the receiver redirects (HTTP %(status)d to %(location)s): save the address it redirects to"))
REFUSED = Message(N_("the receiver refused it (HTTP %(status)d): %(detail)s"))
SENT_AGAIN = Message(N_("Sent again on request"))

RECEIVER = Peer(
    unfinished=Message(N_("the receiver did not finish answering within %(seconds)s s")),
    private=Message(N_("the receiver at %(host)s answered from a private network address, which this Tinker does "
                       "not send to")),
    slow=Message(N_("the receiver did not answer within %(seconds)s s")),
    unreachable=Message(N_("could not connect to the receiver at %(host)s")),
    failed=Message(N_("sending to the receiver failed: %(error)s")))
