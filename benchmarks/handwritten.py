"""The bench pack's rules hand-written in plain Python: the practical upper bound.

Same semantics as ``bench-pack/pack.otr`` (read it side by side), over the same
:class:`otrules.model.Visit` objects, written for speed: tables are dicts and sets built once,
each rule is a few lines of straight code, no allocation that is not needed.

The CMS unit check is inlined (``_stated_units_valid``) rather than calling
:func:`otrules.units.is_valid_allocation`, because the library function validates its inputs
and builds intermediate dicts on every call; the inlined version implements the same decision
procedure (floors, the remainder cut-off, the tie group) and the cross-check test compares the
two on every generated visit.

Findings are ``(rule id, line index or None)`` in the pack's rule order, and within a rule in
the language's iteration order (lines in order; pairs with the first line as the outer loop).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

from otrules.model import Line, Visit
from workload import BENCH_PACK, KX_THRESHOLD, BenchTables, read_tables

__all__ = ["Checker", "Finding", "check"]

Finding = tuple[str, int | None]

PACK_START = dt.date(2026, 1, 1)
PACK_END = dt.date(2026, 12, 31)
_BYPASS = frozenset(("59", "XE", "XS", "XP", "XU"))
_TELEHEALTH_PLACES = frozenset(("02", "10"))
# icd10_shape: letter, digit, letter-or-digit, then optionally (a dot and) 1-4 letters/digits.
_ICD10_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?").fullmatch


def _stated_units_valid(minutes: dict[str, int], stated: dict[str, int]) -> bool:
    """CMS total-time method: is ``stated`` (a subset of the codes) one valid allocation?

    The same decision as ``otrules.units.is_valid_allocation(minutes, stated, "cms")``.
    """
    floors = {code: m // 15 for code, m in minutes.items()}
    extra = (sum(minutes.values()) + 7) // 15 - sum(floors.values())
    if extra == 0:
        return all(units == floors[code] for code, units in stated.items())
    # The cut-off: the remainder of the extra-th code when codes are ranked by remainder.
    cut = sorted((m % 15 for m in minutes.values()), reverse=True)[extra - 1]
    above = sum(1 for m in minutes.values() if m % 15 > cut)
    tied = sum(1 for m in minutes.values() if m % 15 == cut)
    needed = extra - above
    given = refused = 0
    for code, units in stated.items():
        bonus = units - floors[code]
        remainder = minutes[code] % 15
        if bonus not in (0, 1):
            return False
        if remainder == cut:
            given += bonus
            refused += 1 - bonus
        elif bonus != (remainder > cut):
            return False
    return given <= needed and refused <= tied - needed


class Checker:
    """The ten bench rules over one set of tables (the runner swaps in a large pair table)."""

    def __init__(self, tables: BenchTables) -> None:
        self.timed = tables.timed  # also the set of the pack's OT codes (its keys)
        self.evaluations = tables.evaluations
        self.ptp = tables.ptp
        self.mue = tables.mue
        self.covered = tables.covered

    @classmethod
    def from_pack(cls, pack_dir: Path = BENCH_PACK) -> Checker:
        return cls(read_tables(pack_dir))

    def check(self, visit: Visit) -> list[Finding]:
        day = visit.date_of_service
        if day < PACK_START or day > PACK_END:
            return [("pack-not-effective", None)]
        lines = visit.lines
        codes = [line.code for line in lines]
        # A code on two lines is rare (CMS wants one line per code and day); only then do
        # the rules need to pool minutes and units per code.
        unique = len(set(codes)) == len(codes)
        found: list[Finding] = []
        if not (self._units_valid_unique(lines) if unique else self._units_valid(lines)):
            found.append(("units-match-minutes", None))
        timed = self.timed
        ot = [i for i, code in enumerate(codes) if code in timed]
        found.extend(("go-required", i) for i in ot if "GO" not in lines[i].modifiers)
        if visit.payer == "medicare":
            self._kx(visit, ot, found)
            self._co(lines, ot, found)
        self._pairs(lines, codes, found)
        evaluations = self.evaluations
        if sum(1 for code in codes if code in evaluations) > 1:
            found.append(("evaluation-twice", None))
        self._mue(lines, codes, unique, found)
        if visit.telehealth is True or visit.place_of_service in _TELEHEALTH_PLACES:
            found.extend(("telehealth-needs-95", i) for i, line in enumerate(lines)
                         if "95" not in line.modifiers)
        found.extend(("diagnosis-shape", None) for diagnosis in visit.diagnoses
                     if not _ICD10_SHAPE(diagnosis))
        if not visit.diagnoses:
            found.append(("diagnosis-required", None))
        payer, covered = visit.payer, self.covered
        found.extend(("code-not-covered", i) for i, code in enumerate(codes)
                     if (payer, code) not in covered)
        return found

    def _units_valid_unique(self, lines: tuple[Line, ...]) -> bool:
        """The unit check when no code repeats, in one pass.

        With every code stated, an allocation is valid exactly when the stated total is the
        total-time unit count, each code got its whole units plus at most one, and no code
        that got the extra unit has a smaller remainder than one that did not.
        """
        timed = self.timed
        total = floors = bonuses = 0
        lowest_with, highest_without = 15, -1
        for line in lines:
            if not timed.get(line.code, False):
                continue
            minutes = line.minutes or 0
            units = line.units
            if units is None:  # a partly stated visit: the general check
                return self._units_valid(lines)
            whole, remainder = divmod(minutes, 15)
            total += minutes
            floors += whole
            bonus = units - whole
            if bonus == 1:
                bonuses += 1
                lowest_with = min(lowest_with, remainder)
            elif bonus == 0:
                highest_without = max(highest_without, remainder)
            else:
                return False
        return bonuses == (total + 7) // 15 - floors and lowest_with >= highest_without

    def _units_valid(self, lines: tuple[Line, ...]) -> bool:
        # Minutes pooled per code; a code counts as stated only if all its lines state units.
        minutes: dict[str, int] = {}
        stated: dict[str, int | None] = {}
        timed = self.timed
        for line in lines:
            code = line.code
            if not timed.get(code, False):
                continue
            minutes[code] = minutes.get(code, 0) + (line.minutes or 0)
            units, before = line.units, stated.get(code, 0)
            stated[code] = None if units is None or before is None else before + units
        if not minutes:
            return True
        return _stated_units_valid(
            minutes, {code: units for code, units in stated.items() if units is not None})

    def _kx(self, visit: Visit, ot: list[int], found: list[Finding]) -> None:
        ytd = visit.patient.ytd_ot_allowed
        if ytd is None:  # year_total is missing, so the condition is never true
            return
        lines = visit.lines
        charges = [lines[i].charge for i in ot]
        if ytd + sum(charge for charge in charges if charge is not None) > KX_THRESHOLD:
            found.extend(("kx-required", i) for i in ot if "KX" not in lines[i].modifiers)

    def _co(self, lines: tuple[Line, ...], ot: list[int], found: list[Finding]) -> None:
        for i in ot:
            line = lines[i]
            minutes = line.minutes
            if (minutes is not None and (line.assistant_minutes or 0) * 10 > minutes
                    and "CO" not in line.modifiers):
                found.append(("co-required", i))

    def _pairs(self, lines: tuple[Line, ...], codes: list[str], found: list[Finding]) -> None:
        get = self.ptp.get
        for a, first in enumerate(codes):
            for b, second in enumerate(codes):
                if a != b:
                    indicator = get((first, second))
                    if indicator is not None and (
                            indicator == 0 or _BYPASS.isdisjoint(lines[b].modifiers)):
                        found.append(("ncci-pair", b))

    def _mue(
        self, lines: tuple[Line, ...], codes: list[str], unique: bool, found: list[Finding]
    ) -> None:
        get = self.mue.get
        for i, code in enumerate(codes):
            limit = get(code)
            if limit is None:
                continue
            if unique:
                today = lines[i].units or 0
            else:
                today = sum(line.units for line in lines
                            if line.code == code and line.units is not None)
            if today > limit:
                found.append(("mue-exceeded", i))


_default: Checker | None = None


def check(visit: Visit) -> list[Finding]:
    """The findings of the bench pack (with its 100-row pair table) for one visit."""
    global _default
    if _default is None:
        _default = Checker.from_pack()
    return _default.check(visit)


def checker_for(pack_dir: Path) -> Callable[[Visit], list[Finding]]:
    return Checker.from_pack(pack_dir).check
