"""One line per event on stdout: `<iso time> <LEVEL> <event words> key=value ...`.

Values come from clients (headers, emails, paths): a value that is not plain printable ASCII is written as a
JSON string (ensure_ascii: every control character, line separator, non-ASCII or lone surrogate as an escape),
so no value can end its line or forge another; the formatter escapes what is left in other loggers' messages.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import datetime, timezone

LOGGER_NAME = "backend"


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        msg = _escape(record.getMessage().replace("\n", " | "))
        if record.exc_info and record.levelno >= logging.ERROR:
            etype, evalue = record.exc_info[0], record.exc_info[1]
            if etype is not None:
                msg += f' exc={etype.__name__}:{_fmt(str(evalue))}'
        return f"{ts} {record.levelname} {msg}"


# Anything a reader may take as the end of a line (CR, VT, FF, FS-RS, NEL, U+2028/2029), other control
# characters, and lone surrogates (unencodable on stdout).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# A value written as is: printable ASCII except space, quote, = and backslash (which the quoted form escapes).
_PLAIN = re.compile(r'[!#-<>-\[\]-~]+')


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _fmt(v) -> str:
    s = str(v)
    return s if _PLAIN.fullmatch(s) else json.dumps(s)


def kv(**fields) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in fields.items() if v is not None)


_configured = False


def setup_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LineFormatter())
    root = logging.getLogger(LOGGER_NAME)
    root.handlers = [handler]
    root.setLevel(level)
    root.propagate = False
    # uvicorn's access log is replaced by our own metrics; keep its error/startup log in our format.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        for h in lg.handlers:
            h.setFormatter(LineFormatter())
    # psycopg_pool logs its own warnings; route them through our format
    pl = logging.getLogger("psycopg.pool")
    pl.handlers = [handler]
    pl.propagate = False
    pl.setLevel("WARNING")


class EventLogger:
    """log.warning("rate_limit", ip=..., route=...) -> `... WARNING rate_limit ip=... route=...`"""

    def __init__(self) -> None:
        self._log = logging.getLogger(LOGGER_NAME)
        self._last: dict[str, float] = {}

    def _emit(self, level: int, words: str, exc_info=None, **fields) -> None:
        if self._log.isEnabledFor(level):
            line = words if not fields else f"{words} {kv(**fields)}"
            self._log.log(level, line, exc_info=exc_info)

    def info(self, words: str, **f) -> None:
        self._emit(logging.INFO, words, **f)

    def warning(self, words: str, **f) -> None:
        self._emit(logging.WARNING, words, **f)

    def error(self, words: str, exc_info=None, **f) -> None:
        self._emit(logging.ERROR, words, exc_info=exc_info, **f)

    def debug(self, words: str, **f) -> None:
        self._emit(logging.DEBUG, words, **f)

    def throttled(self, key: str, interval: float) -> bool:
        """True at most once per `interval` seconds per key (for noisy repeated conditions)."""
        now = time.monotonic()
        if now - self._last.get(key, -1e9) >= interval:
            self._last[key] = now
            return True
        return False


log = EventLogger()
