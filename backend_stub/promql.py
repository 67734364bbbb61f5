"""The subset of PromQL that the canary analyses and the autoscaler query, evaluated over the
emulator's scraped samples, so that the emulator runs the very queries deploy/k8s gives
Prometheus (one plan in both worlds).

Supported: numbers; vector selectors ``name{label="v", label!="v", label=~"re", label!~"re"}``
with a range ``[30s]`` under ``rate``/``increase``; ``histogram_quantile(q, v)``;
``vector(s)``; the aggregations ``sum``, ``min``, ``max``, ``avg``, ``count`` with
``by (...)`` / ``without (...)``; ``+ - * /`` between scalars and vectors (one-to-one
matching on identical label sets) and ``or``; parentheses. Anything else is a
:class:`QueryError` naming what is not supported, when the plan is loaded.

Semantics follow Prometheus 3: a range selects the samples in ``(t - range, t]``; ``rate``
and ``increase`` need two samples, handle counter resets and extrapolate to the range's
edges as Prometheus does (so a window shorter than two scrape intervals yields nothing, as
on a real server); ``histogram_quantile`` interpolates linearly inside the bucket; a vector
division by zero is NaN or ±Inf. Durations in a query are *plan* time like every controller
duration here; the caller's ``scale`` turns them into clock seconds, and rates are per clock
second.

Errors::

    QueryError (ValueError)   a query outside the subset, or not valid
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs, __name__ included for raw series
Sample = tuple[float, float]  # (time, value)


class QueryError(ValueError):
    pass


class SeriesSource(Protocol):
    def series(self, name: str) -> Iterable[tuple[Labels, Sequence[Sample]]]: ...


# -- syntax -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<dur>[0-9]+(?:ms|s|m|h|d))(?![A-Za-z0-9_])
  | (?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?![A-Za-z0-9_.])
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|[-+*/(){}\[\],=])
)""",
    re.VERBOSE,
)
_DURATION = re.compile(r"^([0-9]+)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count"})
FUNCTIONS = frozenset({"rate", "increase", "histogram_quantile", "vector"})


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.label, "")
        if self.op == "=":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        hit = re.fullmatch(self.value, v) is not None  # PromQL regexes are anchored
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True, slots=True)
class Selector:
    name: str
    matchers: tuple[Matcher, ...]
    range_s: float | None  # plan seconds


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    op: str
    by: tuple[str, ...] | None
    without: tuple[str, ...] | None
    expr: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / or
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Negate:
    expr: Node


Node = Selector | Number | Call | Aggregate | Binary | Negate


def parse(text: str) -> Node:
    tokens = _tokenize(text)
    p = _Parser(tokens, text)
    node = p.expr()
    if p.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[p.pos][1]!r} in {text.strip()!r}")
    return node


def metric_names(node: Node) -> set[str]:
    """Every metric name the query reads (what an exporter must provide)."""
    if isinstance(node, Selector):
        return {node.name}
    if isinstance(node, Call):
        return set().union(*(metric_names(a) for a in node.args)) if node.args else set()
    if isinstance(node, Aggregate | Negate):
        return metric_names(node.expr)
    if isinstance(node, Binary):
        return metric_names(node.left) | metric_names(node.right)
    return set()


