"""Expression types: one pass over an expression that resolves every name and field, checks
every operator against the operator table of docs/language/semantics.md and gives the
expression's type.

The walk is post-order: plain recursion for the usual shallow expression, an explicit stack
below a fixed depth, so that no input depth can exhaust Python's stack. Each node type has a
children function and a combine function in two module-level tables keyed by node type;
``HANDLED_NODES`` lets a test check that every node type is handled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang.scope import (
    PHI_FIELDS,
    RECORD_FIELDS,
    UNKNOWN,
    VISIT_DERIVED,
    Binding,
    Scope,
    TableView,
    describe,
    is_value,
    row_table,
    row_type,
)
from otrules.lang.suggest import did_you_mean, field_help

_LITERAL_TYPES = {
    "number": "number", "minutes": "minutes", "days": "days", "months": "months",
    "money": "money", "date": "date", "text": "text", "code": "code", "flag": "flag",
}
ORDERED = frozenset({"number", "minutes", "money", "days", "date"})
SUMMABLE = frozenset({"number", "minutes", "money", "days"})
_ADDITIVE = {("number", "number"): "number", ("minutes", "minutes"): "minutes",
             ("money", "money"): "money", ("days", "days"): "days",
             ("date", "days"): "date", ("date", "months"): "date"}
ARITHMETIC: Mapping[str, Mapping[tuple[str, str], str]] = {
    "+": _ADDITIVE,
    "-": {**_ADDITIVE, ("date", "date"): "days"},
    "*": {("number", "number"): "number", ("minutes", "number"): "minutes",
          ("number", "minutes"): "minutes", ("money", "number"): "money",
          ("number", "money"): "money"},
    "/": {("number", "number"): "number", ("minutes", "number"): "minutes",
          ("money", "number"): "money", ("minutes", "minutes"): "number",
          ("money", "money"): "number"},
    "//": {("number", "number"): "number", ("minutes", "minutes"): "number",
           ("minutes", "number"): "minutes"},
    "%": {("number", "number"): "number", ("minutes", "minutes"): "minutes"},
}
COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_FLAG_OK = frozenset({"flag", UNKNOWN})  # the types a condition may have
NEGATABLE = frozenset({"number", "minutes", "money", "days"})


@attrs.frozen
class Function:
    params: tuple[frozenset[str], ...]
    result: str | None  # None: the type of the first argument
    same_types: bool = False  # every argument of one type (min, max)


FUNCTIONS: Mapping[str, Function] = {
    "year": Function((frozenset({"date"}),), "number"),
    "month": Function((frozenset({"date"}),), "number"),
    "icd10_shape": Function((frozenset({"diagnosis", "text"}),), "flag"),
    "min": Function((ORDERED, ORDERED), None, same_types=True),
    "max": Function((ORDERED, ORDERED), None, same_types=True),
    "abs": Function((NEGATABLE,), None),
    "units_for": Function((frozenset({"minutes"}),), "number"),
}


def comparable(a: str, b: str) -> bool:
    """Whether ``=``/``!=``/``in (…)`` may compare values of these types."""
    if UNKNOWN in (a, b):
        return True
    if a == b:
        return is_value(a)
    # A diagnosis has no literal form: a quoted text is how a rule writes one.
    return {a, b} == {"diagnosis", "text"}


def _words(types: frozenset[str]) -> str:
    order = ["number", "minutes", "money", "days", "months", "date", "text", "code",
             "modifier", "diagnosis", "flag"]
    names = [describe(t) for t in order if t in types]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def mixing_help(a: str, b: str, left: A.Expr, right: A.Expr) -> str | None:
    """'write 8 minutes' when a plain number literal meets minutes, money or days."""
    for quantity, other, node in ((a, b, right), (b, a, left)):
        if other == "number" and quantity in ("minutes", "days", "money", "months") \
                and isinstance(node, A.Literal) and node.kind == "number":
            if quantity == "money":
                return f"write ${node.text}: amounts of money start with $"
            return f"write {node.text} {quantity}"
    for node, other in ((left, b), (right, a)):
        if other == "code" and isinstance(node, A.Literal) and node.kind == "text":
            return f"write {node.value} without quotes: codes are written bare"
    if {a, b} & {"minutes", "money", "days"} and "number" in (a, b):
        return "minutes, money and days never mix with plain numbers"
    return None


@attrs.define
class TypeContext:
    """What expressions are checked against, and where the results go."""

    tables: Mapping[str, TableView]
    codes: frozenset[str] | None  # None when unknown (a code column failed to load)
    modifiers: frozenset[str] | None
    diags: list[Diagnostic] = attrs.field(factory=list)
    used: set[Any] = attrs.field(factory=set)
    early: set[str] = attrs.field(factory=set)  # lets used before their definition
    fixed: list[A.Binary] = attrs.field(factory=list)  # comparisons of two literals
    # Reads of fields that identify the patient, directly or through a let (by binding key).
    phi_reads: int = 0
    phi_keys: set[Any] = attrs.field(factory=set)
    iteration: str | None = None  # the kind of the rule's `for each`, for help lines
    # (region, word, start after) -> the word's span in the source, for precise carets
    locate: Callable[[Span | None, str, Span | None], Span | None] = lambda r, w, a: r

    def error(self, code: str, message: str, span: Span | None, help_: str | None = None) -> None:
        self.diags.append(Diagnostic(code, "error", message, span, help_))


# Below this depth an expression is typed by plain recursion, which is quicker than the
# explicit stack; deeper subtrees (a 5,000-part `and` chain) go to the stack.
_MAX_RECURSION = 60


class ExprTyper:
    """Infers types; reports problems into the context's diagnostics."""

    def __init__(self, ctx: TypeContext) -> None:
        self.ctx = ctx  # one typer per rule: the dispatch tables are module-level (below)

    # ----------------------------------------------------------------- driver
    def infer(self, root: A.Expr, scope: Scope) -> str:
        return self._infer(root, scope, 0)

    def _infer(self, node: A.Expr, scope: Scope, depth: int) -> str:
        """Post-order, children left to right: the same order of diagnostics as the stack."""
        if isinstance(node, A.Name):  # the commonest nodes first, without the tables
            return self._name(node, scope, [])
        if isinstance(node, A.Literal):
            return self._literal(node, scope, [])
        if depth >= _MAX_RECURSION:
            return self._infer_stack(node, scope)
        depth += 1
        kind = type(node)
        if isinstance(node, A.Binary):
            args = [self._infer(node.left, scope, depth), self._infer(node.right, scope, depth)]
        elif isinstance(node, A.Attribute):
            args = [self._infer(node.obj, scope, depth)]
        elif kind in _SUBJECT_ONLY:
            args = [self._infer(node.subject, scope, depth)]  # type: ignore[union-attr]
        else:
            inner = self._aggregate_scope(node, scope) if kind is A.Aggregate else scope
            args = [self._infer(kid, inner, depth) for kid in _KIDS[kind](node)]
        return _COMBINE[kind](self, node, scope, args)

    def _infer_stack(self, root: A.Expr, scope: Scope) -> str:
        """:meth:`_infer` without recursion, so that no input depth exhausts the stack."""
        stack: list[tuple[A.Expr, Scope, int]] = [(root, scope, -1)]
        results: list[str] = []
        while stack:
            node, sc, count = stack.pop()
            kind = type(node)
            if count < 0:
                kids = _KIDS[kind](node)
                if not kids:
                    results.append(_COMBINE[kind](self, node, sc, []))
                    continue
                stack.append((node, sc, len(kids)))
                inner = self._aggregate_scope(node, sc) if kind is A.Aggregate else sc
                for kid in reversed(kids):
                    stack.append((kid, inner, -1))
                continue
            args = results[-count:]
            del results[-count:]
            results.append(_COMBINE[kind](self, node, sc, args))
        return results[0]

    def require_flag(self, expr: A.Expr, type_: str, what: str) -> None:
        if type_ not in _FLAG_OK:
            self.ctx.error(C.NOT_A_FLAG, f"{what} needs a condition (yes/no), not "
                           f"{describe(type_)}", expr.span,
                           "compare the value, for example `x > 0` or `x is present`")

    # ----------------------------------------------------------------- names
    def _literal(self, node: A.Literal, scope: Scope, _: list[str]) -> str:
        if node.kind == "code":
            self.check_code(str(node.value), node.span)
        return _LITERAL_TYPES.get(node.kind, UNKNOWN)

    def check_code(self, code: str, span: Span | None) -> None:
        known = self.ctx.codes
        if known is not None and code not in known:
            self.ctx.error(C.UNKNOWN_CODE, f"unknown code '{code}'", span,
                           did_you_mean(code, known)
                           or "list the code in a table with a code column")

    def check_modifier(self, modifier: str, region: Span | None, after: Span | None = None
                       ) -> None:
        """Report an unknown modifier at its place inside ``region`` (after ``after``)."""
        known = self.ctx.modifiers
        if known is not None and modifier not in known:
            self.ctx.error(C.UNKNOWN_MODIFIER, f"unknown modifier '{modifier}'",
                           self.ctx.locate(region, modifier, after),
                           did_you_mean(modifier, known)
                           or "list the modifier in a table with a modifier column")

    def _name(self, node: A.Name, scope: Scope, _: list[str]) -> str:
        found = scope.lookup(node.name)
        if found is not None:
            self.ctx.used.add(found.key)
            if found.key in self.ctx.phi_keys:
                self.ctx.phi_reads += 1
            return found.type
        self.unknown_name(node.name, node.span, scope)
        return UNKNOWN

    def unknown_name(self, name: str, span: Span | None, scope: Scope) -> None:
        reason = scope.pending_reason(name)
        if reason is not None:
            self.ctx.early.add(name)
            self.ctx.error(C.LET_ORDER, reason, span)
            return
        if name in self.ctx.tables:
            self.ctx.error(C.UNKNOWN_NAME, f"'{name}' is a table, not a value", span,
                           f"write {name}[KEY].COLUMN, or `… in {name}`")
            return
        help_: str | None
        if name in VISIT_DERIVED:
            help_ = f"did you mean 'visit.{name}'?"
        elif name in ("line", "diagnosis"):
            help_ = (f"'{name}' is the element of `for each {name}` or of an aggregate "
                     f"such as `any {name} where …`")
            if self.ctx.iteration == "pair":
                help_ = "in a `for each pair` rule the lines have the names given after `pair`"
        else:
            help_ = did_you_mean(name, scope.visible())
        self.ctx.error(C.UNKNOWN_NAME, f"unknown name '{name}'", span, help_)

    def _attribute(self, node: A.Attribute, scope: Scope, args: list[str]) -> str:
        (obj,) = args
        if obj == UNKNOWN:
            return UNKNOWN
        table = row_table(obj)
        if table is not None:
            view = self.ctx.tables.get(table)
            if view is None or view.columns is None:
                return UNKNOWN
            col = view.column(node.name)
            if col is None:
                self.ctx.error(C.UNKNOWN_FIELD, f"table '{table}' has no column '{node.name}'",
                               node.span, field_help(node.name, (c.name for c in view.columns),
                                                     noun="columns"))
                return UNKNOWN
            return col.type
        if obj == "patient" and node.name in PHI_FIELDS:
            self.ctx.phi_reads += 1
        fields = RECORD_FIELDS.get(obj)
        if fields is None:
            self.ctx.error(C.UNKNOWN_FIELD, f"{describe(obj)} has no fields", node.span)
            return UNKNOWN
        if node.name not in fields:
            help_ = field_help(node.name, fields)
            if obj == "patient" and node.name == "id":
                help_ = "patient.id identifies the patient and is not available to rules"
            self.ctx.error(C.UNKNOWN_FIELD, f"{obj} has no field '{node.name}'", node.span,
                           help_)
            return UNKNOWN
        return fields[node.name]

    def table(self, name: str, span: Span | None) -> TableView | None:
        view = self.ctx.tables.get(name)
        if view is None:
            self.ctx.error(C.UNKNOWN_TABLE, f"unknown table '{name}'", span,
                           did_you_mean(name, self.ctx.tables))
        return view

    def _lookup(self, node: A.Lookup, scope: Scope, args: list[str]) -> str:
        view = self.table(node.table, node.span)
        if view is None:
            return UNKNOWN
        keys = view.keys
        if keys is None:
            return row_type(node.table)
        if len(keys) != len(args):
            self.ctx.error(
                C.TABLE_KEY, f"table '{node.table}' has {_count(len(keys), 'key column')} "
                f"({', '.join(k.name for k in keys)}), but {len(args)} "
                f"{'key is' if len(args) == 1 else 'keys are'} given", node.span)
            return row_type(node.table)
        for key, col, type_ in zip(node.keys, keys, args, strict=True):
            if not comparable(col.type, type_):
                self.ctx.error(C.TABLE_KEY, f"key column '{col.name}' of table "
                               f"'{node.table}' holds {describe(col.type)}, not "
                               f"{describe(type_)}", key.span)
        return row_type(node.table)

    # ----------------------------------------------------------------- operators
    def _binary(self, node: A.Binary, scope: Scope, args: list[str]) -> str:
        left, right = args
        if node.op in ("and", "or"):
            if left not in _FLAG_OK or right not in _FLAG_OK:  # (checked once per node)
                for side, type_ in ((node.left, left), (node.right, right)):
                    self.require_flag(side, type_, f"'{node.op}'")
            return "flag"
        if node.op in COMPARISONS:
            self._comparison(node, left, right)
            if isinstance(node.left, A.Literal) and isinstance(node.right, A.Literal):
                self.ctx.fixed.append(node)
            return "flag"
        if UNKNOWN in (left, right):
            return UNKNOWN
        result = ARITHMETIC[node.op].get((left, right))
        if result is None:
            self.ctx.error(C.OPERAND_TYPES, f"'{node.op}' cannot combine {describe(left)} "
                           f"and {describe(right)}", node.span,
                           mixing_help(left, right, node.left, node.right))
            return UNKNOWN
        return result

    def _comparison(self, node: A.Binary, left: str, right: str) -> None:
        if not comparable(left, right):
            self.ctx.error(C.OPERAND_TYPES, f"cannot compare {describe(left)} with "
                           f"{describe(right)}", node.span,
                           mixing_help(left, right, node.left, node.right))
        elif node.op not in ("=", "!=") and UNKNOWN not in (left, right) \
                and left not in ORDERED:
            self.ctx.error(C.OPERAND_TYPES, f"'{node.op}' cannot order {describe(left)}",
                           node.span, "only numbers, minutes, money, days and dates are "
                           "ordered; use = or !=")

    def _unary(self, node: A.Unary, scope: Scope, args: list[str]) -> str:
        (operand,) = args
        if node.op == "not":
            self.require_flag(node.operand, operand, "'not'")
            return "flag"
        if operand == UNKNOWN:
            return UNKNOWN
        if operand not in NEGATABLE:
            self.ctx.error(C.OPERAND_TYPES, f"cannot negate {describe(operand)}", node.span)
            return UNKNOWN
        return operand

    def _in_table(self, node: A.InTable, scope: Scope, args: list[str]) -> str:
        view = self.table(node.table, node.span)
        keys = None if view is None else view.keys
        if keys is None:
            return "flag"
        if len(keys) != 1:
            self.ctx.error(
                C.TABLE_KEY, f"`in {node.table}` needs a table with one key column; "
                f"'{node.table}' has {len(keys)} ({', '.join(k.name for k in keys)})",
                node.span, f"write {node.table}[{', '.join(k.name for k in keys)}] is present")
        elif not comparable(keys[0].type, args[0]):
            self.ctx.error(C.TABLE_KEY, f"table '{node.table}' is keyed by "
                           f"{describe(keys[0].type)}, not {describe(args[0])}", node.span)
        return "flag"

    def _in_list(self, node: A.InList, scope: Scope, args: list[str]) -> str:
        subject, *items = args
        for item, type_ in zip(node.items, items, strict=True):
            if not comparable(subject, type_):
                self.ctx.error(C.OPERAND_TYPES, f"cannot compare {describe(subject)} with "
                               f"{describe(type_)}", item.span,
                               mixing_help(subject, type_, node.subject, item))
        return "flag"

    def _has(self, node: A.Has, scope: Scope, args: list[str]) -> str:
        if args[0] not in ("line", UNKNOWN):
            word = "lacks" if node.negated else "has"
            self.ctx.error(C.HAS_SUBJECT, f"`{word}` needs a line, not {describe(args[0])}",
                           node.subject.span, f"write `line {word} …`")
        for modifier in node.modifiers:
            self.check_modifier(modifier, node.span, node.subject.span)
        return "flag"

    def _matches(self, node: A.Matches, scope: Scope, args: list[str]) -> str:
        if args[0] not in ("diagnosis", "text", UNKNOWN):
            self.ctx.error(C.OPERAND_TYPES, f"`matches` needs a diagnosis or text, not "
                           f"{describe(args[0])}", node.subject.span)
        return "flag"

    def _if_else(self, node: A.IfElse, scope: Scope, args: list[str]) -> str:
        cond, then, otherwise = args
        self.require_flag(node.condition, cond, "`if`")
        if then == UNKNOWN:
            return otherwise
        if otherwise == UNKNOWN or then == otherwise:
            return then
        self.ctx.error(C.IF_BRANCHES, f"the branches of `if` give {describe(then)} and "
                       f"{describe(otherwise)}", node.span,
                       mixing_help(then, otherwise, node.then, node.otherwise)
                       or "both branches must give values of one type")
        return UNKNOWN

    def _call(self, node: A.Call, scope: Scope, args: list[str]) -> str:
        fn = FUNCTIONS.get(node.function)
        if fn is None:
            help_ = did_you_mean(node.function, FUNCTIONS)
            if node.function in self.ctx.tables:
                help_ = f"'{node.function}' is a table: write {node.function}[KEY]"
            self.ctx.error(C.UNKNOWN_FUNCTION, f"unknown function '{node.function}'",
                           node.span, help_)
            return UNKNOWN
        if len(args) != len(fn.params):
            self.ctx.error(C.ARG_COUNT, f"{node.function}() takes "
                           f"{_count(len(fn.params), 'argument')}, not {len(args)}",
                           node.span)
            return UNKNOWN if fn.result is None else fn.result
        return self._call_types(node, fn, args)

    def _call_types(self, node: A.Call, fn: Function, args: list[str]) -> str:
        ok = True
        for arg, allowed, type_ in zip(node.args, fn.params, args, strict=True):
            if type_ != UNKNOWN and type_ not in allowed:
                ok = False
                self.ctx.error(C.ARG_TYPE, f"{node.function}() needs {_words(allowed)}, not "
                               f"{describe(type_)}", arg.span)
        known = [t for t in args if t != UNKNOWN]
        if ok and fn.same_types and len(set(known)) > 1:
            self.ctx.error(C.ARG_TYPE, f"{node.function}() needs values of one type, not "
                           f"{describe(known[0])} and {describe(known[1])}", node.span,
                           mixing_help(args[0], args[1], node.args[0], node.args[1]))
            return UNKNOWN
        if fn.result is not None:
            return fn.result
        return known[0] if ok and known else UNKNOWN

    # ----------------------------------------------------------------- aggregates
    def _aggregate_scope(self, node: A.Aggregate, scope: Scope) -> Scope:
        """The scope of an aggregate's value and `where`: its element over ``scope``."""
        element = "line" if node.collection == "lines" else "diagnosis"
        return scope.child({node.var: Binding(element, "aggregate")})

    def _aggregate(self, node: A.Aggregate, scope: Scope, args: list[str]) -> str:
        value = args[0] if node.value is not None else None
        if node.where is not None:
            self.require_flag(node.where, args[-1], "`where`")
        if node.kind == "count":
            return "number"
        if node.kind in ("any", "no"):
            return "flag"
        assert node.value is not None
        assert value is not None
        if value not in SUMMABLE and value != UNKNOWN:
            self.ctx.error(C.NOT_SUMMABLE, f"`sum of` cannot add up {describe(value)}",
                           node.value.span, "sum numbers, minutes, money or days")
            return UNKNOWN
        return value


