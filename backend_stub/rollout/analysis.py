"""Analysis runs with Argo Rollouts' measurement rules, pure (the caller supplies values).

A measurement's value is what Argo's Prometheus provider hands the conditions: a scalar, or
the list of an instant vector's values (``[]`` when the query found no series, ``[NaN]`` for
0/0). Per metric, each measurement is Successful, Failed, Inconclusive or Error:

- the provider failed (``None``), or a condition could not be evaluated (``result[0]`` of an
  empty result, a list compared with a number): Error;
- only ``successCondition``: Successful when true, else Failed; only ``failureCondition``:
  Failed when true, else Successful; both: Failed when the failure condition holds,
  Successful when the success condition holds, else Inconclusive; neither: Successful;
- the metric is Failed when failed measurements > ``failureLimit`` (a negative limit never
  fails), Inconclusive when inconclusive ones > ``inconclusiveLimit``, Error when
  consecutive errors > ``consecutiveErrorLimit`` (later rules win, as in Argo); with
  ``count``, Successful after that many measurements that were not errors (no ``interval``
  means one).

Timing, as in Argo: the first measurement is taken as soon as the run starts, or after
``initialDelay``; the next one ``interval`` after the last, or ``ERROR_RETRY_S`` (10 s) after an
Error. So "no data yet" aborts a canary unless the conditions say what no data means, the
way Argo users write them, e.g. ``len(result) == 0 || isNaN(result[0]) || result[0] >= 0.95``.

Conditions are the part of Argo's expression language (expr-lang) that such conditions use:
numbers, ``true``/``false``, ``result``, indexing ``result[0]``, ``len()``, ``isNaN()``,
``isInf()``, ``default(result, x)``, ``asFloat()``, arithmetic ``+ - * /``, comparisons
``< <= > >= == !=``, ``!``/``not``, ``&&``/``and``, ``||``/``or`` (both short-circuit) and
parentheses.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend_stub.rollout.plan import MetricSpec, PlanError

ERROR_RETRY_S = 10.0  # Argo's DefaultErrorRetryInterval, plan seconds
Result = float | list[float]


class MeasurementPhase(enum.Enum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    RUNNING = "Running"


class ConditionError(ValueError):
    """A condition that cannot be evaluated on this value (an Error measurement)."""


# -- the condition language ------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||<=|>=|==|!=|[-+*/<>!()\[\],]))"
)
_FUNCS = frozenset({"len", "isNaN", "isInf", "default", "asFloat"})
_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}
Expr = tuple[
    Any, ...
]  # ("num", v) | ("result",) | ("bool", b) | ("call", f, args) | ("index", e, i) | (op, a, b)


def parse_condition(expr: str, *, where: str = "condition") -> Expr:
    tokens: list[str] = []
    pos = 0
    while pos < len(expr) and expr[pos:].strip():
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise PlanError(f"{where}: cannot read condition {expr!r} at {expr[pos:].strip()[:15]!r}")
        tok = m.group(m.lastgroup or "op")
        tokens.append(_WORD_OPS.get(tok, tok))
        pos = m.end()
    parser = _CondParser(tokens, expr, where)
    tree = parser.or_()
    if parser.pos != len(tokens):
        raise PlanError(f"{where}: cannot read condition {expr!r}: unexpected {tokens[parser.pos]!r}")
    return tree


def check_condition(expr: str, *, where: str) -> None:
    parse_condition(expr, where=where)


class _CondParser:
    def __init__(self, tokens: list[str], text: str, where: str) -> None:
        self.tokens, self.text, self.where, self.pos = tokens, text, where, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            found = "the end" if tok is None else repr(tok)
            raise PlanError(
                f"{self.where}: cannot read condition {self.text!r}: expected {want!r}, found {found}"
            )
        self.pos += 1
        return tok

    def or_(self) -> Expr:
        node = self.and_()
        while self.peek() == "||":
            self.take()
            node = ("||", node, self.and_())
        return node

    def and_(self) -> Expr:
        node = self.not_()
        while self.peek() == "&&":
            self.take()
            node = ("&&", node, self.not_())
        return node

    def not_(self) -> Expr:
        if self.peek() == "!":
            self.take()
            return ("!", self.not_())
        return self.compare()

    def compare(self) -> Expr:
        node = self.additive()
        if self.peek() in ("<", "<=", ">", ">=", "==", "!="):
            op = self.take()
            node = (op, node, self.additive())
        return node

    def additive(self) -> Expr:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = (op, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            node = (op, node, self.unary())
        return node

    def unary(self) -> Expr:
        if self.peek() == "-":
            self.take()
            return ("neg", self.unary())
        return self.postfix()

    def postfix(self) -> Expr:
        node = self.primary()
        while self.peek() == "[":
            self.take()
            node = ("index", node, self.or_())
            self.take("]")
        return node

    def primary(self) -> Expr:
        tok = self.take()
        if tok == "(":
            node = self.or_()
            self.take(")")
            return node
        if tok[0].isdigit():
            return ("num", float(tok))
        if tok in ("true", "false"):
            return ("bool", tok == "true")
        if tok == "result":
            return ("result",)
        if tok in _FUNCS:
            self.take("(")
            args = [self.or_()]
            while self.peek() == ",":
                self.take()
                args.append(self.or_())
            self.take(")")
            return ("call", tok, tuple(args))
        raise PlanError(
            f"{self.where}: cannot read condition {self.text!r}: unknown {tok!r} "
            f"(known: result, {', '.join(sorted(_FUNCS))}, numbers, true, false)"
        )


def evaluate_condition(expr: str | Expr, result: Result | None) -> bool:
    """The condition's truth for ``result``; :class:`ConditionError` where Argo errors."""
    tree = parse_condition(expr) if isinstance(expr, str) else expr
    out = _eval(tree, result)
    if not isinstance(out, bool):
        raise ConditionError(f"expected bool, but got {type(out).__name__}")
    return out


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConditionError(f"invalid operation: {what} on {_kind(v)}")
    return float(v)


