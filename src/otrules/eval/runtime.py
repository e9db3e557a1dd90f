"""Rule-level runtime shared by every back end: what a rule iterates over, when it is in
force, how its message and fix are made, and how a failure becomes an EvaluationError.

The interpreter and the compiler differ only in how they evaluate expressions; everything
here is the same code for both, so they cannot disagree on pair order, finding lines,
message formatting or fixes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Final

import attrs

from otrules.errors import EvaluationError
from otrules.eval.context import EvalContext, LineValue
from otrules.eval.result import (
    PACK_NOT_EFFECTIVE,
    Finding,
    FixSuggestion,
    TraceEntry,
    add_modifier_fix,
)
from otrules.eval.sourcetext import source_text
from otrules.eval.typeinfo import PHI, RuleTypes
from otrules.eval.values import format_value
from otrules.lang import ast as A
from otrules.lang.checked import RuleInfo
from otrules.model import MAX_MODIFIERS, MAX_UNITS, Line

__all__ = [
    "WITHHELD",
    "Element",
    "elements",
    "evaluation_error",
    "fix_for_line",
    "fix_suggestion",
    "make_finding",
    "not_effective_trace",
    "pack_not_effective",
    "render_message",
    "rule_in_effect",
]

WITHHELD: Final = "(withheld)"


@attrs.frozen(eq=False)
class Element:
    """One thing a rule is checked for: the names it binds, the line a finding names (0-based,
    or None) and a label for traces."""

    bindings: dict[str, Any]
    line: LineValue | None
    label: str


def pack_not_effective(ctx: EvalContext) -> Finding | None:
    """The single finding for a visit dated outside the pack's range (then no rule runs)."""
    effective = ctx.pack.effective
    if effective.contains(ctx.day):
        return None
    what = "date of service" if ctx.day == ctx.visit.date_of_service else "evaluation date"
    message = (f"The {what} {ctx.day.isoformat()} is outside the dates this pack "
               f"covers ({effective.start.isoformat()} to {effective.end.isoformat()}); "
               f"no rule was checked.")
    return Finding(PACK_NOT_EFFECTIVE, "error", None, message, None,
                   f"pack {ctx.pack.name}" + (f" {ctx.pack.version}" if ctx.pack.version else ""))


def rule_in_effect(rule: A.Rule, day: dt.date) -> bool:
    return rule.effective is None or rule.effective.contains(day)


def not_effective_trace(rule: A.Rule, day: dt.date) -> TraceEntry:
    assert rule.effective is not None
    reason = (f"not effective on {day.isoformat()}: the rule covers "
              f"{rule.effective.start.isoformat()} to {rule.effective.end.isoformat()}")
    return TraceEntry(rule.id, "visit", None, "skipped", reason)


def elements(ctx: EvalContext, iteration: A.ForEach | None) -> Iterator[Element]:
    """The elements of ``for each`` in order (semantics.md, "Rules"); one for no ``for each``."""
    if iteration is None:
        yield Element({}, None, "visit")
    elif iteration.kind == "line":
        for lv in ctx.lines:
            yield Element({iteration.names[0]: lv}, lv, lv.describe())
    elif iteration.kind == "diagnosis":
        for diagnosis in ctx.visit.diagnoses:
            yield Element({iteration.names[0]: diagnosis}, None, f"diagnosis {diagnosis}")
    else:
        yield from _pairs(ctx, iteration)


def _pairs(ctx: EvalContext, iteration: A.ForEach) -> Iterator[Element]:
    # Every ordered pair of different lines: a = line 0 with b = 1, 2, …; then a = 1 with
    # b = 0, 2, …. A finding names line b.
    first, second = iteration.names
    for a in ctx.lines:
        for b in ctx.lines:
            if a.index == b.index:
                continue
            bindings: dict[str, Any] = {first: a, second: b}
            if iteration.table is not None:
                row = ctx.lookup(iteration.table, (a.line.code, b.line.code))
                if row is None:
                    continue
                bindings[iteration.table] = row
            label = f"pair {a.describe()}, {b.describe()}"
            yield Element(bindings, b, label)


def render_message(
    rule: A.Rule, resolve: Callable[[str], Any], ctx: EvalContext, types: RuleTypes
) -> str:
    """The rule's ``say`` text with its placeholders filled in. ``resolve`` gives the value of
    a name in the rule's scope (a let, an element, a parameter, a visit field)."""
    if rule.say is None:
        return rule.about or rule.id
    out: list[str] = []
    for part in rule.say.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        kind, taint = types.path(part.path)
        if taint & PHI:  # the checker forbids it; never print it even if one slips through
            out.append(WITHHELD)
            continue
        value = resolve(part.path[0])
        for name in part.path[1:]:
            value = ctx.field(value, name)
        out.append(format_value(value, kind))
    return "".join(out)


def _whole_units(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if value != int(value) or not 0 <= value <= MAX_UNITS:
        return None
    return int(value)


def fix_suggestion(fix: A.Fix | None, line: LineValue | None, value: Any) -> FixSuggestion | None:
    """The finding's fix, or None when it would change nothing or cannot be applied: the
    line already has the modifier or has no free modifier slot, or the units are missing or
    not a whole number 0..999."""
    if fix is None or line is None:
        return None
    return fix_for_line(fix, line.line, line.index, value)


def fix_for_line(fix: A.Fix, line: Line, index: int, value: Any) -> FixSuggestion | None:
    """:func:`fix_suggestion` for the line ``line`` at 0-based ``index``."""
    if fix.kind == "add_modifier":
        modifiers = line.modifiers
        if fix.modifier is None or fix.modifier in modifiers or len(modifiers) >= MAX_MODIFIERS:
            return None
        return add_modifier_fix(fix.modifier, index)
    units = _whole_units(value)
    if units is None or units == line.units:
        return None
    return FixSuggestion("set_units", index, value=units)


def make_finding(info: RuleInfo, element: Element, message: str,
                 fix: FixSuggestion | None) -> Finding:
    line = element.line.index if element.line is not None else None
    return Finding(info.rule.id, info.rule.severity, line, message, fix, info.rule.source)


def evaluation_error(
    exc: BaseException, ctx: EvalContext, rule: str | None, node: A.Expr | None = None
) -> EvaluationError:
    """An EvaluationError naming the pack, rule and visit and the expression that failed.

    The text names the exception type, never its message: messages of low-level errors can
    quote values, and values may be patient data. The original stays as ``__cause__``.
    """
    where = ""
    if node is not None:
        span = node.span
        where = f" in `{source_text(node)}`" + (f" at {span}" if span is not None else "")
    message = f"{type(exc).__name__}{where}"
    return EvaluationError(message, pack=ctx.pack.name, rule=rule, visit_id=ctx.visit.id)