def parse_duration(text: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise QueryError(f"{text!r} is not a duration (e.g. 30s, 1m)")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot read the query at {text[pos:].strip()[:20]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens, self.text, self.pos = tokens, text, 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            want = value or kind or "more"
            got = "the end" if tok is None else repr(tok[1])
            raise QueryError(f"expected {want!r}, found {got} in {self.text.strip()!r}")
        self.pos += 1
        return tok[1]

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == value and tok[0] in ("op", "name")

    def expr(self) -> Node:
        node = self.additive()
        while self.at("or"):
            self.take()
            node = Binary("or", node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at("+") or self.at("-"):
            op = self.take()
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at("*") or self.at("/"):
            op = self.take()
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("-"):
            self.take()
            return Negate(self.unary())
        if self.at("+"):
            self.take()
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError(f"the query ends too early: {self.text.strip()!r}")
        kind, value = tok
        if kind == "num":
            self.take()
            return Number(float(value))
        if value == "(":
            self.take()
            node = self.expr()
            self.take(")")
            return node
        if kind != "name":
            raise QueryError(f"unexpected {value!r} in {self.text.strip()!r}")
        if value in AGGREGATIONS:
            return self.aggregate()
        nxt = self.peek(1)
        if nxt is not None and nxt[1] == "(":
            if value not in FUNCTIONS:
                raise QueryError(
                    f"function {value}() is not in the emulator's PromQL subset "
                    f"(supported: {', '.join(sorted(FUNCTIONS | AGGREGATIONS))})"
                )
            self.take()
            self.take("(")
            args = [self.expr()]
            while self.at(","):
                self.take()
                args.append(self.expr())
            self.take(")")
            return Call(value, tuple(args))
        return self.selector()

    def labels_list(self) -> tuple[str, ...]:
        self.take("(")
        names: list[str] = []
        while not self.at(")"):
            names.append(self.take(kind="name"))
            if self.at(","):
                self.take()
        self.take(")")
        return tuple(names)

    def aggregate(self) -> Node:
        op = self.take()
        by = without = None
        if self.at("by") or self.at("without"):
            which = self.take()
            names = self.labels_list()
            by, without = (names, None) if which == "by" else (None, names)
        self.take("(")
        inner = self.expr()
        self.take(")")
        if self.at("by") or self.at("without"):
            which = self.take()
            names = self.labels_list()
            by, without = (names, None) if which == "by" else (None, names)
        return Aggregate(op, by, without, inner)

    def selector(self) -> Selector:
        name = self.take(kind="name")
        matchers: list[Matcher] = []
        if self.at("{"):
            self.take()
            while not self.at("}"):
                label = self.take(kind="name")
                tok = self.peek()
                if tok is None or tok[1] not in ("=", "!=", "=~", "!~"):
                    raise QueryError(f"expected a label matcher after {label!r} in {self.text.strip()!r}")
                op = self.take()
                raw = self.take(kind="str")
                value = raw[1:-1].encode().decode("unicode_escape")
                if op in ("=~", "!~"):
                    try:
                        re.compile(value)
                    except re.error as exc:
                        raise QueryError(f"bad regular expression {value!r}: {exc}") from None
                matchers.append(Matcher(label, op, value))
                if self.at(","):
                    self.take()
            self.take("}")
        range_s = None
        if self.at("["):
            self.take()
            tok = self.peek()
            if tok is None or tok[0] not in ("dur",):
                raise QueryError(f"expected a duration like 1m in [...] in {self.text.strip()!r}")
            range_s = parse_duration(self.take())
            self.take("]")
        return Selector(name, tuple(matchers), range_s)


# -- evaluation -------------------------------------------------------------------------

Vector = list[tuple[Labels, float]]
Value = float | Vector  # a scalar or an instant vector


def evaluate(node: Node, source: SeriesSource, *, now: float, scale: Callable[[float], float]) -> Value:
    """The query's value at ``now`` (clock seconds); ranges are plan seconds made clock
    seconds by ``scale``."""
    return _Eval(source, now, scale).eval(node)


def query(text: str, source: SeriesSource, *, now: float, scale: Callable[[float], float] = float) -> Value:
    return evaluate(parse(text), source, now=now, scale=scale)


class _Eval:
    def __init__(self, source: SeriesSource, now: float, scale: Callable[[float], float]) -> None:
        self.source, self.now, self.scale = source, now, scale

    def eval(self, node: Node) -> Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Negate):
            v = self.eval(node.expr)
            return -v if isinstance(v, float) else [(_drop_name(lab), -x) for lab, x in v]
        if isinstance(node, Selector):
            raise QueryError(
                f"{node.name}: the emulator evaluates selectors inside rate() or increase() only"
            )
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Aggregate):
            return self.aggregate(node)
        return self.binary(node)

    def call(self, node: Call) -> Value:
        if node.func in ("rate", "increase"):
            (arg,) = _arity(node, 1)
            if not isinstance(arg, Selector) or arg.range_s is None:
                raise QueryError(f"{node.func}() takes a range selector like name{{...}}[1m]")
            return self.rate(arg, is_rate=node.func == "rate")
        if node.func == "vector":
            (arg,) = _arity(node, 1)
            v = self.eval(arg)
            if not isinstance(v, float):
                raise QueryError("vector() takes a scalar")
            return [((), v)]
        q_node, v_node = _arity(node, 2)
        q, v = self.eval(q_node), self.eval(v_node)
        if not isinstance(q, float) or isinstance(v, float):
            raise QueryError("histogram_quantile(q, vector) takes a scalar and a vector")
        return histogram_quantile(q, v)

    def rate(self, sel: Selector, *, is_rate: bool) -> Vector:
        assert sel.range_s is not None
        window = self.scale(sel.range_s)
        start, end = self.now - window, self.now
        out: Vector = []
        for labels, samples in self.source.series(sel.name):
            named = dict(labels)
            if not all(m.matches(named) for m in sel.matchers):
                continue
            inside = [(t, v) for t, v in samples if start < t <= end]
            value = extrapolated_rate(inside, start, end, is_rate=is_rate)
            if value is not None:
                out.append((_drop_name(labels), value))
        return out

    def aggregate(self, node: Aggregate) -> Vector:
        v = self.eval(node.expr)
        if isinstance(v, float):
            raise QueryError(f"{node.op}() takes a vector")
        groups: dict[Labels, list[float]] = {}
        for labels, x in v:
            if node.without is None:  # by (...), or no clause: by ()
                key = tuple((k, val) for k, val in labels if k in (node.by or ()))
            else:
                dropped = set(node.without or ()) | {"__name__"}
                key = tuple((k, val) for k, val in labels if k not in dropped)
            groups.setdefault(key, []).append(x)
        fold: dict[str, Callable[[list[float]], float]] = {
            "sum": math.fsum,
            "min": min,
            "max": max,
            "avg": lambda xs: math.fsum(xs) / len(xs),
            "count": lambda xs: float(len(xs)),
        }
        return [(k, fold[node.op](xs)) for k, xs in groups.items()]

    def binary(self, node: Binary) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if node.op == "or":
            if isinstance(left, float) or isinstance(right, float):
                raise QueryError("'or' takes two vectors")
            seen = {lab for lab, _ in left}
            return left + [(lab, x) for lab, x in right if lab not in seen]
        op = _ARITH[node.op]
        if isinstance(left, float) and isinstance(right, float):
            return op(left, right)
        if isinstance(left, float):
            assert not isinstance(right, float)
            return [(_drop_name(lab), op(left, x)) for lab, x in right]
        if isinstance(right, float):
            return [(_drop_name(lab), op(x, right)) for lab, x in left]
        rights = {_drop_name(lab): x for lab, x in right}
        return [
            (_drop_name(lab), op(x, rights[_drop_name(lab)])) for lab, x in left if _drop_name(lab) in rights
        ]


def _arity(node: Call, n: int) -> tuple[Node, ...]:
    if len(node.args) != n:
        raise QueryError(f"{node.func}() takes {n} argument(s), got {len(node.args)}")
    return node.args


def _divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a)
    return a / b


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