def _is_missing(typer: ExprTyper, node: A.IsMissing, scope: Scope, args: list[str]) -> str:
    return "flag"


_SUBJECT_ONLY = frozenset({A.InTable, A.Has, A.Matches, A.IsMissing})  # one child: subject

# The sub-expressions of each node type, in the order they are typed (an aggregate's are
# typed in its own scope: see ExprTyper._aggregate_scope).
_KIDS: Mapping[type, Callable[[Any], Sequence[A.Expr]]] = {
    A.Literal: lambda n: (), A.Name: lambda n: (),
    A.Attribute: lambda n: (n.obj,),
    A.Lookup: lambda n: n.keys,
    A.Binary: lambda n: (n.left, n.right),
    A.Unary: lambda n: (n.operand,),
    A.InTable: lambda n: (n.subject,),
    A.InList: lambda n: (n.subject, *n.items),
    A.Has: lambda n: (n.subject,),
    A.Matches: lambda n: (n.subject,),
    A.IsMissing: lambda n: (n.subject,),
    A.IfElse: lambda n: (n.condition, n.then, n.otherwise),
    A.Call: lambda n: n.args,
    A.Aggregate: lambda n: tuple(e for e in (n.value, n.where) if e is not None),
}
# How each node type combines its children's types into its own.
_COMBINE: Mapping[type, Callable[[ExprTyper, Any, Scope, list[str]], str]] = {
    A.Literal: ExprTyper._literal, A.Name: ExprTyper._name,
    A.Attribute: ExprTyper._attribute, A.Lookup: ExprTyper._lookup,
    A.Binary: ExprTyper._binary, A.Unary: ExprTyper._unary, A.InTable: ExprTyper._in_table,
    A.InList: ExprTyper._in_list, A.Has: ExprTyper._has, A.Matches: ExprTyper._matches,
    A.IsMissing: _is_missing, A.IfElse: ExprTyper._if_else, A.Call: ExprTyper._call,
    A.Aggregate: ExprTyper._aggregate,
}


