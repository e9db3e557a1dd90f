"""Can a rule's condition never be true? A cheap, sound-for-what-it-finds analysis.

The `where` of `for each` and the `when` of a rule are taken as one conjunction. It is never
true when a part folds to a constant no, when two parts contradict each other (``X and not
X``; ``line has M and line lacks M``; ``x = a and x = b``; ``x > 5 and x < 3``; ``x is missing
and x > 5``), or when every alternative of an ``or`` part contradicts the rest. Everything is
iterative or bounded: expressions deeper than a small limit are simply not compared.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from otrules.diagnostics import Span
from otrules.lang import ast as A
from otrules.lang.typing_rules import chain, children

_COMPARE = {"=", "!=", "<", "<=", ">", ">="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}
_ORDERED_KINDS = {"number", "minutes", "money", "days", "date"}
_MAX_COMPARED_DEPTH = 40  # structural comparison and hashing of AST nodes recurse
_BRANCH_BUDGET = 64  # `or` parts are expanded at most this many times per rule
_NOT_CONST = object()


@attrs.frozen
class Verdict:
    message: str  # why the condition can never be true
    span: Span | None


@attrs.frozen
class FixedComparison:
    node: A.Binary
    result: bool


Text = Callable[[A.Expr], str]


# ---------------------------------------------------------------------------- folding


def fold(expr: A.Expr, found: list[FixedComparison] | None = None) -> Any:
    """The constant value of ``expr`` when literals alone decide it, else ``_NOT_CONST``.
    Comparisons between two literals are appended to ``found``."""
    if isinstance(expr, A.Literal):
        return (expr.kind, expr.value) if expr.kind != "none" else _NOT_CONST
    if not isinstance(expr, A.Binary | A.Unary):
        return _NOT_CONST  # only literals, `not`, `-`, comparisons and logic fold
    if isinstance(expr, A.Binary) and expr.op in _COMPARE and not (
            isinstance(expr.left, A.Literal | A.Unary)
            and isinstance(expr.right, A.Literal | A.Unary)):
        return _NOT_CONST  # the common case, `x > 5`: decided without a walk
    stack: list[tuple[A.Expr, bool]] = [(expr, False)]
    values: dict[int, Any] = {}
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            for kid in _fold_children(node):
                stack.append((kid, False))
            continue
        values[id(node)] = _fold_node(node, values, found)
    return values[id(expr)]


def _fold_children(node: A.Expr) -> tuple[A.Expr, ...]:
    # Arithmetic is never folded, so its operands need no visit.
    if isinstance(node, A.Binary) and (node.op in _COMPARE or node.op in ("and", "or")):
        return (node.left, node.right)
    if isinstance(node, A.Unary):
        return (node.operand,)
    return ()


def _fold_node(node: A.Expr, values: dict[int, Any], found: list[FixedComparison] | None
               ) -> Any:
    if isinstance(node, A.Literal):
        return (node.kind, node.value) if node.kind != "none" else _NOT_CONST
    if isinstance(node, A.Unary):
        inner = values[id(node.operand)]
        if inner is _NOT_CONST:
            return _NOT_CONST
        if node.op == "not" and inner[0] == "flag":
            return ("flag", not inner[1])
        if node.op == "-" and inner[0] in _ORDERED_KINDS - {"date"}:
            return (inner[0], -inner[1])
        return _NOT_CONST
    if not isinstance(node, A.Binary) or id(node.left) not in values:
        return _NOT_CONST  # arithmetic
    left, right = values[id(node.left)], values[id(node.right)]
    if node.op in ("and", "or"):
        return _fold_logic(node.op, left, right)
    if node.op not in _COMPARE or _NOT_CONST in (left, right):
        return _NOT_CONST
    result = _compare_constants(node.op, left, right)
    if result is None:
        return _NOT_CONST
    if found is not None and isinstance(node.left, A.Literal) \
            and isinstance(node.right, A.Literal):
        found.append(FixedComparison(node, result))
    return ("flag", result)


def _fold_logic(op: str, left: Any, right: Any) -> Any:
    flags = [v[1] if v is not _NOT_CONST and v[0] == "flag" else None for v in (left, right)]
    decisive = op == "or"  # or: a yes decides; and: a no decides
    if decisive in flags:
        return ("flag", decisive)
    if None in flags:
        return _NOT_CONST
    return ("flag", not decisive)


def _compare_constants(op: str, left: Any, right: Any) -> bool | None:
    (lk, lv), (rk, rv) = left, right
    if lk != rk:
        return None
    if op == "=":
        return bool(lv == rv)
    if op == "!=":
        return bool(lv != rv)
    if lk not in _ORDERED_KINDS:
        return None
    return _ordered(op, lv, rv)


_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _ordered(op: str, a: Any, b: Any) -> bool:
    return bool(_ORDER[op](a, b))


# ---------------------------------------------------------------------------- atoms


def _shallow(expr: A.Expr) -> bool:
    """Whether ``expr`` is shallow enough to hash and compare without deep recursion."""
    level = [expr]  # the nodes at one depth, level by level
    depth = 1
    while level:
        if depth > _MAX_COMPARED_DEPTH:
            return False
        level = [kid for node in level for kid in children(node)]
        depth += 1
    return True


def _polarity(expr: A.Expr) -> tuple[A.Expr, bool]:
    positive = True
    while isinstance(expr, A.Unary) and expr.op == "not":
        expr, positive = expr.operand, not positive
    if isinstance(expr, A.IsMissing) and expr.negated:
        expr, positive = attrs.evolve(expr, negated=False), not positive
    return expr, positive


class _Facts:
    """What the conjuncts seen so far say, per subject expression. (A plain slotted class:
    one is made for every branch the search explores, and attrs' factories cost more.)"""

    __slots__ = (
        "allowed",
        "compared",
        "equal",
        "forbidden",
        "groups",
        "lower",
        "missing",
        "required",
        "seen",
        "unequal",
        "upper",
    )

    def __init__(self) -> None:
        self.seen: dict[Any, tuple[bool, A.Expr]] = {}
        self.missing: dict[Any, A.Expr] = {}
        self.equal: dict[Any, tuple[Any, A.Expr]] = {}
        self.unequal: dict[Any, dict[Any, A.Expr]] = {}
        self.allowed: dict[Any, tuple[frozenset[Any], A.Expr]] = {}
        self.lower: dict[Any, tuple[Any, bool, A.Expr]] = {}
        self.upper: dict[Any, tuple[Any, bool, A.Expr]] = {}
        self.compared: dict[Any, A.Expr] = {}  # a value is needed
        self.required: dict[Any, dict[str, A.Expr]] = {}
        self.forbidden: dict[Any, dict[str, A.Expr]] = {}
        # `has any of` / `has more than one of`: (modifiers, how many needed, part)
        self.groups: dict[Any, list[tuple[tuple[str, ...], int, A.Expr]]] = {}


def never_true(conditions: Iterable[A.Expr], text: Text) -> Verdict | None:
    """Why the conjunction of ``conditions`` can never be true, or None if it might be."""
    return _Search(text).conjunction(chain(conditions, "and"))


class _Search:
    """One analysis: the source text for messages, the branch budget, and which atoms are
    shallow enough to compare (atoms recur in every branch of an `or`)."""

    def __init__(self, text: Text) -> None:
        self.text = text
        self.budget = _BRANCH_BUDGET
        self.shallow: dict[int, bool] = {}
        self.always_no: dict[int, bool] = {}  # parts recur in every branch: fold each once

    def conjunction(self, parts: list[A.Expr]) -> Verdict | None:
        facts = _Facts()
        alternatives: list[A.Expr] = []
        for part in parts:
            always_no = self.always_no.get(id(part))
            if always_no is None:
                always_no = self.always_no[id(part)] = fold(part) == ("flag", False)
            if always_no:
                return Verdict(f"`{self.text(part)}` is always no", part.span)
            if isinstance(part, A.Binary) and part.op == "or":
                alternatives.append(part)
                continue
            clash = self.add(facts, part)
            if clash is not None:
                return Verdict(f"`{self.text(clash)}` and `{self.text(part)}` cannot both be "
                               "true", part.span)
        for alt in alternatives:
            rest = [p for p in parts if p is not alt]
            if self.all_branches_fail(alt, rest):
                return Verdict(f"no alternative of `{self.text(alt)}` can be true together "
                               "with the rest of the condition", alt.span)
        return None

    def all_branches_fail(self, alt: A.Expr, rest: list[A.Expr]) -> bool:
        for branch in chain([alt], "or"):
            self.budget -= 1
            if self.budget < 0:
                return False
            if self.conjunction([*rest, *chain([branch], "and")]) is None:
                return False
        return True

    def add(self, facts: _Facts, part: A.Expr) -> A.Expr | None:
        atom, positive = _polarity(part)
        shallow = self.shallow.get(id(part))
        if shallow is None:
            shallow = self.shallow[id(part)] = _shallow(atom)
        return _add(facts, atom, positive, part) if shallow else None


def _add(facts: _Facts, atom: A.Expr, positive: bool, part: A.Expr) -> A.Expr | None:
    """Record ``part`` (``atom``, or its negation); return an earlier part it contradicts."""
    earlier = facts.seen.get(atom)
    if earlier is not None and earlier[0] != positive:
        return earlier[1]
    facts.seen.setdefault(atom, (positive, part))
    if isinstance(atom, A.Has):
        return _add_has(facts, atom, positive, part)
    if isinstance(atom, A.IsMissing):
        return _add_missing(facts, atom, positive, part)
    if isinstance(atom, A.InList):
        return _add_in_list(facts, atom, positive, part)
    if isinstance(atom, A.Binary) and atom.op in _COMPARE:
        return _add_comparison(facts, atom, positive, part)
    return None


def _add_has(facts: _Facts, atom: A.Has, positive: bool, part: A.Expr) -> A.Expr | None:
    present = positive != atom.negated  # the modifiers must be there (has), or not (lacks)
    required = facts.required.setdefault(atom.subject, {})
    forbidden = facts.forbidden.setdefault(atom.subject, {})
    groups = facts.groups.setdefault(atom.subject, [])
    if present and atom.mode in ("one", "all"):
        for mod in atom.modifiers:
            if mod in forbidden:
                return forbidden[mod]
            required.setdefault(mod, part)
    elif not present and atom.mode in ("one", "any"):
        for mod in atom.modifiers:
            if mod in required:
                return required[mod]
            forbidden.setdefault(mod, part)
    elif present and atom.mode in ("any", "many"):
        groups.append((atom.modifiers, 1 if atom.mode == "any" else 2, part))
    for mods, need, group_part in groups:
        blocked = [m for m in mods if m in forbidden]
        if blocked and len(mods) - len(blocked) < need:
            return group_part if group_part is not part else forbidden[blocked[0]]
    return None


def _add_missing(facts: _Facts, atom: A.IsMissing, positive: bool, part: A.Expr
                 ) -> A.Expr | None:
    if not positive:
        return None
    facts.missing.setdefault(atom.subject, part)
    return facts.compared.get(atom.subject)


def _needs_value(facts: _Facts, subjects: tuple[A.Expr, ...], part: A.Expr) -> A.Expr | None:
    """A comparison is missing, so never true, when a compared value is missing."""
    for subject in subjects:
        if subject in facts.missing:
            return facts.missing[subject]
        facts.compared.setdefault(subject, part)
    return None


def _add_in_list(facts: _Facts, atom: A.InList, positive: bool, part: A.Expr
                 ) -> A.Expr | None:
    clash = _needs_value(facts, (atom.subject,), part)
    if clash is not None or positive == atom.negated:
        return clash
    values = [fold(i) for i in atom.items]
    if _NOT_CONST in values:
        return None
    allowed = frozenset(values)
    equal = facts.equal.get(atom.subject)
    if equal is not None and equal[0] not in allowed:
        return equal[1]
    earlier = facts.allowed.get(atom.subject)
    if earlier is not None:
        allowed &= earlier[0]
        if not allowed:
            return earlier[1]
    facts.allowed[atom.subject] = (allowed, part)
    return None


def _add_comparison(facts: _Facts, atom: A.Binary, positive: bool, part: A.Expr
                    ) -> A.Expr | None:
    clash = _needs_value(facts, (atom.left, atom.right), part)
    if clash is not None:
        return clash
    op = atom.op if positive else _NEGATE[atom.op]
    subject, value = atom.left, fold(atom.right)
    if value is _NOT_CONST:
        subject, value, op = atom.right, fold(atom.left), _FLIP[op]
    if value is _NOT_CONST:
        return None
    if op == "=":
        return _add_equal(facts, subject, value, part)
    if op == "!=":
        equal = facts.equal.get(subject)
        if equal is not None and equal[0] == value:
            return equal[1]
        facts.unequal.setdefault(subject, {}).setdefault(value, part)
        return None
    if value[0] not in _ORDERED_KINDS:
        return None
    return _add_bound(facts, subject, value, op, part)


def _add_equal(facts: _Facts, subject: A.Expr, value: Any, part: A.Expr) -> A.Expr | None:
    equal = facts.equal.get(subject)
    if equal is not None and equal[0] != value:
        return equal[1]
    allowed = facts.allowed.get(subject)
    if allowed is not None and value not in allowed[0]:
        return allowed[1]
    unequal = facts.unequal.get(subject, {}).get(value)
    if unequal is not None:
        return unequal
    facts.equal[subject] = (value, part)
    if value[0] in _ORDERED_KINDS:
        clash = _add_bound(facts, subject, value, ">=", part)
        return clash or _add_bound(facts, subject, value, "<=", part)
    return None


def _add_bound(facts: _Facts, subject: A.Expr, value: Any, op: str, part: A.Expr
               ) -> A.Expr | None:
    kind, number = value
    key = (subject, kind)
    inclusive = op in ("<=", ">=")
    mine, other = (facts.lower, facts.upper) if op in (">", ">=") else (facts.upper,
                                                                         facts.lower)
    opposite = other.get(key)
    if opposite is not None:
        lo, hi = ((number, inclusive), opposite[:2]) if mine is facts.lower else (
            opposite[:2], (number, inclusive))
        if lo[0] > hi[0] or (lo[0] == hi[0] and not (lo[1] and hi[1])):
            return opposite[2]
    current = mine.get(key)
    tighter = current is None or (number > current[0] if mine is facts.lower
                                  else number < current[0]) or (
        number == current[0] and not inclusive)
    if tighter:
        mine[key] = (number, inclusive, part)
    return None
