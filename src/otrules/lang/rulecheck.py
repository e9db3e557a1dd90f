"""Checks of one rule: its clauses, lets, iteration, condition, message, fix and source."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang.never_true import FixedComparison, fold, never_true
from otrules.lang.scope import (
    PHI_FIELDS,
    RECORD_FIELDS,
    UNKNOWN,
    VISIT_FIELDS,
    Binding,
    Scope,
    TableView,
    describe,
    is_value,
    row_table,
    row_type,
)
from otrules.lang.suggest import did_you_mean, field_help
from otrules.lang.typing_rules import ExprTyper, TypeContext

_REPEAT_HELP = {"when": "join the conditions with `and`", "for each": "a rule iterates once"}


def report_repeats(decl: A.PackHeader | A.Parameter | A.Table | A.Rule, where: str,
                   diags: list[Diagnostic]) -> None:
    """E042 for each clause given again in ``decl`` (``where`` names it), at the repeat."""
    for repeat in decl.repeated:
        help_ = _REPEAT_HELP.get(repeat.keyword, "keep one")
        if isinstance(decl, A.PackHeader) and repeat.keyword == "payer":
            payers = [*decl.payers, *(p for r in decl.repeated if r.keyword == "payer"
                                      for p in r.value)]
            help_ = f"list every payer in one clause: `payer {', '.join(dict.fromkeys(payers))}`"
        diags.append(Diagnostic(C.REPEATED_CLAUSE, "error",
                                f"`{repeat.keyword}` is given twice in {where}", repeat.span,
                                help_))


@attrs.define
class PackContext:
    """What every rule of a merged pack is checked against."""

    tables: Mapping[str, TableView]
    codes: frozenset[str] | None
    modifiers: frozenset[str] | None
    globals: Scope  # parameters over visit fields
    effective: A.DateRange | None
    text: Callable[[A.Expr], str]  # source text of an expression, for messages
    source_line: Callable[[Span], str | None]
    locate: Callable[[Span | None, str, Span | None], Span | None]
    diags: list[Diagnostic] = attrs.field(factory=list)
    used: set[Any] = attrs.field(factory=set)

    def report(self, code: str, severity: str, message: str, span: Span | None,
               help_: str | None = None) -> None:
        self.diags.append(Diagnostic(code, severity, message, span, help_))  # type: ignore[arg-type]


class RuleChecker:
    """Checks one rule. Lets are bound in order; the names visible at each point follow
    semantics.md ("Names")."""

    def __init__(self, pack: PackContext, rule: A.Rule) -> None:
        self.pack = pack
        self.rule = rule
        kind = rule.iteration.kind if rule.iteration is not None else None
        self.ctx = TypeContext(pack.tables, pack.codes, pack.modifiers, diags=pack.diags,
                               used=pack.used, iteration=kind, locate=pack.locate)
        self.typer = ExprTyper(self.ctx)
        self.lets: dict[str, tuple[Any, A.Let]] = {}  # name -> (binding key, let)
        self.phi_lets: set[str] = set()
        self.element_names: set[str] = set()

    def error(self, code: str, message: str, span: Span | None, help_: str | None = None
              ) -> None:
        self.pack.report(code, "error", message, span, help_)

    def check(self) -> None:
        rule = self.rule
        first = len(self.pack.diags)
        self._repeated()
        self._effective()
        after = {let.name for let in rule.lets_after} if rule.lets_before else set()
        scope = self._lets(rule.lets_before, self.pack.globals, after)
        scope = self._iteration(scope)
        scope = self._lets(rule.lets_after, scope, set())
        if rule.when is None:
            self._missing("when", "add `when CONDITION`: the rule fires when it is yes")
        else:
            self.typer.require_flag(rule.when, self.typer.infer(rule.when, scope), "`when`")
        if rule.say is None:
            self._missing("say", 'add `say "…"`: the message the biller reads')
        else:
            self._placeholders(rule.say, scope)
        self._fix(scope)
        if rule.source is None:
            self._missing("source", 'add `source "…"` naming the policy the rule enforces')
        self._unused_lets()
        diags = self.pack.diags
        if len(diags) == first or not any(d.severity == "error" for d in diags[first:]):
            self._never_true()  # a rule with errors would only add noise

    def _missing(self, clause: str, help_: str) -> None:
        self.error(C.MISSING_CLAUSE, f"rule '{self.rule.id}' has no `{clause}` clause",
                   self.rule.id_span, help_)

    # ----------------------------------------------------------------- clauses
    def _repeated(self) -> None:
        report_repeats(self.rule, f"rule '{self.rule.id}'", self.pack.diags)

    def _effective(self) -> None:
        rng, pack = self.rule.effective, self.pack.effective
        if rng is None:
            return
        if rng.start > rng.end:
            self.error(C.REVERSED_RANGE, f"the range {rng.start} to {rng.end} ends before it "
                       "starts", rng.span)
        elif pack is not None and not (pack.start <= rng.start and rng.end <= pack.end):
            self.error(C.RULE_RANGE, f"rule '{self.rule.id}' is effective {rng.start} to "
                       f"{rng.end}, outside the pack's range {pack.start} to {pack.end}",
                       rng.span)

    # ----------------------------------------------------------------- lets
    def _lets(self, lets: tuple[A.Let, ...], scope: Scope, after: set[str]) -> Scope:
        if not lets:
            return scope
        names: dict[str, Binding] = {}
        later = {let.name for let in lets}
        frame = scope.child(names)
        for let in lets:
            later.discard(let.name)
            pending = {n: f"'{n}' is used before its `let`" for n in later} if later else {}
            if after:
                pending.update({n: f"'{n}' is computed once per element, after `for each`, "
                                "and cannot be used here" for n in after})
            phi_before = self.ctx.phi_reads
            type_ = self.typer.infer(let.value, frame.child({}, pending) if pending else frame)
            # Bound even when it reuses a name, so that its uses do not cascade into errors.
            self._shadows(let.name, functools.partial(_name_span, let, self.pack.source_line))
            key = ("let", self.rule.id, let.name, id(let))
            names[let.name] = Binding(type_, "let", key)
            self.lets[let.name] = (key, let)
            if self.ctx.phi_reads > phi_before:
                self.ctx.phi_keys.add(key)
                self.phi_lets.add(let.name)
        return frame

    def _shadows(self, name: str, span: Span | Callable[[], Span | None] | None,
                 what: str = "let") -> bool:
        """Report a let or element name that reuses a name it may not. (A let's ``span`` is
        found in the source line only when there is something to report.)"""
        globals_ = self.pack.globals.lookup(name)
        if name in self.lets:
            other = "another let of the rule"
        elif name in self.element_names:
            other = "an element of `for each`"
        elif name in self.pack.tables:
            other = f"table '{name}'"
        elif globals_ is not None and globals_.kind == "param":
            other = f"parameter '{name}'"
        elif name in VISIT_FIELDS or name == "visit":
            other = f"the visit field '{name}'"
        else:
            return False
        if callable(span):
            span = span()
        self.error(C.LET_SHADOWS, f"{what} '{name}' reuses the name of {other}", span,
                   "choose another name")
        return True

    def _unused_lets(self) -> None:
        for key, let in self.lets.values():
            if key not in self.pack.used and let.name not in self.ctx.early:
                self.pack.report(C.UNUSED_LET, "warning", f"let '{let.name}' is never used",
                                 _name_span(let, self.pack.source_line), "remove it")

    # ----------------------------------------------------------------- iteration
    def _iteration(self, scope: Scope) -> Scope:
        each = self.rule.iteration
        if each is None:
            return scope
        names: dict[str, Binding] = {}
        element = "diagnosis" if each.kind == "diagnosis" else "line"
        for name in each.names:
            self._shadows(name, each.span, "element name")
            names[name] = Binding(element, "element")
            self.element_names.add(name)
        if each.kind == "pair" and each.table is not None:
            self._pair_table(each, names)
        inner = scope.child(names)
        if each.where is not None:
            pending = {let.name: f"'{let.name}' is computed after the `where` of `for each` "
                       "and cannot be used in it" for let in self.rule.lets_after}
            where_type = self.typer.infer(each.where, inner.child({}, pending))
            self.typer.require_flag(each.where, where_type, "`where`")
        return inner

    def _pair_table(self, each: A.ForEach, names: dict[str, Binding]) -> None:
        assert each.table is not None
        view = self.typer.table(each.table, each.span)
        if view is None:
            return
        names[each.table] = Binding(row_type(each.table), "row")
        keys = view.keys
        if keys is not None and [k.type for k in keys] != ["code", "code"]:
            shown = ", ".join(f"{k.name} ({k.type})" for k in keys) or "no key column"
            self.error(C.TABLE_SHAPE, f"`for each pair … in {each.table}` needs a table keyed "
                       f"by two codes; '{each.table}' is keyed by {shown}", each.span)

    # ----------------------------------------------------------------- say, fix
    def _placeholders(self, say: A.Template, scope: Scope) -> None:
        for part in say.parts:
            if isinstance(part, A.Placeholder):
                self._placeholder(part, scope)

    def _placeholder(self, ph: A.Placeholder, scope: Scope) -> None:
        head, *fields = ph.path
        if fields and fields[-1] in PHI_FIELDS and tuple(ph.path[:-1]) in (
                ("patient",), ("visit", "patient")):
            self.error(C.PHI_PLACEHOLDER, f"the message shows patient.{fields[-1]}, which "
                       "identifies the patient", ph.span,
                       "show codes, dates of service and amounts, never who the patient is")
            return
        if head in self.phi_lets:
            self.error(C.PHI_PLACEHOLDER, f"the message shows '{head}', which is computed "
                       "from patient data that identifies the patient", ph.span,
                       "show codes, dates of service and amounts, never who the patient is")
        binding = scope.lookup(head)
        if binding is None:
            self.error(C.BAD_PLACEHOLDER_NAME, f"{_shown(ph)} names nothing: unknown name "
                       f"'{head}'", ph.span, did_you_mean(head, scope.visible()))
            return
        self.pack.used.add(binding.key)
        type_ = binding.type
        for field in fields:
            type_ = self._placeholder_field(ph, type_, field)
        if type_ != UNKNOWN and not is_value(type_):
            example = _first_field(type_, self.pack.tables)
            self.error(C.BAD_PLACEHOLDER_NAME, f"{_shown(ph)} is {describe(type_)}, not a "
                       "single value", ph.span,
                       f"name one of its fields, such as {{{ph.text}.{example}}}"
                       if example else None)

    def _placeholder_field(self, ph: A.Placeholder, type_: str, field: str) -> str:
        if type_ == UNKNOWN:
            return UNKNOWN
        span = ph.span
        table = row_table(type_)
        if table is not None:
            view = self.pack.tables.get(table)
            if view is None or view.columns is None:
                return UNKNOWN
            col = view.column(field)
            if col is None:
                self.error(C.BAD_PLACEHOLDER_NAME, f"{_shown(ph)} names nothing: table "
                           f"'{table}' has no column '{field}'", span,
                           field_help(field, (c.name for c in view.columns),
                                      noun="columns"))
                return UNKNOWN
            return col.type
        fields = RECORD_FIELDS.get(type_, {})
        if field not in fields:
            what = type_ if type_ in RECORD_FIELDS else describe(type_)
            self.error(C.BAD_PLACEHOLDER_NAME, f"{_shown(ph)} names nothing: {what} has no "
                       f"field '{field}'", span, field_help(field, fields) if fields else None)
            return UNKNOWN
        return fields[field]

    def _fix(self, scope: Scope) -> None:
        fix = self.rule.fix
        if fix is None:
            return
        each = self.rule.iteration
        if each is None or each.kind == "diagnosis":
            self.error(C.FIX_WITHOUT_LINE, f"`fix` needs a line: rule '{self.rule.id}' has no "
                       "`for each line` or `for each pair`", fix.span,
                       "add `for each line where …`, or remove the fix")
        if fix.kind == "add_modifier" and fix.modifier is not None:
            self.typer.check_modifier(fix.modifier, fix.span)
        elif fix.value is not None:
            type_ = self.typer.infer(fix.value, scope)
            if type_ not in ("number", UNKNOWN):
                self.error(C.FIX_UNITS_TYPE, f"`fix set units to` needs a number, not "
                           f"{describe(type_)}", fix.value.span,
                           "units are a plain number, such as line.computed_units")

    # ----------------------------------------------------------------- warnings
    def _never_true(self) -> None:
        rule = self.rule
        conditions = [e for e in (rule.iteration.where if rule.iteration else None, rule.when)
                      if e is not None]
        verdict = never_true(conditions, self.pack.text)
        if verdict is not None:
            self.pack.report(C.NEVER_TRUE, "warning", f"rule '{rule.id}' can never fire: "
                             f"{verdict.message}", verdict.span,
                             "check the condition: one of its parts is probably mistyped")
        skip = verdict.span if verdict is not None else None
        for comparison in self.ctx.fixed:
            found: list[FixedComparison] = []
            fold(comparison, found)
            for fixed in found:
                if fixed.node.span != skip:
                    answer = "yes" if fixed.result else "no"
                    self.pack.report(C.FIXED_COMPARISON, "warning",
                                     f"`{self.pack.text(fixed.node)}` compares two fixed "
                                     f"values and is always {answer}", fixed.node.span,
                                     "compare a field, a let or a parameter instead")


def _shown(ph: A.Placeholder) -> str:
    """The placeholder as written, for messages (made only when there is one to give)."""
    return "{" + ph.text + "}"


def _first_field(type_: str, tables: Mapping[str, TableView]) -> str | None:
    table = row_table(type_)
    if table is not None:
        view = tables.get(table)
        cols = view.columns if view is not None else None
        return cols[0].name if cols else None
    # Never suggest showing a field that identifies the patient.
    return next((f for f in RECORD_FIELDS.get(type_, {}) if f not in PHI_FIELDS), None)


def _name_span(let: A.Let, source_line: Callable[[Span], str | None]) -> Span | None:
    """The span of the name in ``let NAME = …`` (the AST keeps only the clause's span)."""
    span = let.span
    if span is None:
        return None
    line = source_line(span)
    if line is not None:
        found = re.compile(r"let\s+(" + re.escape(let.name) + r")\b").search(
            line, span.column - 1)
        if found is not None:
            return Span(span.file, span.line, found.start(1) + 1, span.line, found.end(1) + 1)
    return span