def _kind(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, list):
        return "[]float64"
    if isinstance(v, bool):
        return "bool"
    return "float64"


def _eval(node: Expr, result: Result | None) -> Any:
    kind = node[0]
    if kind in {"num", "bool"}:
        return node[1]
    if kind == "result":
        return result
    if kind == "||":
        return _truth(_eval(node[1], result)) or _truth(_eval(node[2], result))
    if kind == "&&":
        return _truth(_eval(node[1], result)) and _truth(_eval(node[2], result))
    if kind == "!":
        return not _truth(_eval(node[1], result))
    if kind == "neg":
        return -_number(_eval(node[1], result), "-")
    if kind == "index":
        seq, i = _eval(node[1], result), _eval(node[2], result)
        if not isinstance(seq, list):
            raise ConditionError(f"cannot index {_kind(seq)}")
        n = int(_number(i, "index"))
        if not -len(seq) <= n < len(seq):
            raise ConditionError(f"index out of range: {n} (array length is {len(seq)})")
        return seq[n]
    if kind == "call":
        return _call(node[1], [_eval(a, result) for a in node[2]], result)
    a, b = _eval(node[1], result), _eval(node[2], result)
    if kind in ("==", "!="):
        return (a == b) if kind == "==" else (a != b)
    x, y = _number(a, kind), _number(b, kind)
    arith: dict[str, Callable[[float, float], Any]] = {
        "<": lambda p, q: p < q,
        "<=": lambda p, q: p <= q,
        ">": lambda p, q: p > q,
        ">=": lambda p, q: p >= q,
        "+": lambda p, q: p + q,
        "-": lambda p, q: p - q,
        "*": lambda p, q: p * q,
        "/": lambda p, q: p / q if q else (math.nan if p == 0 else math.copysign(math.inf, p)),
    }
    return arith[kind](x, y)


