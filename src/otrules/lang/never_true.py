"""Can a rule's condition never be true? A cheap, sound-for-what-it-finds analysis.

The `where` of `for each` and the `when` of a rule are taken as one conjunction. It is never
true when a part folds to a constant no, when two parts contradict each other (``X and not
X``; ``line has M and line lacks M``; ``x = a and x = b``; ``x > 5 and x < 3``; ``x is missing
and x > 5``), or when every alternative of an ``or`` part contradicts the rest. Everything is
iterative or bounded: expressions deeper than a small limit are simply not compared.

Most conditions can be true, and a quick proof (:func:`cannot_fail`, one pass over the
condition) shows so for most of them; only the others go to the search, which gives the same
answer either way.
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
    conditions = list(conditions)
    if cannot_fail(conditions):
        return None  # most conditions: shown to be possible without the search
    return _Search(text).conjunction(chain(conditions, "and"))


class _Search:
    """One analysis: the source text for messages, the branch budget, and which atoms are
    shallow enough to compare (atoms recur in every branch of an `or`)."""

    def __init__(self, text: Text) -> None:
        self.text = text
        self.budget = _BRANCH_BUDGET
        self.shallow: dict[int, bool] = {}
        self.always_no: dict[int, bool] = {}  # parts recur in every branch: fold each once

    def folds_to_no(self, part: A.Expr) -> bool:
        always_no = self.always_no.get(id(part))
        if always_no is None:
            always_no = self.always_no[id(part)] = fold(part) == ("flag", False)
        return always_no

    def conjunction(self, parts: list[A.Expr]) -> Verdict | None:
        facts = _Facts()
        alternatives: list[A.Expr] = []
        for part in parts:
            if self.folds_to_no(part):
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


# ---------------------------------------------------------------------------- quick proof
#
# Most conditions can be true, and most can be shown to be so without the search, which
# re-adds every other part of the condition once per branch of each `or`. The search finds
# a condition never true only (a) when some part folds to no, or (b) when _add finds two
# atoms that contradict each other. (a) needs a literal that fold reaches; (b) needs two
# atoms leaving the same clue key with sides that clash: the same atom seen both ways; one
# modifier required and forbidden; one subject missing and compared; or two value facts
# (=, !=, in (…), bounds) on one subject. Clue keys name subjects coarsely (_head), never
# more finely than expression equality, so equal subjects always meet. Two atoms in
# different branches of one `or` never meet in the search, so their clues never clash.

_ANY = object()  # a clue side that clashes with every other clue of its key
# Nodes whose value fold never decides, even as an operand (it does not look inside them).
_OPAQUE = frozenset({A.Name, A.Attribute, A.Lookup, A.InTable, A.InList, A.Has, A.Matches,
                     A.IsMissing, A.IfElse, A.Call, A.Aggregate})
_LOGIC = frozenset({"and", "or"})
_MAX_PLACES = 8  # clues of one key kept apart by `or` branches; more go to the search

# Where an atom sits: the (number of the `or`, 0 for its left side or 1 for its right) of
# each `or` above it, outermost first.
Place = tuple[tuple[int, int], ...]
# The clues recorded so far: key -> (side, place), or a list of them when `or` branches
# keep clashing sides apart.
Clues = dict[Any, "tuple[Any, Place] | list[tuple[Any, Place]]"]


def cannot_fail(conditions: Iterable[A.Expr]) -> bool:
    """Whether the search is sure to find nothing in the conjunction of ``conditions``: no
    atom that fold could decide, and no two atoms that can meet whose clues may clash."""
    clues: Clues = {}
    stack: list[tuple[A.Expr, Place]] = [(c, ()) for c in conditions if c is not None]
    alts = 0  # numbers each `or` met (not its id: one node may sit in two places)
    while stack:
        node, place = stack.pop()
        if isinstance(node, A.Binary) and node.op in _LOGIC:
            if node.op == "and":
                stack.append((node.left, place))
                stack.append((node.right, place))
            else:  # (in `a or b or c`, c is apart from a and b, and a from b, as in chain)
                alts += 1
                stack.append((node.left, (*place, (alts, 0))))
                stack.append((node.right, (*place, (alts, 1))))
        elif not _record(clues, node, place):
            return False
    return True


def _can_meet(a: Place, b: Place) -> bool:
    """Whether atoms at places ``a`` and ``b`` can be in one conjunction of the search: not
    when the first `or` branch they differ in is a different branch of one `or`."""
    for (alt_a, branch_a), (alt_b, branch_b) in zip(a, b, strict=False):
        if alt_a != alt_b:
            return True  # two different `or`s, both parts of one conjunction
        if branch_a != branch_b:
            return False
    return True


def _opaque(expr: A.Expr) -> bool:
    """Whether fold gives ``expr`` no value, standing alone or inside a larger fold."""
    if type(expr) in _OPAQUE:
        return True
    return isinstance(expr, A.Binary) and expr.op not in _COMPARE and expr.op not in _LOGIC


def _record(clues: Clues, part: A.Expr, place: Place) -> bool:
    """Add the clues of one atom (a part that is no `and` or `or`); False when the atom may
    fold to a value, or one of its clues may clash with an earlier one it can meet."""
    atom, positive = part, True
    while isinstance(atom, A.Unary) and atom.op == "not":
        atom, positive = atom.operand, not positive
    found = _clues_of(atom, positive)
    if found is None:
        return False
    for key, side in found:
        earlier = clues.get(key)
        if earlier is None:
            clues[key] = (side, place)  # the usual case: one clue per key, kept as is
        elif not _add_clue(clues, key, side, place):
            return False
    return True


def _add_clue(clues: Clues, key: Any, side: Any, place: Place) -> bool:
    """Add one clue to the earlier ones of its key; False if it may clash with one."""
    earlier = clues[key]
    entries = [earlier] if type(earlier) is tuple else earlier
    redundant = False
    for other_side, other_place in entries:
        if other_side != side or side is _ANY:
            if _can_meet(place, other_place):
                return False
        elif other_place == place[:len(other_place)]:
            # Whatever can meet this clue can meet that one (see _can_meet): keep one.
            redundant = True
    if not redundant:
        clues[key] = [*entries, (side, place)]
    return len(entries) < _MAX_PLACES


def _clues_of(atom: A.Expr, positive: bool) -> list[tuple[Any, Any]] | None:
    """What _add records and reads for ``atom`` (``not`` taken off: ``positive``), as (key,
    side) clues; None for an atom fold might decide (a literal, `-x`, `not (a or b)`)."""
    if isinstance(atom, A.Binary):
        if atom.op in _COMPARE:
            return _comparison_clues(atom, positive)
        return [(("seen", _shape(atom)), positive)] if _opaque(atom) else None
    if isinstance(atom, A.Has):
        return _has_clues(atom, positive)
    if isinstance(atom, A.IsMissing):
        return _missing_clues(atom, positive)
    if isinstance(atom, A.InList):
        return _in_list_clues(atom, positive)
    return [(("seen", _shape(atom)), positive)] if type(atom) in _OPAQUE else None


def _comparison_clues(atom: A.Binary, positive: bool) -> list[tuple[Any, Any]] | None:
    left, right = atom.left, atom.right
    left_opaque, right_opaque = _opaque(left), _opaque(right)
    if not (left_opaque or right_opaque):
        return None  # two literals, say: fold may decide it
    # A missing subject clashes only with an opaque one: _missing_clues leaves the others
    # to the search. (Heads are made only when needed: most comparisons meet a literal.)
    clues: list[tuple[Any, Any]] = []
    left_head = right_head = None
    if left_opaque:
        left_head = _head(left)
        clues.append((("need", left_head), "compared"))
    if right_opaque:
        right_head = _head(right)
        clues.append((("need", right_head), "compared"))
    # The side _add_comparison records a value for (an opaque side never folds to one).
    if not right_opaque and _folds(right):
        clues.append((("value", left_head), _ANY))
    elif not left_opaque and _folds(left):
        clues.append((("value", right_head), _ANY))
    else:  # with a value clue, the same comparison seen both ways clashes already
        shape = (atom.op, left_head if left_opaque else _head(left),
                 right_head if right_opaque else _head(right))
        clues.append((("seen", shape), positive))
    return clues


def _folds(expr: A.Expr) -> bool:
    """Whether fold gives ``expr`` a value (a literal, quickly)."""
    if isinstance(expr, A.Literal):
        return expr.kind != "none"
    return fold(expr) is not _NOT_CONST


def _has_clues(atom: A.Has, positive: bool) -> list[tuple[Any, Any]]:
    present = positive != atom.negated
    clues: list[tuple[Any, Any]] = []
    if present or atom.mode in ("one", "any"):
        head = _head(atom.subject)
        clues = [(("has", head, m), present) for m in atom.modifiers]
    if not clues or atom.mode in ("all", "many"):
        # (has one/any of M both ways give clashing clues for M already)
        shape = (A.Has, _head(atom.subject), atom.mode, atom.modifiers, atom.negated)
        clues.append((("seen", shape), positive))
    return clues


def _missing_clues(atom: A.IsMissing, positive: bool) -> list[tuple[Any, Any]] | None:
    if not _opaque(atom.subject):
        return None  # comparisons give need clues for opaque subjects only
    positive = positive != atom.negated  # `is present` is `not … is missing` (_polarity)
    clues: list[tuple[Any, Any]] = [(("seen", _shape(atom)), positive)]
    if positive:
        clues.append((("need", _head(atom.subject)), "missing"))
    return clues


def _in_list_clues(atom: A.InList, positive: bool) -> list[tuple[Any, Any]]:
    head = _head(atom.subject)
    clues: list[tuple[Any, Any]] = [(("seen", _shape(atom)), positive)]
    if _opaque(atom.subject):
        clues.append((("need", head), "compared"))
    if positive != atom.negated:
        clues.append((("value", head), _ANY))
    return clues


def _head(expr: A.Expr) -> Any:
    """A coarse, non-recursive stand-in for ``expr``: equal expressions give equal heads."""
    if isinstance(expr, A.Name):  # a name: its string; a field: a pair; a literal: a triple
        return expr.name
    if isinstance(expr, A.Attribute):
        obj = expr.obj
        return (expr.name, obj.name if isinstance(obj, A.Name) else type(obj))
    if isinstance(expr, A.Literal):
        return (A.Literal, expr.kind, expr.value)
    return type(expr)


def _shape(atom: A.Expr) -> Any:
    """A coarse stand-in for an atom (its ``negated`` left out: _polarity moves it)."""
    if isinstance(atom, A.Binary):
        return (atom.op, _head(atom.left), _head(atom.right))
    subject = getattr(atom, "subject", None)
    return (type(atom), _head(subject)) if subject is not None else _head(atom)


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
