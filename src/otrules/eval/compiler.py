"""The compiled back end: a checked pack becomes one generated Python module.

Each rule becomes a function ``_rule_N(ctx, out)`` whose loops and conditions are plain Python.
Nothing from the pack is ever spliced into the source as text: every literal, message, table
and parameter is hoisted into the module's namespace under a generated name (``_c12``), and
operators come from fixed tables. Names in the generated code are generated too (``_v3``), so
a rule id, a table name or a string full of quotes cannot change what the code does.

Speed comes from three things: expressions that cannot be missing compile to plain Python
operators (no three-valued helper); a rule whose lines or pairs can only involve certain codes
is skipped when the visit has none of them; table lookups are dictionary lookups, so cost does
not grow with table size. Everything that is not expression evaluation — pack range, rule
dates, pair order, messages, fixes, findings — is the shared code of :mod:`runtime`, so the
compiled and interpreted back ends cannot disagree on it. The reference interpreter remains
the oracle: a differential test runs both over random packs and visits.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from otrules.errors import EvaluationError
from otrules.eval import values as V
from otrules.eval.context import EvalContext, RowValue
from otrules.eval.result import Finding
from otrules.eval.runtime import (
    Element,
    evaluation_error,
    fix_suggestion,
    make_finding,
    pack_not_effective,
    render_message,
)
from otrules.eval.typeinfo import RuleTypes
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack, RuleInfo

__all__ = ["CompiledBackend", "compile_source"]

# field -> (python template over the object expression `{o}`, may be missing)
_LINE_FIELDS: Final[dict[str, tuple[str, bool]]] = {
    "code": ("{o}.line.code", False),
    "minutes": ("{o}.line.minutes", True),
    "units": ("{o}.line.units", True),
    "computed_units": ("{o}.computed_units", False),
    "performed_by": ("{o}.line.performed_by", True),
    "assistant_minutes": ("{o}.line.assistant_minutes_or_zero", False),
    "charge": ("{o}.line.charge", True),
    "position": ("({o}.index + 1)", False),
    "pointer_count": ("len({o}.line.diagnosis_pointers)", False),
    "timed": ("{o}.timed", True),
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
    "telehealth": ("_visit.is_telehealth", False),
    "claim_submitted_on": ("_visit.claim_submitted_on", True),
    "timed_minutes": ("ctx.timed_minutes", False),
    "line_count": ("len(_lines)", False),
    "stated_units_valid": ("ctx.stated_units_valid", False),
}
_NATIVE_COMPARE: Final = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_HELPER_OF: Final = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "//": "_floordiv",
                     "%": "_mod", "=": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt",
                     ">=": "_ge"}

# An object-valued expression: what it is ("line", "patient", "authorization", "visit",
# "row:<table>", "diagnosis", or "value") decides how its fields compile.
_Obj = str


class _Code:
    """A compiled expression: Python source, whether it may be missing, what kind it is."""

    __slots__ = ("kind", "nullable", "src")

    def __init__(self, src: str, nullable: bool, kind: _Obj = "value") -> None:
        self.src = src
        self.nullable = nullable
        self.kind = kind


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
            "_matches_any": V.matches_any, "_sum_values": _sum_values, "_row": RowValue,
            "_get": _get_field, "_Decimal": Decimal,
        }
        self._consts: dict[tuple[type, Any], str] = {}
        self._counter = 0

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


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


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


def _has_or_missing(line: Any, mode: str, wanted: tuple[str, ...]) -> bool | None:
    return None if line is None else V.has_modifiers(line.line.modifiers, mode, wanted)


def _get_field(row: tuple[Any, ...] | None, index: int) -> Any:
    return None if row is None else row[index]


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
        self.scope: dict[str, tuple[str, _Obj, bool]] = {}

    def __call__(self, node: A.Expr) -> _Code:
        return _HANDLERS[type(node)](self, node)

    def flag(self, node: A.Expr) -> str:
        """Source that is truthy exactly when ``node`` is true (not false, not missing)."""
        code = self(node)
        return f"({code.src} is True)" if code.nullable else code.src

    # ---------------------------------------------------------------- leaves
    def literal(self, node: A.Literal) -> _Code:
        return _Code(self.m.const(node.value), node.value is None)

    def name(self, node: A.Name) -> _Code:
        if node.name in self.scope:
            src, kind, nullable = self.scope[node.name]
            return _Code(src, nullable, kind)
        if node.name in self.m.pack.parameters:
            param = self.m.pack.parameters[node.name]
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
                return _Code(f"_get({obj.src}, {index})", True)
            return _Code(f"{obj.src}[{index}]", column.optional)
        table = {"line": _LINE_FIELDS, "patient": _PATIENT_FIELDS,
                 "authorization": _AUTHORIZATION_FIELDS}[obj.kind]
        template, nullable = table[node.name]
        if obj.nullable:
            tmp = self.m.fresh("o")
            inner = template.format(o=tmp)
            return _Code(f"(None if ({tmp} := {obj.src}) is None else {inner})", True)
        return _Code(template.format(o=obj.src), nullable)

    def lookup(self, node: A.Lookup) -> _Code:
        keys = [self(k) for k in node.keys]
        key_src = keys[0].src if len(keys) == 1 else "(" + ", ".join(k.src for k in keys) + ",)"
        kind = f"row:{node.table}"
        if any(k.nullable for k in keys):
            tmps = [self.m.fresh("k") for _ in keys]
            binds = " or ".join(f"({t} := {k.src}) is None" for t, k in zip(tmps, keys,
                                                                             strict=True))
            key = tmps[0] if len(tmps) == 1 else "(" + ", ".join(tmps) + ",)"
            return _Code(f"(None if {binds} else {self.tables.find(node.table, key)})", True,
                         kind)
        return _Code(self.tables.find(node.table, key_src), True, kind)

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
        return _Code(f"{helper}({left.src}, {right.src})", nullable)

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
        mods = f"{line.src}.line.modifiers"
        wanted = self.m.const(frozenset(node.modifiers))
        if node.mode == "one":
            test = f"({self.m.const(node.modifiers[0])} in {mods})"
        elif node.mode == "any":
            test = f"(not {wanted}.isdisjoint({mods}))"
        elif node.mode == "all":
            test = f"{wanted}.issubset({mods})"
        else:
            test = f"(len({wanted}.intersection({mods})) >= 2)"
        if line.nullable:  # the checker allows only lines here; kept for safety
            helper = self.m.const(_has_or_missing)
            mode, names = self.m.const(node.mode), self.m.const(node.modifiers)
            return self._negate(_Code(f"{helper}({line.src}, {mode}, {names})", True),
                                node.negated)
        return self._negate(_Code(test, False), node.negated)

    def matches(self, node: A.Matches) -> _Code:
        subject = self(node.subject)
        return _Code(f"_matches_any({subject.src}, {self.m.const(node.patterns)})",
                     subject.nullable)

    def is_missing(self, node: A.IsMissing) -> _Code:
        subject = self(node.subject)
        if not subject.nullable:
            return _Code("False" if not node.negated else "True", False)
        op = "is not" if node.negated else "is"
        return _Code(f"({subject.src} {op} None)", False)

    def if_else(self, node: A.IfElse) -> _Code:
        then, other = self(node.then), self(node.otherwise)
        kind = then.kind if then.kind == other.kind else "value"
        return _Code(f"({then.src} if {self.flag(node.condition)} else {other.src})",
                     then.nullable or other.nullable, kind)

    def call(self, node: A.Call) -> _Code:
        fn = self.m.const(V.BUILTINS[node.function])
        args = [self(a) for a in node.args]
        nullable = any(a.nullable for a in args) or node.function in ("units_for", "abs",
                                                                      "min", "max")
        return _Code(f"{fn}({', '.join(a.src for a in args)})", nullable)

    def aggregate(self, node: A.Aggregate) -> _Code:
        var = self.m.fresh("e")
        source = "_lines" if node.collection == "lines" else "_visit.diagnoses"
        kind = "line" if node.collection == "lines" else "value"
        saved = self.scope.get(node.var)
        self.scope[node.var] = (var, kind, False)
        try:
            where = f" if {self.flag(node.where)}" if node.where is not None else ""
            if node.kind == "count":
                return _Code(f"sum(1 for {var} in {source}{where})", False)
            if node.kind == "sum":
                assert node.value is not None
                value = self(node.value)
                return _Code(f"_sum_values({value.src} for {var} in {source}{where})", False)
            test = self.flag(node.where) if node.where is not None else "True"
            found = f"any({test} for {var} in {source})"
            return _Code(found if node.kind == "any" else f"(not {found})", False)
        finally:
            if saved is None:
                del self.scope[node.var]
            else:
                self.scope[node.var] = saved


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


def _conjuncts(node: A.Expr | None) -> list[A.Expr]:
    out: list[A.Expr] = []
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, A.Binary) and item.op == "and":
            stack += [item.right, item.left]
        else:
            out.append(item)
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
    for cond in _conjuncts(it.where):
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
        self.emitter = module.const(_make_emitter(info, self.types))

    def emit(self, guard: frozenset[Any] | None) -> tuple[int, int]:
        """Write the rule's block; return the (first, last) generated line numbers."""
        m, rule, x = self.m, self.rule, self.x
        first = len(m.lines) + 1
        depth = 1
        m.emit(depth, f"# rule {self.fn[6:]}")
        if guard is not None:  # the visit bills none of the codes the rule can apply to
            m.emit(depth, f"if not {m.const(guard)}.isdisjoint(_codes):")
            depth += 1
        if rule.effective is not None:
            start, end = m.const(rule.effective.start), m.const(rule.effective.end)
            m.emit(depth, f"if {start} <= _day <= {end}:")
            depth += 1
        m.emit(depth, "pass")
        self._lets(rule.lets_before, depth)
        depth = self._iteration(depth)
        self._lets(rule.lets_after, depth)
        when = x.flag(rule.when) if rule.when is not None else "True"
        m.emit(depth, f"if {when}:")
        fix = "None"
        if rule.fix is not None and rule.fix.value is not None:
            fix = x(rule.fix.value).src
        line = self._line_var()
        m.emit(depth + 1, f"out.append({self.emitter}(ctx, {line}, {self._scope_dict()}, {fix}))")
        return first, len(m.lines)

    def _lets(self, lets: tuple[A.Let, ...], depth: int) -> None:
        for let in lets:
            code = self.x(let.value)
            var = self.m.fresh("v")
            self.m.emit(depth, f"{var} = {code.src}")
            self.x.scope[let.name] = (var, code.kind, code.nullable)

    def _iteration(self, depth: int) -> int:
        it, m, x = self.rule.iteration, self.m, self.x
        if it is None:
            return depth
        if it.kind == "line":
            var = m.fresh("l")
            m.emit(depth, f"for {var} in _lines:")
            x.scope[it.names[0]] = (var, "line", False)
        elif it.kind == "diagnosis":
            var = m.fresh("d")
            m.emit(depth, f"for {var} in _visit.diagnoses:")
            x.scope[it.names[0]] = (var, "value", False)
        else:
            a, b = m.fresh("a"), m.fresh("b")
            m.emit(depth, f"for {a} in _lines:")
            m.emit(depth + 1, f"for {b} in _lines:")
            m.emit(depth + 2, f"if {a} is {b}:")
            m.emit(depth + 3, "continue")
            depth += 1
            x.scope[it.names[0]] = (a, "line", False)
            x.scope[it.names[1]] = (b, "line", False)
            if it.table is not None:
                row = m.fresh("r")
                find = x.tables.find(it.table, f"({a}.line.code, {b}.line.code)")
                m.emit(depth + 1, f"{row} = {find}")
                m.emit(depth + 1, f"if {row} is None:")
                m.emit(depth + 2, "continue")
                x.scope[it.table] = (row, f"row:{it.table}", False)
        if it.where is not None:
            m.emit(depth + 1, f"if not {x.flag(it.where)}:")
            m.emit(depth + 2, "continue")
        return depth + 1

    def _line_var(self) -> str:
        it = self.rule.iteration
        if it is None or it.kind == "diagnosis":
            return "None"
        return self.x.scope[it.names[-1]][0]

    def _scope_dict(self) -> str:
        """The names a message may use, as a dict expression over the generated locals."""
        names = {p.path[0] for p in (self.rule.say.parts if self.rule.say else ())
                 if isinstance(p, A.Placeholder)}
        items = []
        for name in sorted(names):
            if name in self.x.scope:
                src, kind, _ = self.x.scope[name]
                if kind.startswith("row:"):
                    src = f"_row({self.m.const(self.m.pack.tables[kind[4:]])}, {src})"
                items.append(f"{self.m.const(name)}: {src}")
        return "{" + ", ".join(items) + "}"


