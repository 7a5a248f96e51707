"""What an xAPI statement's delivery stores as its error or note (plugin/diagnostics.py)."""
from __future__ import annotations

from plugin.diagnostics import N_, Message
from plugin.outbox.messages import Peer

UNRESOLVED = Message(N_("cannot resolve the LRS host %(host)s: %(error)s"))
OFF = Message(N_("xAPI is off for this organisation, or its LRS details are incomplete"))
SECRET_UNREADABLE = Message(N_("the saved LRS secret can no longer be read (the app's secret key changed): save it "
                               "again"))
VOIDED_PENDING = Message(N_("waiting for the statement it voids to reach the LRS first"))
VOIDED_FAILED = Message(N_("the statement it voids has not reached the LRS (it failed): both go again with 'Send "
                           "the failed statements again'"))
PRIVATE_HOST = Message(N_("the LRS endpoint's host resolves to a private network address, which this Tinker does "
                          "not send to"))
NOTHING_TO_VOID = Message(N_("nothing to void: the statement it voids was dismissed and never sent"))
STORED = Message(N_("stored by the LRS (HTTP %(status)d)"))
ALREADY_HELD = Message(N_("the LRS already holds a statement with this id (HTTP 409: %(detail)s)"))
ANSWERED = Message(N_("the LRS answered HTTP %(status)d: %(detail)s"))
KEY_REFUSED = Message(N_("the LRS refused Tinker's key and secret (HTTP %(status)d): %(detail)s"))
REDIRECTS = Message(N_("the LRS endpoint redirects (HTTP %(status)d to %(location)s): save the address it "
                       "redirects to"))
REFUSED = Message(N_("the LRS refused the statement (HTTP %(status)d): %(detail)s"))

LRS = Peer(
    unfinished=Message(N_("the LRS did not finish answering within %(seconds)s s")),
    private=Message(N_("the LRS at %(host)s answered from a private network address, which this Tinker does not "
                       "send to")),
    slow=Message(N_("the LRS did not answer within %(seconds)s s")),
    unreachable=Message(N_("could not connect to the LRS at %(host)s")),
    failed=Message(N_("sending to the LRS failed: %(error)s")))
