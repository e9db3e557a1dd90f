"""Parameters: declared type, values of that type, and periods that tile the pack's dates."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang.checked import VALUE_TYPES, ParameterData
from otrules.lang.scope import describe
from otrules.lang.suggest import did_you_mean

# The literal kinds that can be written for a parameter of each type. A diagnosis or a modifier
# has no literal form of its own in an expression, so it is written as a quoted text.
ACCEPTS = {
    "number": "number", "minutes": "minutes", "money": "money", "days": "days",
    "months": "months", "date": "date", "text": "text", "code": "code", "flag": "flag",
    "diagnosis": "text", "modifier": "text",
}
_DAY = dt.timedelta(days=1)

Report = Callable[[str, str, Span | None, str | None], None]
CodeCheck = Callable[[str, Span | None], None]


def check_parameter(decl: A.Parameter, effective: A.DateRange | None,
                    diags: list[Diagnostic], check_code: CodeCheck) -> ParameterData:
    """Check one parameter and return its data (values that fail are left out)."""
    def report(code: str, message: str, span: Span | None, help_: str | None = None) -> None:
        diags.append(Diagnostic(code, "error", message, span, help_))

    type_ = decl.type.name
    if type_ not in VALUE_TYPES:
        report(C.UNKNOWN_TYPE, f"unknown type '{type_}'", decl.type.span,
               did_you_mean(type_, VALUE_TYPES) or "types: " + ", ".join(VALUE_TYPES))
    values = [decl.constant] if decl.constant is not None else [p.value for p in decl.periods]
    ok = [_value_ok(decl.name, type_, lit, report, check_code) for lit in values]
    if decl.constant is not None:
        constant = decl.constant.value if ok[0] else None
        return ParameterData(decl.name, type_, constant, (), decl.source, decl.about, decl.span)
    periods = _periods(decl, report)
    if effective is not None and periods:
        _coverage(decl, periods, effective, report)
    data = tuple((p.start, p.end, p.value.value) for p in periods)
    return ParameterData(decl.name, type_, None, data, decl.source, decl.about, decl.span)


def _value_ok(name: str, type_: str, lit: A.Literal, report: Report, check_code: CodeCheck
              ) -> bool:
    wanted = ACCEPTS.get(type_)
    if wanted is None:
        return False  # unknown type: already reported
    if lit.kind != wanted:
        report(C.PARAM_VALUE, f"parameter '{name}' holds {describe(type_)}, but "
               f"'{lit.text}' is {describe(_literal_type(lit))}", lit.span,
               _value_help(type_, lit))
        return False
    if lit.kind == "code":
        check_code(str(lit.value), lit.span)
    return True


def _literal_type(lit: A.Literal) -> str:
    return lit.kind if lit.kind in VALUE_TYPES else "text"


def _value_help(type_: str, lit: A.Literal) -> str | None:
    if lit.kind == "number":
        if type_ == "money":
            return f"write ${lit.text}"
        if type_ in ("minutes", "days", "months"):
            return f"write {lit.text} {type_}"
    if type_ == "code" and lit.kind == "text":
        return f"write {lit.value} without quotes: codes are written bare"
    if type_ in ("diagnosis", "modifier"):
        return f'write it as a quoted text, such as "{lit.text}"'
    return None


def _periods(decl: A.Parameter, report: Report) -> list[A.Period]:
    """The periods in date order, without reversed ones; gaps and overlaps reported."""
    good = []
    for period in decl.periods:
        if period.start > period.end:
            report(C.REVERSED_RANGE, f"the period {period.start} to {period.end} ends before "
                   "it starts", period.span, None)
        else:
            good.append(period)
    good.sort(key=lambda p: p.start)
    for prev, cur in itertools.pairwise(good):
        if cur.start <= prev.end:
            report(C.PERIOD_GAP, f"periods of '{decl.name}' overlap from {cur.start} to "
                   f"{min(prev.end, cur.end)}", cur.span,
                   f"start this period on {prev.end + _DAY}")
        elif cur.start > prev.end + _DAY:
            report(C.PERIOD_GAP, f"periods of '{decl.name}' leave a gap: no value from "
                   f"{prev.end + _DAY} to {cur.start - _DAY}", cur.span,
                   f"start this period on {prev.end + _DAY}")
    return good


def _coverage(decl: A.Parameter, periods: list[A.Period], effective: A.DateRange,
              report: Report) -> None:
    first = min(p.start for p in periods)
    last = max(p.end for p in periods)
    holes = []
    if first > effective.start:
        holes.append((effective.start, min(first - _DAY, effective.end)))
    if last < effective.end:
        holes.append((max(last + _DAY, effective.start), effective.end))
    if holes:
        shown = " and ".join(f"{a} to {b}" for a, b in holes)
        report(C.PERIOD_COVERAGE, f"parameter '{decl.name}' has no value from {shown}, inside "
               f"the pack's range {effective.start} to {effective.end}", decl.name_span,
               "add periods for those days")

