"""The code table: which CPT/HCPCS therapy codes we know, and which of them are timed.

The table is data (``otrules/data/codes.csv``), not Python literals, so that reviewers can
check it against the domain notes line by line. Columns: ``code,timed,discipline,description,
source``; descriptions are our own short words (never the AMA CPT descriptor text) and
``source`` holds the domain notes' source ids. Only current codes are listed: the deleted
97532, 97127 and G0515 are unknown here, as is 97014 (Medicare bills G0283 instead); see
``docs/units.md``.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import attrs

from otrules.errors import OtrulesError
from otrules.resources import package_data_dir

__all__ = ["CodeInfo", "CodeTableError", "code_table", "is_timed"]

COLUMNS = ("code", "timed", "discipline", "description", "source")
DISCIPLINES = frozenset({"OT", "PT", "therapy"})  # "therapy": billed by several disciplines
_TIMED = {"yes": True, "no": False}
_CODE = re.compile(r"\d{5}|[A-Z]\d{4}")  # CPT (five digits) or HCPCS Level II (letter + four)
_SOURCE_ID = re.compile(r"S\d+(-[a-z]+)?")  # the notes' ids, e.g. S19 or S110-note


class CodeTableError(OtrulesError):
    """The code table file is malformed; the message names every bad row."""


@attrs.frozen
class CodeInfo:
    code: str
    timed: bool
    discipline: str
    description: str


@functools.cache
def code_table() -> Mapping[str, CodeInfo]:
    """The bundled code table, loaded and validated once per process (read-only)."""
    return MappingProxyType(load_code_table(package_data_dir() / "codes.csv"))


def is_timed(code: str) -> bool | None:
    """Whether ``code`` is billed in 15-minute units; None when the code is not in the table."""
    info = code_table().get(code)
    return None if info is None else info.timed


def load_code_table(path: Path) -> dict[str, CodeInfo]:
    """Read and validate a code table; all problems are reported at once, each with its line."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise CodeTableError(
                f"{path.name}: header must be {','.join(COLUMNS)}, got {reader.fieldnames}"
            )
        table: dict[str, CodeInfo] = {}
        problems: list[str] = []
        for row in reader:
            where = f"{path.name} line {reader.line_num} (code {row.get('code')!r})"
            row_problems = _row_problems(row, table)
            problems.extend(f"{where}: {problem}" for problem in row_problems)
            if not row_problems:
                table[row["code"]] = CodeInfo(
                    row["code"], _TIMED[row["timed"]], row["discipline"], row["description"]
                )
    if problems:
        raise CodeTableError("invalid code table:\n  " + "\n  ".join(problems))
    return table


def _row_problems(row: dict[str, str], seen: Mapping[str, CodeInfo]) -> list[str]:
    # DictReader files surplus fields under the key None and fills missing ones with None.
    if None in row or any(row.get(column) is None for column in COLUMNS):
        return [f"expected {len(COLUMNS)} fields"]
    problems = []
    if not _CODE.fullmatch(row["code"]):
        problems.append("code must be five digits or a capital letter and four digits")
    elif row["code"] in seen:
        problems.append("duplicate code")
    if row["timed"] not in _TIMED:
        problems.append(f"timed must be 'yes' or 'no', got {row['timed']!r}")
    if row["discipline"] not in DISCIPLINES:
        problems.append(f"discipline must be OT, PT or therapy, got {row['discipline']!r}")
    if not row["description"].strip() or row["description"] != row["description"].strip():
        problems.append("description must be non-empty, without surrounding spaces")
    sources = row["source"].split(" ")
    if not all(_SOURCE_ID.fullmatch(source) for source in sources):
        problems.append(f"source must be ids such as 'S19 S29', got {row['source']!r}")
    return problems
