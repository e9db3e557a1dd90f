"""The CMS NCCI data files as CMS publishes them: practitioner PTP edits and MUE values.

``table ptp from "tables/ptp.txt" as cms-ptp`` reads a quarterly file unchanged: the AMA
notice lines before the header are skipped, header cells are found by name (not position,
and whatever line breaks or wording they carry), tab- or comma-separated. The column names
and types a pack sees are fixed here, whatever the file calls them. The layouts follow
``/work/shared/domain/ot-billing.md`` §11 (checked against public parsers of the files, V1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from otrules.lang.checked import ColumnInfo
from otrules.lang.csv_tables import FileColumn
from otrules.lang.table_cells import CELL_TYPES, CellType, parse_code, parse_date

__all__ = ["LAYOUTS", "Layout"]


@attrs.frozen
class Layout:
    name: str
    columns: tuple[FileColumn, ...]
    valid_from: str | None = None
    valid_until: str | None = None


def _squash(header: str) -> str:
    """Letters and digits only, lower case: '*=in existence prior to 1996' →
    'inexistenceprior1996'. CMS wording and spacing vary between releases."""
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _starts(*prefixes: str) -> Callable[[str], bool]:
    return lambda header: _squash(header).startswith(prefixes)


def _contains(*words: str) -> Callable[[str], bool]:
    return lambda header: any(word in _squash(header) for word in words)


def _star(text: str) -> bool:
    if text == "*":
        return True
    raise ValueError(text)


def _deletion_date(text: str) -> object:
    """'*' is CMS's "no deletion date" (None: in force with no end)."""
    return None if text == "*" else parse_date(text)


def _indicator(text: str) -> int:
    if text in ("0", "1", "9"):
        return int(text)
    raise ValueError(text)


def _units(text: str) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    raise ValueError(text)


def _adjudication(text: str) -> int:
    """'3 Date of Service Edit: Clinical' → 3 (a bare '3' is fine too)."""
    if text[0] in "123" and (len(text) == 1 or not text[1].isdigit()):
        return int(text[0])
    raise ValueError(text)


_CMS_DATE_HELP = "CMS files write dates as YYYYMMDD, for example 20260101"
STAR_FLAG = CellType("flag", "'*' or empty", "the column holds * for an edit in existence "
                     "before 1996 and nothing otherwise", _star, blank=False)
EFFECTIVE = CellType("date", "a date", _CMS_DATE_HELP, parse_date)
DELETION = CellType("date", "a date or '*'", _CMS_DATE_HELP + ", or * when the edit is not "
                    "deleted", _deletion_date)
INDICATOR = CellType("number", "a modifier indicator (0, 1 or 9)", "0 = no modifier allowed, "
                     "1 = allowed, 9 = not applicable", _indicator)
CODE = CellType("code", "a procedure code", CELL_TYPES["code"].help, parse_code)
MUE_UNITS = CellType("number", "a number of units", "the MUE value is a whole number of units",
                     _units)
ADJUDICATION = CellType("number", "an MUE adjudication indicator (1, 2 or 3)", "the cell "
                        "starts with its digit, as in '3 Date of Service Edit: Clinical'",
                        _adjudication)
TEXT = CELL_TYPES["text"]


def _column(name: str, type_: str, cell: CellType, matches: Callable[[str], bool], label: str,
            *, key: bool = False, optional: bool = False, in_header: bool = True
            ) -> FileColumn:
    return FileColumn(ColumnInfo(name, type_, optional, key), cell, matches, label,
                      in_header=in_header, fixed=True)


# Our own addition for rows we ship: where each row came from. Files from CMS lack it.
def _provenance() -> FileColumn:
    return _column("provenance", "text", TEXT, _starts("provenance"), "Provenance",
                   optional=True, in_header=False)


PTP = Layout("cms-ptp", (
    _column("column1", "code", CODE, _starts("column1", "col1"), "Column 1", key=True),
    _column("column2", "code", CODE, _starts("column2", "col2"), "Column 2", key=True),
    _column("prior_1996", "flag", STAR_FLAG, _contains("1996", "existence"),
            "*=in existence prior to 1996"),
    _column("effective", "date", EFFECTIVE, _starts("effective"), "Effective Date"),
    _column("deletion", "date", DELETION, _starts("deletion"), "Deletion Date *=no data",
            optional=True),
    _column("modifier", "number", INDICATOR, _starts("modifier"),
            "Modifier 0=not allowed 1=allowed 9=not applicable"),
    _column("rationale", "text", TEXT, _contains("rationale"), "PTP Edit Rationale",
            optional=True, in_header=False),  # files before 2020 have no rationale
    _provenance(),
), valid_from="effective", valid_until="deletion")

MUE = Layout("cms-mue", (
    _column("code", "code", CODE, _starts("hcpcs", "cpt"), "HCPCS/CPT Code", key=True),
    # Practitioner, outpatient hospital and DME tables differ only in this header's start.
    _column("mue", "number", MUE_UNITS, _contains("muevalue"),
            "Practitioner Services MUE Values"),
    _column("mai", "number", ADJUDICATION, _contains("adjudication"),
            "MUE Adjudication Indicator"),
    _column("rationale", "text", TEXT, _contains("rationale"), "MUE Rationale",
            optional=True, in_header=False),
    _provenance(),
))

LAYOUTS: Mapping[str, Layout] = {layout.name: layout for layout in (PTP, MUE)}
