"""A load run's final statistics (alertdrill.load.locust): read from the report the reporter wrote on
locust's `quit`, or from locust's CSV files where there is none."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoadStats:
    """Final locust statistics: one row per request name, plus "Aggregated".

    rows: name -> {"requests", "failures", "median_ms", "p95_ms", "avg_ms", "max_ms", "rps", "method"}.
    """
    rows: dict[str, dict] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)      # failures by kind: method, name, error, occurrences
    exceptions: list[dict] = field(default_factory=list)  # errors raised inside users: count, message, traceback
    users: dict[str, int] = field(default_factory=dict)   # users per class when the run stopped
    returncode: int | None = None
    source: str = ""  # "report" (exact, at quit) | "csv" (fallback: may miss the last second) | "" (none)
    log_path: Path | None = None

    def _row(self, name: str) -> dict:
        if name in self.rows:
            return self.rows[name]
        if name == "Aggregated":
            return {"requests": 0, "failures": 0}
        raise KeyError(f"no request named {name!r} in the load's stats; names seen: {sorted(self.rows)}")

    def requests(self, name: str = "Aggregated") -> int:
        return int(self._row(name).get("requests", 0))

    def failures(self, name: str = "Aggregated") -> int:
        return int(self._row(name).get("failures", 0))

    @property
    def names(self) -> list[str]:
        return sorted(n for n in self.rows if n != "Aggregated")

    def summary(self) -> str:
        lines = [f"{'name':40} {'reqs':>7} {'fails':>6} {'med ms':>7} {'p95 ms':>7} {'req/s':>7}"]
        for name in [*self.names, "Aggregated"]:
            r = self._row(name)
            lines.append(f"{name[:40]:40} {r.get('requests', 0):>7} {r.get('failures', 0):>6} "
                         f"{_fmt(r.get('median_ms')):>7} {_fmt(r.get('p95_ms')):>7} {_fmt(r.get('rps')):>7}")
        for e in self.errors[:10]:
            lines.append(f"  failure x{e.get('occurrences')}: {e.get('method')} {e.get('name')}: {e.get('error')}")
        for e in self.exceptions[:5]:
            lines.append(f"  exception x{e.get('count')}: {e.get('message')}")
        return "\n".join(lines)

    __str__ = summary


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def _percentile(response_times: dict[int, int], n: int, pct: float) -> int | None:
    """Locust's own rule (stats.calculate_response_time_percentile) over its rounded-ms histogram."""
    if n <= 0:
        return None
    target = int(n * pct)
    seen = 0
    for rt in sorted(response_times, reverse=True):
        seen += response_times[rt]
        if n - seen <= target:
            return rt
    return 0


def _row_from_entries(entries: list[dict]) -> dict:
    times: dict[int, int] = {}
    for e in entries:
        for k, v in (e.get("response_times") or {}).items():
            times[int(float(k))] = times.get(int(float(k)), 0) + int(v)
    requests = sum(int(e.get("num_requests", 0)) for e in entries)
    failures = sum(int(e.get("num_failures", 0)) for e in entries)
    timed = requests - sum(int(e.get("num_none_requests", 0)) for e in entries)
    total_rt = sum(float(e.get("total_response_time", 0)) for e in entries)
    starts = [e["start_time"] for e in entries if e.get("start_time")]
    lasts = [e["last_request_timestamp"] for e in entries if e.get("last_request_timestamp")]
    span = (max(lasts) - min(starts)) if starts and lasts else 0.0
    return {
        "method": ",".join(sorted({e.get("method") or "" for e in entries})),
        "requests": requests,
        "failures": failures,
        "median_ms": _percentile(times, timed, 0.5),
        "p95_ms": _percentile(times, timed, 0.95),
        "avg_ms": round(total_rt / timed, 1) if timed else None,
        "max_ms": max((int(e.get("max_response_time") or 0) for e in entries), default=0) if requests else None,
        "rps": round(requests / max(span, 1.0), 3),  # locust's total_rps: count over max(span, 1 s)
    }


def rows_from_entries(entries: list[dict]) -> dict[str, dict]:
    """Rows from locust StatsEntry.serialize() dicts (one per name+method)."""
    by_name: dict[str, list[dict]] = {}
    for e in entries:
        by_name.setdefault(e["name"], []).append(e)  # same name, several methods: one row
    rows = {name: _row_from_entries(es) for name, es in by_name.items()}
    rows["Aggregated"] = _row_from_entries(entries)
    return rows


def _num(v: str):
    if v in ("", "N/A", None):
        return None
    try:
        f = float(v)
    except ValueError:
        return None
    return int(f) if f.is_integer() else f


def stats_from_csv(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            name = r.get("Name") or ""
            rows[name] = {
                "method": r.get("Type") or "",
                "requests": int(_num(r.get("Request Count", "0")) or 0),
                "failures": int(_num(r.get("Failure Count", "0")) or 0),
                "median_ms": _num(r.get("Median Response Time", "")),
                "p95_ms": _num(r.get("95%", "")),
                "avg_ms": _num(r.get("Average Response Time", "")),
                "max_ms": _num(r.get("Max Response Time", "")),
                "rps": _num(r.get("Requests/s", "")),
            }
    rows.setdefault("Aggregated", {"requests": 0, "failures": 0})
    return rows


def read_csv_list(path: Path) -> list[dict]:
    try:
        with path.open(newline="") as fh:
            return [{k.lower().replace(" ", "_"): v for k, v in r.items()} for r in csv.DictReader(fh)]
    except (OSError, csv.Error):
        return []