# The fields of each node type that hold sub-expressions (an expression, a tuple of them, or
# None), for passes that visit every node without caring which is which.
EXPR_FIELDS: Mapping[type, tuple[str, ...]] = {
    A.Literal: (), A.Name: (), A.Attribute: ("obj",), A.Lookup: ("keys",),
    A.Binary: ("left", "right"), A.Unary: ("operand",), A.InTable: ("subject",),
    A.InList: ("subject", "items"), A.Has: ("subject",), A.Matches: ("subject",),
    A.IsMissing: ("subject",), A.IfElse: ("condition", "then", "otherwise"),
    A.Call: ("args",), A.Aggregate: ("value", "where"),
}


def children(node: A.Expr) -> list[A.Expr]:
    out: list[A.Expr] = []
    for name in EXPR_FIELDS[type(node)]:
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(value)
        elif value is not None:
            out.append(value)
    return out


def chain(exprs: Iterable[A.Expr | None], op: str) -> list[A.Expr]:
    """The operands of ``op`` ("and" or "or") chains in ``exprs``, left to right, flattened
    without recursion: ``a and (b and c)`` gives a, b, c. None items are skipped."""
    out: list[A.Expr] = []
    stack = [e for e in reversed(list(exprs)) if e is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, A.Binary) and node.op == op:
            stack.extend((node.right, node.left))
        else:
            out.append(node)
    return out


def walk(root: A.Expr) -> list[A.Expr]:
    """Every node of ``root`` (pre-order), without recursion."""
    out: list[A.Expr] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


HANDLED_NODES = frozenset(_COMBINE) & frozenset(_KIDS)
