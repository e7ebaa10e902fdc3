"""Golden notifications: what each receiver's page, message and mail says for one alert, rendered offline
from the Alertmanager configuration's own templates with `amtool template render`, and checked for what
the person reading it must see (the alert's name, its severity, its summary and its runbook link).

    am = yaml.safe_load(path.read_text())
    globs = template_globs(am, path, {"/etc/alertmanager/config": Path("monitoring/alertmanager")})
    data = notification_data(am, "oncall", rule, status="firing", samples={"route": "/orders"})
    problems, rendered = golden(am, "oncall", data, globs)
    print(as_text(rendered))

What is rendered is each templated string (one containing `{{`) of every integration of the receiver
(pagerduty_configs, slack_configs, email_configs, webhook_configs and any other `*_configs`), nested ones
too (`pagerduty_configs[0].details.firing`, `links[0].href`, `slack_configs[0].fields[1].value`,
`email_configs[0].headers.Subject`). A field the configuration leaves out is not rendered: Alertmanager's
built-in default template would apply there, which amtool cannot render, so a check that needs it fails.

The notification data (what Alertmanager hands its templates for one alert) is built from a rule by
alertdrill.alerting.notification_data.notification_data.

A template that does not render (amtool exits non-zero) raises TemplateError naming the receiver, the
field, its template and amtool's message. A template that renders but shows nothing (a missing annotation
renders "" and amtool still exits 0) is caught by reading the rendered text: see `check`.
"""
from __future__ import annotations

import copy
import glob
import html
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


SEPARATOR = "\n\x1e~alertdrill-field~\x1e\n"  # between the fields rendered in one amtool call
HTML_FIELDS = {("email_configs", "html")}  # rendered as html/template does (Alertmanager's tmplHTML)
SECRET_KEYS = frozenset({"routing_key", "service_key", "api_url", "api_key", "auth_password", "auth_secret",
                         "webhook_url", "url", "http_config", "bot_token", "token", "secret"})
# Alertmanager's default of send_resolved per integration (config/notifiers.go); absent: true.
SEND_RESOLVED_DEFAULT = {"email_configs": False, "slack_configs": False, "wechat_configs": False,
                         "rocketchat_configs": False}
TITLES = {"pagerduty_configs": "PagerDuty page", "slack_configs": "Slack message", "email_configs": "Mail",
          "webhook_configs": "Webhook", "opsgenie_configs": "Opsgenie alert", "msteams_configs": "Teams message"}


class TemplateError(RuntimeError):
    """A notification template does not render (amtool exits non-zero), or its templates are not found."""


@dataclass(frozen=True)
class Field:
    path: str  # "pagerduty_configs[0].details.firing"
    keys: tuple  # the same inside the integration's config: ("details", "firing")
    template: str


@dataclass(frozen=True)
class Integration:
    receiver: str
    kind: str  # "pagerduty_configs"
    index: int
    config: dict
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}[{self.index}]"

    def sends_resolved(self) -> bool:
        return bool(self.config.get("send_resolved", SEND_RESOLVED_DEFAULT.get(self.kind, True)))


class Golden(NamedTuple):
    problems: list[str]  # empty: every notification shows what it must
    notifications: dict  # integration name -> its rendered config ("not sent: ..." when it sends nothing)


# ------------------------------------------------------------------------------------ the configuration
def templated_fields(value, path: str = "", keys: tuple = ()) -> list[Field]:
    """Every string under `value` that contains `{{`, in the order written, named by its path."""
    if isinstance(value, str):
        return [Field(path, keys, value)] if "{{" in value else []
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in templated_fields(v, f"{path}.{k}" if path else str(k),
                                                                        keys + (k,))]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in templated_fields(v, f"{path}[{i}]", keys + (i,))]
    return []


