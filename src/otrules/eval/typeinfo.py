"""Static types of a checked rule's expressions, for printing values (and withholding PHI).

At run time money and numbers are both ``Decimal``/``int``, so a value alone cannot say
whether it prints as ``2,540.00`` or ``2540``. The checker has already proved every rule well
typed; this module re-derives, per rule, the type of each expression node and of each
placeholder, following the operator table of ``semantics.md``. It never reports errors: a
shape it does not know is typed ``"unknown"`` and prints plainly.

It also marks which values are *sensitive*: anything computed from ``patient.id`` or
``patient.birth_date`` (PHI: never in a message or a trace), from ``authorization.number`` (an
identifier: never in a trace) and text read from the visit's ``payer`` (free text: not shown
as text in a trace). Messages and traces print ``(withheld)`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack

__all__ = ["EXPR_TYPERS", "FREE_TEXT", "IDENTIFIER", "PHI", "RuleTypes", "field_type"]

PHI: Final = 1  # identifies the patient: never shown, nor anything computed from it
IDENTIFIER: Final = 2  # an account-like number: messages may show it, traces never
FREE_TEXT: Final = 4  # free text from the visit: traces do not show it as text

_FIELD_TYPES: Final[dict[str, dict[str, str]]] = {
    "visit": {
        "id": "text", "date_of_service": "date", "payer": "text", "claim_type": "text",
        "place_of_service": "text", "telehealth": "flag", "claim_submitted_on": "date",
        "patient": "patient", "authorization": "authorization", "timed_minutes": "minutes",
        "line_count": "number", "stated_units_valid": "flag",
    },
    "patient": {
        "id": "text", "birth_date": "date", "ytd_ot_allowed": "money",
        "visits_this_year": "number", "treatment_days_since_progress_report": "number",
        "plan_of_care_certified_on": "date", "age": "number",
    },
    "authorization": {
        "number": "text", "visits_authorized": "number", "visits_used": "number",
        "valid_from": "date", "valid_to": "date",
    },
    "line": {
        "code": "code", "minutes": "minutes", "units": "number", "computed_units": "number",
        "performed_by": "text", "assistant_minutes": "minutes", "charge": "money",
        "position": "number", "pointer_count": "number", "timed": "flag",
    },
}
_SENSITIVE_FIELDS: Final = {
    ("patient", "id"): PHI, ("patient", "birth_date"): PHI, ("authorization", "number"): IDENTIFIER,
    ("visit", "payer"): FREE_TEXT,
}
_LITERAL_TYPES: Final = {"word": "modifier", "none": "unknown"}
_CALL_TYPES: Final = {"year": "number", "month": "number", "icd10_shape": "flag",
                      "units_for": "number"}


def field_type(pack: CheckedPack, owner: str, name: str) -> str:
    """The type of ``owner.name`` where owner is a type (``line``, ``row:ptp``, …)."""
    if owner.startswith("row:"):
        table = pack.tables.get(owner[4:])
        if table is not None:
            for column in table.columns:
                if column.name == name:
                    return column.type
        return "unknown"
    return _FIELD_TYPES.get(owner, {}).get(name, "unknown")


def _arith_type(op: str, left: str, right: str) -> str:
    if op in ("+", "-"):
        if left == "date":
            return "days" if right == "date" else "date"
        return left
    if op == "*":
        for kind in ("minutes", "money"):
            if kind in (left, right):
                return kind
        return left
    if op in ("/", "//"):  # x / number keeps x's type; x / x is a plain number
        return left if right == "number" else "number"
    return left  # %


Env = Mapping[str, str]


class _Inferrer:
    """Walks one rule, recording each node's (type, sensitivity) by node identity."""

    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self.types: dict[int, str] = {}
        self.taint: dict[int, int] = {}

    def expr(self, node: A.Expr, env: Env, taints: Mapping[str, int]) -> tuple[str, int]:
        typer = EXPR_TYPERS[type(node)]
        kind, taint = typer(self, node, env, taints)
        self.types[id(node)] = kind
        self.taint[id(node)] = taint
        return kind, taint

    def name(self, name: str, env: Env, taints: Mapping[str, int]) -> tuple[str, int]:
        if name in env:
            return env[name], taints.get(name, 0)
        param = self.pack.parameters.get(name)
        if param is not None:
            return param.type, 0
        if name == "visit":
            return "visit", 0
        return field_type(self.pack, "visit", name), _SENSITIVE_FIELDS.get(("visit", name), 0)


# Each typer returns (type, sensitivity) for one node class; children are typed through
# ``inf.expr`` so that every node gets an entry.
Typer = Callable[[_Inferrer, Any, Env, Mapping[str, int]], tuple[str, int]]


