"""The compiled back end: a checked pack becomes one generated Python module.

Every rule becomes a block of one function ``_run(ctx, out, _codes)`` whose loops and
conditions are plain Python. Nothing from the pack is ever spliced into the source as text:
every literal, message, table and parameter is hoisted into the module's namespace under a
generated name (``_c12``), and operators come from fixed tables. Names in the generated code
are generated too (``_v3``), so a rule id, a table name or a string full of quotes cannot
change what the code does.

Speed comes from: expressions that cannot be missing compile to plain Python operators (no
three-valued helper), and conditions compile to Python's ``and``/``or`` over "is it true"
tests; a rule whose lines or pairs can only involve certain codes is skipped when the visit
has none of them; table lookups are dictionary lookups, so cost does not grow with table size,
and ``T[key].column = literal`` on a table without dates is membership in the set of keys
that pass, found when compiling; lines are read as the visit's own ``Line`` objects by index
(no per-visit line views), and pairs loop over the codes; a count or sum that a statement
always evaluates runs as a plain loop before it (a count with no ``where`` is the length; a
total of the element's own code, ``other.code = line.code``, is the line's own value when
every code is on one line, else it comes from per-code totals built once per visit); constant
parameters are hoisted; messages are rendered by generated code (the same text as
:func:`runtime.render_message`, typed by :class:`RuleTypes`, PHI withheld). For the common
call, ``evaluate_plain`` does all of ``Pack.evaluate`` with one scan of the visit
(:func:`scan.plain_codes`) and no calls between the steps. Pack range, fixes
(:func:`runtime.fix_for_line`), value operations and formatting are the shared code of
:mod:`runtime` and :mod:`values`. The reference interpreter remains the oracle: differential
tests run both over every bundled pack, random packs and a pack written to exercise each
specialised form next to its general one (``tests/data/fastpaths-pack``).
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

from otrules.errors import EvaluationError
from otrules.eval import values as V
from otrules.eval.context import EvalContext, timed_flag_index
from otrules.eval.result import (
    Finding,
    Result,
    new_finding,
    result_with_pending_lines,
    status_of,
)
from otrules.eval.runtime import (
    WITHHELD,
    evaluation_error,
    fix_for_line,
    pack_not_effective,
)
from otrules.eval.scan import plain_codes
from otrules.eval.typeinfo import PHI, RuleTypes
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack, RuleInfo
from otrules.lang.typing_rules import chain, children
from otrules.model import Line, Visit

__all__ = ["CompiledBackend", "compile_source"]

# A line is compiled as its 0-based index `{i}` (with the `Line` object `{l}` alongside when
# a loop has it at hand): no per-visit line view is built. The per-line unit results are
# the context's tuples `ctx.units` and `ctx.timed` (computed on first use), indexed by line.
# field -> (python template over the index `{i}` and the Line `{l}`, may be missing)
_LINE_FIELDS: Final[dict[str, tuple[str, bool]]] = {
    "code": ("{l}.code", False),
    "minutes": ("{l}.minutes", True),
    "units": ("{l}.units", True),
    "computed_units": ("ctx.units[{i}]", False),
    "performed_by": ("{l}.performed_by", True),
    "assistant_minutes": ("(0 if {l}.assistant_minutes is None else {l}.assistant_minutes)",
                          False),
    "charge": ("{l}.charge", True),
    "position": ("({i} + 1)", False),
    "pointer_count": ("len({l}.diagnosis_pointers)", False),
    "timed": ("ctx.timed[{i}]", True),
}
_PATIENT_FIELDS: Final[dict[str, tuple[str, bool]]] = {
    "id": ("{o}.id", False),
    "birth_date": ("{o}.birth_date", True),
    "ytd_ot_allowed": ("{o}.ytd_ot_allowed", True),
    "visits_this_year": ("{o}.visits_this_year", True),
    "treatment_days_since_progress_report": ("{o}.treatment_days_since_progress_report", True),
    "plan_of_care_certified_on": ("{o}.plan_of_care_certified_on", True),
    "age": ("{o}.age_on(_visit.date_of_service)", True),
}
_AUTHORIZATION_FIELDS: Final[dict[str, tuple[str, bool]]] = {
    name: ("{o}." + name, True)
    for name in ("visits_authorized", "visits_used", "valid_from", "valid_to")
} | {"number": ("{o}.number", False)}
_VISIT_FIELDS: Final[dict[str, tuple[str, bool]]] = {
    "id": ("_visit.id", False),
    "date_of_service": ("_visit.date_of_service", False),
    "payer": ("_visit.payer", False),
    "claim_type": ("_visit.effective_claim_type", False),
    "place_of_service": ("_visit.place_of_service", True),
    "telehealth": ("(_visit.telehealth is True)", False),
    "claim_submitted_on": ("_visit.claim_submitted_on", True),
    "timed_minutes": ("ctx.timed_minutes", False),
    "line_count": ("len(_lines)", False),
    "stated_units_valid": ("ctx.stated_units_valid", False),
}
_TEXT_TYPES: Final = frozenset({"code", "text", "modifier", "diagnosis"})
_NATIVE_COMPARE: Final = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_HELPER_OF: Final = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "//": "_floordiv",
                     "%": "_mod", "=": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt",
                     ">=": "_ge"}

# An object-valued expression: what it is ("line", "patient", "authorization", "visit",
# "row:<table>", "diagnosis", or "value") decides how its fields compile.
_Obj = str


class _Code:
    """A compiled expression: Python source, whether it may be missing, what kind it is.

    A line (kind ``"line"``) is its index; ``obj`` is then the source of its ``Line`` object
    when a loop has it in a variable (else it is read as ``_lines[index]``)."""

    __slots__ = ("code", "kind", "nullable", "obj", "src")

    def __init__(self, src: str, nullable: bool, kind: _Obj = "value",
                 obj: str | None = None, code: str | None = None) -> None:
        self.src = src
        self.nullable = nullable
        self.kind = kind
        self.obj = obj
        self.code = code  # a line's: the variable holding its code, when a loop has it

    def line_obj(self) -> str:
        """Source of the ``Line`` of a (non-missing) line code."""
        return self.obj if self.obj is not None else f"_lines[{self.src}]"


class _Module:
    """The generated module: its source lines and the namespace of hoisted constants."""

    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "_add": V.add, "_sub": V.sub, "_mul": V.mul, "_div": V.div,
            "_floordiv": V.floordiv, "_mod": V.mod, "_eq": V.eq, "_ne": V.ne, "_lt": V.lt,
            "_le": V.le, "_gt": V.gt, "_ge": V.ge, "_and3": V.and3, "_or3": V.or3,
            "_not3": V.not3, "_neg": V.neg, "_in_items": V.in_items,
            "_matches_any": V.matches_any, "_sum_values": _sum_values, "_sum_step": _sum_step,
            "_decimal_context": V.decimal_context,
            "_Decimal": Decimal, "_has_modifiers": V.has_modifiers,
            "_fmt": V.format_value, "_fmt_line": _format_line, "_fmt_row": _format_row,
            "_Finding": new_finding, "_fix": fix_for_line, "_enumerate": enumerate,
            "_icd10_fullmatch": V.ICD10_SHAPE.fullmatch,
        }
        self._consts: dict[tuple[type, Any], str] = {}
        self._counter = 0
        self.guards: dict[str, str] = {}  # a code guard's constant -> the flag of its test
        # (table, column, literal's type and value, passes on equal?) -> its keys' constant
        self.key_sets: dict[tuple[Any, ...], str] = {}

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"_{prefix}{self._counter}"

    def const(self, value: Any) -> str:
        """A name bound to ``value`` in the module namespace. Ints and bools of known types
        are written as their repr (safe); everything else is hoisted, never spliced."""
        if type(value) is bool or value is None:
            return repr(value)
        if type(value) is int:
            return f"({value!r})"
        key = (type(value), value) if _hashable(value) else (type(value), id(value))
        name = self._consts.get(key)
        if name is None:
            name = self.fresh("c")
            self._consts[key] = name
            self.namespace[name] = value
        return name

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


def _is_simple(src: str) -> bool:
    """A name or a hoisted constant: cheap to evaluate twice and free of side effects."""
    return src.replace("_", "a").isalnum() or (src.startswith("(") and src[1:-1].isdigit())


def _is_int_literal(src: str) -> bool:
    """An int the compiler wrote itself (``Module.const`` writes ints as ``(12)``)."""
    return src.startswith("(") and src.endswith(")") and src[1:-1].isdigit()


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _sum_step(total: Any, value: Any) -> Any:
    """One step of :func:`_sum_values` for a value that is not None, when not both ints."""
    if type(value) is Decimal:
        return V.decimal_context().add(total if type(total) is Decimal else Decimal(total),
                                       value)
    return V.add(total, value)


def _always_evaluated_aggregates(node: A.Expr | None) -> list[A.Aggregate]:
    """The counts and sums evaluating ``node`` always evaluates, in evaluation order: not
    under the right side of ``and``/``or``, an ``if``, or another aggregate."""
    out: list[A.Aggregate] = []

    def walk(n: A.Expr | None) -> None:
        if isinstance(n, A.Aggregate):
            if n.kind in ("count", "sum"):
                out.append(n)
        elif isinstance(n, A.Binary):
            walk(n.left)
            if n.op not in ("and", "or"):
                walk(n.right)
        elif isinstance(n, A.Unary):
            walk(n.operand)

    walk(node)
    return out


def _sum_values(values: Any) -> Any:
    # The same additions as the interpreter's `values.add`, without its dispatch per value.
    total: Any = 0
    add = V.add
    decimal_add = None
    for value in values:
        if value is None:
            continue
        kind = type(value)
        if kind is int and type(total) is int:
            total += value
        elif kind is Decimal:
            if decimal_add is None:
                decimal_add = V.decimal_context().add
            total = decimal_add(total if type(total) is Decimal else Decimal(total), value)
        else:
            total = add(total, value)
    return total


def _format_line(lines: tuple[Line, ...], index: int | None) -> str:
    """A line in a message, as :meth:`LineValue.describe` writes it."""
    if index is None:
        return V.MISSING_TEXT
    return f"line {index + 1} ({lines[index].code})"


def _format_row(row: tuple[Any, ...] | None, table: str) -> str:
    """A table row in a message, as :meth:`RowValue.describe` writes it."""
    return V.MISSING_TEXT if row is None else f"a row of {table}"


# ---------------------------------------------------------------------------- tables


class _Tables:
    """Per table: a hashed first-row index when rows carry no dates, else TableData.find."""

    def __init__(self, module: _Module) -> None:
        self.module = module
        self._names: dict[str, tuple[str, bool]] = {}

    def ref(self, table: str) -> tuple[str, bool]:
        """(namespace name, dated?) of the lookup structure for ``table``."""
        if table not in self._names:
            data = self.module.pack.tables[table]
            dated = data.valid_from is not None or data.valid_until is not None
            if dated:
                name = self.module.const(data)
            else:
                first = {key: rows[0] for key, rows in data.index.items() if rows}
                name = self.module.const(_Frozen(first))
            self._names[table] = (name, dated)
        return self._names[table]

    def find(self, table: str, key_src: str) -> str:
        name, dated = self.ref(table)
        return f"{name}.find({key_src}, _day)" if dated else f"{name}.get({key_src})"

    def contains(self, table: str, key_src: str) -> str:
        name, dated = self.ref(table)
        return f"({name}.find({key_src}, _day) is not None)" if dated else f"({key_src} in {name})"



class _Frozen(dict):  # type: ignore[type-arg]
    """A dict that is hashable by identity, so the module can hoist it as a constant."""

    __hash__ = object.__hash__  # type: ignore[assignment]


# ---------------------------------------------------------------------------- expressions


class _ExprCompiler:
    """Compiles one rule's expressions. ``scope`` maps language names to (python, kind,
    nullable)."""

    def __init__(self, module: _Module, tables: _Tables, types: RuleTypes) -> None:
        self.m = module
        self.tables = tables
        self.types = types
        self.scope: dict[str, _Code] = {}
        self.hoisted: dict[int, str] = {}  # id of an aggregate node -> its loop's variable
        self.groups: list[str] = []  # per-code totals built once per visit (set to None first)

    def __call__(self, node: A.Expr) -> _Code:
        return _HANDLERS[type(node)](self, node)

    def flag(self, node: A.Expr) -> str:
        """Source that is truthy exactly when ``node`` is true (not false, not missing).

        Where only "is it true" matters, three-valued logic needs no missing value: ``a and
        b`` is true exactly when both are, ``a or b`` when one is, ``not a`` when a is false.
        So conditions compile to Python's own ``and``/``or``, evaluating the same operands in
        the same order as the three-valued form."""
        if isinstance(node, A.Binary):
            if node.op in ("and", "or"):
                return f"({self.flag(node.left)} {node.op} {self.flag(node.right)})"
            if node.op in _NATIVE_COMPARE:
                return self._compare_flag(node, negated=False)
        if isinstance(node, A.Unary) and node.op == "not":
            return self.refuted(node.operand)
        code = self(node)
        return f"({code.src} is True)" if code.nullable else code.src

    def refuted(self, node: A.Expr) -> str:
        """Source that is truthy exactly when ``node`` is false (not true, not missing)."""
        if isinstance(node, A.Binary):
            if node.op == "and":
                return f"({self.refuted(node.left)} or {self.refuted(node.right)})"
            if node.op == "or":
                return f"({self.refuted(node.left)} and {self.refuted(node.right)})"
            if node.op in _NATIVE_COMPARE:
                return self._compare_flag(node, negated=True)
        if isinstance(node, A.Unary) and node.op == "not":
            return self.flag(node.operand)
        code = self(node)
        return f"({code.src} is False)" if code.nullable else f"(not {code.src})"

    def _compare_flag(self, node: A.Binary, negated: bool) -> str:
        """A comparison as a flag: true (or, ``negated``, false) with no operand missing."""
        folded = self._folded_lookup(node, negated)
        if folded is not None:
            return folded
        left, right = self(node.left), self(node.right)
        checks, operands = [], []
        for side in (left, right):
            if side.nullable and _is_simple(side.src):
                checks.append(f"{side.src} is not None")
                operands.append(side.src)
            elif side.nullable:
                tmp = self.m.fresh("t")
                checks.append(f"({tmp} := {side.src}) is not None")
                operands.append(tmp)
            else:
                operands.append(side.src)
        test = f"({operands[0]} {_NATIVE_COMPARE[node.op]} {operands[1]})"
        if negated:
            test = f"(not {test})"
        return "(" + " and ".join([*checks, test]) + ")" if checks else test

    def _folded_lookup(self, node: A.Binary, negated: bool) -> str | None:
        """``T[key].column = literal`` (or ``!=``) over a table whose rows carry no dates, as
        a flag: membership of the key in the set of keys whose first row passes — worked out
        once, here, with the same comparison. A missing key, row or value is no member, as it
        makes the comparison missing. None when the form does not apply."""
        lookup = node.left.obj if isinstance(node.left, A.Attribute) else None
        if (node.op not in ("=", "!=") or not isinstance(lookup, A.Lookup)
                or len(lookup.keys) != 1 or not isinstance(node.right, A.Literal)
                or node.right.value is None):
            return None
        name, dated = self.tables.ref(lookup.table)
        if dated:
            return None
        data = self.m.pack.tables[lookup.table]
        index, want = data.column_index(node.left.name), node.right.value
        equal = (node.op == "=") != negated
        # One pass over the table per distinct test, however many rules make it (a CMS table
        # may have a million rows).
        test = (name, index, type(want), want, equal)
        passing = self.m.key_sets.get(test)
        if passing is None:
            passing = self.m.key_sets[test] = self.m.const(frozenset(
                key for key, row in self.m.namespace[name].items()
                if row[index] is not None and (row[index] == want) == equal))
        return f"({self(lookup.keys[0]).src} in {passing})"

    # ---------------------------------------------------------------- leaves
    def literal(self, node: A.Literal) -> _Code:
        return _Code(self.m.const(node.value), node.value is None)

    def name(self, node: A.Name) -> _Code:
        if node.name in self.scope:
            return self.scope[node.name]
        if node.name in self.m.pack.parameters:
            param = self.m.pack.parameters[node.name]
            if not param.periods:  # one value for every day: value_on gives the constant
                return _Code(self.m.const(param.constant), param.constant is None)
            getter = self.m.const(param.value_on)
            return _Code(f"{getter}(_day)", True)
        if node.name == "visit":
            return _Code("_visit", False, "visit")
        if node.name == "patient":
            return _Code("_visit.patient", False, "patient")
        if node.name == "authorization":
            return _Code("_visit.authorization", True, "authorization")
        src, nullable = _VISIT_FIELDS[node.name]
        return _Code(src, nullable)

    def attribute(self, node: A.Attribute) -> _Code:
        obj = self(node.obj)
        if obj.kind == "visit":
            return self.name(A.Name(node.name))
        if obj.kind.startswith("row:"):
            data = self.m.pack.tables[obj.kind[4:]]
            index = data.column_index(node.name)
            column = data.columns[index]
            if obj.nullable:
                if _is_simple(obj.src):
                    return _Code(f"(None if {obj.src} is None else {obj.src}[{index}])", True)
                tmp = self.m.fresh("r")
                return _Code(f"(None if ({tmp} := {obj.src}) is None else {tmp}[{index}])", True)
            return _Code(f"{obj.src}[{index}]", column.optional)
        if obj.kind == "line":
            if node.name == "code" and obj.code is not None:
                return _Code(obj.code, False)
            template, nullable = _LINE_FIELDS[node.name]
            if obj.nullable:
                tmp = self.m.fresh("o")
                inner = template.format(i=tmp, l=f"_lines[{tmp}]")
                return _Code(f"(None if ({tmp} := {obj.src}) is None else {inner})", True)
            return _Code(template.format(i=obj.src, l=obj.line_obj()), nullable)
        table = {"patient": _PATIENT_FIELDS, "authorization": _AUTHORIZATION_FIELDS}[obj.kind]
        template, nullable = table[node.name]
        if obj.nullable:
            tmp = self.m.fresh("o")
            inner = template.format(o=tmp)
            return _Code(f"(None if ({tmp} := {obj.src}) is None else {inner})", True)
        return _Code(template.format(o=obj.src), nullable)

    def lookup(self, node: A.Lookup) -> _Code:
        return self._lookup(node.table, [self(k) for k in node.keys])

    def _lookup(self, table: str, keys: list[_Code]) -> _Code:
        key_src = _key_source([k.src for k in keys])
        kind = f"row:{table}"
        if any(k.nullable for k in keys):
            tmps = [self.m.fresh("k") for _ in keys]
            binds = " or ".join(f"({t} := {k.src}) is None" for t, k in zip(tmps, keys,
                                                                             strict=True))
            key = _key_source(tmps)
            return _Code(f"(None if {binds} else {self.tables.find(table, key)})", True,
                         kind)
        return _Code(self.tables.find(table, key_src), True, kind)

    # ---------------------------------------------------------------- operators
    def binary(self, node: A.Binary) -> _Code:
        if node.op in ("and", "or"):
            return self._logic(node)
        left, right = self(node.left), self(node.right)
        if node.op in _NATIVE_COMPARE:
            return self._compare(_NATIVE_COMPARE[node.op], left, right)
        helper = _HELPER_OF[node.op]
        nullable = left.nullable or right.nullable or node.op in ("/", "//", "%") or (
            node.op in ("+", "-") and self.types.of(node.left) == "date")
        if node.op in ("+", "-", "*"):
            return _Code(self._int_arithmetic(node.op, helper, left, right), nullable)
        return _Code(f"{helper}({left.src}, {right.src})", nullable)

    def _int_arithmetic(self, op: str, helper: str, left: _Code, right: _Code) -> str:
        """``+ - *``: Python's operator when both operands are ints (what the shared helper
        does for ints), else the helper. Both operands are evaluated once, in order."""
        checks, operands = [], []
        for side in (left, right):
            if _is_int_literal(side.src):
                operands.append(side.src)
            elif _is_simple(side.src):
                checks.append(f"(type({side.src}) is int)")
                operands.append(side.src)
            else:
                tmp = self.m.fresh("n")
                checks.append(f"(type({tmp} := {side.src}) is int)")
                operands.append(tmp)
        a, b = operands
        if not checks:
            return f"({a} {op} {b})"
        # `&`, not `and`: both checks always run, so both temporaries are always bound.
        # Two Decimals: the helper's own operation in the private context (`_dc`).
        if _is_int_literal(left.src) or _is_int_literal(right.src):  # never two Decimals
            return f"({a} {op} {b} if {' & '.join(checks)} else {helper}({a}, {b}))"
        method = {"+": "add", "-": "subtract", "*": "multiply"}[op]
        return (f"({a} {op} {b} if {' & '.join(checks)} else _decimal_context().{method}({a}, {b}) "
                f"if (type({a}) is _Decimal) & (type({b}) is _Decimal) else {helper}({a}, {b}))")

    def _compare(self, op: str, left: _Code, right: _Code) -> _Code:
        # Inline the missing checks: a comparison is on the hot path of almost every rule.
        if not left.nullable and not right.nullable:
            return _Code(f"({left.src} {op} {right.src})", False)
        checks, operands = [], []
        for side in (left, right):
            if side.nullable:
                tmp = self.m.fresh("t")
                checks.append(f"({tmp} := {side.src}) is None")
                operands.append(tmp)
            else:
                operands.append(side.src)
        if not right.nullable and not _is_simple(right.src):
            # keep left-to-right evaluation order simple: bind the right side too
            tmp = self.m.fresh("t")
            checks.append(f"({tmp} := {right.src}) is None")
            operands[1] = tmp
        test = " or ".join(checks)
        return _Code(f"(None if {test} else {operands[0]} {op} {operands[1]})", True)

    def _logic(self, node: A.Binary) -> _Code:
        left, right = self(node.left), self(node.right)
        if not left.nullable and not right.nullable:
            return _Code(f"({left.src} {node.op} {right.src})", False)
        # One side is a plain flag: Kleene logic reduces to a choice (no helper call).
        if not left.nullable:
            if node.op == "and":
                return _Code(f"({right.src} if {left.src} else False)", True)
            return _Code(f"(True if {left.src} else {right.src})", True)
        tmp = self.m.fresh("t")
        if not right.nullable:
            if node.op == "and":
                return _Code(f"(False if ({tmp} := {left.src}) is False or not {right.src} "
                             f"else {tmp})", True)
            return _Code(f"(True if ({tmp} := {left.src}) is True or {right.src} else {tmp})",
                         True)
        if node.op == "and":
            return _Code(f"(False if ({tmp} := {left.src}) is False else _and3({tmp}, "
                         f"{right.src}))", True)
        return _Code(f"(True if ({tmp} := {left.src}) is True else _or3({tmp}, {right.src}))",
                     True)

    def unary(self, node: A.Unary) -> _Code:
        operand = self(node.operand)
        if node.op == "not":
            if operand.nullable:
                return _Code(f"_not3({operand.src})", True)
            return _Code(f"(not {operand.src})", False)
        return _Code(f"_neg({operand.src})", operand.nullable)

    def _negate(self, code: _Code, negated: bool) -> _Code:
        if not negated:
            return code
        return _Code(f"_not3({code.src})", True) if code.nullable else _Code(
            f"(not {code.src})", False)

    def in_table(self, node: A.InTable) -> _Code:
        subject = self(node.subject)
        if subject.nullable:
            tmp = self.m.fresh("s")
            test = self.tables.contains(node.table, tmp)
            code = _Code(f"(None if ({tmp} := {subject.src}) is None else {test})", True)
        else:
            code = _Code(self.tables.contains(node.table, subject.src), False)
        return self._negate(code, node.negated)

    def in_list(self, node: A.InList) -> _Code:
        subject = self(node.subject)
        if all(isinstance(i, A.Literal) and i.value is not None for i in node.items):
            values = frozenset(i.value for i in node.items)  # type: ignore[union-attr]
            items = self.m.const(values)
            if subject.nullable:
                tmp = self.m.fresh("s")
                code = _Code(f"(None if ({tmp} := {subject.src}) is None else {tmp} in {items})",
                             True)
            else:
                code = _Code(f"({subject.src} in {items})", False)
        else:
            parts = ", ".join(self(i).src for i in node.items)
            code = _Code(f"_in_items({subject.src}, ({parts},))", True)
        return self._negate(code, node.negated)

    def has(self, node: A.Has) -> _Code:
        line = self(node.subject)
        if line.nullable:  # the checker allows only lines here; kept for safety
            tmp = self.m.fresh("o")
            mode, names = self.m.const(node.mode), self.m.const(node.modifiers)
            return self._negate(_Code(
                f"(None if ({tmp} := {line.src}) is None else "
                f"_has_modifiers(_lines[{tmp}].modifiers, {mode}, {names}))", True),
                node.negated)
        mods = f"{line.line_obj()}.modifiers"
        wanted = self.m.const(frozenset(node.modifiers))
        if node.mode == "one":
            test = f"({self.m.const(node.modifiers[0])} in {mods})"
        elif node.mode == "any":
            test = f"(not {wanted}.isdisjoint({mods}))"
        elif node.mode == "all":
            test = f"{wanted}.issubset({mods})"
        else:
            test = f"(len({wanted}.intersection({mods})) >= 2)"
        return self._negate(_Code(test, False), node.negated)

    def matches(self, node: A.Matches) -> _Code:
        subject = self(node.subject)
        return _Code(f"_matches_any({subject.src}, {self.m.const(node.patterns)})",
                     subject.nullable)

    def is_missing(self, node: A.IsMissing) -> _Code:
        lookup = node.subject
        if isinstance(lookup, A.Lookup):
            keys = [self(k) for k in lookup.keys]
            if not self.tables.ref(lookup.table)[1] and not any(k.nullable for k in keys):
                # on a table without dates, a row exactly when the key is in the index
                found = self.tables.contains(lookup.table, _key_source([k.src for k in keys]))
                return _Code(found if node.negated else f"(not {found})", False)
            subject = self._lookup(lookup.table, keys)
        else:
            subject = self(lookup)
        if not subject.nullable:
            return _Code("False" if not node.negated else "True", False)
        op = "is not" if node.negated else "is"
        return _Code(f"({subject.src} {op} None)", False)

    def if_else(self, node: A.IfElse) -> _Code:
        then, other = self(node.then), self(node.otherwise)
        kind = then.kind if then.kind == other.kind else "value"
        if kind == "value" and "line" in (then.kind, other.kind) and "None" in (then.src,
                                                                                 other.src):
            kind = "line"  # a line or missing: still a line index (or None)
        return _Code(f"({then.src} if {self.flag(node.condition)} else {other.src})",
                     then.nullable or other.nullable, kind)

    def call(self, node: A.Call) -> _Code:
        fn = self.m.const(V.BUILTINS[node.function])
        args = [self(a) for a in node.args]
        if node.function == "icd10_shape" and not args[0].nullable:  # values.icd10_shape
            # Text that matches as it is matches upper-cased too (it is ASCII capitals and
            # digits), so the upper-cased copy is made only for text that does not.
            text = args[0].src
            if not _is_simple(text):
                tmp = self.m.fresh("t")
                first, text = f"({tmp} := {text})", tmp
            else:
                first = text
            return _Code(f"(_icd10_fullmatch({first}) is not None or "
                         f"_icd10_fullmatch({text}.upper()) is not None)", False)
        nullable = any(a.nullable for a in args) or node.function in ("units_for", "abs",
                                                                      "min", "max")
        return _Code(f"{fn}({', '.join(a.src for a in args)})", nullable)

    # ---------------------------------------------------------------- aggregates
    def hoist(self, node: A.Expr | None, depth: int) -> None:
        """Before a statement that evaluates ``node``: compute each count or sum that the
        statement always evaluates as a plain loop into a variable, which the expression then
        reads (no generator, no call per element). Evaluation has no side effects, so only
        the place where the value is computed changes, not the value."""
        for agg in _always_evaluated_aggregates(node):
            var = self.m.fresh("s")
            self._aggregate_loop(agg, var, depth)
            self.hoisted[id(agg)] = var

    def _group_key(self, node: A.Aggregate) -> _Code | None:
        """For ``count``/``sum … over lines as o where o.code = K`` (either side), with K the
        code of a non-missing line other than ``o`` and the summed value reading only ``o``:
        that line (K is its code). Such an aggregate is the total of K's code, read from
        per-code totals built once per visit (in line order: the same additions in the same
        order) instead of a loop over the lines for each element of the rule."""
        where = node.where
        if node.collection != "lines" or not isinstance(where, A.Binary) or where.op != "=":
            return None
        if node.value is not None and not _names(node.value) <= {node.var}:
            return None

        def own(side: A.Expr) -> bool:
            return isinstance(side, A.Attribute) and side.name == "code" and \
                isinstance(side.obj, A.Name) and side.obj.name == node.var

        other = where.right if own(where.left) else where.left if own(where.right) else None
        if not (isinstance(other, A.Attribute) and other.name == "code"
                and isinstance(other.obj, A.Name) and other.obj.name != node.var):
            return None
        outer = self.scope.get(other.obj.name)
        if outer is None or outer.kind != "line" or outer.nullable:
            return None
        return outer

    def _aggregate_loop(self, node: A.Aggregate, var: str, depth: int) -> None:
        if node.kind == "count" and node.where is None:  # every element counts
            self.m.emit(depth, f"{var} = {self.aggregate(node).src}")
            return
        outer = self._group_key(node)
        if outer is not None:
            # When every code is on one line (the usual visit), the total of a line's code
            # is that line's own value: no totals to build.
            self.m.emit(depth, "if len(_codes) == len(_lines):")
            self._own_total(node, outer, var, depth + 1)
            self.m.emit(depth, "else:")
            group = self.m.fresh("g")
            self.groups.append(group)
            self.m.emit(depth + 1, f"if {group} is None:")
            self._aggregate_body(node, group, depth + 2, grouped=True)
            self.m.emit(depth + 1, f"{var} = {group}.get({outer.line_obj()}.code, 0)")
            return
        self._aggregate_body(node, var, depth, grouped=False)

    def _own_total(self, node: A.Aggregate, outer: _Code, var: str, depth: int) -> None:
        """The grouped count or sum of :meth:`_group_key` when ``outer``, the line whose code
        is the key, is the only line with that code: one step from 0 with its value."""
        if node.kind == "count":
            self.m.emit(depth, f"{var} = 1")
            return
        with self._bound(node.var, outer):
            value = self(node.value).src if node.value is not None else "None"
        self.m.emit(depth, f"{var} = 0")
        if self.types.of(node) == "money":
            self.m.emit(depth, "_dc = _decimal_context()")
        self._sum_step_source(node, var, value, depth)

    def _aggregate_body(self, node: A.Aggregate, var: str, depth: int, grouped: bool) -> None:
        """The loop of a count or sum into ``var``; ``grouped``: into a dict of totals per
        line code, with no ``where`` (the per-code form of :meth:`_group_key`)."""
        m = self.m
        lines = node.collection == "lines"
        index, elem = m.fresh("i"), m.fresh("e")
        with self._bound(node.var, _Code(index, False, "line", elem) if lines
                         else _Code(elem, False)):
            where = self.flag(node.where) if node.where is not None and not grouped else None
            value = self(node.value).src if node.value is not None else None
        if grouped:  # per code: var[code] is the total of that code's lines, in line order
            total, code = m.fresh("s"), m.fresh("k")
            m.emit(depth, f"{var} = {{}}")
            if node.kind == "sum" and self.types.of(node) == "money":
                m.emit(depth, "_dc = _decimal_context()")
            header = (f"for {index}, {elem} in _enumerate(_lines):" if _uses(index, value)
                      else f"for {elem} in _lines:")
            m.emit(depth, header)
            m.emit(depth + 1, f"{code} = {elem}.code")
            if node.kind == "count":
                m.emit(depth + 1, f"{var}[{code}] = {var}.get({code}, 0) + 1")
                return
            m.emit(depth + 1, f"{total} = {var}.get({code}, 0)")
            self._sum_step_source(node, total, value or "None", depth + 1)
            m.emit(depth + 1, f"{var}[{code}] = {total}")
            return
        if not lines:
            header = f"for {elem} in _visit.diagnoses:"
        elif _uses(index, where, value):
            header = f"for {index}, {elem} in _enumerate(_lines):"
        else:
            header = f"for {elem} in _lines:"
        # Money sums add Decimals: take this thread's private context once, before the loop.
        dc = "_dc" if node.kind == "sum" and self.types.of(node) == "money" else \
            "_decimal_context()"
        m.emit(depth, f"{var} = 0")
        if dc == "_dc":
            m.emit(depth, "_dc = _decimal_context()")
        m.emit(depth, header)
        depth += 1
        if where is not None:
            m.emit(depth, f"if {where}:")
            depth += 1
        if node.kind == "count":
            m.emit(depth, f"{var} += 1")
            return
        self._sum_step_source(node, var, value or "None", depth)

    def _sum_step_source(self, node: A.Aggregate, var: str, value: str, depth: int) -> None:
        """Add ``value`` to ``var`` as :func:`_sum_values` does: missing skipped, ints added
        natively, the rest by the shared arithmetic."""
        m = self.m
        dc = "_dc" if node.kind == "sum" and self.types.of(node) == "money" else \
            "_decimal_context()"
        item = m.fresh("x")
        m.emit(depth, f"{item} = {value}")
        m.emit(depth, f"if {item} is not None:")
        m.emit(depth + 1, f"if type({item}) is int and type({var}) is int:")
        m.emit(depth + 2, f"{var} += {item}")
        m.emit(depth + 1, f"elif type({item}) is _Decimal:")  # _sum_step's Decimal branch
        m.emit(depth + 2, f"{var} = {dc}.add({var} if type({var}) is _Decimal "
                          f"else _Decimal({var}), {item})")
        m.emit(depth + 1, "else:")
        m.emit(depth + 2, f"{var} = _sum_step({var}, {item})")

    def aggregate(self, node: A.Aggregate) -> _Code:
        if id(node) in self.hoisted:
            return _Code(self.hoisted.pop(id(node)), False)
        if node.collection == "lines":
            index, var = self.m.fresh("i"), self.m.fresh("e")
            element = _Code(index, False, "line", var)
        else:
            index, var = "", self.m.fresh("e")
            element = _Code(var, False)
        with self._bound(node.var, element):
            where = self.flag(node.where) if node.where is not None else None
            value = self(node.value).src if node.value is not None else None
            if node.collection != "lines":
                source = f"{var} in _visit.diagnoses"
            elif _uses(index, where, value):
                source = f"{index}, {var} in _enumerate(_lines)"
            else:
                source = f"{var} in _lines"
            cond = "" if where is None else f" if {where}"
            if node.kind == "count":
                if where is None:
                    return _Code("len(_lines)" if node.collection == "lines"
                                 else "len(_visit.diagnoses)", False)
                return _Code(f"sum(1 for {source}{cond})", False)
            if node.kind == "sum":
                assert value is not None
                return _Code(f"_sum_values({value} for {source}{cond})", False)
            found = f"any({where or 'True'} for {source})"
            return _Code(found if node.kind == "any" else f"(not {found})", False)

    @contextmanager
    def _bound(self, name: str, code: _Code) -> Iterator[None]:
        """``name`` (an aggregate's element) stands for ``code`` within the block; the outer
        binding of the name, if any, comes back after it."""
        saved = self.scope.get(name)
        self.scope[name] = code
        try:
            yield
        finally:
            if saved is None:
                del self.scope[name]
            else:
                self.scope[name] = saved


_HANDLERS: Final[dict[type, Callable[[_ExprCompiler, Any], _Code]]] = {
    A.Literal: _ExprCompiler.literal, A.Name: _ExprCompiler.name,
    A.Attribute: _ExprCompiler.attribute, A.Lookup: _ExprCompiler.lookup,
    A.Binary: _ExprCompiler.binary, A.Unary: _ExprCompiler.unary,
    A.InTable: _ExprCompiler.in_table, A.InList: _ExprCompiler.in_list,
    A.Has: _ExprCompiler.has, A.Matches: _ExprCompiler.matches,
    A.IsMissing: _ExprCompiler.is_missing, A.IfElse: _ExprCompiler.if_else,
    A.Call: _ExprCompiler.call, A.Aggregate: _ExprCompiler.aggregate,
}


# ---------------------------------------------------------------------------- rules


def _key_source(keys: list[str]) -> str:
    """Source of a table key: the value of a one-column key, else a tuple of the values."""
    return keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ",)"


def _uses(name: str, *sources: str | None) -> bool:
    """Whether generated source mentions the generated name ``name``."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return any(src is not None and pattern.search(src) for src in sources)


def _names(node: A.Expr) -> set[str]:
    """Every name ``node`` mentions (aggregate variables included: a safe over-estimate)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, A.Name):
            out.add(item.name)
        stack.extend(children(item))
    return out


def _code_guard(pack: CheckedPack, rule: A.Rule) -> frozenset[Any] | None:
    """Codes one of which a visit must bill for the rule to be able to fire, or None.

    Found from ``for each line where line.code in T | in (…) | = C`` and from
    ``for each pair a, b in T`` (the first code of some key). A visit billing none of them
    cannot give the rule an element, so the rule is skipped without running.
    """
    it = rule.iteration
    if it is None:
        return None
    if it.kind == "pair" and it.table is not None:
        return frozenset(key[0] for key in pack.tables[it.table].index)
    if it.kind != "line":
        return None
    var = it.names[0]
    for cond in chain([it.where], "and"):
        subject = getattr(cond, "subject", None) if not isinstance(cond, A.Binary) else (
            cond.left if cond.op == "=" else None)
        if not (isinstance(subject, A.Attribute) and subject.name == "code"
                and isinstance(subject.obj, A.Name) and subject.obj.name == var):
            continue
        if isinstance(cond, A.InTable) and not cond.negated:
            table = pack.tables[cond.table]
            if len(table.key_columns) == 1:
                return frozenset(table.index)
        if isinstance(cond, A.InList) and not cond.negated and all(
                isinstance(i, A.Literal) for i in cond.items):
            return frozenset(i.value for i in cond.items)  # type: ignore[union-attr]
        if isinstance(cond, A.Binary) and isinstance(cond.right, A.Literal):
            return frozenset([cond.right.value])
    return None


class _RuleEmitter:
    """Writes one rule's block into the module's single ``_run`` function."""

    def __init__(self, module: _Module, tables: _Tables, info: RuleInfo, index: int) -> None:
        self.m = module
        self.info = info
        self.rule = info.rule
        self.types = RuleTypes(module.pack, info.rule)
        self.x = _ExprCompiler(module, tables, self.types)
        self.fn = f"_rule_{index}"

    def emit(self, guard: frozenset[Any] | None) -> tuple[int, int]:
        """Write the rule's block; return the (first, last) generated line numbers."""
        m, rule, x = self.m, self.rule, self.x
        first = len(m.lines) + 1
        depth = 1
        m.emit(depth, f"# rule {self.fn[6:]}")
        if guard is not None:  # the visit bills none of the codes the rule can apply to
            # Rules often share a guard (one table of codes); its test is made once, by the
            # first of them (this line runs for every visit: it is at the top of `_run`).
            codes = m.const(guard)
            billed = m.guards.get(codes)
            if billed is None:
                billed = m.guards[codes] = m.fresh("h")
                m.emit(depth, f"{billed} = not {codes}.isdisjoint(_codes)")
            m.emit(depth, f"if {billed}:")
            depth += 1
        if rule.effective is not None:
            start, end = m.const(rule.effective.start), m.const(rule.effective.end)
            m.emit(depth, f"if {start} <= _day <= {end}:")
            depth += 1
        start = len(m.lines)
        m.emit(depth, "pass")  # becomes `_g1 = None` when the rule reads per-code totals
        early, middle, late = self._split_when()
        depth = self._test(early, depth)
        self._lets(rule.lets_before, depth)
        depth = self._test(middle, depth)
        depth = self._iteration(depth)
        self._lets(rule.lets_after, depth)
        if late:
            x.hoist(late[0], depth)
        when = " and ".join(x.flag(c) for c in late) or "True"
        m.emit(depth, f"if {when}:")
        line = self._line()
        fix = "None"
        if rule.fix is not None and line is not None:
            value = x(rule.fix.value).src if rule.fix.value is not None else "None"
            fix = f"_fix({m.const(rule.fix)}, {line.line_obj()}, {line.src}, {value})"
        m.emit(depth + 1, f"out.append(_Finding({m.const(rule.id)}, {m.const(rule.severity)}, "
                          f"{'None' if line is None else line.src}, {self._message()}, {fix}, "
                          f"{m.const(rule.source)}))")
        if x.groups:
            m.lines[start] = m.lines[start].replace("pass", " = ".join([*x.groups, "None"]))
        return first, len(m.lines)

    def _split_when(self) -> tuple[list[A.Expr], list[A.Expr], list[A.Expr]]:
        """The ``when`` conditions joined by ``and``, as those that need no let and no
        element, those that need only the lets before ``for each``, and the rest. The rule
        fires only if all are true, so the first two are tested once, before the loop (and
        the lets) they do not need, instead of for every element."""
        rule = self.rule
        it = rule.iteration
        element = set() if it is None else {*it.names, *([it.table] if it.table else [])}
        element |= {let.name for let in rule.lets_after}
        before = {let.name for let in rule.lets_before}
        early: list[A.Expr] = []
        middle: list[A.Expr] = []
        late: list[A.Expr] = []
        for cond in chain([rule.when], "and"):
            names = _names(cond)
            (late if names & element else middle if names & before else early).append(cond)
        return early, middle, late

    def _test(self, conds: list[A.Expr], depth: int) -> int:
        if not conds:
            return depth
        self.x.hoist(conds[0], depth)
        self.m.emit(depth, f"if {' and '.join(self.x.flag(c) for c in conds)}:")
        return depth + 1

    def _lets(self, lets: tuple[A.Let, ...], depth: int) -> None:
        for let in lets:
            self.x.hoist(let.value, depth)
            code = self.x(let.value)
            var = self.m.fresh("v")
            self.m.emit(depth, f"{var} = {code.src}")
            self.x.scope[let.name] = _Code(var, code.nullable, code.kind)

    def _iteration(self, depth: int) -> int:
        it, m, x = self.rule.iteration, self.m, self.x
        if it is None:
            return depth
        if it.kind == "line":
            index, var = m.fresh("i"), m.fresh("l")
            m.emit(depth, f"for {index}, {var} in _enumerate(_lines):")
            x.scope[it.names[0]] = _Code(index, False, "line", var)
        elif it.kind == "diagnosis":
            var = m.fresh("d")
            m.emit(depth, f"for {var} in _visit.diagnoses:")
            x.scope[it.names[0]] = _Code(var, False)
        else:
            # Pairs loop over the codes (n² steps, most ending at the table lookup); a line is
            # read as `_lines[i]` only where a rule needs more than its code.
            codes, ia, a, ib, b = (m.fresh("k"), m.fresh("i"), m.fresh("a"), m.fresh("i"),
                                   m.fresh("b"))
            m.emit(depth, f"{codes} = [_line.code for _line in _lines]")
            m.emit(depth, f"for {ia}, {a} in _enumerate({codes}):")
            if it.table is not None:  # a first code that starts no key of the table pairs with none
                firsts = frozenset(key[0] for key in m.pack.tables[it.table].index)
                m.emit(depth + 1, f"if {a} not in {m.const(firsts)}:")
                m.emit(depth + 2, "continue")
            m.emit(depth + 1, f"for {ib}, {b} in _enumerate({codes}):")
            m.emit(depth + 2, f"if {ia} == {ib}:")
            m.emit(depth + 3, "continue")
            depth += 1
            x.scope[it.names[0]] = _Code(ia, False, "line", code=a)
            x.scope[it.names[1]] = _Code(ib, False, "line", code=b)
            if it.table is not None:
                row = m.fresh("r")
                find = x.tables.find(it.table, f"({a}, {b})")
                m.emit(depth + 1, f"{row} = {find}")
                m.emit(depth + 1, f"if {row} is None:")
                m.emit(depth + 2, "continue")
                x.scope[it.table] = _Code(row, False, f"row:{it.table}")
        if it.where is not None:
            m.emit(depth + 1, f"if not {x.flag(it.where)}:")
            m.emit(depth + 2, "continue")
        return depth + 1

    def _line(self) -> _Code | None:
        """The line a finding names: the (last) line the rule iterates over, or None."""
        it = self.rule.iteration
        if it is None or it.kind == "diagnosis":
            return None
        return self.x.scope[it.names[-1]]

    def _message(self) -> str:
        """Source of the rule's message, rendered where it fires. The same text as
        :func:`runtime.render_message`: each placeholder is compiled as the expression its
        path names and printed by its static type; PHI is withheld."""
        rule, m = self.rule, self.m
        if rule.say is None:
            return m.const(rule.about or rule.id)
        parts: list[str] = []
        for part in rule.say.parts:
            if isinstance(part, str):
                parts.append(m.const(part))
                continue
            kind, taint = self.types.path(part.path)
            if taint & PHI:  # the checker forbids it; never print it even if one slips through
                parts.append(m.const(WITHHELD))
                continue
            node: A.Expr = A.Name(part.path[0])
            for name in part.path[1:]:
                node = A.Attribute(node, name)
            code = self.x(node)
            if code.kind == "line":
                parts.append(f"_fmt_line(_lines, {code.src})")
            elif code.kind.startswith("row:"):
                table = m.const(m.pack.tables[code.kind[4:]].name)
                parts.append(f"_fmt_row({code.src}, {table})")
            elif kind in _TEXT_TYPES:  # format_value gives text as it is
                tmp = m.fresh("f")
                parts.append(f"({tmp} if type({tmp} := {code.src}) is str "
                             f"else _fmt({tmp}, {m.const(kind)}))")
            else:
                parts.append(f"_fmt({code.src}, {m.const(kind)})")
        if not parts:
            return m.const("")
        return parts[0] if len(parts) == 1 else "(" + " + ".join(parts) + ")"


# ---------------------------------------------------------------------------- the module


class _Program:
    """The generated module: one function ``_run(ctx, out, _codes)`` holding every rule's
    block in rule order, and a map from generated lines back to rules."""

    def __init__(self, pack: CheckedPack) -> None:
        module = _Module(pack)
        tables = _Tables(module)
        module.emit(0, "# Generated by otrules from a checked rule pack. Do not edit.")
        module.emit(0, "# Every literal and name is hoisted into the module namespace.")
        # `_codes`: the set of the visit's codes (the caller has it from its scan).
        module.emit(0, "def _run(ctx, out, _codes):")
        module.emit(1, "_visit = ctx.visit")
        module.emit(1, "_day = ctx.day")
        module.emit(1, "_lines = _visit.lines")
        guards = [_code_guard(pack, info.rule) for info in pack.rules]
        self.rule_map: list[tuple[str, str, Any]] = []
        self.line_ranges: list[tuple[int, int, str]] = []
        for index, (info, guard) in enumerate(zip(pack.rules, guards, strict=True)):
            emitter = _RuleEmitter(module, tables, info, index)
            first, last = emitter.emit(guard)
            self.line_ranges.append((first, last, info.rule.id))
            self.rule_map.append((emitter.fn, info.rule.id, info.rule.span))
        self.source = "\n".join(module.lines) + "\n"
        self.filename = f"<otrules pack {_safe_name(pack.name)} {pack.digest[:12]}>"
        linecache.cache[self.filename] = (len(self.source), None,
                                          self.source.splitlines(True), self.filename)
        code = compile(self.source, self.filename, "exec")
        namespace = dict(module.namespace)
        exec(code, namespace)  # the source holds no pack text: see the module docstring
        self.run = namespace["_run"]

    def rule_at(self, tb: Any) -> str | None:
        """The id of the rule whose generated code raised, from the traceback."""
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                line = tb.tb_lineno
                for first, last, rule_id in self.line_ranges:
                    if first <= line <= last:
                        return rule_id
            tb = tb.tb_next
        return None


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:60]