def integrations(am: dict) -> dict[str, list[Integration]]:
    """receiver -> its integrations (every `*_configs` entry), each with its templated fields."""
    out: dict[str, list[Integration]] = {}
    for receiver in am.get("receivers") or []:
        found = out.setdefault(receiver["name"], [])
        for kind, configs in receiver.items():
            if not kind.endswith("_configs"):
                continue
            for i, config in enumerate(configs or []):
                fields = tuple(Field(f"{kind}[{i}].{f.path}", f.keys, f.template) for f in templated_fields(config))
                found.append(Integration(receiver["name"], kind, i, config, fields))
    return out


def template_globs(am: dict, config_path: str | os.PathLike, path_map: dict[str, str | os.PathLike] | None = None
                   ) -> list[str]:
    """The configuration's `templates:` as globs on this machine: a path under a key of path_map (the
    directory where the file is mounted in its container) moves to the value; a relative one is taken from
    the configuration's directory, as Alertmanager does. A glob that matches no file raises TemplateError:
    the notifications could not be rendered as Alertmanager renders them."""
    mapping = sorted(((str(k).rstrip("/"), Path(v)) for k, v in (path_map or {}).items()), key=lambda kv: -len(kv[0]))
    out = []
    for written in am.get("templates") or []:
        local = str(written)
        for prefix, directory in mapping:
            if local == prefix or local.startswith(prefix + "/"):
                local = str(directory) + local[len(prefix):]
                break
        local = str(Path(config_path).parent / local) if not os.path.isabs(local) else local
        if not glob.glob(local):
            raise TemplateError(f"the template glob {written!r} of {config_path} matches no file here (looked at "
                                f"{local}); map its directory with path_map (now {dict(mapping) or 'empty'})")
        out.append(local)
    return out


# ----------------------------------------------------------------------------------------- rendering
class Renderer:
    """Renders templated fields with `amtool template render` against the configuration's templates.
    The fields of one receiver go into one amtool call per template type (text, html), joined by
    SEPARATOR; when that call fails, each field is rendered on its own to name the one that breaks."""

    def __init__(self, tool, globs: list[str]) -> None:
        self.tool, self.globs, self.calls = tool, list(globs), 0

    def _run(self, text: str, data_file: str, html: bool) -> tuple[bool, str]:
        args = [a for g in self.globs for a in ("--template.glob", g)]
        args += ["--template.text", text, "--template.data", data_file]
        if html:
            args += ["--template.type", "html"]
        self.calls += 1
        p = self.tool.run("template", "render", *args)
        return p.returncode == 0, p.stdout if p.returncode == 0 else (p.stderr or p.stdout).strip()

    def render_fields(self, receiver: str, fields: list[Field], data: dict, html: bool = False) -> dict[str, str]:
        """field path -> rendered text; TemplateError for a field amtool cannot render."""
        if not fields:
            return {}
        with tempfile.TemporaryDirectory(prefix="alertdrill-notify-") as tmp:
            data_file = os.path.join(tmp, "data.json")
            Path(data_file).write_text(json.dumps(data))
            ok, out = self._run(SEPARATOR.join(f.template for f in fields), data_file, html)
            parts = out.split(SEPARATOR) if ok else []
            if len(parts) == len(fields):
                return {f.path: part for f, part in zip(fields, parts)}
            rendered = {}
            for f in fields:
                ok, out = self._run(f.template, data_file, html)
                if not ok:
                    raise TemplateError(f"receiver {receiver}, field {f.path}: the template {f.template!r} does "
                                        f"not render with the templates {', '.join(self.globs)}: {out}")
                rendered[f.path] = out
            return rendered

    def render(self, receiver_integrations: list[Integration], data: dict) -> dict[str, dict | str]:
        """integration name -> its config with every templated field rendered and secrets masked (for a
        resolved notification, "not sent: ..." when the integration does not send resolved ones)."""
        sent = [i for i in receiver_integrations if data["status"] == "firing" or i.sends_resolved()]
        fields = [f for i in sent for f in i.fields]
        receiver = receiver_integrations[0].receiver if receiver_integrations else "?"
        is_html = {f.path: (i.kind, f.keys[0]) in HTML_FIELDS for i in sent for f in i.fields}
        rendered = {**self.render_fields(receiver, [f for f in fields if not is_html[f.path]], data),
                    **self.render_fields(receiver, [f for f in fields if is_html[f.path]], data, html=True)}
        out: dict[str, dict | str] = {}
        for integration in receiver_integrations:
            if integration not in sent:
                out[integration.name] = "not sent: send_resolved is false"
                continue
            config = _masked(copy.deepcopy(integration.config))
            for f in integration.fields:
                _put(config, f.keys, rendered[f.path])
            out[integration.name] = config
        return out