def _drop_name(labels: Labels) -> Labels:
    return tuple((k, v) for k, v in labels if k != "__name__")


def extrapolated_rate(samples: Sequence[Sample], start: float, end: float, *, is_rate: bool) -> float | None:
    """Prometheus' ``rate``/``increase`` of a counter over ``(start, end]``: counter resets
    added back, extrapolated towards the range's edges (never before the counter's zero)."""
    if len(samples) < 2:
        return None
    first_t, first_v = samples[0]
    last_t, last_v = samples[-1]
    result = last_v - first_v
    prev = first_v
    for _, v in samples[1:]:
        if v < prev:  # a restarted process: its counter began again at 0
            result += prev
        prev = v
    sampled = last_t - first_t
    if sampled <= 0:
        return None
    to_start, to_end = first_t - start, end - last_t
    average = sampled / (len(samples) - 1)
    if result > 0 and first_v >= 0:
        to_zero = sampled * (first_v / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result *= interval / sampled
    if is_rate:
        result /= end - start
    return result


def histogram_quantile(q: float, buckets: Vector) -> Vector:
    """Prometheus' ``histogram_quantile`` over classic ``le`` buckets, per label set."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for labels, count in buckets:
        le = dict(labels).get("le")
        if le is None:
            continue
        key = tuple((k, v) for k, v in labels if k not in ("le", "__name__"))
        groups.setdefault(key, []).append((float(le), count))
    out: Vector = []
    for key, bs in groups.items():
        out.append((key, _bucket_quantile(q, sorted(bs))))
    return out


def _bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
        return math.nan
    counts: list[float] = []
    for _, c in buckets:  # rates of counters can be slightly out of order: make them monotonic
        counts.append(max(c, counts[-1]) if counts else c)
    total = counts[-1]
    if total == 0 or math.isnan(total):
        return math.nan
    rank = q * total
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start = 0.0 if b == 0 else buckets[b - 1][0]
    end = buckets[b][0]
    below = 0.0 if b == 0 else counts[b - 1]
    in_bucket = counts[b] - below
    if in_bucket == 0:
        return end
    return start + (end - start) * (rank - below) / in_bucket
