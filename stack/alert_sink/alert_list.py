"""The alert list our template prints (stack/alertmanager/templates/oncall.tmpl, "oncall.alert_list"), read
back into alerts. PagerDuty, Slack and mail carry only what a person reads, so this text is the only way
back to the alerts a notification was about.

    Firing:                        (or Resolved:; PagerDuty's details hold bare lists, no heading)
    Labels:
     - alertname = RedisDisconnected
    Annotations:
     - summary = Backend cannot reach Redis
    Started: 2026-12-05T10:00:00.000Z
    Ended: 2026-12-05T10:05:00.000Z    (resolved alerts only)
    Source: http://127.0.0.1:9090/graph

Slack wraps the list in a ``` fence: fence lines are ignored like any other line outside an alert.
"""

from __future__ import annotations

import re
from typing import Optional

HEADINGS = {"Firing:": "firing", "Resolved:": "resolved"}
# " - name = value": a label name cannot hold " = ", so the first one splits; the value may be empty.
_PAIR = re.compile(r"^ - ([a-zA-Z_][a-zA-Z0-9_]*) = ?(.*)$")

# Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over
# the sorted names and values, each followed by the 0xff separator byte, printed as 16 hex digits.
_FNV_OFFSET, _FNV_PRIME, _MASK = 14695981039346656037, 1099511628211, (1 << 64) - 1


def fingerprint(labels: dict) -> str:
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name.encode(), str(labels[name]).encode()):
            for byte in part + b"\xff":
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def parse(text: Optional[str], status: str = "firing") -> list[dict]:
    """The alerts listed in `text`, in order: {status, labels, annotations, startsAt, endsAt, generatorURL,
    fingerprint}. A Firing:/Resolved: heading gives the status of the alerts under it; `status` is that of
    alerts before any heading. Lines that are not part of an alert are ignored; no list -> []."""
    alerts: list[dict] = []
    current: Optional[dict] = None
    section: Optional[str] = None  # "labels" | "annotations" | None (the pairs' block we are in)
    last_key: Optional[str] = None  # the pair a continuation line belongs to (a multi-line annotation)
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if line.strip().strip("`") in HEADINGS:  # "Firing:", or "```Firing:" should a fence share its line
            status, current, section = HEADINGS[line.strip().strip("`")], None, None
            continue
        if line.endswith("```") and line.startswith("Source: "):  # the closing fence on the last line
            line = line[:-3]
        if line == "Labels:":
            current = {"status": status, "labels": {}, "annotations": {}, "startsAt": None, "endsAt": None,
                       "generatorURL": None}
            alerts.append(current)
            section, last_key = "labels", None
        elif current is None:
            continue
        elif line == "Annotations:":
            section, last_key = "annotations", None
        elif line.startswith(("Started: ", "Ended: ", "Source: ")):
            key, _, value = line.partition(": ")
            current[{"Started": "startsAt", "Ended": "endsAt", "Source": "generatorURL"}[key]] = value.strip()
            section = None
            if key == "Source":  # the alert's last line: what follows until the next Labels: is not ours
                current = None
        elif section and (m := _PAIR.match(line)):
            last_key = m.group(1)
            current[section][last_key] = m.group(2)
        elif section and last_key is not None:
            # A value with newlines (a description) goes on over the next lines, as the template printed it.
            current[section][last_key] += "\n" + line
    for alert in alerts:
        alert["fingerprint"] = fingerprint(alert["labels"])
    return alerts
