"""The per-visit evaluation context: one visit as a rule pack sees it.

An :class:`EvalContext` is built once per evaluation and shared by every rule. It holds what
rules read besides their own expressions: the visit's fields (``semantics.md``, "Names"), each
line's timed-ness and computed units (``semantics.md``, "Units"), parameters on the date of
service and table rows in force on it. It is private to one evaluation (one thread), so the
few values computed on demand are cached without locks.

Both back ends use it unchanged; only expression evaluation differs between them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

from otrules.codes import is_timed
from otrules.errors import InternalError
from otrules.lang.checked import CheckedPack, TableData
from otrules.model import Authorization, Line, Patient, Visit
from otrules.units import UNIT_MINUTES, closest_allocation, is_valid_allocation

__all__ = [
    "EvalContext",
    "LineValue",
    "RowValue",
    "line_timed_flags",
    "line_units",
    "share_units",
    "stated_units_valid",
]

@attrs.frozen(eq=False)
class LineValue:
    """A service line as rules see it: the line, its 0-based index and what the pack derived."""

    index: int
    line: Line
    computed_units: int
    timed: bool | None

    def describe(self) -> str:
        return f"line {self.index + 1} ({self.line.code})"


@attrs.frozen(eq=False)
class RowValue:
    """A table row in force on the date of service (``table[key]``, ``for each pair … in T``)."""

    table: TableData
    values: tuple[Any, ...]

    def field(self, name: str) -> Any:
        return self.values[self.table.column_index(name)]

    def describe(self) -> str:
        return f"a row of {self.table.name}"


# ---------------------------------------------------------------------------- units


def line_timed_flags(pack: CheckedPack, visit: Visit,
                     day: dt.date | None = None) -> tuple[bool | None, ...]:
    """Per line: True/False from the pack's ``timed by`` table (or the built-in code table),
    None when the table does not list the code."""
    if pack.timed_by is None:
        return tuple(is_timed(line.code) for line in visit.lines)
    table_name, column = pack.timed_by
    table = pack.tables[table_name]
    col = table.column_index(column)
    day = visit.date_of_service if day is None else day
    flags: list[bool | None] = []
    for line in visit.lines:
        row = table.find(line.code, day)
        flags.append(None if row is None else row[col])
    return tuple(flags)


def _fast_line_units(lines: Sequence[Line], timed: Sequence[bool | None],
                     method: str) -> tuple[tuple[int, ...], int] | None:
    """(units per line, timed minutes) for the common visit — every timed code on one line and
    no tie at the CMS cut-off — without the general machinery; None when that does not apply.
    The general path (:func:`line_units`) gives the same answer; a test checks it."""
    units = [1] * len(lines)
    entries: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    total = 0
    for i, line in enumerate(lines):
        if timed[i] is True:
            if line.code in seen:
                return None
            seen.add(line.code)
            m = line.minutes or 0
            total += m
            entries.append((i, m, line.code))
    if method == "ama":
        for i, m, _ in entries:
            units[i] = (m + 7) // UNIT_MINUTES
        return tuple(units), total
    extra = (total + 7) // UNIT_MINUTES
    for i, m, _ in entries:
        units[i] = m // UNIT_MINUTES
        extra -= units[i]
    if extra:
        ranked = sorted(entries, key=lambda e: (-(e[1] % UNIT_MINUTES), -e[1], e[2]))
        if extra < len(ranked) and \
                ranked[extra][1] % UNIT_MINUTES == ranked[extra - 1][1] % UNIT_MINUTES:
            return None  # a tie at the cut-off: the claim's choice decides (general path)
        for i, _, _ in ranked[:extra]:
            units[i] += 1
    return tuple(units), total


def _timed_minutes_by_code(
    lines: Sequence[Line], timed: Sequence[bool | None]
) -> dict[str, int]:
    # Two lines of one code are one service: their minutes are pooled. Insertion order is line
    # order, so everything downstream is deterministic.
    minutes: dict[str, int] = {}
    for line, flag in zip(lines, timed, strict=True):
        if flag is True:
            minutes[line.code] = minutes.get(line.code, 0) + line.minutes_or_zero
    return minutes


def share_units(units: int, minutes: Sequence[int]) -> list[int]:
    """Share one code's units among its lines: whole 15-minute units first, then one more to
    each line with the largest remaining minutes (the earlier line on a tie)."""
    shares = [m // UNIT_MINUTES for m in minutes]
    extra = units - sum(shares)
    if extra < 0:
        raise InternalError("a code was allocated fewer units than its lines' whole units")
    ranked = sorted(range(len(minutes)), key=lambda i: (-(minutes[i] % UNIT_MINUTES), i))
    for k in range(extra):
        shares[ranked[k % len(ranked)]] += 1
    return shares


def line_units(lines: Sequence[Line], timed: Sequence[bool | None], method: str) -> tuple[int, ...]:
    """Computed units per line: the unit method over codes, then shared among a code's lines.
    Untimed lines and lines whose code the table does not list get 1 unit.

    Where the method leaves a choice (a CMS tie), the allocation follows the units the claim
    states, so a claim that gave the tied unit to the other code is computed as it is billed.
    A code's units are shared among its lines as the lines state them when those add up to
    the code's units; otherwise whole 15-minute units first, then the largest remainders.
    """
    units = [1] * len(lines)
    minutes = _timed_minutes_by_code(lines, timed)
    stated = _stated_by_code(lines, timed)
    for code, code_units in closest_allocation(minutes, stated, method).items():
        where = [i for i, line in enumerate(lines) if line.code == code and timed[i] is True]
        claimed = [lines[i].units for i in where]
        if code in stated and sum(claimed) == code_units:  # type: ignore[arg-type]
            shares = claimed
        else:
            shares = share_units(code_units, [lines[i].minutes_or_zero for i in where])
        for i, share in zip(where, shares, strict=True):
            units[i] = share  # type: ignore[assignment]
    return tuple(units)


def _stated_by_code(lines: Sequence[Line], timed: Sequence[bool | None]) -> dict[str, int]:
    """Units stated per timed code, for codes whose every timed line states units."""
    stated: dict[str, int] = {}
    unstated: set[str] = set()
    for line, flag in zip(lines, timed, strict=True):
        if flag is not True:
            continue
        if line.units is None:
            unstated.add(line.code)
        else:
            stated[line.code] = stated.get(line.code, 0) + line.units
    return {code: n for code, n in stated.items() if code not in unstated}


def stated_units_valid(lines: Sequence[Line], timed: Sequence[bool | None], method: str) -> bool:
    """Whether the units stated on timed lines (summed per code) are an allocation the unit
    method accepts, whichever way a tie is broken. A code counts as stated only when all its
    timed lines state units; when no code is stated there is nothing to contradict."""
    return is_valid_allocation(_timed_minutes_by_code(lines, timed),
                               _stated_by_code(lines, timed), method)


# ---------------------------------------------------------------------------- fields

_VISIT_FIELDS: Final[dict[str, Callable[[EvalContext], Any]]] = {
    "id": lambda c: c.visit.id,
    "date_of_service": lambda c: c.visit.date_of_service,
    "payer": lambda c: c.visit.payer,
    "claim_type": lambda c: c.visit.effective_claim_type,
    "place_of_service": lambda c: c.visit.place_of_service,
    "telehealth": lambda c: c.visit.is_telehealth,
    "claim_submitted_on": lambda c: c.visit.claim_submitted_on,
    "patient": lambda c: c.visit.patient,
    "authorization": lambda c: c.visit.authorization,
    "timed_minutes": lambda c: c.timed_minutes,
    "line_count": lambda c: len(c.lines),
    "stated_units_valid": lambda c: c.stated_units_valid,
}

_PATIENT_FIELDS: Final[dict[str, Callable[[EvalContext, Patient], Any]]] = {
    "id": lambda c, p: p.id,
    "birth_date": lambda c, p: p.birth_date,
    "ytd_ot_allowed": lambda c, p: p.ytd_ot_allowed,
    "visits_this_year": lambda c, p: p.visits_this_year,
    "treatment_days_since_progress_report": lambda c, p: p.treatment_days_since_progress_report,
    "plan_of_care_certified_on": lambda c, p: p.plan_of_care_certified_on,
    "age": lambda c, p: p.age_on(c.visit.date_of_service),
}

_AUTHORIZATION_FIELDS: Final[dict[str, Callable[[Authorization], Any]]] = {
    "number": lambda a: a.number,
    "visits_authorized": lambda a: a.visits_authorized,
    "visits_used": lambda a: a.visits_used,
    "valid_from": lambda a: a.valid_from,
    "valid_to": lambda a: a.valid_to,
}

_LINE_FIELDS: Final[dict[str, Callable[[LineValue], Any]]] = {
    "code": lambda v: v.line.code,
    "minutes": lambda v: v.line.minutes,
    "units": lambda v: v.line.units,
    "computed_units": lambda v: v.computed_units,
    "performed_by": lambda v: v.line.performed_by,
    "assistant_minutes": lambda v: v.line.assistant_minutes_or_zero,
    "charge": lambda v: v.line.charge,
    "position": lambda v: v.index + 1,
    "pointer_count": lambda v: len(v.line.diagnosis_pointers),
    "timed": lambda v: v.timed,
}

class EvalContext:
    """One visit under one pack. ``trace`` is a list to append trace entries to, or None."""

    __slots__ = ("_parameters", "_stated_units_valid", "day", "lines", "pack", "timed_minutes",
                 "trace", "visit")

    pack: CheckedPack
    visit: Visit
    day: dt.date
    lines: tuple[LineValue, ...]
    timed_minutes: int
    trace: list[Any] | None

    def __init__(self, pack: CheckedPack, visit: Visit, *, trace: bool = False,
                 as_of: dt.date | None = None) -> None:
        self.pack = pack
        self.visit = visit
        # The day rules, parameters and table rows are selected for: the date of service,
        # unless the caller evaluates the pack as of another date.
        self.day = visit.date_of_service if as_of is None else as_of
        timed = line_timed_flags(pack, visit, self.day)
        fast = _fast_line_units(visit.lines, timed, pack.unit_method)
        if fast is None:
            units = line_units(visit.lines, timed, pack.unit_method)
            self.timed_minutes = sum(_timed_minutes_by_code(visit.lines, timed).values())
        else:
            units, self.timed_minutes = fast
        self.lines = tuple(
            LineValue(i, line, units[i], timed[i]) for i, line in enumerate(visit.lines))
        self._stated_units_valid: bool | None = None
        self._parameters: dict[str, Any] = {}
        self.trace = [] if trace else None

    @property
    def stated_units_valid(self) -> bool:
        if self._stated_units_valid is None and all(
                lv.line.units is None or lv.line.units == lv.computed_units
                for lv in self.lines if lv.timed is True):
            # Computed units are a valid allocation; a claim that states exactly them is too.
            self._stated_units_valid = True
        if self._stated_units_valid is None:
            timed = [lv.timed for lv in self.lines]
            self._stated_units_valid = stated_units_valid(
                self.visit.lines, timed, self.pack.unit_method)
        return self._stated_units_valid

    # ------------------------------------------------------------------ names and fields

    def global_value(self, name: str) -> Any:
        """A name no rule binds: a parameter (its value on the date of service), ``visit``, or
        a visit field used bare."""
        if name in self.pack.parameters:
            if name not in self._parameters:
                self._parameters[name] = self.pack.parameters[name].value_on(self.day)
            return self._parameters[name]
        if name == "visit":
            return self.visit
        getter = _VISIT_FIELDS.get(name)
        if getter is None:
            raise InternalError(f"unknown name {name!r} reached evaluation")
        return getter(self)

    def field(self, obj: Any, name: str) -> Any:
        """``obj.name``; a missing object gives missing."""
        try:
            if obj is None:
                return None
            if isinstance(obj, LineValue):
                return _LINE_FIELDS[name](obj)
            if isinstance(obj, RowValue):
                return obj.field(name)
            if isinstance(obj, Patient):
                return _PATIENT_FIELDS[name](self, obj)
            if isinstance(obj, Authorization):
                return _AUTHORIZATION_FIELDS[name](obj)
            if isinstance(obj, Visit):
                return _VISIT_FIELDS[name](self)
        except KeyError:
            pass
        raise InternalError(f"no field {name!r} on a {type(obj).__name__}")

    # ------------------------------------------------------------------ tables

    def lookup(self, table: str, keys: Sequence[Any]) -> RowValue | None:
        """``table[k1, …]``: the first row with that key in force on the date of service."""
        if any(k is None for k in keys):
            return None
        data = self.pack.tables[table]
        key = keys[0] if len(keys) == 1 else tuple(keys)
        row = data.find(key, self.day)
        return None if row is None else RowValue(data, row)

    def in_table(self, table: str, value: Any) -> bool | None:
        if value is None:
            return None
        return self.pack.tables[table].find(value, self.day) is not None
