"""Mutation testing of the fast tier: break the rules and the routing on purpose, one change at a time,
for every alert where the change applies, and check the promtool/amtool tests notice (kill) each one.

Rules: threshold raised / lowered (x1.5, x0.5) and drifted (+-5 %, +-20 %), comparison flipped, severity
changed, alert renamed, `for` removed or one evaluation longer / shorter, window doubled, a grouping
label dropped, revenue label dropped. Each mutant is a full mutated copy of alerts.yml in tmp_path with its own test file
pointing at it, holding the unit-test groups that check the mutated alert (rules do not depend on each
other, so no other group can see the change). Many mutants go into one `promtool test rules <file> <file>
...` invocation (per-file verdicts), a few invocations run in parallel, in two rounds (see
_run_rule_mutants) so that the groups that cannot add anything to a killed mutant are not run.
Routing: for every alert and every receiver it reaches, a copy where that alert no longer reaches it
(checked with amtool, the alert's own route test first); a child route's group_wait changed, a
matcher changed, a group_by label dropped (checked against the runbook's routing promises); inhibit
rules deleted or with a wrong `equal` (checked by the inhibition test's parser)."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

import rulekit


def _chunks(items: list, n: int) -> list[list]:
    return [items[i::n] for i in range(n) if items[i::n]]


def _groups(tests: dict, alert: str, firing: bool | None) -> list[dict]:
    """The unit-test groups that check alert: those expecting it to fire (firing=True), the others
    (False), or all (None)."""
    out = []
    for g in rulekit.unit_tests_for(tests, [alert])["tests"]:
        fires = rulekit.group_expects_firing(g, alert)
        if firing is None or fires == firing:
            out.append(g)
    return out


def _promtool_round(promtool, jobs: list[tuple[rulekit.Mutant | None, Path, list[dict]]], tests: dict,
                    workdir: Path) -> dict[int, bool]:
    """Run each job's groups against its rules file; jobs are spread over a few promtool invocations
    run in parallel. Returns {job index: passed}."""
    files: dict[str, int] = {}
    for i, (_m, rules_file, groups) in enumerate(jobs):
        doc = dict(tests, rule_files=[str(rules_file)], tests=groups)
        path = workdir / f"job{i:03d}.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
        files[str(path)] = i

    def run(chunk: list[str]) -> str:
        return promtool.run("test", "rules", *chunk, cwd=workdir, timeout=120).stdout

    verdicts: dict[int, bool] = {}
    for out in rulekit.run_parallel(run, _chunks(list(files), rulekit.WORKERS)):
        for block in re.split(r"(?m)^Unit Testing:\s+", out)[1:]:
            name, _, rest = block.partition("\n")
            verdicts[files[name.strip()]] = "SUCCESS" in rest
    missing = [f for f, i in files.items() if i not in verdicts]
    assert not missing, f"promtool reported nothing for {missing}"
    return verdicts


def _run_rule_mutants(promtool, mutants, rules, tests, tmp_path: Path) -> None:
    """Round 1 runs, for every mutant at once, the groups where its alert is expected to fire (they kill
    almost every mutant); round 2 runs the mutant's other groups for the survivors only. A mutant that
    survives both rounds has passed every unit test of its alert. Each round carries one unmutated
    control job per alert involved, which must pass (else a kill would prove nothing)."""
    control = tmp_path / "control.yml"
    control.write_text(yaml.safe_dump(rules, sort_keys=False, width=10_000))
    for i, m in enumerate(mutants):
        m.path = tmp_path / f"m{i:03d}.yml"
        m.path.write_text(yaml.safe_dump(m.rules, sort_keys=False, width=10_000))
    pending = list(mutants)
    for rnd, firing in ((1, True), (2, False)):
        jobs = [(m, m.path, _groups(tests, m.alert, firing)) for m in pending]
        jobs = [j for j in jobs if j[2]]
        alerts = sorted({m.alert for m, _p, _g in jobs})
        jobs += [(None, control, _groups(tests, a, firing)) for a in alerts]
        d = tmp_path / f"round{rnd}"
        d.mkdir()
        verdicts = _promtool_round(promtool, jobs, tests, d)
        for i, (m, _p, _g) in enumerate(jobs):
            if m is None:
                assert verdicts[i], f"round {rnd}: the unmutated rules fail their own tests"
            elif not verdicts[i]:
                m.killed, m.by = True, f"promtool test rules (round {rnd})"
        pending = [m for m in pending if not m.killed]
    # What the unit tests cannot see (a window that changes no constant rate) the runbook's alert index
    # still states: its static check is the last judge.
    promised = rulekit.promises()
    for m in pending:
        m.killed = bool(rulekit.rule_promise_violations(m.rules, promised, only=m.alert))
        m.by = "the runbook's alert index" if m.killed else ""


def _run_routing_mutants(amtool, mutants, rules, expected, tmp_path: Path) -> None:
    by_name = rulekit.alert_rules(rules)
    promised = rulekit.promises()
    want_inhibitions = {(i["source"], i["target"], tuple(sorted(i["equal"]))) for i in expected["inhibitions"]}

    def run(item):
        i, m = item
        path = tmp_path / f"am{i:03d}.yml"
        path.write_text(yaml.safe_dump(m.am, sort_keys=False))
        if m.kind.startswith("inhibition"):
            m.killed, m.by = set(rulekit.inhibition_pairs(m.am)) != want_inhibitions, "inhibition pairs"
            return
        if rulekit.routing_promise_violations(m.am, rules, promised):
            m.killed, m.by = True, "the runbook's routing promises (receivers, timers, grouping)"
            return
        order = [m.alert] + [a for a in expected["alerts"] if a != m.alert]
        for alert in order:
            ok, _got = rulekit.route_check(amtool, path, rulekit.rule_labels(by_name[alert]),
                                           expected["alerts"][alert]["receivers"])
            if not ok:
                m.killed, m.by = True, f"amtool route test of {alert}"
                return
        m.killed = False

    rulekit.run_parallel(run, list(enumerate(mutants)))


def test_every_mutant_is_killed(promtool, amtool, rules, am, unit_tests, expected, tmp_path, capsys):
    rule_mutants = rulekit.rule_mutants(rules)
    routing_mutants = rulekit.routing_mutants(am, expected)
    n_alerts = len(rulekit.alert_rules(rules))
    kinds = Counter(m.kind for m in rule_mutants)
    for kind in ("threshold raised", "threshold lowered", "comparison flipped", "severity changed",
                 "alert renamed", "for removed"):
        assert kinds[kind] == n_alerts, f"{kind}: {kinds[kind]} mutants for {n_alerts} alerts"
    assert kinds["revenue label dropped"] == 2

    _run_rule_mutants(promtool, rule_mutants, rules, unit_tests, tmp_path)
    _run_routing_mutants(amtool, routing_mutants, rules, expected, tmp_path)

    everything = rule_mutants + routing_mutants
    table = Counter()
    for m in everything:
        table[(m.kind, bool(m.killed))] += 1
    lines = [f"{'mutation':28s} {'killed':>6s} {'total':>6s}"]
    for kind in dict.fromkeys(m.kind for m in everything):
        k, t = table[(kind, True)], table[(kind, True)] + table[(kind, False)]
        lines.append(f"{kind:28s} {k:6d} {t:6d}")
    killed = sum(1 for m in everything if m.killed)
    lines.append(f"{'all':28s} {killed:6d} {len(everything):6d}")
    with capsys.disabled():
        print("\nmutants killed by the fast tier (tests/rules):\n  " + "\n  ".join(lines))
    survivors = [f"{m.kind}: {m.alert} ({m.detail})" for m in everything if not m.killed]
    assert not survivors, "mutants not caught by any test:\n  " + "\n  ".join(survivors)
