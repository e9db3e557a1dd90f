"""What evaluating one visit gives: billable lines, findings, an optional trace.

All records are frozen attrs classes holding plain values, so results are immutable,
hashable, picklable and compare by value. One thing is built late: a result from
:meth:`Pack.evaluate` builds its billable lines (``Result.lines``) on first read — by
``.lines``, ``to_json()``, equality, hashing, ``repr`` or pickling — from the visit and the
units, which cannot change; every thread then reads the same tuple. Nothing observable
depends on when that happens. ``Result.to_json()`` is the documented contract
(``docs/results.md``); its key order is fixed and it holds no set or hash-ordered mapping, so
the same pack and visit always give byte-identical JSON text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

import attrs

from otrules._slots import slots_constructor
from otrules.eval.values import money_json

__all__ = ["AppliedFix", "BillableLine", "Finding", "FixSuggestion", "PendingLines", "Result",
           "TraceEntry", "add_modifier_fix", "new_finding", "result_with_pending_lines",
           "status_of"]

Severity = Literal["error", "warning", "info"]
Status = Literal["pass", "warn", "fail"]
Outcome = Literal["fired", "not fired", "skipped"]
FixKind = Literal["add_modifier", "set_units"]

PACK_NOT_EFFECTIVE: Final = "pack-not-effective"


@attrs.frozen
class FixSuggestion:
    """A safe correction a finding proposes for one line (0-based ``line``).

    ``add_modifier`` carries ``modifier``; ``set_units`` carries ``value`` (the new units).
    """

    kind: FixKind
    line: int
    modifier: str | None = None
    value: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": self.line, "modifier": self.modifier,
                "value": self.value}

    def describe(self) -> str:
        if self.kind == "add_modifier":
            return f"add modifier {self.modifier} to line {self.line + 1}"
        return f"set the units of line {self.line + 1} to {self.value}"


@attrs.frozen
class Finding:
    rule: str
    severity: Severity
    line: int | None  # 0-based index of the line, None for a visit or diagnosis finding
    message: str
    fix: FixSuggestion | None = None
    source: str | None = None  # the rule's citation

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "line": self.line,
                "message": self.message, "fix": None if self.fix is None else self.fix.to_json(),
                "source": self.source}


@attrs.frozen
class BillableLine:
    line: int  # 0-based index in the visit
    code: str
    units: int  # computed by the pack's unit method
    stated_units: int | None  # as the claim states them
    modifiers: tuple[str, ...]
    charge: Decimal | None
    diagnosis_pointers: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "units": self.units,
                "stated_units": self.stated_units, "modifiers": list(self.modifiers),
                "charge": None if self.charge is None else money_json(self.charge),
                "diagnosis_pointers": list(self.diagnosis_pointers)}


@attrs.frozen
class TraceEntry:
    """How one rule went for one element (or for the whole visit).

    ``element`` names it for a reader (``line 2 (97110)``, 1-based like ``line.position``);
    ``line`` is the 0-based index as in findings. ``steps`` are the values that decided, in
    evaluation order, each one line of text such as
    ``when: year_total 2,540.00 > kx_threshold 2,480.00 → yes``.
    """

    rule: str
    element: str
    line: int | None
    outcome: Outcome
    reason: str
    steps: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "element": self.element, "line": self.line,
                "outcome": self.outcome, "reason": self.reason, "steps": list(self.steps)}

    def text(self) -> str:
        head = f"{self.rule}, {self.element}: {self.outcome} ({self.reason})"
        return "\n".join([head, *(f"  {step}" for step in self.steps)])


@attrs.frozen
class AppliedFix:
    """A fix that :meth:`Pack.fix` applied, with the rule that asked for it."""

    rule: str
    fix: FixSuggestion
    previous_units: int | None = None  # set_units: the units the line stated before

    def describe(self) -> str:
        return f"{self.rule}: {self.fix.describe()}"


def status_of(findings: tuple[Finding, ...]) -> Status:
    """fail if any error, warn if any warning, else pass (info findings never count)."""
    warn = False
    for finding in findings:
        severity = finding.severity
        if severity == "error":
            return "fail"
        warn = warn or severity == "warning"
    return "warn" if warn else "pass"


@attrs.frozen
class Result:
    visit_id: str
    pack: str
    pack_version: str | None
    status: Status
    lines: tuple[BillableLine, ...]
    findings: tuple[Finding, ...]
    trace: tuple[TraceEntry, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "visit_id": self.visit_id, "pack": self.pack, "pack_version": self.pack_version,
            "status": self.status, "lines": [line.to_json() for line in self.lines],
            "findings": [f.to_json() for f in self.findings],
        }
        if self.trace is not None:
            out["trace"] = [entry.to_json() for entry in self.trace]
        return out

    def to_json_text(self, *, indent: int | None = None) -> str:
        """The JSON as text: compact by default, non-ASCII kept as UTF-8 (``§``, ``→``)."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self.to_json(), ensure_ascii=False, indent=indent,
                          separators=separators)

    def trace_text(self) -> str:
        """The trace as text for a person, one block per entry ("" without a trace)."""
        return "\n".join(entry.text() for entry in self.trace or ())