def compile_source(pack: CheckedPack) -> str:
    """The generated Python source of ``pack`` (the debug view behind ``otrules compile``)."""
    return _Program(pack).source


class CompiledBackend:
    """The fast back end. Immutable after construction; one instance serves many threads.
    Pickles as its pack: the module is regenerated on load (generated code is never pickled).
    """

    supports_trace: Final[bool] = False

    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self.timed_index = timed_flag_index(pack)  # read by Pack.evaluate for its context
        self._start, self._end = pack.effective.start, pack.effective.end
        self._program = _Program(pack)
        self.source = self._program.source
        self.rule_map = tuple(self._program.rule_map)
        self.evaluate_plain = _plain_evaluator(pack, self._program, self.timed_index)

    def run(self, ctx: EvalContext) -> list[Finding]:
        if not self._start <= ctx.day <= self._end:  # the test of pack_not_effective
            stop = pack_not_effective(ctx)
            if stop is not None:
                return [stop]
        out: list[Finding] = []
        program = self._program
        try:
            program.run(ctx, out, {line.code for line in ctx.visit.lines})
        except EvaluationError:
            raise
        except Exception as exc:
            raise evaluation_error(exc, ctx, program.rule_at(exc.__traceback__)) from exc
        return out

    def plan(self) -> list[str]:
        """A readable plan: per rule, its generated lines, where it is declared, and the
        codes a visit must bill for the rule to run (its guard)."""
        out = [f"pack {self.pack.name} {self.pack.version or ''}".rstrip(),
               f"generated module {self._program.filename}: {len(self.source.splitlines())} "
               "lines, one function `_run`"]
        for (first, last, rule_id), (_, _, span), info in zip(
                self._program.line_ranges, self.rule_map, self.pack.rules, strict=True):
            guard = _code_guard(self.pack, info.rule)
            where = f"{span.file}:{span.line}" if span is not None else "?"
            runs = "every visit" if guard is None else (
                f"visits billing one of {len(guard)} code(s): "
                + ", ".join(sorted(map(str, guard))[:8]) + (" …" if len(guard) > 8 else ""))
            effective = info.rule.effective
            dates = "" if effective is None else (
                f"; only {effective.start.isoformat()} to {effective.end.isoformat()}")
            out.append(f"rule {rule_id} ({info.rule.severity}, from {info.pack} at {where}): "
                       f"generated lines {first}-{last}; runs for {runs}{dates}")
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (CompiledBackend, (self.pack,))


