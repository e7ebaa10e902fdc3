"""The plan of a drill (`--plan`, a dry run): what it would do, read from the scenario's `run(d, ctx)`
without running it. Each `d.inject(...)`, `d.remediate(...)`, `d.investigate(...)`, `d.invariant(...)`
call is found in the source; a fault or remediation written with literal arguments is constructed (a
constructor only stores its arguments: faults act in `inject(ctx)`) to name it, and a runbook action is
looked up in the runbook. Nothing is started, stopped, edited or written.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from types import SimpleNamespace

from alertdrill.alerting.timings import FLOORS
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import Fault
from alertdrill.engine.guards import Guard
from alertdrill.engine.quiet import QuietExpectation
from alertdrill.engine.remediations import Remediation, RunbookAction
from alertdrill.errors import DrillError, InvestigationFailed
from alertdrill.runbook.promises import parse_promises

STEPS = ("steady_state", "workload", "inject", "expect_firing", "investigate", "guard", "remediate",
         "expect_resolved", "invariant", "quiet")


@dataclass
class PlanStep:
    kind: str
    text: str
    commands: list[str] = field(default_factory=list)
    problem: str = ""  # why this step cannot run as planned (e.g. the runbook lacks the action)


@dataclass
class DrillPlan:
    scenario: str
    expect: AlertExpectation
    header: list[str]
    steps: list[PlanStep]

    @property
    def problems(self) -> list[str]:
        return [s.problem for s in self.steps if s.problem]

    def describe(self) -> str:
        lines = [f"plan {self.scenario}:", *(f"  {h}" for h in self.header)]
        for s in self.steps:
            lines.append(f"  - {s.kind}: {s.text}")
            lines += [f"      $ {c}" for c in s.commands]
            if s.problem:
                lines.append(f"      MISSING: {s.problem.splitlines()[0]}")
        return "\n".join(lines)

    def check(self) -> None:
        """InvestigationFailed naming every step the runbook cannot back."""
        if self.problems:
            raise InvestigationFailed(f"the plan of {self.scenario} names runbook steps that do not exist",
                                      expected="every remediation action the drill runs present in the runbook",
                                      seen="\n".join(self.problems),
                                      hint="fix the runbook's section, or the scenario's RunbookAction(alert, match)")


def _calls(run, options: dict, depth: int = 0) -> list[tuple[str, list[ast.expr]]]:
    """(method, args) of every `d.<step>(...)` call in `run`, in source order, following the helpers
    it hands the drill to (`helper(d, ctx)`, or `TABLE[option](d, ctx)` for a parametrized scenario)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(run)))
    func = tree.body[0]
    d = func.args.args[0].arg  # type: ignore[union-attr]
    found: list[tuple[int, int, list]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if (isinstance(node.func, ast.Attribute) and node.func.attr in STEPS
                and isinstance(node.func.value, ast.Name) and node.func.value.id == d):
            found.append((node.lineno, node.col_offset, [(node.func.attr, node.args)]))
        elif depth < 3 and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == d:
            helper = _helper(node.func, run.__globals__, options)
            if helper is not None:
                found.append((node.lineno, node.col_offset, _calls(helper, options, depth + 1)))
    return [c for _l, _c, calls in sorted(found, key=lambda f: (f[0], f[1])) for c in calls]


def _helper(node: ast.expr, namespace: dict, options: dict):
    """The function a call hands the drill to: a module-level function, or TABLE[option]."""
    if isinstance(node, ast.Name) and inspect.isfunction(namespace.get(node.id)):
        return namespace[node.id]
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and isinstance(node.slice, ast.Name)
            and isinstance(namespace.get(node.value.id), dict) and node.slice.id in options):
        found = namespace[node.value.id].get(options[node.slice.id])
        return found if inspect.isfunction(found) else None
    return None


SIMPLE = (str, int, float, bool, tuple, frozenset)
SAFE_NODES = (ast.Constant, ast.Name, ast.Load, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.BinOp, ast.Add,
              ast.JoinedStr, ast.FormattedValue, ast.keyword)


