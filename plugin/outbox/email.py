"""E-mail through the outbox: enqueue in the domain transaction, send over SMTP after commit (TINKER_SMTP_*)."""
from __future__ import annotations

import smtplib
import socket
from datetime import datetime
from email.message import EmailMessage

from flask import current_app

from plugin.outbox import messages as said
from plugin.outbox.registry import GiveUp, Retry, handler, lane_namer, trimmer
from plugin.outbox.service import enqueue

KIND = "email"


def send(*, to: str, subject: str, body: str, key: str, now: datetime) -> None:
    enqueue(KIND, key, {"to": to, "subject": subject, "body": body}, now, lane=KIND)  # one SMTP server for all


@lane_namer(KIND)
def _lane_name(_ids: list[str]) -> dict[str, str]:
    host, port = current_app.config.get("SMTP_HOST"), current_app.config.get("SMTP_PORT")
    return {"": f"the SMTP server {host}:{port}" if host else "the SMTP server (none configured: TINKER_SMTP_HOST)"}


@trimmer(KIND)
def trimmed(payload: dict, note: str | None, error: str | None) -> dict:
    """Long sent (or dismissed): the address and the text go, and so do the note and error that quote the address;
    the subject stays."""
    return {"payload": {"subject": payload.get("subject", "")},
            "note": said.EMAIL_SENT_TRIMMED() if note and said.EMAIL_SENT.match(note) is not None else note,
            "last_error": None}


@handler(KIND)
def deliver(payload: dict, now: datetime) -> str:
    cfg = current_app.config
    host = cfg.get("SMTP_HOST")
    if not host:
        raise GiveUp(said.NO_SMTP())
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = cfg["SMTP_FROM"], payload["to"], payload["subject"]
    message.set_content(payload["body"])
    try:
        with smtplib.SMTP(host, cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"]) as smtp:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls()
            if cfg.get("SMTP_USERNAME"):
                smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise GiveUp(said.RECIPIENT_REFUSED(error=exc)) from exc
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:  # the server answered, about this message
        raise Retry(said.SMTP_FAILED(error=exc), receiver=False) from exc
    except (OSError, socket.timeout, smtplib.SMTPException) as exc:
        raise Retry(said.SMTP_FAILED(error=exc)) from exc
    return said.EMAIL_SENT(to=payload["to"])