def _plain_evaluator(pack: CheckedPack, program: _Program,
                     timed_index: dict[str, bool | None] | None
                     ) -> Callable[[Visit], Result | None]:
    """``Pack.evaluate(visit)`` without options, for the common visit: within the visit limits,
    plain lines (:func:`scan.plain_codes`) and dated in the pack's range. It returns None for
    any other visit, which then takes the general path (``Pack.evaluate``) unchanged. The same
    steps as the general path with the calls between them folded away (it runs per visit);
    the differential tests compare the two."""
    name, version = pack.name, pack.version
    start, end = pack.effective.start, pack.effective.end
    run, context = program.run, EvalContext.of_plain_visit

    def evaluate_plain(visit: Visit) -> Result | None:
        codes = plain_codes(visit)
        if codes is None or not start <= visit.date_of_service <= end:
            return None
        ctx = context(pack, visit, timed_index)
        out: list[Finding] = []
        try:
            run(ctx, out, codes)
        except EvaluationError:
            raise
        except Exception as exc:  # a bug: never let a raw exception reach the caller
            raise evaluation_error(exc, ctx, program.rule_at(exc.__traceback__)) from exc
        findings = tuple(out)
        return result_with_pending_lines(visit.id, name, version,
                                         status_of(findings) if findings else "pass", ctx,
                                         findings, None)

    return evaluate_plain
