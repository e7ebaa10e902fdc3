"""Slack incoming webhooks, as Slack answers them: 200 "ok", or an error word in a text/plain body
(https://api.slack.com/messaging/webhooks#handling_errors), and the alerts read back from each
attachment's text (Alertmanager 0.25 posts attachments only, no top-level text).
"""

from __future__ import annotations

import json
import os
from typing import Any, Union

from . import alert_list
from .delivery import Delivery

CHANNELS = "#oncall-alerts,#incident-response,#engineering,#devops,@engineering-manager,@senior-engineers,@cto"


class Refused(Exception):
    """What Slack answers a post it refuses: `status` and the error word (`word`), plus why (`reason`)."""

    def __init__(self, status: int, word: str, reason: str) -> None:
        super().__init__(f"{word}: {reason}")
        self.status, self.word, self.reason = status, word, reason


def workspace_channels() -> set[str]:
    return {c.strip() for c in os.environ.get("SLACK_CHANNELS", CHANNELS).split(",") if c.strip()}


def _nonblank(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check(body: Union[bytes, str]) -> dict:
    """The message Slack would post, or Refused as Slack refuses it."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "invalid_payload", f"body is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise Refused(400, "invalid_payload", f"expected a JSON object, got {type(message).__name__}")
    attachments = message.get("attachments")
    if attachments is not None and not (isinstance(attachments, list)
                                        and all(isinstance(a, dict) for a in attachments)):
        raise Refused(400, "invalid_payload", f"'attachments' must be a list of objects, got {attachments!r:.80}")
    if not _nonblank(message.get("text")) and not attachments:
        raise Refused(400, "no_text", "neither a non-empty 'text' nor any 'attachments'")
    channel = message.get("channel")
    if channel not in (None, "") and channel not in workspace_channels():
        raise Refused(404, "channel_not_found",
                      f"channel {channel!r} is not in the workspace ({', '.join(sorted(workspace_channels()))})")
    return message


def delivery(receiver: str, message: dict) -> Delivery:
    """A checked message as a delivery: the alerts of every attachment (and of a top-level text)."""
    attachments = message.get("attachments") or []
    texts = [a.get("text") for a in attachments] + [message.get("text")]
    alerts = [a for text in texts if isinstance(text, str) for a in alert_list.parse(text)]
    first = attachments[0] if attachments else {}
    return Delivery(
        receiver=receiver, integration="slack", alerts=alerts,
        seen={"channel": message.get("channel"), "title": first.get("title"),
              "title_link": first.get("title_link"),
              "text": "\n".join(t for t in texts if isinstance(t, str)),
              "color": first.get("color"), "fallback": first.get("fallback"), "pretext": first.get("pretext"),
              "username": message.get("username")})
