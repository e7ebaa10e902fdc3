"""Where the drill copy's notifications go: production's receivers as they are, each integration's
address moved to a local receiver that speaks its protocol (the alert sink), nothing else changed.

    redirect(config, LocalReceivers("127.0.0.1:9095", "127.0.0.1:9025"))   # in place; returns notes
    mail_receivers(config)        # {"oncall@example.com": ["pagerduty"]}: which receiver mails whom

A drill then sees what production would have sent, rendered by production's own templates, and a page
can never leave the machine: an integration that cannot be redirected is refused.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alertdrill.errors import ConfigError

__all__ = ["LocalReceivers", "redirect", "mail_receivers", "copy_beside", "MARKER", "MAIL_RECEIVERS",
           "ALLOWED_CHANGES", "INTEGRATION_KEYS", "yaml_paths",
           "changes_beyond_delivery"]

# The first line stack/alertmanager/check-config looks for: a file without it is production's, which must never run here.
MARKER = "# alertdrill drill copy: notifications go to local receivers only"
MAIL_RECEIVERS = "mail-receivers.json"  # address -> receivers that mail it, for the sink to attribute mail

# Each integration: the key that holds its address, the key that may hold it in a file instead, and the
# local path it goes to ({r}: the receiver, so the sink knows whose notification it got).
_HTTP = {
    "webhook_configs": ("url", "url_file", "/hook/{r}"),
    "pagerduty_configs": ("url", None, "/pagerduty/{r}/v2/enqueue"),
    "slack_configs": ("api_url", "api_url_file", "/slack/{r}"),
    "opsgenie_configs": ("api_url", None, "/raw/{r}/opsgenie/"),
    "victorops_configs": ("api_url", None, "/raw/{r}/victorops/"),
    "wechat_configs": ("api_url", None, "/raw/{r}/wechat/"),
    "sns_configs": ("api_url", None, "/raw/{r}/sns/"),
    "telegram_configs": ("api_url", None, "/raw/{r}/telegram/"),
    "discord_configs": ("webhook_url", "webhook_url_file", "/raw/{r}/discord/"),
    "webex_configs": ("api_url", None, "/raw/{r}/webex/"),
    "msteams_configs": ("webhook_url", "webhook_url_file", "/raw/{r}/msteams/"),
}
# Global defaults an integration falls back to: pointed at the sink too, so none is left reaching out.
_GLOBAL_HTTP = {"pagerduty_url": "/pagerduty/default/v2/enqueue", "slack_api_url": "/slack/default",
                "opsgenie_api_url": "/raw/default/opsgenie/", "victorops_api_url": "/raw/default/victorops/",
                "wechat_api_url": "/raw/default/wechat/", "telegram_api_url": "/raw/default/telegram/",
                "webex_api_url": "/raw/default/webex/"}
INTEGRATION_KEYS = ("email_configs", *_HTTP)

# What the drill copy may change against production, as patterns over the dotted paths of yaml_paths
# (tests/rules/test_delivery.py diffs the two): where notifications go, the scaled timers, and the
# run label appended to group_by.
_ROUTE = r"route(\.routes\.\d+)*"
ALLOWED_CHANGES = tuple(re.compile(p) for p in (
    r"global\.(resolve_timeout|smtp_smarthost|smtp_require_tls|slack_api_url_file|"
    + "|".join(_GLOBAL_HTTP) + ")",
    *(rf"receivers\.\d+\.{kind}\.\d+\.({key}|{file_key or key})" for kind, (key, file_key, _) in _HTTP.items()),
    r"receivers\.\d+\.email_configs\.\d+\.(smarthost|require_tls)",
    _ROUTE + r"\.(group_wait|group_interval|repeat_interval)",
    _ROUTE + r"\.group_by\.\d+",
))


@dataclass(frozen=True)
class LocalReceivers:
    """The local receivers' addresses: HTTP (PagerDuty, Slack, webhooks, the rest) and SMTP, host:port."""
    http: str
    smtp: str | None = None

    @classmethod
    def from_ports(cls, ports: dict[str, int]) -> "LocalReceivers":
        if "ALERT_SINK_PORT" not in ports:
            raise ConfigError("no ALERT_SINK_PORT among the configured ports: the drill copy sends every "
                              "notification to the alert sink; add it under [tool.alertdrill.ports]")
        smtp = ports.get("ALERT_SINK_SMTP_PORT")
        return cls(f"127.0.0.1:{ports['ALERT_SINK_PORT']}", f"127.0.0.1:{smtp}" if smtp else None)


