"""The reference interpreter: a plain tree-walker over checked rules.

It is the oracle every other back end is tested against, so it stays simple and obviously
right: one handler per expression node class (``HANDLERS``, keyed by node type), each a direct
transcription of ``semantics.md`` using the shared operations of :mod:`values`. Rule-level
behaviour (what a rule iterates over, messages, fixes, findings) is the shared code of
:mod:`runtime`.

Tracing costs nothing when off: the evaluator records node values only when it was given a
memo, and the rule driver renders steps only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from otrules.eval import values as V
from otrules.eval.context import EvalContext, LineValue
from otrules.eval.result import Finding, Outcome, TraceEntry
from otrules.eval.runtime import (
    Element,
    elements,
    evaluation_error,
    fix_suggestion,
    make_finding,
    not_effective_trace,
    pack_not_effective,
    render_message,
    rule_in_effect,
)
from otrules.eval.trace import StepRenderer
from otrules.eval.typeinfo import RuleTypes
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack, RuleInfo

__all__ = ["HANDLERS", "InterpreterBackend"]

Scope = dict[str, Any]


class _Failure(Exception):
    """An expression failed; carries the innermost node so the error can point at it."""

    def __init__(self, node: A.Expr) -> None:
        super().__init__(type(node).__name__)
        self.node = node


class _Evaluator:
    """Evaluates expressions for one visit. ``memo`` (node id → value) is kept when tracing."""

    __slots__ = ("ctx", "inside_aggregate", "memo")

    def __init__(self, ctx: EvalContext, memo: dict[int, Any] | None) -> None:
        self.ctx = ctx
        self.memo = memo
        self.inside_aggregate = 0

    def __call__(self, node: A.Expr, scope: Scope) -> Any:
        try:
            value = HANDLERS[type(node)](self, node, scope)
        except _Failure:
            raise
        except Exception as exc:
            raise _Failure(node) from exc
        if self.memo is not None and not self.inside_aggregate:
            self.memo[id(node)] = value
        return value


# ---------------------------------------------------------------------------- handlers


def _literal(ev: _Evaluator, node: A.Literal, scope: Scope) -> Any:
    return node.value


def _name(ev: _Evaluator, node: A.Name, scope: Scope) -> Any:
    # Innermost first: aggregate and element names, lets (all in scope); then the pack's
    # parameters and the visit's fields.
    if node.name in scope:
        return scope[node.name]
    return ev.ctx.global_value(node.name)


def _attribute(ev: _Evaluator, node: A.Attribute, scope: Scope) -> Any:
    return ev.ctx.field(ev(node.obj, scope), node.name)


def _lookup(ev: _Evaluator, node: A.Lookup, scope: Scope) -> Any:
    return ev.ctx.lookup(node.table, [ev(key, scope) for key in node.keys])


def _binary(ev: _Evaluator, node: A.Binary, scope: Scope) -> Any:
    # and/or look at the right side only when the left does not decide.
    if node.op == "and":
        left = ev(node.left, scope)
        return False if left is False else V.and3(left, ev(node.right, scope))
    if node.op == "or":
        left = ev(node.left, scope)
        return True if left is True else V.or3(left, ev(node.right, scope))
    return V.BINARY[node.op](ev(node.left, scope), ev(node.right, scope))


def _unary(ev: _Evaluator, node: A.Unary, scope: Scope) -> Any:
    operand = ev(node.operand, scope)
    return V.not3(operand) if node.op == "not" else V.neg(operand)


def _negate_if(negated: bool, result: bool | None) -> bool | None:
    return V.not3(result) if negated else result


def _in_table(ev: _Evaluator, node: A.InTable, scope: Scope) -> Any:
    return _negate_if(node.negated, ev.ctx.in_table(node.table, ev(node.subject, scope)))


def _in_list(ev: _Evaluator, node: A.InList, scope: Scope) -> Any:
    subject = ev(node.subject, scope)
    items = [ev(item, scope) for item in node.items]
    return _negate_if(node.negated, V.in_items(subject, items))


def _has(ev: _Evaluator, node: A.Has, scope: Scope) -> Any:
    line = ev(node.subject, scope)
    if line is None:
        return None
    assert isinstance(line, LineValue)
    return _negate_if(node.negated, V.has_modifiers(line.line.modifiers, node.mode,
                                                    node.modifiers))


def _matches(ev: _Evaluator, node: A.Matches, scope: Scope) -> Any:
    return V.matches_any(ev(node.subject, scope), node.patterns)


def _is_missing(ev: _Evaluator, node: A.IsMissing, scope: Scope) -> Any:
    missing = ev(node.subject, scope) is None
    return not missing if node.negated else missing


def _if_else(ev: _Evaluator, node: A.IfElse, scope: Scope) -> Any:
    # Only a true condition takes the `then` branch; false and missing take `else`.
    branch = node.then if ev(node.condition, scope) is True else node.otherwise
    return ev(branch, scope)


def _call(ev: _Evaluator, node: A.Call, scope: Scope) -> Any:
    return V.BUILTINS[node.function](*(ev(arg, scope) for arg in node.args))


def _aggregate(ev: _Evaluator, node: A.Aggregate, scope: Scope) -> Any:
    items = ev.ctx.lines if node.collection == "lines" else ev.ctx.visit.diagnoses
    inner = dict(scope)
    count, total = 0, 0
    ev.inside_aggregate += 1
    try:
        for item in items:
            inner[node.var] = item
            # An element counts only when its `where` is true (not false, not missing).
            if node.where is not None and ev(node.where, inner) is not True:
                continue
            if node.kind == "sum":
                assert node.value is not None
                value = ev(node.value, inner)
                if value is not None:  # sum skips missing values
                    total = V.add(total, value)
                continue
            count += 1
            if node.kind in ("any", "no"):
                break
    finally:
        ev.inside_aggregate -= 1
    return {"count": count, "sum": total, "any": count > 0, "no": count == 0}[node.kind]


Handler = Callable[[_Evaluator, Any, Scope], Any]
HANDLERS: Final[dict[type, Handler]] = {
    A.Literal: _literal, A.Name: _name, A.Attribute: _attribute, A.Lookup: _lookup,
    A.Binary: _binary, A.Unary: _unary, A.InTable: _in_table, A.InList: _in_list,
    A.Has: _has, A.Matches: _matches, A.IsMissing: _is_missing, A.IfElse: _if_else,
    A.Call: _call, A.Aggregate: _aggregate,
}


# ---------------------------------------------------------------------------- rules


class _RuleRun:
    """One rule checked against one visit: lets, elements, `where`, `when`, findings, trace.

    When tracing, ``steps`` collects the rendered steps of the element being checked and an
    entry is recorded for every element; otherwise no step or entry is ever built.
    """

    def __init__(self, info: RuleInfo, types: RuleTypes, ctx: EvalContext) -> None:
        self.info = info
        self.rule = info.rule
        self.types = types
        self.ctx = ctx
        self.memo: dict[int, Any] | None = {} if ctx.trace is not None else None
        self.ev = _Evaluator(ctx, self.memo)
        self.findings: list[Finding] = []
        self.steps: list[str] = []

    def run(self) -> list[Finding]:
        rule, ctx = self.rule, self.ctx
        if not rule_in_effect(rule, ctx.day):
            if ctx.trace is not None:
                ctx.trace.append(not_effective_trace(rule, ctx.day))
            return []
        scope: Scope = {}
        self._lets(rule.lets_before, scope)
        visit_steps = self.steps
        considered = matched = 0
        for element in elements(ctx, rule.iteration):
            considered += 1
            self.steps = list(visit_steps)
            matched += self._element(element, {**scope, **element.bindings})
        if rule.iteration is not None and not matched:
            self._record("visit", None, "skipped", self._nothing_matched(considered), visit_steps)
        return self.findings

    def _element(self, element: Element, scope: Scope) -> bool:
        """Check one element; True when it passed `where`."""
        rule = self.rule
        label, line = element.label, _line(element)
        where = rule.iteration.where if rule.iteration is not None else None
        if where is not None:
            passed = self._evaluate(where, scope, "where: ")
            if passed is not True:
                reason = "where is missing" if passed is None else "where is false"
                self._record(label, line, "skipped", reason)
                return False
        self._lets(rule.lets_after, scope)
        condition = True if rule.when is None else self._evaluate(rule.when, scope, "when: ")
        if condition is not True:
            reason = "condition is missing" if condition is None else "condition is false"
            self._record(label, line, "not fired", reason)
            return True
        finding = self._finding(element, scope)
        self.findings.append(finding)
        if self.memo is not None:
            self.steps.append(f"say: {finding.message}")
            if finding.fix is not None:
                self.steps.append(f"fix: {finding.fix.describe()}")
            self._record(label, line, "fired", "condition is true")
        return True

    def _finding(self, element: Element, scope: Scope) -> Finding:
        rule = self.rule
        value = None
        if rule.fix is not None and rule.fix.value is not None:
            value = self._evaluate(rule.fix.value, scope)
        fix = fix_suggestion(rule.fix, element.line, value)
        try:
            message = render_message(rule, lambda name: _name(self.ev, A.Name(name), scope),
                                     self.ctx, self.types)
        except Exception as exc:
            raise evaluation_error(exc, self.ctx, rule.id) from exc
        return make_finding(self.info, element, message, fix)

    def _lets(self, lets: tuple[A.Let, ...], scope: Scope) -> None:
        for let in lets:
            scope[let.name] = self._evaluate(let.value, scope)
            if self.memo is not None:
                self.steps += StepRenderer(self.types, self.memo).let(let)

    def _evaluate(self, node: A.Expr, scope: Scope, prefix: str | None = None) -> Any:
        """Evaluate one clause; when tracing and given a prefix, render its steps."""
        if self.memo is not None:
            self.memo.clear()  # steps are rendered per clause, right after evaluating it
        try:
            value = self.ev(node, scope)
        except _Failure as failure:
            cause = failure.__cause__ or failure
            raise evaluation_error(cause, self.ctx, self.rule.id, failure.node) from cause
        if self.memo is not None and prefix is not None:
            self.steps += StepRenderer(self.types, self.memo).condition(prefix, node)
        return value

    def _record(self, element: str, line: int | None, outcome: Outcome, reason: str,
                steps: list[str] | None = None) -> None:
        if self.ctx.trace is not None:
            shown = self.steps if steps is None else steps
            self.ctx.trace.append(TraceEntry(self.rule.id, element, line, outcome, reason,
                                             tuple(shown)))

    def _nothing_matched(self, considered: int) -> str:
        it = self.rule.iteration
        assert it is not None
        if considered:
            noun = {"line": "line", "diagnosis": "diagnosis", "pair": "pair of lines"}[it.kind]
            return f"no {noun} matched where"
        if it.kind == "pair" and it.table is not None:
            return f"no pair of lines is in {it.table}"
        return {"line": "no lines", "diagnosis": "no diagnoses", "pair": "no pairs of lines"}[
            it.kind]


def _line(element: Element) -> int | None:
    return element.line.index if element.line is not None else None


class InterpreterBackend:
    """The reference back end: ``run(ctx)`` checks every rule of the pack against one visit.

    Holds only immutable data (the pack and per-rule type tables), so one instance serves
    any number of threads. Pickles as its pack; the type tables are rebuilt on load.
    """

    supports_trace: Final[bool] = True

    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self._types = tuple(RuleTypes(pack, info.rule) for info in pack.rules)

    def run(self, ctx: EvalContext) -> list[Finding]:
        """Findings in rule order, and within a rule in element order."""
        stop = pack_not_effective(ctx)
        if stop is not None:
            if ctx.trace is not None:
                ctx.trace.append(TraceEntry(stop.rule, "visit", None, "fired",
                                            "the visit is outside the pack's dates"))
            return [stop]
        findings: list[Finding] = []
        for info, types in zip(self.pack.rules, self._types, strict=True):
            findings += _RuleRun(info, types, ctx).run()
        return findings

    def __reduce__(self) -> tuple[Any, ...]:
        return (InterpreterBackend, (self.pack,))
