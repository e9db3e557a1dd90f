"""The benchmark workload: seeded synthetic OT visits and the bench pack's tables.

Everything here is deterministic for a seed, so every engine (hand-written, zen-engine,
otrules) sees exactly the same visits. Visits are built as JSON-shaped dicts (the visit
contract of docs/visits.md) and loaded once with :func:`otrules.visit_json.load_visit`, so a
generator bug shows up as a validation error instead of as a skewed benchmark.

About a quarter of the visits carry at least one defect that the bench pack reports: wrong
units, a missing GO/KX/CO/59/95 modifier, two evaluations, units over a code's limit, a
malformed or missing diagnosis, or a code the payer does not cover. The rest are clean claims
built the way a careful biller would (units from the CMS allocation, modifiers as required).

Also here: reading the bench pack's CSV tables (shared by the hand-written baseline and the
zen-engine model) and writing a copy of the pack with a large pair table for the table-size
curve. The pack and its tables are synthetic, not billing policy.
"""

from __future__ import annotations

import csv
import random
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from otrules.model import Visit
from otrules.units import allocate_units
from otrules.visit_json import load_visit

__all__ = [
    "BENCH_PACK",
    "BenchTables",
    "generate_visit_dicts",
    "generate_visits",
    "read_tables",
    "write_pack_with_ptp_rows",
    "write_ptp_csv",
]

BENCH_PACK = Path(__file__).resolve().parent / "bench-pack"
KX_THRESHOLD = Decimal("2480.00")  # the pack's kx_threshold parameter
PACK_START, PACK_END = "2026-01-01", "2026-12-31"  # the pack's effective range

EVALUATIONS = ("97165", "97166", "97167", "97168")
TIMED = ("97110", "97112", "97530", "97535", "97140", "97129", "97130", "97760")
GROUP = "97150"
FOREIGN = ("97161", "G0283")  # not OT codes in the bench pack; no payer covers them
BYPASS = ("59", "XU")  # what a careful biller puts on the column-2 line of a pair edit

# Synthetic charges: per unit for timed codes, per service for untimed ones.
RATES = {
    "97110": "31.00", "97112": "35.00", "97530": "38.00", "97535": "34.00", "97140": "30.00",
    "97129": "33.00", "97130": "29.00", "97760": "44.00", "97150": "26.00",
    "97165": "118.00", "97166": "152.00", "97167": "185.00", "97168": "96.00",
    "97161": "110.00", "G0283": "14.00",
}
VALID_DIAGNOSES = ("F90.2", "R27.8", "M62.81", "G80.9", "I69.351", "R26.89", "M17.11",
                   "Z96.651", "F84.0", "G35", "S52.501A", "R4189")
# Loadable (the visit contract only checks characters and length) but not ICD-10-CM shaped.
MALFORMED_DIAGNOSES = ("9F0.2", "FF0.2", "F9.02", "M6281234")

# Pair-table rows that generated visits can meet: a few shaped like real NCCI edits
# (97140/97530 is CMS's own modifier-59 example), the rest invented. Indicator 0 never
# bypasses; 1 bypasses with 59 or an X modifier on the column-2 line.
REAL_PTP_ROWS = (
    ("97140", "97530", 1),
    ("97530", "97168", 1),
    ("97150", "97168", 1),
    ("97760", "97140", 1),
    ("97760", "97110", 1),
    ("97150", "97110", 1),
    ("97112", "97535", 1),
    ("97167", "97168", 0),
    ("97150", "97129", 0),
)
SMALL_PTP_ROWS = 100


# ---- the pack's tables ---------------------------------------------------------------------


@attrs.frozen
class BenchTables:
    """The bench pack's CSV tables as plain Python lookups."""

    timed: dict[str, bool]  # code -> timed, for the pack's OT codes
    evaluations: frozenset[str]
    ptp: dict[tuple[str, str], int]  # (column1, column2) -> modifier indicator
    mue: dict[str, int]
    covered: frozenset[tuple[str, str]]  # (payer, code)


