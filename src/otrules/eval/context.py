"""The per-visit evaluation context: one visit as a rule pack sees it.

An :class:`EvalContext` is built once per evaluation and shared by every rule. It holds what
rules read besides their own expressions: the visit's fields (``semantics.md``, "Names"), each
line's timed-ness and computed units (``semantics.md``, "Units"), parameters on the date of
service and table rows in force on it. It is private to one evaluation (one thread), so the
values computed on demand are cached without locks. The one exception is a result's billable
lines, built on first read, possibly in another thread, from ``units``: that computation is
pure and sets ``_units`` last, so a racing reader at worst computes the same tuple again.

Both back ends use it unchanged; only expression evaluation differs between them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import attrs

from otrules.codes import is_timed
from otrules.errors import InternalError
from otrules.eval.result import BillableLine
from otrules.lang.checked import CheckedPack, TableData
from otrules.model import Authorization, Line, Patient, Visit
from otrules.units import UNIT_MINUTES, closest_allocation, is_valid_allocation

__all__ = [
    "EvalContext",
    "LineValue",
    "RowValue",
    "line_timed_flags",
    "line_units",
    "plain_lines",
    "quick_stated_units_valid",
    "quick_stated_units_valid_indexed",
    "share_units",
    "stated_units_valid",
    "timed_flag_index",
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


def timed_flag_index(pack: CheckedPack) -> dict[str, bool | None] | None:
    """The pack's ``timed by`` table as code -> flag (its first row per code), when the table
    has no validity dates, so the flag does not depend on the day; else None. Built once per
    pack by a back end and passed to :class:`EvalContext` to skip the per-line table search.
    """
    if pack.timed_by is None:
        return None
    table_name, column = pack.timed_by
    table = pack.tables[table_name]
    if table.valid_from is not None or table.valid_until is not None:
        return None
    col = table.column_index(column)
    return {key: rows[0][col] for key, rows in table.index.items() if rows}


def line_timed_flags(pack: CheckedPack, visit: Visit, day: dt.date | None = None,
                     index: Mapping[str, bool | None] | None = None
                     ) -> tuple[bool | None, ...]:
    """Per line: True/False from the pack's ``timed by`` table (or the built-in code table),
    None when the table does not list the code. ``index`` is the pack's
    :func:`timed_flag_index`, if the caller has it."""
    if index is not None:
        get = index.get
        return tuple([get(line.code) for line in visit.lines])
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


def plain_lines(lines: Sequence[Line]) -> bool:
    """Whether every line holds what the unit computation accepts without error: a text
    code, minutes None or a whole number of at least 0, units None or a whole number (always
    true of a visit from ``load_visit``)."""
    for line in lines:
        minutes, units = line.minutes, line.units
        if type(line.code) is not str or (minutes is not None and (
                type(minutes) is not int or minutes < 0)) or (
                units is not None and type(units) is not int):
            return False
    return True


def quick_stated_units_valid(lines: Sequence[Line], timed: Sequence[bool | None],
                             method: str) -> bool | None:
    """:func:`stated_units_valid` in one pass for the common visit — every timed code on one
    line, each stating its units — without computing units; None when that does not apply.

    CMS: stated units are valid exactly when each code got its whole 15-minute units plus 0 or
    1, the extra units add up to the visit's total-time units minus the whole units, and no
    code that got an extra unit has a smaller remainder than one that did not. AMA: each code
    states its own rule-of-eights units. A test compares this with the general decision."""
    # A line's timed flag depends only on its code (the pack's code table on the day), so the
    # flags make an index by code, and one implementation serves both callers.
    index = {line.code: flag for line, flag in zip(lines, timed, strict=True)}
    return quick_stated_units_valid_indexed(lines, index, method)


def quick_stated_units_valid_indexed(lines: Sequence[Line], index: Mapping[str, bool | None],
                                     method: str) -> bool | None:
    """:func:`quick_stated_units_valid` with each line's timed flag read from the pack's
    :func:`timed_flag_index` as it goes (no flags tuple built first); the same answer, tested."""
    get = index.get
    seen: set[str] = set()
    total = floors = extras = 0
    lowest_with, highest_without = UNIT_MINUTES, -1
    ama = method == "ama"
    wrong = False
    for line in lines:
        code = line.code
        if get(code) is not True:
            continue
        units = line.units
        if units is None or code in seen:
            return None
        seen.add(code)
        minutes = line.minutes or 0
        if ama:
            wrong = wrong or units != (minutes + 7) // UNIT_MINUTES
            continue
        whole, remainder = divmod(minutes, UNIT_MINUTES)
        total += minutes
        floors += whole
        extra = units - whole
        if extra == 1:
            extras += 1
            if remainder < lowest_with:
                lowest_with = remainder
        elif extra == 0:
            if remainder > highest_without:
                highest_without = remainder
        else:
            wrong = True
    if wrong:
        return False
    if ama:
        return True
    return extras == (total + 7) // UNIT_MINUTES - floors and lowest_with >= highest_without


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

_new_object: Final = object.__new__


class EvalContext:
    """One visit under one pack. ``trace`` is a list to append trace entries to, or None.

    What the pack derives per line — the timed flags (``timed``), computed units (``units``,
    ``timed_minutes``), the :class:`LineValue` views (``lines``) and the unit check
    (``stated_units_valid``) — is computed on first use and then kept, so a pack that reads
    none of it (and a result whose billable lines are never read) does not pay for it.

    Computing on first use must not move an error from evaluation to a later read: when a
    line holds a value the unit computation could reject (a ``Visit`` built in code, never
    validated: minutes not a whole number of at least 0, units not a whole number, a code not
    text), everything is computed at construction, as before, and an error surfaces there.
    """

    __slots__ = ("_lines", "_parameters", "_stated_units_valid", "_timed", "_timed_index",
                 "_timed_minutes", "_units", "day", "pack", "trace", "visit")

    pack: CheckedPack
    visit: Visit
    day: dt.date
    trace: list[Any] | None

    def __init__(self, pack: CheckedPack, visit: Visit, *, trace: bool = False,
                 as_of: dt.date | None = None,
                 timed_index: Mapping[str, bool | None] | None = None,
                 plain: bool | None = None) -> None:
        """``timed_index``: the pack's :func:`timed_flag_index`, if the caller has it;
        ``plain``: :func:`plain_lines` of the visit's lines, if the caller has checked."""
        self.pack = pack
        self.visit = visit
        # The day rules, parameters and table rows are selected for: the date of service,
        # unless the caller evaluates the pack as of another date.
        self.day = visit.date_of_service if as_of is None else as_of
        self._timed_index = timed_index
        self._timed: tuple[bool | None, ...] | None = None
        self._units: tuple[int, ...] | None = None
        self._timed_minutes = 0
        self._lines: tuple[LineValue, ...] | None = None
        self._stated_units_valid: bool | None = None
        self._parameters: dict[str, Any] = {}
        self.trace = [] if trace else None
        if not (plain_lines(visit.lines) if plain is None else plain):
            self._compute_units()

    @classmethod
    def of_plain_visit(cls, pack: CheckedPack, visit: Visit,
                       timed_index: Mapping[str, bool | None] | None) -> EvalContext:
        """``EvalContext(pack, visit, timed_index=timed_index, plain=True)``: the same
        context, made without the options (it is on every evaluation's path); the caller has
        checked that the lines are :func:`plain_lines`. A test compares the two."""
        self = _new_object(cls)
        self.pack = pack
        self.visit = visit
        self.day = visit.date_of_service
        self._timed_index = timed_index
        self._timed = None
        self._units = None
        self._timed_minutes = 0
        self._lines = None
        self._stated_units_valid = None
        self._parameters = {}
        self.trace = None
        return self

    def billable_lines(self) -> tuple[BillableLine, ...]:
        """The visit's billable lines: each line with the units the pack's unit method gives
        (a result's ``lines``, built from its context on first read)."""
        units = self.units
        return tuple(
            BillableLine(i, line.code, units[i], line.units, line.modifiers, line.charge,
                         line.diagnosis_pointers)
            for i, line in enumerate(self.visit.lines))

    @property
    def timed(self) -> tuple[bool | None, ...]:
        """Per line: timed (True/False), or None when the ``timed by`` table lacks the code."""
        timed = self._timed
        if timed is None:
            index = self._timed_index
            if index is not None:  # line_timed_flags with an index, inline: it is hot
                get = index.get
                timed = tuple([get(line.code) for line in self.visit.lines])
            else:
                timed = line_timed_flags(self.pack, self.visit, self.day)
            self._timed = timed
        return timed

    @property
    def units(self) -> tuple[int, ...]:
        """Computed units per line (the pack's unit method)."""
        units = self._units
        if units is None:
            units = self._compute_units()
        return units

    @property
    def timed_minutes(self) -> int:
        if self._units is None:
            self._compute_units()
        return self._timed_minutes

    def _compute_units(self) -> tuple[int, ...]:
        lines, timed, method = self.visit.lines, self.timed, self.pack.unit_method
        fast = _fast_line_units(lines, timed, method)
        if fast is None:
            units = line_units(lines, timed, method)
            self._timed_minutes = sum(_timed_minutes_by_code(lines, timed).values())
        else:
            units, self._timed_minutes = fast
        self._units = units
        return units

    @property
    def lines(self) -> tuple[LineValue, ...]:
        """The lines as rules see them (built on first use, then kept)."""
        lines = self._lines
        if lines is None:
            units, timed = self.units, self.timed
            lines = self._lines = tuple(
                LineValue(i, line, units[i], timed[i]) for i, line in enumerate(self.visit.lines))
        return lines

    @property
    def stated_units_valid(self) -> bool:
        valid = self._stated_units_valid
        if valid is None:
            if self._units is None:
                index = self._timed_index
                if index is not None and self._timed is None:
                    valid = quick_stated_units_valid_indexed(self.visit.lines, index,
                                                             self.pack.unit_method)
                else:
                    valid = quick_stated_units_valid(self.visit.lines, self.timed,
                                                     self.pack.unit_method)
            if valid is None:
                valid = self._stated_units_valid_general()
            self._stated_units_valid = valid
        return valid

    def _stated_units_valid_general(self) -> bool:
        units, timed = self.units, self.timed
        if all(line.units is None or line.units == units[i]
               for i, line in enumerate(self.visit.lines) if timed[i] is True):
            # Computed units are a valid allocation; a claim that states exactly them is too.
            return True
        return stated_units_valid(self.visit.lines, timed, self.pack.unit_method)

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