def _value(node: ast.expr, namespace: dict):
    """A literal, or an expression of literals and the module's constants (e.g. env={"IP": ABUSER});
    ValueError for anything else."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if not all(isinstance(n, SAFE_NODES) for n in ast.walk(node)) or not all(
            isinstance(namespace.get(n), SIMPLE) for n in names):
        raise ValueError(ast.unparse(node))
    return eval(compile(ast.Expression(node), "<plan>", "eval"), {"__builtins__": {}},  # noqa: S307
                {n: namespace[n] for n in names})


def _construct(node: ast.expr, namespace: dict):
    """The object a literal-argument constructor call of a Fault, Remediation or Guard makes; None for
    anything else (a call needing the drill's locals, or a function that could act)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    cls = namespace.get(node.func.id)
    if not (inspect.isclass(cls) and issubclass(cls, (Fault, Remediation, Guard))):
        return None
    try:
        args = [_value(a, namespace) for a in node.args]
        kwargs = {k.arg: _value(k.value, namespace) for k in node.keywords if k.arg}
    except ValueError:
        return None
    return cls(*args, **kwargs)


def _literal(node: ast.expr | None) -> str:
    if node is None:
        return ""
    try:
        return str(ast.literal_eval(node))
    except ValueError:
        return ast.unparse(node)


def _remediation_step(node: ast.expr, namespace: dict, runbook, remediate: str) -> PlanStep:
    action = _construct(node, namespace)
    if not isinstance(action, RunbookAction):
        return PlanStep("remediate", f"the scenario's own remediation {ast.unparse(node)} (described in the runbook's prose)")
    who = "people on call follow" if remediate == "human" else "the suite runs"
    try:
        commands = action.commands(SimpleNamespace(runbook=runbook))
    except DrillError as exc:
        return PlanStep("remediate", f"{who} the runbook's {action.alert} action {action.match!r}", problem=exc.render())
    return PlanStep("remediate", f"{who} the runbook's {action.alert} action {action.match!r}", commands)


def plan_scenario(scenario: str, run, expect, timings, runbook, timeouts,
                  remediate: str = "runbook", options: dict | None = None) -> DrillPlan:
    if isinstance(expect, QuietExpectation):
        promise = expect.promise(timings, parse_promises(runbook))  # PromiseError: an alert it names is unknown
        steps = _steps(run, options, timings, runbook, remediate, expect.as_expectation(), {})
        return DrillPlan(scenario, expect.as_expectation(), [f"quiet: {promise}", FLOORS], steps)
    promises = parse_promises(runbook)
    expect = expect.against(promises)  # PromiseError: the runbook has no row for the alert
    name = expect.alertname
    fire_floor, resolve_floor = timings.floors(name, promises)
    deadline = {"fire": timings.fire_deadline(name, timeouts.fire),
                "cause gone": timings.mitigate_deadline(name, timeouts.resolve),
                "resolve": timings.resolve_deadline(name, timeouts.resolve)}
    fire, mitigate, resolve = (deadline[k].seconds for k in ("fire", "cause gone", "resolve"))
    header = [f"alert {name} ({expect.severity}) -> {', '.join(sorted(expect.receivers))}",
              f"timings {timings.label}: {timings.describe(name)}; the runbook's floors: fire {fire_floor:g}s, "
              f"resolve {resolve_floor:g}s",
              "deadlines: " + "; ".join(f"{k} {d.seconds:g}s ({d.why})" for k, d in deadline.items()),
              f"watch {timings.scale_expr(expect.watch) or '-'} (alert when {expect.threshold or '-'}); {FLOORS}"]
    steps: list[PlanStep] = []
    if name not in runbook:
        steps.append(PlanStep("runbook", f"section for {name}", problem=f"the runbook {runbook.path} has no section for {name}"))
    steps += _steps(run, options, timings, runbook, remediate, expect, {"fire": fire, "mitigate": mitigate,
                                                                        "resolve": resolve})
    return DrillPlan(scenario, expect, header, steps)


def _steps(run, options, timings, runbook, remediate: str, expect: AlertExpectation, waits: dict) -> list[PlanStep]:
    """The plan's steps, one per `d.<step>(...)` call of the scenario, in source order."""
    name, steps = expect.alertname, []
    namespace = run.__globals__
    for method, args in _calls(run, options or {}):
        arg = args[0] if args else None
        if method == "inject":
            obj = _construct(arg, namespace)
            steps.append(PlanStep("fault", obj.name if obj is not None else ast.unparse(arg)))
        elif method == "remediate":
            steps.append(_remediation_step(arg, namespace, runbook, remediate))
        elif method in ("investigate", "invariant"):
            steps.append(PlanStep(method, _literal(arg)))
        elif method == "expect_firing":
            steps.append(PlanStep("alert", f"{name} fires within {waits['fire']:g}s and reaches "
                                           f"{', '.join(sorted(expect.receivers))}"))
        elif method == "expect_resolved":
            steps.append(PlanStep("recovery", f"the watched value healthy or {name} inactive within "
                                              f"{waits['mitigate']:g}s; {name} resolved and every receiver's "
                                              f"resolved notice within {waits['resolve']:g}s"))
        elif method == "workload":
            steps.append(PlanStep("workload", ast.unparse(arg) if arg is not None else ""))
        elif method == "guard":
            obj = _construct(arg, namespace)
            steps.append(PlanStep("snapshot", obj.name if obj is not None else ast.unparse(arg)))
        elif method == "steady_state":
            steps.append(PlanStep("steady state", "every service healthy, no alert pending or firing"))
        elif method == "quiet":
            steps.append(PlanStep("quiet window", "the noise starts; held open, then judged: no alert fired, no "
                                                  "paging alert pending, nobody notified, the counters unchanged"))
    return steps