def _t_literal(inf: _Inferrer, node: A.Literal, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    kind = node.kind
    return _LITERAL_TYPES.get(kind, kind), 0


def _t_name(inf: _Inferrer, node: A.Name, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    return inf.name(node.name, env, tn)


def _t_attribute(inf: _Inferrer, node: A.Attribute, env: Env,
                 tn: Mapping[str, int]) -> tuple[str, int]:
    owner, taint = inf.expr(node.obj, env, tn)
    return field_type(inf.pack, owner, node.name), taint | _SENSITIVE_FIELDS.get(
        (owner, node.name), 0)


def _t_lookup(inf: _Inferrer, node: A.Lookup, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    taint = 0
    for key in node.keys:
        taint |= inf.expr(key, env, tn)[1]
    return f"row:{node.table}", taint


def _t_binary(inf: _Inferrer, node: A.Binary, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    left, lt = inf.expr(node.left, env, tn)
    right, rt = inf.expr(node.right, env, tn)
    if node.op in ("+", "-", "*", "/", "//", "%"):
        return _arith_type(node.op, left, right), lt | rt
    return "flag", lt | rt


def _t_unary(inf: _Inferrer, node: A.Unary, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    kind, taint = inf.expr(node.operand, env, tn)
    return ("flag" if node.op == "not" else kind), taint


def _t_flag_of(*fields: str) -> Typer:
    """A node whose value is a flag computed from the listed child fields."""

    def typer(inf: _Inferrer, node: Any, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
        taint = 0
        for f in fields:
            child = getattr(node, f)
            for item in child if isinstance(child, tuple) else (child,):
                taint |= inf.expr(item, env, tn)[1]
        return "flag", taint

    return typer


def _t_is_missing(inf: _Inferrer, node: A.IsMissing, env: Env,
                  tn: Mapping[str, int]) -> tuple[str, int]:
    inf.expr(node.subject, env, tn)
    return "flag", 0  # presence of a value tells nothing about the value


def _t_if(inf: _Inferrer, node: A.IfElse, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    _, ct = inf.expr(node.condition, env, tn)
    then, tt = inf.expr(node.then, env, tn)
    other, ot = inf.expr(node.otherwise, env, tn)
    return (then if then != "unknown" else other), ct | tt | ot


def _t_call(inf: _Inferrer, node: A.Call, env: Env, tn: Mapping[str, int]) -> tuple[str, int]:
    kinds, taint = [], 0
    for arg in node.args:
        kind, t = inf.expr(arg, env, tn)
        kinds.append(kind)
        taint |= t
    fixed = _CALL_TYPES.get(node.function)
    return (fixed or (kinds[0] if kinds else "unknown")), taint


def _t_aggregate(inf: _Inferrer, node: A.Aggregate, env: Env,
                 tn: Mapping[str, int]) -> tuple[str, int]:
    element = "line" if node.collection == "lines" else "diagnosis"
    inner = {**env, node.var: element}
    inner_taint = {**tn, node.var: 0}
    taint = 0
    value_type = "number"
    if node.value is not None:
        value_type, taint = inf.expr(node.value, inner, inner_taint)
    if node.where is not None:
        taint |= inf.expr(node.where, inner, inner_taint)[1]
    kind = {"count": "number", "sum": value_type}.get(node.kind, "flag")
    return kind, taint


EXPR_TYPERS: Final[dict[type, Typer]] = {
    A.Literal: _t_literal, A.Name: _t_name, A.Attribute: _t_attribute, A.Lookup: _t_lookup,
    A.Binary: _t_binary, A.Unary: _t_unary, A.InTable: _t_flag_of("subject"),
    A.InList: _t_flag_of("subject", "items"), A.Has: _t_flag_of("subject"),
    A.Matches: _t_flag_of("subject"), A.IsMissing: _t_is_missing, A.IfElse: _t_if,
    A.Call: _t_call, A.Aggregate: _t_aggregate,
}


class RuleTypes:
    """The types of one rule's nodes and names. Built once per rule by the back end."""

    def __init__(self, pack: CheckedPack, rule: A.Rule) -> None:
        inf = _Inferrer(pack)
        env: dict[str, str] = {}
        taints: dict[str, int] = {}
        for let in rule.lets_before:
            env[let.name], taints[let.name] = inf.expr(let.value, env, taints)
        it = rule.iteration
        if it is not None:
            element = "diagnosis" if it.kind == "diagnosis" else "line"
            env.update({name: element for name in it.names})
            if it.table is not None:
                env[it.table] = f"row:{it.table}"
            if it.where is not None:
                inf.expr(it.where, env, taints)
        for let in rule.lets_after:
            env[let.name], taints[let.name] = inf.expr(let.value, env, taints)
        for expr in (rule.when, rule.fix.value if rule.fix else None):
            if expr is not None:
                inf.expr(expr, env, taints)
        self._pack = pack
        self._types = inf.types
        self._taint = inf.taint
        self.env: Mapping[str, str] = env
        self._env_taint: Mapping[str, int] = taints
        # Placeholders are typed once per rule; the cache only ever gains the same answers,
        # so sharing it between threads is safe.
        self._paths: dict[tuple[str, ...], tuple[str, int]] = {}

    def of(self, node: A.Expr) -> str:
        return self._types.get(id(node), "unknown")

    def withheld(self, node: A.Expr) -> bool:
        """Whether a trace must not show this node's value."""
        taint = self._taint.get(id(node), 0)
        return bool(taint & (PHI | IDENTIFIER)) or (
            bool(taint & FREE_TEXT) and self.of(node) == "text")

    def path(self, path: tuple[str, ...]) -> tuple[str, int]:
        """(type, sensitivity) of a message placeholder such as ``line.code``."""
        known = self._paths.get(path)
        if known is None:
            known = self._paths[path] = self._path(path)
        return known

    def _path(self, path: tuple[str, ...]) -> tuple[str, int]:
        inf = _Inferrer(self._pack)
        kind, taint = inf.name(path[0], self.env, self._env_taint)
        for name in path[1:]:
            taint |= _SENSITIVE_FIELDS.get((kind, name), 0)
            kind = field_type(self._pack, kind, name)
        return kind, taint