def _make_emitter(info: RuleInfo, types: RuleTypes) -> Callable[..., Finding]:
    """The function generated code calls when the rule fires: message, fix, finding."""
    rule = info.rule

    def emit(ctx: EvalContext, line: Any, scope: dict[str, Any], fix_value: Any) -> Finding:
        def resolve(name: str) -> Any:
            return scope[name] if name in scope else ctx.global_value(name)

        message = render_message(rule, resolve, ctx, types)
        fix = fix_suggestion(rule.fix, line, fix_value)
        return make_finding(info, Element({}, line, ""), message, fix)

    return emit


# ---------------------------------------------------------------------------- the module


class _Program:
    """The generated module: one function ``_run(ctx, out, _codes)`` holding every rule's
    block in rule order, and a map from generated lines back to rules."""

    def __init__(self, pack: CheckedPack) -> None:
        module = _Module(pack)
        tables = _Tables(module)
        module.emit(0, "# Generated by otrules from a checked rule pack. Do not edit.")
        module.emit(0, "# Every literal and name is hoisted into the module namespace.")
        module.emit(0, "def _run(ctx, out, _codes):")
        module.emit(1, "_visit = ctx.visit")
        module.emit(1, "_day = ctx.day")
        module.emit(1, "_lines = ctx.lines")
        self.rule_map: list[tuple[str, str, Any]] = []
        self.line_ranges: list[tuple[int, int, str]] = []
        self.guarded = False
        for index, info in enumerate(pack.rules):
            guard = _code_guard(pack, info.rule)
            self.guarded = self.guarded or guard is not None
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
        self._program = _Program(pack)
        self.source = self._program.source
        self.rule_map = tuple(self._program.rule_map)

    def run(self, ctx: EvalContext) -> list[Finding]:
        stop = pack_not_effective(ctx)
        if stop is not None:
            return [stop]
        out: list[Finding] = []
        program = self._program
        codes = {lv.line.code for lv in ctx.lines} if program.guarded else None
        try:
            program.run(ctx, out, codes)
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
