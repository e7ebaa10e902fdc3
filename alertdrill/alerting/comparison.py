"""The threshold of an alerting expression: its comparison against a constant, found as PromQL binds it.

    split_threshold('redis_connected_clients / redis_config_maxclients * 100 > 90 and redis_config_maxclients')
    # Comparison(watch='redis_connected_clients / redis_config_maxclients * 100', op='>', value=90.0, ...)

Set operators (`and`, `or`, `unless`) bind loosest, so the expression is first split at them (outside
parentheses, brackets, braces and string literals); the first operand holding a comparison with a constant
gives the threshold. Inside an operand the last top-level comparison counts (`a > 5 == bool 1` is rare, and
`(x > bool 90) == 1` is read as `x > 90`). A constant on the left (`90 < x`) is turned round (`x > 90`).
Only the rule's own text is read: no PromQL library, no network.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(rf"^\(*\s*({_NUMBER})\s*\)*$")
_SET_OP = re.compile(r"\b(and|or|unless)\b")
_CMP = re.compile(r"==|!=|>=|<=|>|<")
_MODIFIER = re.compile(r"^\s*(?:on|ignoring)\s*\(\x00*\)\s*")  # masked: its label list is hidden
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}
_TRUE_TESTS = {("==", 1.0), ("!=", 0.0), (">", 0.0), (">=", 1.0)}  # `(x > bool 90) == 1` means x > 90
_CLOSE = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Comparison:
    watch: str  # the expression compared with the constant
    op: str
    value: float
    constant: str  # the constant as written ("0.1", "90")
    bool_modifier: bool = False  # `> bool 90`: the expression returns 0/1 rather than filtering
    whole: bool = True  # the comparison is the whole expression (no `and`/`or`/`unless` beside it)

    @property
    def threshold(self) -> str:
        """"> 90": as the runbook's alert index writes it."""
        return f"{self.op} {self.constant}"


def mask(expr: str) -> str:
    """`expr` with everything inside brackets, braces, parentheses and string literals replaced by NUL
    (the brackets themselves kept): what is left is the expression's top level, same length."""
    out, stack, quote, i = [], [], "", 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append("\x00")
            if c == "\\" and quote != "`" and i + 1 < len(expr):
                out.append("\x00")
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
            out.append("\x00")
        elif c in _CLOSE:
            out.append(c if not stack else "\x00")
            stack.append(_CLOSE[c])
        elif stack and c == stack[-1]:
            stack.pop()
            out.append(c if not stack else "\x00")
        else:
            out.append("\x00" if stack else c)
        i += 1
    return "".join(out)


def operands(expr: str) -> list[str]:
    """The operands of the top-level set operators, in order (one: the whole expression), each without its
    `on(...)`/`ignoring(...)` modifier."""
    masked = mask(expr)
    cuts = [(m.start(), m.end()) for m in _SET_OP.finditer(masked)]
    bounds = [0] + [x for cut in cuts for x in cut] + [len(expr)]
    out = []
    for start, end in zip(bounds[::2], bounds[1::2]):
        part, hidden = expr[start:end], masked[start:end]
        m = _MODIFIER.match(hidden)
        out.append(part[m.end():].strip() if m else part.strip())
    return out


def _unwrap(expr: str) -> str:
    """The expression without the parentheses around all of it."""
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")") and set(mask(expr)[1:-1]) <= {"\x00"}:
        expr = expr[1:-1].strip()
    return expr


def _number(text: str) -> str | None:
    m = _NUMBER_RE.match(text.strip())
    return m.group(1) if m else None


def _compare(operand: str) -> Comparison | None:
    """The comparison with a constant at the top level of one operand (no set operator in it)."""
    operand = _unwrap(operand)
    if len(operands(operand)) > 1:
        return split_threshold(operand)
    found = list(_CMP.finditer(mask(operand)))
    for m in reversed(found):
        left, right = operand[:m.start()].strip(), operand[m.end():].strip()
        is_bool = right.startswith("bool") and not re.match(r"bool\w", right)
        right = right[4:].strip() if is_bool else right
        op, constant, watch = m.group(), _number(right), left
        if constant is None and _number(left) is not None:
            op, constant, watch = _FLIP[op], _number(left), right
        if constant is None:
            continue
        inner = _inner_bool(watch, op, float(constant))
        return inner or Comparison(_unwrap(watch), op, float(constant), constant, is_bool)
    return None


def _inner_bool(watch: str, op: str, value: float) -> Comparison | None:
    """`(x > bool 90) == 1`: the inner comparison is the threshold."""
    if (op, value) not in _TRUE_TESTS:
        return None
    inner = _unwrap(watch)
    if inner == watch.strip():
        return None
    found = _compare(inner)
    return found if found and found.bool_modifier else None


def split_threshold(expr: str) -> Comparison | None:
    """The comparison against a constant that decides when the alert fires, or None when there is none
    (`absent(up{job="x"})`)."""
    expr = " ".join(str(expr).split())
    parts = operands(expr)
    for part in parts:
        found = _compare(part)
        if found is not None:
            return found if len(parts) == 1 else Comparison(found.watch, found.op, found.value, found.constant,
                                                            found.bool_modifier, whole=False)
    return None