def _truth(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConditionError(f"expected bool, but got {_kind(v)}")
    return v


def _call(name: str, args: list[Any], result: Result | None) -> Any:
    if name == "default":  # Argo: the default when the provider's value is nil
        if len(args) != 2:
            raise ConditionError("default() takes 2 arguments")
        return args[1] if result is None else result
    if len(args) != 1:
        raise ConditionError(f"{name}() takes 1 argument")
    (v,) = args
    if name == "len":
        if not isinstance(v, list):
            raise ConditionError(f"invalid argument for len (type {_kind(v)})")
        return float(len(v))
    if name == "asFloat":
        return _number(v, "asFloat")
    x = _number(v, name)
    return math.isnan(x) if name == "isNaN" else math.isinf(x)


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Measurement:
    at: float
    value: Result | None
    phase: MeasurementPhase
    message: str = ""


@dataclass
class MetricRun:
    spec: MetricSpec
    measurements: list[Measurement] = field(default_factory=list)
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    phase: MeasurementPhase = MeasurementPhase.RUNNING
    message: str = ""

    def measure(self, at: float, value: Result | None, *, error: str = "") -> Measurement:
        """Record one measurement; ``value`` None means the provider failed (``error`` says why)."""
        phase, message = self._assess(value, error)
        m = Measurement(at, value, phase, message)
        self.measurements.append(m)
        if phase is MeasurementPhase.ERROR:
            self.errors += 1
            self.consecutive_errors += 1
        else:
            self.consecutive_errors = 0
        if phase is MeasurementPhase.SUCCESSFUL:
            self.successful += 1
        elif phase is MeasurementPhase.FAILED:
            self.failed += 1
        elif phase is MeasurementPhase.INCONCLUSIVE:
            self.inconclusive += 1
        self._conclude()
        return m

    def _assess(self, value: Result | None, error: str) -> tuple[MeasurementPhase, str]:
        spec = self.spec
        if value is None:
            return MeasurementPhase.ERROR, error or "no value from the provider"
        try:
            ok = evaluate_condition(spec.success_condition, value) if spec.success_condition else None
            bad = evaluate_condition(spec.failure_condition, value) if spec.failure_condition else None
        except ConditionError as exc:
            return MeasurementPhase.ERROR, f"could not evaluate condition: {exc}"
        if ok is None and bad is None:
            return MeasurementPhase.SUCCESSFUL, ""
        if bad is None:
            bad = not ok
        if ok is None:
            ok = not bad
        if bad:
            return MeasurementPhase.FAILED, ""
        return (MeasurementPhase.SUCCESSFUL if ok else MeasurementPhase.INCONCLUSIVE), ""

    def _conclude(self) -> None:
        spec = self.spec
        phase, message = MeasurementPhase.RUNNING, ""
        if spec.failure_limit >= 0 and self.failed > spec.failure_limit:
            phase = MeasurementPhase.FAILED
            message = f"failed ({self.failed}) > failureLimit ({spec.failure_limit})"
        if self.inconclusive > spec.inconclusive_limit:
            phase = MeasurementPhase.INCONCLUSIVE
            message = f"inconclusive ({self.inconclusive}) > inconclusiveLimit ({spec.inconclusive_limit})"
        if self.consecutive_errors > spec.consecutive_error_limit:
            phase = MeasurementPhase.ERROR
            message = (
                f"consecutiveErrors ({self.consecutive_errors}) > "
                f"consecutiveErrorLimit ({spec.consecutive_error_limit})"
            )
        count = spec.effective_count
        taken = self.successful + self.failed + self.inconclusive
        if phase is MeasurementPhase.RUNNING and count is not None and taken >= count:
            phase = MeasurementPhase.SUCCESSFUL
        self.phase, self.message = phase, message


@dataclass
class AnalysisRun:
    """One background analysis: every metric measured on its own schedule."""

    metrics: list[MetricRun]
    started_at: float
    next_at: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(
        cls, specs: tuple[MetricSpec, ...], *, now: float, scale: Callable[[float], float]
    ) -> AnalysisRun:
        run = cls([MetricRun(s) for s in specs], now)
        for s in specs:
            run.next_at[s.name] = now + scale(s.initial_delay_s)  # at once, as Argo measures
        return run

    def due(self, now: float) -> list[MetricRun]:
        return [
            m
            for m in self.metrics
            if m.phase is MeasurementPhase.RUNNING and now >= self.next_at[m.spec.name]
        ]

    def advance(self, m: MetricRun, now: float, *, scale: Callable[[float], float]) -> None:
        last = m.measurements[-1] if m.measurements else None
        errored = last is not None and last.phase is MeasurementPhase.ERROR
        wait = ERROR_RETRY_S if errored else m.spec.interval_s
        self.next_at[m.spec.name] = now + scale(wait or 0.0)

    @property
    def phase(self) -> MeasurementPhase:
        phases = {m.phase for m in self.metrics}
        for p in (MeasurementPhase.FAILED, MeasurementPhase.ERROR, MeasurementPhase.INCONCLUSIVE):
            if p in phases:
                return p
        if phases == {MeasurementPhase.SUCCESSFUL}:
            return MeasurementPhase.SUCCESSFUL
        return MeasurementPhase.RUNNING
