"""Alertmanager's mail, received over SMTP (aiosmtpd) and read as a person reads it: subject, sender,
recipients and the text/plain body, whose alert list gives the alerts.

Which receiver a mail is for comes from its envelope recipients: mail-receivers.json (written by the drill
beside its alertmanager.yml) maps each address to the receivers whose email_configs mail it. A recipient it
does not know is receiver "mail:<address>", so the drill reports it as an unexpected receiver.
Alertmanager 0.25 says EHLO, starts TLS only if offered (we do not offer it: require_tls is false in the
drill's copy) and sends no AUTH when no credentials are configured.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
from typing import Callable, Optional

from aiosmtpd.controller import Controller

from . import alert_list
from .delivery import Delivery

RECEIVERS_FILE = "/etc/alertmanager/src/mail-receivers.json"

log = logging.getLogger("alert_sink")


def receivers_for(addresses: list[str]) -> list[str]:
    """The receivers mailing `addresses`, in order, each once. The map is read at each mail."""
    path = os.environ.get("ALERT_SINK_MAIL_RECEIVERS_FILE", RECEIVERS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            mapping = json.load(f)
        if not isinstance(mapping, dict):
            raise ValueError(f"expected an object {{address: [receiver, ...]}}, got {type(mapping).__name__}")
    except FileNotFoundError:
        mapping = {}
    except (OSError, ValueError) as exc:
        log.warning("mail receivers file %s unusable, every recipient is unmapped: %s", path, exc)
        mapping = {}
    by_address = {str(k).strip().lower(): v for k, v in mapping.items()}
    out: list[str] = []
    for address in addresses:
        names = by_address.get(address.strip().lower())
        names = [names] if isinstance(names, str) else names
        for name in (names if isinstance(names, list) and names else [f"mail:{address}"]):
            if str(name) not in out:
                out.append(str(name))
    return out


def read(content: bytes, mail_from: Optional[str], rcpt_tos: list[str]) -> list[Delivery]:
    """One delivery per receiver the mail is for, each with the alerts of its text body."""
    msg = email.message_from_bytes(content, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))  # multipart/alternative or a bare text/plain
    text = part.get_content().replace("\r\n", "\n") if part is not None else ""  # SMTP's CRLF, as read
    seen = {"from": str(msg.get("From", "")), "to": str(msg.get("To", "")), "rcpt_tos": list(rcpt_tos),
            "mail_from": mail_from, "subject": str(msg.get("Subject", "")), "text": text}
    alerts = alert_list.parse(text)
    return [Delivery(receiver=name, integration="email", alerts=[dict(a) for a in alerts], seen=seen)
            for name in receivers_for(rcpt_tos)]


class _Handler:
    def __init__(self, deliver: Callable[[Delivery], None]) -> None:
        self._deliver = deliver

    async def handle_DATA(self, server, session, envelope) -> str:
        try:
            deliveries = read(envelope.content, envelope.mail_from, list(envelope.rcpt_tos))
        except Exception as exc:  # a mail we cannot read is refused, so the sender logs it (and retries)
            log.warning("rejected integration=email rcpt_tos=%s reason=unreadable mail (%s)", envelope.rcpt_tos, exc)
            return f"554 Transaction failed: unreadable mail ({exc})"
        for d in deliveries:
            self._deliver(d)
        return "250 Message accepted for delivery"


def controller(port: int, deliver: Callable[[Delivery], None]) -> Controller:
    """An SMTP server on 127.0.0.1:`port` handing each mail's deliveries to `deliver` (from its own thread).
    No STARTTLS (no tls_context) and no AUTH (auth_require_tls without TLS keeps it from being offered)."""
    return Controller(_Handler(deliver), hostname="127.0.0.1", port=port, server_hostname="alert-sink",
                      ready_timeout=10.0)