def _rows(path: Path, *columns: str) -> Iterator[tuple[str, ...]]:
    """The named columns of a CSV file with a header row (plain csv.reader: the pair table
    can have a million rows)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        where = [header.index(column) for column in columns]
        for row in reader:
            yield tuple(row[i] for i in where)


def read_tables(pack_dir: Path = BENCH_PACK) -> BenchTables:
    tables = pack_dir / "tables"
    ot = list(_rows(tables / "ot_codes.csv", "code", "timed", "evaluation"))
    ptp = _rows(tables / "ptp.csv", "column1", "column2", "modifier")
    return BenchTables(
        timed={code: timed == "yes" for code, timed, _ in ot},
        evaluations=frozenset(code for code, _, evaluation in ot if evaluation == "yes"),
        ptp={(column1, column2): int(modifier) for column1, column2, modifier in ptp},
        mue={code: int(limit) for code, limit in _rows(tables / "mue.csv", "code", "limit")},
        covered=frozenset(_rows(tables / "covered.csv", "payer", "code")),  # type: ignore[arg-type]
    )


def _filler_row(i: int) -> tuple[str, str, int]:
    # Codes 10000-10999 / 50000-50999 never appear on a generated visit, so filler rows make
    # the table big without changing any finding. Distinct for i < 1,000,000.
    return f"{10000 + i // 1000:05d}", f"{50000 + i % 1000:05d}", i % 2


def write_ptp_csv(path: Path, rows: int) -> None:
    """The pair table with ``rows`` rows: the real rows first, then synthetic filler."""
    if not len(REAL_PTP_ROWS) <= rows <= len(REAL_PTP_ROWS) + 1_000_000:
        raise ValueError(f"rows must be {len(REAL_PTP_ROWS)}..{len(REAL_PTP_ROWS) + 1_000_000}")
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("column1,column2,modifier\n")
        for column1, column2, modifier in REAL_PTP_ROWS:
            handle.write(f"{column1},{column2},{modifier}\n")
        handle.writelines("{},{},{}\n".format(*_filler_row(i))
                          for i in range(rows - len(REAL_PTP_ROWS)))


def write_pack_with_ptp_rows(destination: Path, rows: int) -> Path:
    """Copy the bench pack to ``destination`` (a new folder) with a ``rows``-row pair table."""
    shutil.copytree(BENCH_PACK, destination)
    write_ptp_csv(destination / "tables" / "ptp.csv", rows)
    return destination


# ---- visits --------------------------------------------------------------------------------


@attrs.define
class _Line:
    code: str
    minutes: int | None = None
    units: int = 1
    modifiers: list[str] = attrs.Factory(list)
    performed_by: str = "OT"
    assistant_minutes: int | None = None

    def charge(self) -> Decimal:
        timed = self.code in TIMED
        return Decimal(RATES[self.code]) * (self.units if timed else 1)


class _VisitBuilder:
    """Builds one visit dict. Defects are drawn independently; see the module docstring."""

    def __init__(self, rng: random.Random, tables: BenchTables, visit_id: str) -> None:
        self.rng = rng
        self.tables = tables
        self.visit_id = visit_id
        self.payer = rng.choices(("medicare", "medicaid", "commercial"), (5, 2, 3))[0]

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def build(self) -> dict[str, Any]:
        codes = self._codes()
        lines = [self._line(code) for code in codes]
        self._units(lines)
        diagnoses = self._diagnoses()
        patient = self._patient()
        telehealth, place = self._setting()
        self._modifiers(lines, patient, telehealth)
        return self._visit_dict(lines, diagnoses, patient, telehealth, place)

    # -- which codes ----------------------------------------------------------------------

    def _codes(self) -> list[str]:
        rng = self.rng
        kind = rng.random()
        if kind < 0.2:
            codes = [rng.choice(EVALUATIONS), *rng.sample(TIMED, rng.randint(0, 2))]
        elif kind < 0.3:
            codes = [GROUP, *rng.sample(TIMED, rng.randint(0, 1))]
        else:
            codes = rng.sample(TIMED, rng.randint(1, 4))
        if "97130" in codes and "97129" not in codes:  # 97130 is the add-on to 97129
            codes.insert(codes.index("97130"), "97129")
        codes = [c for c in codes if (self.payer, c) in self.tables.covered]
        if not codes:
            codes = ["97110"]
        if self.chance(0.015):  # defect: two evaluations on one day
            codes = [*rng.sample(EVALUATIONS, 2), *codes[:2]]
        if self.chance(0.025):  # defect: a code this payer does not cover
            uncovered = [c for c in (*TIMED, GROUP, *EVALUATIONS)
                         if (self.payer, c) not in self.tables.covered]
            codes.append(rng.choice(uncovered or list(FOREIGN)) if self.chance(0.6)
                         else rng.choice(FOREIGN))
        return list(dict.fromkeys(codes))[:5]  # never one code twice; at most 5 lines

    # -- one line -------------------------------------------------------------------------

    def _line(self, code: str) -> _Line:
        rng = self.rng
        line = _Line(code)
        if code in TIMED:
            low, high = {"97129": (8, 15), "97130": (8, 30)}.get(code, (8, 38))
            if code == "97129" and self.chance(0.05):  # defect: over 97129's one-unit limit
                low, high = 25, 35
            line.minutes = rng.randint(low, high)
        elif code == GROUP or self.chance(0.7):
            line.minutes = rng.randint(30, 60)
        if code not in EVALUATIONS and line.minutes is not None:
            self._assistant(line)
        return line

    def _assistant(self, line: _Line) -> None:
        draw = self.rng.random()
        assert line.minutes is not None
        if draw < 0.15:
            line.performed_by, line.assistant_minutes = "OTA", line.minutes
        elif draw < 0.25:
            line.assistant_minutes = self.rng.randint(1, max(1, line.minutes // 3))

    def _units(self, lines: list[_Line]) -> None:
        timed = {line.code: line.minutes or 0 for line in lines if line.code in TIMED}
        allocation = allocate_units(timed) if timed else {}
        for line in lines:
            line.units = allocation.get(line.code, 1)
        timed_lines = [line for line in lines if line.code in TIMED]
        if timed_lines and self.chance(0.03):  # defect: one unit too many or too few
            line = self.rng.choice(timed_lines)
            line.units = line.units + 1 if line.units == 0 or self.chance(0.5) else line.units - 1

    # -- the rest of the visit ------------------------------------------------------------

    def _diagnoses(self) -> list[str]:
        rng = self.rng
        if self.chance(0.01):  # defect: no diagnosis at all
            return []
        diagnoses = rng.sample(VALID_DIAGNOSES, rng.choice((1, 1, 2, 2, 3)))
        if self.chance(0.02):  # defect: a malformed diagnosis
            diagnoses.append(rng.choice(MALFORMED_DIAGNOSES))
        return diagnoses

    def _patient(self) -> dict[str, Any]:
        rng = self.rng
        patient: dict[str, Any] = {
            "id": f"BP-{rng.randrange(1_000_000):06d}",
            "birth_date": f"{rng.randint(1935, 2015)}-{rng.randint(1, 12):02d}-"
                          f"{rng.randint(1, 28):02d}",
            "visits_this_year": rng.randint(0, 40),
        }
        if self.chance(0.85):  # around the KX threshold, in cents
            patient["ytd_ot_allowed"] = _money(Decimal(rng.randint(150_000, 320_000)) / 100)
        return patient

    def _setting(self) -> tuple[bool | None, str | None]:
        rng = self.rng
        institutional = self.chance(0.1)  # institutional claims carry no place of service
        if self.chance(0.1):
            return True, None if institutional else rng.choice(("02", "10"))
        return rng.choice((None, False)), None if institutional else "11"

    def _modifiers(
        self, lines: list[_Line], patient: dict[str, Any], telehealth: bool | None
    ) -> None:
        ot_lines = [line for line in lines if line.code in self.tables.timed]
        kx = self.payer == "medicare" and self._over_threshold(ot_lines, patient)
        for line in ot_lines:
            if not self.chance(0.015):  # defect: GO missing
                line.modifiers.append("GO")
            if self._needs_co(line) and not self.chance(0.15):
                line.modifiers.append("CO")
            if kx and not self.chance(0.1):
                line.modifiers.append("KX")
        self._bypass_modifiers(lines)
        if telehealth:
            for line in lines:
                if not self.chance(0.15):  # defect: 95 missing on a telehealth line
                    line.modifiers.append("95")
        for line in lines:  # a claim line has four modifier slots; the rest is lost
            del line.modifiers[4:]

    def _needs_co(self, line: _Line) -> bool:
        assistant = line.assistant_minutes or 0
        return (self.payer == "medicare" and line.minutes is not None
                and assistant * 10 > line.minutes)

    def _over_threshold(self, ot_lines: list[_Line], patient: dict[str, Any]) -> bool:
        ytd = patient.get("ytd_ot_allowed")
        if ytd is None:
            return False
        return Decimal(ytd) + sum(line.charge() for line in ot_lines) > KX_THRESHOLD

    def _bypass_modifiers(self, lines: list[_Line]) -> None:
        for first in lines:
            for second in lines:
                indicator = self.tables.ptp.get((first.code, second.code))
                if (indicator == 1 and not self.chance(0.15)  # defect: bypass missing
                        and not set(BYPASS) & set(second.modifiers)):
                    second.modifiers.append(self.rng.choice(BYPASS))

    def _visit_dict(
        self, lines: list[_Line], diagnoses: list[str], patient: dict[str, Any],
        telehealth: bool | None, place: str | None,
    ) -> dict[str, Any]:
        rng = self.rng
        day = rng.randint(1, 365)
        visit: dict[str, Any] = {
            "id": self.visit_id,
            "date_of_service": _day_of_2026(day),
            "payer": self.payer,
            "patient": patient,
            "diagnoses": diagnoses,
            "lines": [_line_dict(line, len(diagnoses), rng) for line in lines],
        }
        if place is None:
            visit["claim_type"] = "institutional"
        else:
            visit["place_of_service"] = place
        if telehealth is not None:
            visit["telehealth"] = telehealth
        if self.chance(0.7):
            visit["claim_submitted_on"] = _day_of_2026(min(365, day + rng.randint(2, 20)))
        if self.payer == "medicaid" and self.chance(0.5):
            visit["authorization"] = {"number": f"A-{rng.randrange(100_000):05d}",
                                      "visits_authorized": 24,
                                      "visits_used": rng.randint(0, 24)}
        return visit


def _line_dict(line: _Line, diagnoses: int, rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {"code": line.code}
    if line.minutes is not None:
        out["minutes"] = line.minutes
    out["units"] = line.units
    out["modifiers"] = line.modifiers
    out["performed_by"] = line.performed_by
    if line.assistant_minutes is not None:
        out["assistant_minutes"] = line.assistant_minutes
    out["charge"] = _money(line.charge())
    if diagnoses:
        out["diagnosis_pointers"] = [1, 2] if diagnoses > 1 and rng.random() < 0.4 else [1]
    return out


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _day_of_2026(day_of_year: int) -> str:
    month_lengths = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    month = 0
    while day_of_year > month_lengths[month]:
        day_of_year -= month_lengths[month]
        month += 1
    return f"2026-{month + 1:02d}-{day_of_year:02d}"


def generate_visit_dicts(
    n: int, seed: int, tables: BenchTables | None = None
) -> Iterator[dict[str, Any]]:
    """``n`` JSON-shaped visits, the same ones for the same seed."""
    rng = random.Random(seed)
    tables = tables if tables is not None else read_tables()
    for i in range(n):
        yield _VisitBuilder(rng, tables, f"BV-{seed}-{i:07d}").build()


def generate_visits(n: int, seed: int, tables: BenchTables | None = None) -> Iterator[Visit]:
    """The same visits as :func:`generate_visit_dicts`, validated and loaded."""
    for visit in generate_visit_dicts(n, seed, tables):
        yield load_visit(visit)
