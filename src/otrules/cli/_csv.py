"""Visits from a flat CSV file: one row per service line, the visit's columns repeated on
every row of the visit (docs/cli.md, "CSV input").

Rows of one visit are consecutive and share ``visit_id``. Each visit is built as the JSON
shape of docs/visits.md and validated by :func:`otrules.visit_json.load_visit`, so CSV input
obeys exactly the same contract as JSON. The file is read line by line (constant memory).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final

from otrules.cli._common import BadInput
from otrules.errors import Problem, VisitError
from otrules.visit_json import VisitRecord, load_visit

# column -> (object it belongs to, field name); "" is the visit itself.
VISIT_COLUMNS: Final = {
    "visit_id": ("", "id"),
    "date_of_service": ("", "date_of_service"),
    "payer": ("", "payer"),
    "claim_type": ("", "claim_type"),
    "place_of_service": ("", "place_of_service"),
    "telehealth": ("", "telehealth"),
    "claim_submitted_on": ("", "claim_submitted_on"),
    "diagnoses": ("", "diagnoses"),
    "patient_id": ("patient", "id"),
    "patient_birth_date": ("patient", "birth_date"),
    "patient_ytd_ot_allowed": ("patient", "ytd_ot_allowed"),
    "patient_visits_this_year": ("patient", "visits_this_year"),
    "patient_treatment_days_since_progress_report":
        ("patient", "treatment_days_since_progress_report"),
    "patient_plan_of_care_certified_on": ("patient", "plan_of_care_certified_on"),
    "authorization_number": ("authorization", "number"),
    "authorization_visits_authorized": ("authorization", "visits_authorized"),
    "authorization_visits_used": ("authorization", "visits_used"),
    "authorization_valid_from": ("authorization", "valid_from"),
    "authorization_valid_to": ("authorization", "valid_to"),
}
LINE_COLUMNS: Final = ("code", "minutes", "units", "modifiers", "performed_by",
                       "assistant_minutes", "charge", "diagnosis_pointers")
REQUIRED: Final = ("visit_id", "date_of_service", "payer", "patient_id", "code")
_WHOLE: Final = frozenset({"minutes", "units", "assistant_minutes", "visits_this_year",
                           "treatment_days_since_progress_report", "visits_authorized",
                           "visits_used"})
_LISTS: Final = frozenset({"diagnoses", "modifiers", "diagnosis_pointers"})
_FLAGS: Final = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_SEPARATORS: Final = re.compile(r"[\s;]+")


def read_csv_visits(handle: IO[bytes], label: str) -> Iterator[VisitRecord]:
    """Stream the visits of a CSV file; a bad visit is an error record, a bad file (header,
    encoding) raises BadInput."""
    reader = csv.reader(_decoded_lines(handle, label), strict=True)
    header = _header(_next_row(reader, label), label)
    group: list[tuple[int, list[str]]] = []
    seen: set[str] = set()
    line_before = reader.line_num
    while (row := _next_row(reader, label)) is not None:
        start, line_before = line_before + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if group and _cell(header, row, "visit_id") != _cell(header, group[0][1], "visit_id"):
            yield _visit(header, group, seen)
            group = []
        group.append((start, row))
    if group:
        yield _visit(header, group, seen)


def _next_row(reader: Any, label: str) -> list[str] | None:
    """The next row, None at the end; quoting the csv module cannot read stops the file
    (after a broken quote there is no telling where the next row starts)."""
    try:
        return next(reader, None)
    except csv.Error as error:
        raise BadInput(f"{label}:{reader.line_num}: not valid CSV: {error}") from None


def _decoded_lines(handle: IO[bytes], label: str) -> Iterator[str]:
    for number, raw in enumerate(handle, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadInput(f"{label}:{number}: not UTF-8 text (byte 0x{raw[error.start]:02x} "
                           f"at column {error.start + 1}); save the file as UTF-8") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _header(row: list[str] | None, label: str) -> list[str]:
    if row is None:
        raise BadInput(f"{label}: the CSV file is empty; it needs a header row")
    header = [cell.strip() for cell in row]
    known = set(VISIT_COLUMNS) | set(LINE_COLUMNS)
    unknown = [c for c in header if c not in known]
    if unknown:
        raise BadInput(f"{label}:1: unknown CSV column(s): {', '.join(unknown)} "
                       "(docs/cli.md lists the columns)")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise BadInput(f"{label}:1: CSV column(s) given twice: {', '.join(repeated)}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BadInput(f"{label}:1: the CSV header lacks the required column(s) "
                       f"{', '.join(missing)}")
    return header


def _cell(header: list[str], row: list[str], column: str) -> str:
    index = header.index(column)
    return row[index].strip() if index < len(row) else ""


def _visit(header: list[str], group: list[tuple[int, list[str]]], seen: set[str]
           ) -> VisitRecord:
    number = group[0][0]
    visit_id = _cell(header, group[0][1], "visit_id")
    problems = [Problem("", f"line {n}: {len(row)} cells, the header has {len(header)}")
                for n, row in group if len(row) != len(header)]
    if visit_id in seen:
        problems.append(Problem("visit_id", "the visit's rows must be consecutive; "
                                            "it appeared before"))
    seen.add(visit_id)
    data, conflicts = _visit_data(header, group)
    problems += conflicts
    if problems:
        return VisitRecord(number, None, VisitError(problems, record=number,
                                                    visit_id=visit_id or None))
    try:
        return VisitRecord(number, load_visit(data), None)
    except VisitError as error:
        return VisitRecord(number, None, VisitError(error.problems, record=number,
                                                    visit_id=error.visit_id))


def _visit_data(header: list[str], group: list[tuple[int, list[str]]]
                ) -> tuple[dict[str, Any], list[Problem]]:
    """The visit as JSON-shaped data, and the visit columns whose rows disagree."""
    problems = []
    data: dict[str, Any] = {"diagnoses": [], "lines": []}
    for column, (owner, field) in VISIT_COLUMNS.items():
        if column not in header:
            continue
        values = [_cell(header, row, column) for _, row in group]
        given = [v for v in values if v]
        if any(v != given[0] for v in given):
            problems.append(Problem(column, "differs between the rows of one visit"))
        if given:
            target = data if not owner else data.setdefault(owner, {})
            target[field] = _typed(field, given[0])
    for _, row in group:
        line = {c: _typed(c, _cell(header, row, c)) for c in LINE_COLUMNS
                if c in header and _cell(header, row, c)}
        data["lines"].append(line)
    return data, problems


def _typed(field: str, text: str) -> Any:
    """A cell as the JSON value of its field; text that does not fit stays text, so that the
    validator reports it with its usual message."""
    if field in _LISTS:
        items: Iterable[str] = (i for i in _SEPARATORS.split(text) if i)
        if field == "diagnosis_pointers":
            return [int(i) if i.isdigit() else i for i in items]
        return list(items)
    if field in _WHOLE and text.isdigit():
        return int(text)
    if field == "telehealth":
        return _FLAGS.get(text.lower(), text)
    return text