def _receivers(config: dict) -> list[dict]:
    return [r for r in config.get("receivers") or [] if isinstance(r, dict)]


def redirect(config: dict, to: LocalReceivers) -> list[str]:
    """Point every integration of every receiver, and the global defaults, at the local receivers; keep
    every other setting (templates, routing keys, channels, addresses, send_resolved). Returns notes;
    raises ConfigError for an integration that has no address to move (it would reach the real service)."""
    glob = config.setdefault("global", {}) or {}
    config["global"] = glob
    for key, path in _GLOBAL_HTTP.items():
        glob[key] = f"http://{to.http}{path}"
    glob.pop("slack_api_url_file", None)
    notes: list[str] = []
    for receiver in _receivers(config):
        name = str(receiver.get("name"))
        for kind in [k for k in receiver if k.endswith("_configs")]:
            for cfg in receiver.get(kind) or []:
                notes += _redirect_one(kind, name, cfg, to)
    if to.smtp:
        glob["smtp_smarthost"], glob["smtp_require_tls"] = to.smtp, False
    return notes


def _redirect_one(kind: str, receiver: str, cfg: dict, to: LocalReceivers) -> list[str]:
    if kind == "email_configs":
        if not to.smtp:
            raise ConfigError(f"receiver {receiver!r} sends mail, and no ALERT_SINK_SMTP_PORT is configured "
                              "for the local SMTP receiver; add it under [tool.alertdrill.ports]")
        cfg["smarthost"], cfg["require_tls"] = to.smtp, False
        return []
    if kind not in _HTTP:
        raise ConfigError(f"receiver {receiver!r} uses {kind}, whose address this Alertmanager fixes: a drill "
                          f"would reach the real service. Drillable integrations: {', '.join(INTEGRATION_KEYS)}")
    key, file_key, path = _HTTP[kind]
    if file_key:
        cfg.pop(file_key, None)
    cfg[key] = f"http://{to.http}{path.format(r=receiver)}"
    return [] if kind in ("webhook_configs", "pagerduty_configs", "slack_configs") else [
        f"receiver {receiver!r}: {kind} goes to the sink, which keeps its payload but does not judge it"]


def mail_receivers(config: dict) -> dict[str, list[str]]:
    """Every address some receiver mails -> those receivers, in config order."""
    out: dict[str, list[str]] = {}
    for receiver in _receivers(config):
        for cfg in receiver.get("email_configs") or []:
            for address in str(cfg.get("to") or "").split(","):
                if address.strip():
                    out.setdefault(address.strip(), []).append(str(receiver.get("name")))
    return out


def copy_beside(source: Path, dest_dir: Path, config: dict) -> None:
    """Production's directory mounted as it is: every file beside alertmanager.yml (templates, key files)
    copied into the drill copy's directory, which the stack mounts in its place, plus the mail map."""
    for item in source.parent.iterdir():
        if item.name == source.name or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, dest_dir / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest_dir / item.name)
    (dest_dir / MAIL_RECEIVERS).write_text(json.dumps(mail_receivers(config), indent=2) + "\n")


def yaml_paths(data: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a parsed YAML document by dotted path (list items by index)."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(yaml_paths(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def changes_beyond_delivery(production: dict, drill: dict, run_label: str) -> list[str]:
    """What the drill copy changed besides where notifications go, its timers and its run label: each
    as `path: production -> drill copy`. Empty when the drill copy is production's, redirected."""
    before, after = yaml_paths(production), yaml_paths(drill)
    out = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        group_by = re.fullmatch(_ROUTE + r"\.group_by\.\d+", path)
        allowed = (new == run_label and old is None) if group_by else any(
            p.fullmatch(path) for p in ALLOWED_CHANGES)
        if not allowed:
            out.append(f"{path}: {old!r} -> {new!r}")
    return out


def deliver_locally(text: str, to: LocalReceivers, dest_dir: Path, source: Path) -> tuple[str, list[str]]:
    """The drill copy's Alertmanager configuration (text, with its comment header kept) redirected to the
    local receivers, and production's directory copied beside it into dest_dir. Returns (text, notes)."""
    import yaml

    data = yaml.safe_load(text)
    notes = redirect(data, to)
    dest_dir.mkdir(parents=True, exist_ok=True)
    copy_beside(source, dest_dir, data)
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#") and line != MARKER)
    where = f"# PagerDuty, Slack and webhooks at http://{to.http}, mail at {to.smtp or '(no SMTP receiver)'}.\n"
    return MARKER + "\n" + header + where + yaml.safe_dump(
        data, sort_keys=False, width=10_000, allow_unicode=True, default_flow_style=False), notes
