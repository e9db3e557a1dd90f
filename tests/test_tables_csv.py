"""CSV tables with declared columns: header matching, dialects, encodings, every file and cell
diagnostic with its exact position in the CSV file, limits, and the problem cap."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from otrules.diagnostics import Diagnostic, render
from otrules.lang import ast as A
from otrules.lang.checked import TableData
from otrules.lang.parser import parse_source
from otrules.lang.tables import TableLimits, load_table

CODES = """\
table codes from "tables/codes.csv"
  key code : code
  column effective : date
  column note : optional text
"""


def load(text: str, folder: Path, **limits: int) -> tuple[TableData | None, list[Diagnostic]]:
    pack, diagnostics = parse_source(text, "main.otr")
    assert diagnostics == []
    (decl,) = [d for d in pack.decls if isinstance(d, A.Table)]
    return load_table(decl, folder, limits=TableLimits(**limits))


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def where(d: Diagnostic) -> tuple[str, str, str, str, int, int]:
    assert d.span is not None
    return d.code, d.severity, d.message, d.span.file, d.span.line, d.span.column


def test_declared_columns_match_headers_by_normalized_name(tmp_path: Path) -> None:
    content = ('Code,Fee Amount,Note,Extra-Column,Modifier\n'
               '97110,"2,480.50","exercise, therapeutic",x,GO\n'
               'G0283,$1,,y,05\n')
    write(tmp_path, "tables/fees.csv", content)
    text = ('table fees from "tables/fees.csv"\n  key code : code\n  key modifier : modifier\n'
            "  column fee_amount : money\n  column note : optional text\n")
    table, diagnostics = load(text, tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97110", "GO", Decimal("2480.50"), "exercise, therapeutic"),
        ("G0283", "05", Decimal("1.00"), None),
    )
    assert table.origin == "tables/fees.csv"
    assert table.digest == hashlib.sha256(content.encode()).hexdigest()
    assert dict(table.index) == {("97110", "GO"): (table.rows[0],),
                                 ("G0283", "05"): (table.rows[1],)}


def test_cell_types_read_as_a_spreadsheet_writes_them(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "code,n,minutes,days,flag,when,dx\n"
                             "97110,30,15,90,Yes,20260131,f902\n"
                             "97112,-0.5,15 minutes,1 day,no,2026-01-31,M54.50\n")
    text = ('table t from "t.csv"\n  key code : code\n  column n : number\n'
            "  column minutes : minutes\n  column days : days\n  column flag : flag\n"
            "  column when : date\n  column dx : optional text\n")
    table, diagnostics = load(text, tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97110", 30, 15, 90, True, dt.date(2026, 1, 31), "f902"),
        ("97112", Decimal("-0.5"), 15, 1, False, dt.date(2026, 1, 31), "M54.50"),
    )


def test_a_bad_cell_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv",
          "code,effective,note\n97110,2026-01-31,ok\n9711,2026-13-01,\n")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'code': '9711' is not a procedure code", "tables/codes.csv",
         3, 1),
        ("E058", "error", "column 'effective': '2026-13-01' is not a date", "tables/codes.csv",
         3, 6),
    ]
    assert diagnostics[1].span is not None
    assert diagnostics[1].span.end_column == 16
    assert render(diagnostics[1]) == (
        "tables/codes.csv:3:6: error[E058]: column 'effective': '2026-13-01' is not a date\n"
        "help: write dates as YYYY-MM-DD, for example 2026-01-31")
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 31), "ok"),)


def test_csv_spans_follow_the_naming_of_the_pack_sources(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective\nX,2026-01-01\n")
    pack, _ = parse_source(CODES.replace("  column note : optional text\n", ""),
                           "packs/medicare/main.otr")
    (decl,) = pack.decls
    assert isinstance(decl, A.Table)
    _, diagnostics = load_table(decl, tmp_path)
    assert diagnostics[0].span is not None
    assert diagnostics[0].span.file == "packs/medicare/tables/codes.csv"


def test_cells_after_a_quoted_multi_line_cell(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", 'code,note,effective\n97110,"line one\nline two",2026-13-01\n')
    text = ('table t from "t.csv"\n  key code : code\n  column note : text\n'
            "  column effective : date\n")
    _, diagnostics = load(text, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'effective': '2026-13-01' is not a date", "t.csv", 3, 11),
    ]


def test_quoted_cells_with_commas_and_quotes_count_towards_the_column(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", 'note,code\n"a, b",97110\n"say ""hi"", twice",9711\n')
    text = 'table t from "t.csv"\n  key code : code\n  column note : text\n'
    table, diagnostics = load(text, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'code': '9711' is not a procedure code", "t.csv", 3, 21),
    ]
    assert table is not None
    assert table.rows == (("97110", "a, b"),)


def test_an_unclosed_quote_is_explained(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", 'code,effective\n97110,"2026-01-01\n97111,2026-01-02\n')
    _, diagnostics = load(CODES.replace("  column note : optional text\n", ""), tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'effective': '2026-01-01\\n97111,2026-01-02' is not a date",
         "tables/codes.csv", 2, 7),
    ]
    assert diagnostics[0].help == ('the cell runs over several lines: a quote (") that opens '
                                   "it is probably never closed")


def test_a_quoted_cell_that_never_ends_stops_the_reading(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", 'code,effective\n97110,"' + "x\n" * 70_000)
    _, diagnostics = load(CODES.replace("  column note : optional text\n", ""), tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E065", "error", "the file cannot be read as CSV after line 1: field larger than field "
         "limit (131072)", "tables/codes.csv", 2, 1),
    ]


def test_empty_and_missing_cells(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n97110,,x\n97112\n,2026-01-01\n"
                                        "97530,2026-01-01\n")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E059", "error", "column 'effective' is empty", "tables/codes.csv", 2, 7),
        ("E057", "error", "the row has 1 cell; the header row has 3", "tables/codes.csv", 3, 1),
        ("E059", "error", "column 'code' is empty", "tables/codes.csv", 4, 1),
    ]
    assert [d.help for d in diagnostics] == [
        "fill in a value, or declare the column optional",
        "check for a missing separator or a row cut short",
        "a key column needs a value in every row",
    ]
    assert table is not None
    assert table.rows == (("97530", dt.date(2026, 1, 1), None),)  # a short optional cell


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "\n\ncode,effective,note\n\n97110,2026-01-01,x\n,,\n")
    table, diagnostics = load(CODES, tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 1), "x"),)


def test_a_repeated_key_names_both_lines(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n97110,2026-01-01,a\n"
                                        "97112,2026-01-01,b\n97110,2026-02-01,c\n")
    _, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E060", "error", "key 97110 is repeated: the row at line 2 has it too",
         "tables/codes.csv", 4, 1),
    ]


# ---------------------------------------------------------------------------- header row


def test_missing_columns_are_one_diagnostic_with_suggestions(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "Code,Effective Date,Deleted\n97110,2026-01-01,\n")
    text = ('table t from "t.csv"\n  key code : code\n  column effective : date\n'
            "  column deletion : optional date\n")
    table, diagnostics = load(text, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E064", "error", "t.csv has no columns 'effective', 'deletion' (the header row at line "
         "1 has: Code, Effective Date, Deleted)", "main.otr", 3, 3),
    ]
    assert diagnostics[0].help == ("did you mean 'Effective Date' for 'effective', 'Deleted' "
                                   "for 'deletion'? rename the column or the header cell")
    assert table is not None
    assert table.rows == ()


def test_a_header_cell_named_twice(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,Code,effective,note\n97110,97110,2026-01-01,x\n")
    _, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E064", "error", "the header row names column 'code' twice: 'code' (cell 1) and 'Code' "
         "(cell 2)", "tables/codes.csv", 1, 1),
    ]


def test_an_empty_file_has_no_header(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", b"")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E064", "error", "the file is empty: there is no header row", "tables/codes.csv", 1, 1),
    ]
    assert diagnostics[0].help == "the first row names the columns: code, effective, note"
    assert table is not None
    assert table.digest == hashlib.sha256(b"").hexdigest()


def test_a_header_without_rows_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E069", "warning", "'tables/codes.csv' has a header row but no data rows", "main.otr",
         1, 13),
    ]
    assert table is not None
    assert table.rows == ()


def test_semicolon_files_get_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code;effective;note\n97110;2026-01-01;x\n")
    _, diagnostics = load(CODES, tmp_path)
    assert diagnostics[0].code == "E064"
    assert diagnostics[0].help == ("the file seems to be separated by semicolons; save it as "
                                   "CSV with commas")


# ---------------------------------------------------------------------------- dialects


def test_bom_and_crlf_line_ends(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv",
          b"\xef\xbb\xbfcode,effective,note\r\n97110,2026-01-31,a\r\n9711,2026-01-31,b\r\n")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'code': '9711' is not a procedure code", "tables/codes.csv",
         3, 1),
    ]
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 31), "a"),)


def test_old_mac_line_ends(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", b"code,effective,note\r97110,2026-01-31,a\rX,1,b\r")
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d)[4:] for d in diagnostics] == [(3, 1), (3, 3)]
    assert table is not None
    assert len(table.rows) == 1


@pytest.mark.parametrize("name", ["tables/codes.txt", "tables/codes.tsv", "tables/codes.csv"])
def test_tab_separated_by_extension_or_by_header(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, "code\teffective\tnote\n97110\t2026-01-31\ta, b\n97112\tbad\tc\n")
    _, diagnostics = load(CODES.replace("tables/codes.csv", name), tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'effective': 'bad' is not a date", name, 3, 7),
    ]


def test_a_txt_file_with_commas_is_read_as_commas(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.txt", "code,effective,note\n97110,2026-01-31,x\n")
    table, diagnostics = load(CODES.replace("codes.csv", "codes.txt"), tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 31), "x"),)


def test_notice_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "Exported 2026-01-05, quarter 1\n\ncode,effective,note\n"
                                        "97110,2026-01-31,x\n")
    table, diagnostics = load(CODES, tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 31), "x"),)


# ---------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(("content", "message", "line", "column"), [
    (b"code,effective,note\n97110,2026-01-01,caf\xe9\n",
     "'tables/codes.csv' is not UTF-8 text: byte 0xE9 at byte offset 40 (line 2, column 21) "
     "cannot be read", 2, 21),
    (b"\xef\xbb\xbfco\xffde\n", "'tables/codes.csv' is not UTF-8 text: byte 0xFF at byte offset "
     "5 (line 1, column 3) cannot be read", 1, 3),
    (b"code,note\n97110,\xc3\xa9t\xc3\xa9 \x92\n", "'tables/codes.csv' is not UTF-8 text: byte "
     "0x92 at byte offset 22 (line 2, column 11) cannot be read", 2, 11),
    (b"code\n97\x0010\n", "'tables/codes.csv' contains a NUL byte at byte offset 7: it is a "
     "binary file, not text", 2, 3),
    (b"PK\x03\x04\x14\x00\x06\x00", "'tables/codes.csv' is a ZIP archive or an Excel workbook, "
     "not a CSV text file", 1, 1),
    ("code,effective\n".encode("utf-16"), "'tables/codes.csv' is UTF-16 text", 1, 1),
])
def test_files_that_are_not_utf8_text(tmp_path: Path, content: bytes, message: str, line: int,
                                      column: int) -> None:
    write(tmp_path, "tables/codes.csv", content)
    table, diagnostics = load(CODES, tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E063", "error", message, "tables/codes.csv", line, column),
    ]
    assert table is not None
    assert table.rows == ()


# ---------------------------------------------------------------------------- limits


def test_a_cell_over_the_length_limit(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n97110,2026-01-01,0123456789x\n")
    _, diagnostics = load(CODES, tmp_path, max_cell_chars=10)
    assert [where(d) for d in diagnostics] == [
        ("E066", "error", "column 'note': the cell has 11 characters, over the limit of 10",
         "tables/codes.csv", 2, 18),
    ]


def test_more_rows_than_the_limit(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n97110,2026-01-01,\n"
                                        "97112,2026-01-01,\n97530,2026-01-01,\n")
    table, diagnostics = load(CODES, tmp_path, max_rows=2)
    assert [where(d) for d in diagnostics] == [
        ("E066", "error", "the file has more than 2 rows", "tables/codes.csv", 4, 1),
    ]
    assert table is not None
    assert len(table.rows) == 2


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", "code,effective,note\n97110,2026-01-01,\n")
    _, diagnostics = load(CODES, tmp_path, max_file_bytes=20)
    assert [where(d) for d in diagnostics] == [
        ("E066", "error", "'tables/codes.csv' is larger than the limit of 20 bytes", "main.otr",
         1, 13),
    ]


def test_a_million_bad_cells_are_counted_not_listed(tmp_path: Path) -> None:
    rows = "".join(f"{97000 + i % 1000},2026-13-{i % 28 + 1:02d},\n" for i in range(3_000))
    write(tmp_path, "tables/codes.csv", "code,effective,note\n" + rows)
    table, diagnostics = load(CODES, tmp_path)
    assert len(diagnostics) == 51
    assert {d.code for d in diagnostics[:50]} == {"E058"}
    assert where(diagnostics[0]) == ("E058", "error", "column 'effective': '2026-13-01' is not "
                                     "a date", "tables/codes.csv", 2, 7)
    assert where(diagnostics[50]) == ("E067", "error", "and 2,950 more problems in this file",
                                      "tables/codes.csv", 52, 1)
    assert table is not None
    assert table.rows == ()


def test_line_breaks_inside_a_quoted_text_cell_are_kept(tmp_path: Path) -> None:
    write(tmp_path, "tables/codes.csv", b'code,effective,note\n97110,2026-01-01,"a\rb\r\nc"\n')
    table, diagnostics = load(CODES, tmp_path)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110", dt.date(2026, 1, 1), "a\rb\r\nc"),)


def test_an_amount_past_28_digits_is_a_bad_value(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "code,fee\n97110," + "9" * 30 + "\n")
    _, diagnostics = load('table t from "t.csv"\n  key code : code\n  column fee : money\n',
                          tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'fee': '" + "9" * 30 + "' is not an amount", "t.csv", 2, 7),
    ]


def test_long_values_are_cut_short_in_messages(tmp_path: Path) -> None:
    write(tmp_path, "t.csv", "code,n\n97110," + "1x" * 30 + "\n")
    _, diagnostics = load('table t from "t.csv"\n  key code : code\n  column n : number\n',
                          tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'n': '" + "1x" * 19 + "1…' is not a number", "t.csv", 2, 7),
    ]