class PendingLines(Protocol):
    """Where a result's billable lines come from before they are built (see :class:`Result`):
    the evaluation context, whose ``billable_lines()`` makes them."""

    def billable_lines(self) -> tuple[BillableLine, ...]: ...


_LINES_SLOT: Final = Result.__dict__["lines"]  # the slot attrs made for the field
_LINES_LOCK: Final = threading.Lock()


def _get_lines(self: Result) -> tuple[BillableLine, ...]:
    value = _LINES_SLOT.__get__(self, Result)
    if type(value) is not tuple:  # pending: built lines are always a tuple
        built = value.billable_lines()
        with _LINES_LOCK:  # the first builder wins, so every reader gets one and the same tuple
            value = _LINES_SLOT.__get__(self, Result)
            if type(value) is not tuple:
                _LINES_SLOT.__set__(self, built)
                value = built
    return value  # type: ignore[no-any-return]


def _set_lines(self: Result, value: tuple[BillableLine, ...]) -> None:
    _LINES_SLOT.__set__(self, tuple(value))  # a list given to __init__ must not read as pending


_SET_VISIT_ID: Final = Result.__dict__["visit_id"].__set__
_SET_PACK: Final = Result.__dict__["pack"].__set__
_SET_PACK_VERSION: Final = Result.__dict__["pack_version"].__set__
_SET_STATUS: Final = Result.__dict__["status"].__set__
_SET_FINDINGS: Final = Result.__dict__["findings"].__set__
_SET_TRACE: Final = Result.__dict__["trace"].__set__
_SET_LINES: Final = _LINES_SLOT.__set__
_NEW: Final = object.__new__


def result_with_pending_lines(
    visit_id: str, pack: str, pack_version: str | None, status: Status,
    source: PendingLines, findings: tuple[Finding, ...], trace: tuple[TraceEntry, ...] | None,
) -> Result:
    """``Result(visit_id, …, lines, findings, trace)`` whose lines are
    ``source.billable_lines()``, built on first read. It sets the same slots as
    ``Result.__init__``, directly (it is on every evaluation's path); a test compares the
    two."""
    result: Result = _NEW(Result)
    _SET_VISIT_ID(result, visit_id)
    _SET_PACK(result, pack)
    _SET_PACK_VERSION(result, pack_version)
    _SET_STATUS(result, status)
    _SET_LINES(result, source)
    _SET_FINDINGS(result, findings)
    _SET_TRACE(result, trace)
    return result


# Result.lines reads through the slot, building pending lines on first read. attrs' own
# __init__, __eq__, __hash__, __repr__, pickling and evolve all go through this property.
Result.lines = property(_get_lines, _set_lines,  # type: ignore[assignment,method-assign]
                        doc="The billable lines, in line order.")


# A finding is made each time a rule fires: the compiled back end makes it with its slots set
# directly (see otrules._slots), the same object as Finding(...).
new_finding: Final[Callable[..., Finding]] = slots_constructor(Finding)


_ADD_MODIFIER: dict[tuple[str, int], FixSuggestion] = {}


def add_modifier_fix(modifier: str, line: int) -> FixSuggestion:
    """``FixSuggestion("add_modifier", line, modifier=modifier)``, one shared object per
    (modifier, line): it is immutable, and packs name few modifiers and visits have at most
    a few dozen lines, so the table stays small."""
    fix = _ADD_MODIFIER.get((modifier, line))
    if fix is None:
        fix = _ADD_MODIFIER.setdefault((modifier, line),
                                       FixSuggestion("add_modifier", line, modifier=modifier))
    return fix