def _masked(config):
    if isinstance(config, dict):
        return {k: ("<secret>" if k in SECRET_KEYS and v not in (None, "") else _masked(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [_masked(v) for v in config]
    return config


def _put(config, keys: tuple, value: str) -> None:
    for k in keys[:-1]:
        config = config[k]
    if not (isinstance(config, dict) and config.get(keys[-1]) == "<secret>"):
        config[keys[-1]] = value


# -------------------------------------------------------------------------------------------- checks
# Per integration: where each thing a person must see may appear (any one of the fields), and the fields
# that must not render empty. A selector is a field path; `*` is every key or item at that level.
CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "pagerduty_configs": {"alert name": ("description",), "summary": ("description",),
                          "runbook link": ("links[*].href", "details.*"), "severity": ("severity",),
                          "required": ("description", "severity")},
    "slack_configs": {"alert name": ("title", "text"), "severity": ("title", "text"), "summary": ("text", "title"),
                      "runbook link": ("text", "title", "title_link", "fields[*].value", "actions[*].url"),
                      "required": ("title", "text"), "kept": ("channel",)},
    "email_configs": {"alert name": ("headers.Subject",), "severity": ("headers.Subject", "text", "html"),
                      "summary": ("text", "html"), "runbook link": ("text", "html"),
                      "required": ("headers.Subject",), "body": ("text", "html"), "kept": ("to",)},
    "webhook_configs": {},  # the payload is the notification data itself: nothing is templated to check
}
ANYWHERE = {"alert name": ("*",), "severity": ("*",), "summary": ("*",), "runbook link": ("*",)}
SHOWN = {"alert name": ("labels", "alertname"), "severity": ("labels", "severity"),
         "summary": ("annotations", "summary"), "runbook link": ("annotations", "runbook_url")}


def _pick(value, selector: list[str], path: str = "") -> list[tuple[str, object]]:
    """(path, value) of everything `selector` names in `value` (header names case-insensitive)."""
    if not selector:
        if isinstance(value, (dict, list)):  # "*" at the end: every string below
            items = value.items() if isinstance(value, dict) else enumerate(value)
            return [x for k, v in items for x in _pick(v, [], f"{path}[{k}]" if isinstance(k, int) else f"{path}.{k}")]
        return [(path.lstrip("."), value)]
    head, rest = selector[0], selector[1:]
    if isinstance(value, list) and head == "[*]":
        return [x for i, v in enumerate(value) for x in _pick(v, rest, f"{path}[{i}]")]
    if isinstance(value, dict):
        keys = list(value) if head == "*" else [k for k in value if str(k).lower() == head.lower()]
        return [x for k in keys for x in _pick(value[k], rest, f"{path}.{k}")]
    return []


def _select(config, selector: str) -> list[tuple[str, object]]:
    if selector == "*":
        return _pick(config, [])
    return _pick(config, [p for p in re.split(r"\.|(?=\[\*\])", selector) if p])


class _Reader:
    """One rendered integration, read as the person receiving it reads it."""

    def __init__(self, integration: Integration, rendered: dict) -> None:
        self.integration, self.rendered = integration, rendered
        self.templates = {f.path[len(integration.name) + 1:]: f.template for f in integration.fields}
        self.where = f"receiver {integration.receiver}, {integration.name} ({TITLES.get(integration.kind, integration.kind)})"

    def text(self, path: str, value) -> str:
        text = "" if value is None else str(value)
        return html.unescape(text) if (self.integration.kind, path.split(".")[0]) in HTML_FIELDS else text

    def describe(self, path: str, value) -> str:
        shown = self.text(path, value)
        shown = shown if len(shown) <= 160 else shown[:157] + "..."
        template = self.templates.get(path)
        return f"{self.integration.name}.{path} = {shown!r}" + (f" (template {template!r})" if template else "")

    def shows(self, what: str, expected: str, selectors: tuple[str, ...]) -> str | None:
        found = [pv for s in selectors for pv in _select(self.rendered, s)]
        if any(expected in self.text(p, v) for p, v in found):
            return None
        where = "; ".join(self.describe(p, v) for p, v in found) or f"none of {', '.join(selectors)} is set"
        return f"{self.where}: the {what} {expected!r} is not shown: {where}"

    def empty(self, selectors: tuple[str, ...], any_of: bool = False,
              unset: str = "Alertmanager's built-in default would apply, which this check cannot render: set it"
              ) -> list[str]:
        found = {s: _select(self.rendered, s) for s in selectors}
        if any_of and any(str(v).strip() for pvs in found.values() for _p, v in pvs):
            return []
        out = []
        for s, pvs in found.items():
            if not pvs:
                out.append(f"{self.where}: {self.integration.name}.{s} is not set ({unset})")
            out += [f"{self.where}: {self.describe(p, v)} renders empty" for p, v in pvs if not str(v or "").strip()]
        return out


def check(integration: Integration, rendered: dict | str, data: dict) -> list[str]:
    """What the person receiving this integration's notification would miss: the alert's name, severity,
    summary or runbook link not shown where that integration shows it (CHECKS), a required field that
    renders empty, a PagerDuty severity that is not the alert's. Empty when the notification is fine."""
    if not isinstance(rendered, dict):  # not sent
        return []
    spec = CHECKS.get(integration.kind, {**ANYWHERE, "required": ()})
    if not any(k in spec for k in SHOWN):
        return []
    alert, reader = data["alerts"][0], _Reader(integration, rendered)
    problems = reader.empty(spec.get("required", ()))
    problems += reader.empty(spec.get("kept", ()), unset="the notification would go to the integration's default")
    if "body" in spec:
        problems += reader.empty(spec["body"], any_of=True)
    for what, (section, key) in SHOWN.items():
        expected = str(alert[section].get(key) or "")
        if not expected:
            problems.append(f"{reader.where}: the alert {alert['labels'].get('alertname')} has no {key} "
                            f"{section[:-1]} to show")
        elif integration.kind == "pagerduty_configs" and what == "severity":
            got = [v for _p, v in _select(rendered, "severity")]
            if got and str(got[0]).strip() != expected:
                problems.append(f"{reader.where}: {reader.describe('severity', got[0])} is not the alert's "
                                f"severity {expected!r}")
        elif (problem := reader.shows(what, expected, spec[what])):
            problems.append(problem)
    return problems


def golden(am: dict, receiver: str, data: dict, renderer: Renderer) -> Golden:
    """Every integration of `receiver` rendered for `data` (notification_data) and checked (check)."""
    found = integrations(am)
    if receiver not in found:
        raise ValueError(f"no receiver {receiver!r} in the configuration; it has: {', '.join(found)}")
    data = {**data, "receiver": data.get("receiver") or receiver}
    notifications = renderer.render(found[receiver], data)
    problems = [p for i in found[receiver] for p in check(i, notifications[i.name], data)]
    return Golden(problems, notifications)


def as_text(notifications: dict) -> str:
    """The rendered notifications as a person reads them: one block per integration, one line per field
    (`path: value`), a multi-line value indented below its path."""
    blocks = []
    for name, config in notifications.items():
        kind = name.split("[")[0]
        lines = [f"=== {name}: {TITLES.get(kind, kind)} ==="]
        if not isinstance(config, dict):
            lines.append(str(config))
        for path, value in ([] if not isinstance(config, dict) else _pick(config, [])):
            text = json.dumps(value) if isinstance(value, bool) or value is None else str(value)
            if "\n" in text:
                lines += [f"{path}: |"] + [f"    {line}".rstrip() for line in text.split("\n")]
            else:
                lines.append(f"{path}: {text}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
