"""What the outbox and its shared parts store about a delivery (plugin/diagnostics.py): the generic outcomes,
the HTTP failures of any receiver (`Peer`, one set per kind of receiver, so each reads as a whole sentence), and
e-mail's."""
from __future__ import annotations

from dataclasses import dataclass

from plugin.diagnostics import N_, Message

# plugin/outbox/service.py
RETRY = Message(N_("Retry: %(message)s"), nested=("message",))  # a Retry's message, as the outbox stores it
NO_HANDLER = Message(N_("no handler registered for %(kind)s"))
RETRY_REQUESTED = Message(N_("Retry requested"))
DISMISSED = Message(N_("Dismissed by the operator: not sent"))
# a delivery not sent in a pass whose try of another delivery to the same receiver failed: that try's reason
RECEIVER_FAILED = Message(N_("not sent: its receiver had just failed on another delivery (%(error)s)"),
                          nested=("error",))
WORKER_ENDED = Message(N_("%(attempts)s tries ended before the delivery finished (its worker stopped each time): "
                          "not tried again"))


@dataclass(frozen=True)
class Peer:
    """The HTTP failures plugin/outbox/http.py reports for one kind of receiver."""
    unfinished: Message  # %(seconds)s
    private: Message  # %(host)s (the address it led to goes to the log only: http.refused_private)
    slow: Message  # %(seconds)s
    unreachable: Message  # %(host)s
    failed: Message  # %(error)s


# plugin/outbox/email.py
NO_SMTP = Message(N_("no SMTP server configured (TINKER_SMTP_HOST)"))
RECIPIENT_REFUSED = Message(N_("recipient refused: %(error)s"))
SMTP_FAILED = Message(N_("SMTP: %(error)s"))
EMAIL_SENT = Message(N_("sent to %(to)s"))
EMAIL_SENT_TRIMMED = Message(N_("sent (the address is no longer kept)"))
