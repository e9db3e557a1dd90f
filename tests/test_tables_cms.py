"""The CMS layouts: NCCI practitioner PTP edits and MUE values read as CMS publishes them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from otrules.diagnostics import Diagnostic
from otrules.lang import ast as A
from otrules.lang.checked import ColumnInfo, TableData
from otrules.lang.parser import parse_source
from otrules.lang.tables import load_table

DATA = Path(__file__).parent / "data" / "tables"
MISUSE = "Misuse of column two code with column one code"
STANDARDS = "Standards of medical / surgical practice"
PUBLISHED_HEADER = ("Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
                    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
                    "PTP Edit Rationale")


def load(text: str, folder: Path) -> tuple[TableData | None, list[Diagnostic]]:
    pack, diagnostics = parse_source(text, "main.otr")
    assert diagnostics == []
    (decl,) = [d for d in pack.decls if isinstance(d, A.Table)]
    return load_table(decl, folder)


def write(folder: Path, name: str, content: bytes) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)


def where(d: Diagnostic) -> tuple[str, str, str, str, int, int]:
    assert d.span is not None
    return d.code, d.severity, d.message, d.span.file, d.span.line, d.span.column


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_ptp_file_with_notice_and_a_header_spread_over_rows() -> None:
    table, diagnostics = load('table ptp from "ptp_sample.txt" as cms-ptp\n', DATA)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97140", "97530", False, d("2020-01-01"), None, 1, MISUSE, None),
        ("97530", "97168", False, d("2020-01-01"), None, 1, MISUSE, None),
        ("97530", "97165", False, d("2020-01-01"), d("2020-01-24"), 0, STANDARDS, None),
        ("97530", "97165", False, d("2020-10-01"), None, 1, STANDARDS, None),
        ("97110", "97168", True, d("1996-01-01"), d("2019-12-31"), 9, None, None),
    )
    assert table.columns == (
        ColumnInfo("column1", "code", False, True), ColumnInfo("column2", "code", False, True),
        ColumnInfo("prior_1996", "flag", False, False),
        ColumnInfo("effective", "date", False, False),
        ColumnInfo("deletion", "date", True, False),
        ColumnInfo("modifier", "number", False, False),
        ColumnInfo("rationale", "text", True, False),
        ColumnInfo("provenance", "text", True, False),
    )
    assert (table.valid_from, table.valid_until) == ("effective", "deletion")
    assert table.index[("97530", "97165")] == table.rows[2:4]
    assert table.origin == "ptp_sample.txt"


@pytest.mark.parametrize(("day", "expected"), [
    ("2019-12-31", None),  # before the effective date
    ("2020-01-01", 2),  # on the effective date
    ("2020-01-23", 2),
    ("2020-01-24", None),  # on the deletion date: no longer in force
    ("2020-09-30", None),
    ("2020-10-01", 3),  # the edit as re-added
    ("2031-06-30", 3),  # '*': never deleted
])
def test_an_edit_is_in_force_from_its_effective_date_until_its_deletion_date(
    day: str, expected: int | None
) -> None:
    table, _ = load('table ptp from "ptp_sample.txt" as cms-ptp\n', DATA)
    assert table is not None
    found = table.find(("97530", "97165"), d(day))
    assert found == (None if expected is None else table.rows[expected])


def test_deletion_date_is_exclusive_for_an_edit_deleted_long_ago() -> None:
    table, _ = load('table ptp from "ptp_sample.txt" as cms-ptp\n', DATA)
    assert table is not None
    row = table.rows[4]
    assert table.in_force(row, d("2019-12-30"))
    assert not table.in_force(row, d("2019-12-31"))
    assert not table.in_force(row, d("1995-12-31"))


def test_mue_file_with_multi_line_quoted_headers() -> None:
    table, diagnostics = load('table mue from "mue_sample.csv" as cms-mue\n', DATA)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97018", 1, 3, "Clinical: Data", None),
        ("97165", 1, 2, "Nature of Service/Procedure", None),
        ("97110", 6, 3, None, None),
        ("G0283", 1, 1, "Clinical: Data", None),
    )
    assert [c.name for c in table.columns] == ["code", "mue", "mai", "rationale", "provenance"]
    assert table.key_columns == ("code",)
    assert (table.valid_from, table.valid_until) == (None, None)
    assert table.index["97110"] == (table.rows[2],)


def test_published_single_row_header_with_bom_and_crlf(tmp_path: Path) -> None:
    content = ("\ufeffCPT only copyright 2025 American Medical Association.\r\n\r\n"
               + PUBLISHED_HEADER + "\r\n"
               + "97140\t97530\t\t20200101\t*\t1\t" + MISUSE + "\r\n")
    write(tmp_path, "tables/ptp.txt", content.encode("utf-8"))
    table, diagnostics = load('table ptp from "tables/ptp.txt" as cms-ptp\n', tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97140", "97530", False, d("2020-01-01"), None, 1, MISUSE, None),)


def test_columns_are_found_by_name_not_position_with_provenance(tmp_path: Path) -> None:
    content = ('Provenance,Modifier,Column 2,Column 1,Deletion Date,Effective Date,'
               '"*=in existence prior to 1996"\n'
               '"NCCI 2026 Q1, file f1",0,97530,97140,,20260101,\n')
    write(tmp_path, "ptp.csv", content.encode())
    table, diagnostics = load('table ptp from "ptp.csv" as cms-ptp\n', tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97140", "97530", False, d("2026-01-01"), None, 0, None, "NCCI 2026 Q1, file f1"),
    )


def test_bad_cms_cells_name_the_layout_column(tmp_path: Path) -> None:
    rows = ("97140\t97530\tY\t20200101\t*\t5\tx\n"
            "97140\t97535\t\t*\t2020-13-01\t1\tx\n")
    write(tmp_path, "ptp.txt", (PUBLISHED_HEADER + "\n" + rows).encode())
    table, diagnostics = load('table ptp from "ptp.txt" as cms-ptp\n', tmp_path)
    assert [where(x) for x in diagnostics] == [
        ("E058", "error", "column 'prior_1996': 'Y' is not '*' or empty", "ptp.txt", 2, 13),
        ("E058", "error", "column 'modifier': '5' is not a modifier indicator (0, 1 or 9)",
         "ptp.txt", 2, 26),
        ("E058", "error", "column 'effective': '*' is not a date", "ptp.txt", 3, 14),
        ("E058", "error", "column 'deletion': '2020-13-01' is not a date or '*'", "ptp.txt", 3,
         16),
    ]
    assert diagnostics[2].help == "CMS files write dates as YYYYMMDD, for example 20260101"
    assert table is not None
    assert table.rows == ()


def test_an_empty_key_after_the_data_started_is_an_error(tmp_path: Path) -> None:
    rows = "97140\t97530\t\t20200101\t*\t1\tx\n\t\t\t20200101\t*\t1\tx\n"
    write(tmp_path, "ptp.txt", (PUBLISHED_HEADER + "\n" + rows).encode())
    _, diagnostics = load('table ptp from "ptp.txt" as cms-ptp\n', tmp_path)
    assert [where(x) for x in diagnostics] == [
        ("E059", "error", "column 'column1' is empty", "ptp.txt", 3, 1),
        ("E059", "error", "column 'column2' is empty", "ptp.txt", 3, 2),
    ]
    assert diagnostics[0].help == "a key column needs a value in every row"


def test_a_file_before_2020_has_no_rationale(tmp_path: Path) -> None:
    header = PUBLISHED_HEADER.rsplit("\t", 1)[0]
    write(tmp_path, "ptp.txt", (header + "\n97140\t97530\t\t20150101\t*\t1\n").encode())
    table, diagnostics = load('table ptp from "ptp.txt" as cms-ptp\n', tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97140", "97530", False, d("2015-01-01"), None, 1, None, None),)


def test_overlapping_edits_of_one_pair_are_an_error(tmp_path: Path) -> None:
    rows = ("97140\t97530\t\t20200101\t*\t1\tx\n"
            "97140\t97530\t\t20150101\t20200102\t1\tx\n")
    write(tmp_path, "ptp.txt", (PUBLISHED_HEADER + "\n" + rows).encode())
    _, diagnostics = load('table ptp from "ptp.txt" as cms-ptp\n', tmp_path)
    assert [where(x) for x in diagnostics] == [
        ("E060", "error", "key (97140, 97530): this row and the row at line 2 are both in force "
         "on 2020-01-01", "ptp.txt", 3, 1),
    ]


def test_a_missing_cms_column_is_named_as_cms_names_it(tmp_path: Path) -> None:
    header = PUBLISHED_HEADER.replace("Modifier 0=not allowed 1=allowed 9=not applicable\t", "")
    write(tmp_path, "ptp.txt", (header + "\n97140\t97530\t\t20200101\t*\tx\n").encode())
    _, diagnostics = load('table ptp from "ptp.txt" as cms-ptp\n', tmp_path)
    assert [where(x) for x in diagnostics] == [
        ("E064", "error", "ptp.txt has no column 'Modifier 0=not allowed 1=allowed 9=not "
         "applicable' (the header row at line 1 has: Column 1, Column 2, *=in existence prior "
         "to 1996, Effective Date, Deletion Date *=no data, PTP Edit Rationale)", "ptp.txt", 1,
         1),
    ]


def test_a_file_read_with_the_other_layout_says_which_it_is() -> None:
    _, diagnostics = load('table ptp from "mue_sample.csv" as cms-ptp\n', DATA)
    assert [x.code for x in diagnostics] == ["E064"]
    assert diagnostics[0].help == "this looks like a cms-mue file: write `as cms-mue`"


def test_mue_adjudication_indicator_must_start_with_1_2_or_3(tmp_path: Path) -> None:
    content = ('HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator\n'
               "97110,six,3 Date of Service Edit: Clinical\n"
               "97112,4,Date of Service Edit: Clinical\n"
               "97530,4,31\n")
    write(tmp_path, "mue.csv", content.encode())
    _, diagnostics = load('table mue from "mue.csv" as cms-mue\n', tmp_path)
    assert [where(x) for x in diagnostics] == [
        ("E058", "error", "column 'mue': 'six' is not a number of units", "mue.csv", 2, 7),
        ("E058", "error", "column 'mai': 'Date of Service Edit: Clinical' is not an MUE "
         "adjudication indicator (1, 2 or 3)", "mue.csv", 3, 9),
        ("E058", "error", "column 'mai': '31' is not an MUE adjudication indicator (1, 2 or 3)",
         "mue.csv", 4, 9),
    ]
