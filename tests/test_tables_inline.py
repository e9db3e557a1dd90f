"""Inline tables (`row` clauses) and the table declaration itself: types, keys, validity,
and every declaration diagnostic, each through real pack text."""

from __future__ import annotations

import datetime as dt
import hashlib
import textwrap
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest

from otrules.diagnostics import Diagnostic
from otrules.lang import ast as A
from otrules.lang.checked import ColumnInfo, TableData
from otrules.lang.errorcodes import lookup
from otrules.lang.parser import parse_source
from otrules.lang.tables import TableLimits, load_table


def load(text: str, folder: Path | None = None) -> tuple[TableData | None, list[Diagnostic]]:
    pack, diagnostics = parse_source(text, "main.otr")
    assert diagnostics == []
    (decl,) = [d for d in pack.decls if isinstance(d, A.Table)]
    return load_table(decl, folder or Path("."))


def where(d: Diagnostic) -> tuple[str, str, str, int, int]:
    assert d.span is not None
    return d.code, d.severity, d.message, d.span.line, d.span.column


FEES = """\
table fees "Fees"
  key code : code
  key modifier : modifier
  column fee : money
  column minutes : optional minutes
  column timed : flag
  column since : date
  column note : text
  column dx : optional diagnosis
  column factor : number
  row 97110, GO, $2,480.5, 8 minutes, yes, 2026-01-01, "therapeutic exercise", "F902", 0.25
  row G0283, 05, $1, none, no, 2025-12-31, OTA, none, 10000
  row 0001F, "XE", $0.99, 1 minute, no, 2024-02-29, "", F90, 3
"""


def test_inline_rows_take_their_columns_types() -> None:
    table, diagnostics = load(FEES)
    assert diagnostics == []
    assert table is not None
    assert table.rows == (
        ("97110", "GO", Decimal("2480.50"), 8, True, dt.date(2026, 1, 1),
         "therapeutic exercise", "F90.2", Decimal("0.25")),
        ("G0283", "05", Decimal("1.00"), None, False, dt.date(2025, 12, 31), "OTA", None, 10000),
        ("0001F", "XE", Decimal("0.99"), 1, False, dt.date(2024, 2, 29), "", "F90", 3),
    )
    assert [type(row[8]) for row in table.rows] == [Decimal, int, int]
    assert table.columns == (
        ColumnInfo("code", "code", False, True), ColumnInfo("modifier", "modifier", False, True),
        ColumnInfo("fee", "money", False, False), ColumnInfo("minutes", "minutes", True, False),
        ColumnInfo("timed", "flag", False, False), ColumnInfo("since", "date", False, False),
        ColumnInfo("note", "text", False, False), ColumnInfo("dx", "diagnosis", True, False),
        ColumnInfo("factor", "number", False, False),
    )


def test_two_key_index_maps_tuples_to_rows_and_is_read_only() -> None:
    table, _ = load(FEES)
    assert table is not None
    assert isinstance(table.index, MappingProxyType)
    assert set(table.index) == {("97110", "GO"), ("G0283", "05"), ("0001F", "XE")}
    assert table.index[("G0283", "05")] == (table.rows[1],)
    assert table.key_columns == ("code", "modifier")


def test_origin_digest_and_span_of_an_inline_table() -> None:
    table, _ = load(FEES)
    assert table is not None
    rows_text = (
        '97110, GO, $2,480.5, 8 minutes, yes, 2026-01-01, "therapeutic exercise", "F902", 0.25\n'
        "G0283, 05, $1, none, no, 2025-12-31, OTA, none, 10000\n"
        '0001F, "XE", $0.99, 1 minute, no, 2024-02-29, "", F90, 3'
    )
    assert table.origin == "inline"
    assert table.digest == hashlib.sha256(rows_text.encode()).hexdigest()
    assert table.name == "fees"
    assert table.span is not None
    assert (table.span.file, table.span.line) == ("main.otr", 1)


def test_digest_ignores_layout_but_not_values() -> None:
    spaced = FEES.replace("row G0283, 05,", "row   G0283,05,")
    changed = FEES.replace("$0.99", "$0.98")
    digest = load(FEES)[0].digest  # type: ignore[union-attr]
    assert load(spaced)[0].digest == digest  # type: ignore[union-attr]
    assert load(changed)[0].digest != digest  # type: ignore[union-attr]


def test_one_key_index_maps_bare_values_and_keeps_modifier_text() -> None:
    table, diagnostics = load("table mods\n  key modifier : modifier\n  row GO\n  row 59\n"
                              "  row 05\n")
    assert diagnostics == []
    assert table is not None
    assert dict(table.index) == {"GO": (("GO",),), "59": (("59",),), "05": (("05",),)}


def test_codes_may_be_written_as_quoted_text() -> None:
    table, diagnostics = load('table c\n  key code : code\n  row "97110"\n  row "G0283"\n')
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110",), ("G0283",))


# ---------------------------------------------------------------------------- validity


VALIDITY = """\
table rates
  key code : code
  column rate : money
  column start : date
  column stop : optional date
  valid from start until stop
  row 97110, $30.00, 2025-01-01, 2026-01-01
  row 97110, $31.00, 2026-01-01, none
"""


def test_repeated_keys_with_separate_periods_are_allowed_and_found_by_day() -> None:
    table, diagnostics = load(VALIDITY)
    assert diagnostics == []
    assert table is not None
    assert (table.valid_from, table.valid_until) == ("start", "stop")
    assert table.find("97110", dt.date(2024, 12, 31)) is None
    assert table.find("97110", dt.date(2025, 12, 31)) == table.rows[0]
    assert table.find("97110", dt.date(2026, 1, 1)) == table.rows[1]  # until is exclusive
    assert table.index["97110"] == table.rows


def test_overlapping_periods_of_one_key_are_an_error() -> None:
    text = VALIDITY + "  row 97110, $32.00, 2025-06-01, 2025-07-01\n"
    table, diagnostics = load(text)
    assert [where(d) for d in diagnostics] == [
        ("E060", "error", "key 97110: this row and the row at line 7 are both in force on "
         "2025-06-01", 9, 3),
    ]
    assert diagnostics[0].help == "rows with the same key must have periods that do not overlap"
    assert table is not None
    assert len(table.rows) == 3  # the table stays usable for checking rules


def test_two_open_ended_rows_overlap_on_every_day() -> None:
    text = ("table t\n  key code : code\n  column a : optional date\n"
            "  column b : optional date\n  valid from a until b\n"
            "  row 97110, none, none\n  row 97110, none, none\n")
    _, diagnostics = load(text)
    assert [where(d) for d in diagnostics] == [
        ("E060", "error", "key 97110: this row and the row at line 6 are both in force on "
         "every day", 7, 3),
    ]


def test_a_row_that_is_never_in_force_is_a_warning() -> None:
    text = VALIDITY.replace("2025-01-01, 2026-01-01", "2025-01-01, 2025-01-01")
    table, diagnostics = load(text)
    assert [where(d) for d in diagnostics] == [
        ("E068", "warning", "the row is never in force: start is 2025-01-01 and stop is "
         "2025-01-01", 7, 3),
    ]
    assert diagnostics[0].help == ("a row is in force from its start date up to the day before "
                                   "its stop date")
    assert table is not None


def test_repeated_key_without_validity_is_an_error() -> None:
    _, diagnostics = load("table t\n  key code : code\n  row 97110\n  row G0283\n  row 97110\n")
    assert [where(d) for d in diagnostics] == [
        ("E060", "error", "key 97110 is repeated: the row at line 3 has it too", 5, 3),
    ]


def test_repeated_two_part_key_names_both_parts() -> None:
    _, diagnostics = load("table p\n  key a : code\n  key b : code\n  row 97140, 97530\n"
                          "  row 97530, 97140\n  row 97140, 97530\n")
    assert [where(d) for d in diagnostics] == [
        ("E060", "error", "key (97140, 97530) is repeated: the row at line 4 has it too", 6, 3),
    ]


# ---------------------------------------------------------------------------- declarations


@pytest.mark.parametrize(("text", "expected", "help_"), [
    ("table t\n  key code : code\n  column note : txt\n",
     ("E050", "error", "unknown column type 'txt'", 3, 17), "did you mean 'text'?"),
    ("table t\n  key code : code\n  column fee : money\n  column fee : number\n",
     ("E051", "error", "column 'fee' is declared twice (first at line 3)", 4, 3),
     "give each column its own name"),
    ("table t\n  column fee : money\n  row $1\n",
     ("E052", "error", "table 't' has no key column", 1, 7),
     "add `key NAME : TYPE` for the column that rows are looked up by"),
])
def test_declarations_whose_columns_are_unknown_give_no_table(
    text: str, expected: tuple[str, str, str, int, int], help_: str
) -> None:
    table, diagnostics = load(text)
    assert table is None
    assert [where(d) for d in diagnostics] == [expected]
    assert diagnostics[0].help == help_


def test_names_that_match_one_header_cell_clash_in_a_file_table() -> None:
    text = ('table t from "t.csv"\n  key code : code\n  column valid_from : date\n'
            "  column validfrom : date\n")
    table, diagnostics = load(text)
    assert table is None
    assert [where(d) for d in diagnostics] == [
        ("E051", "error", "columns 'valid_from' (line 3) and 'validfrom' would match the same "
         "header cell", 4, 3),
    ]


@pytest.mark.parametrize(("valid", "message"), [
    ("valid from start until end", "table 't' has no column 'end'"),
    ("valid from start until fee", "column 'fee' is a money column, not a date column"),
    ("valid from start until start", "'valid from' and 'until' both name column 'start'"),
])
def test_bad_validity_clauses(valid: str, message: str) -> None:
    text = (f"table t\n  key code : code\n  column fee : money\n  column start : date\n"
            f"  {valid}\n")
    table, diagnostics = load(text)
    assert [where(d) for d in diagnostics] == [("E053", "error", message, 5, 3)]
    assert table is not None
    assert table.valid_from == "start"
    assert table.valid_until is None  # a date is never compared with anything else


def test_a_file_table_with_rows_reports_the_rows(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("code\n97110\n", encoding="utf-8")
    table, diagnostics = load('table t from "t.csv"\n  key code : code\n  row 97530\n',
                              tmp_path)
    assert [where(d) for d in diagnostics] == [
        ("E054", "error", "table 't' reads its rows from 't.csv' and also lists rows", 3, 3),
    ]
    assert table is not None
    assert table.rows == (("97110",),)  # the file's rows; the listed ones are ignored


def test_unknown_layout_suggests_the_closest() -> None:
    table, diagnostics = load('table p from "ptp.txt" as cms-pt\n')
    assert table is None
    assert [where(d) for d in diagnostics] == [
        ("E055", "error", "unknown table layout 'cms-pt'", 1, 9),
    ]
    assert diagnostics[0].help == "did you mean 'cms-ptp'?"


def test_a_layout_takes_no_columns_and_no_validity(tmp_path: Path) -> None:
    text = ('table p from "ptp.txt" as cms-ptp\n  key code : code\n'
            "  valid from a until b\n")
    _, diagnostics = load(text, tmp_path)
    assert [where(d) for d in diagnostics][:2] == [
        ("E056", "error", "the cms-ptp layout fixes the columns of table 'p'", 2, 3),
        ("E056", "error", "the cms-ptp layout fixes the validity dates of table 'p'", 3, 3),
    ]


# ---------------------------------------------------------------------------- row values


BAD_ROWS = """\
table t
  key code : code
  column fee : money
  column minutes : minutes
  column note : text
  column seen : date
  row 97110, 12.50, 30, "x", 2026-01-01
  row 97110
  row 9711, $1, 5 minutes, OTA, 2026-01-01
  row G0283, $1, 5 minutes, 97110, yes
  row 97530, $1, none, "y", 2026-01-01
"""


def test_each_bad_value_is_reported_at_its_own_position() -> None:
    table, diagnostics = load(BAD_ROWS)
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", "column 'fee': 12.50 is not an amount", 7, 14),
        ("E058", "error", "column 'minutes': 30 is not a number of minutes", 7, 21),
        ("E057", "error", "the row has 1 value; table 't' has 5 columns (code, fee, minutes, "
         "note, seen)", 8, 3),
        ("E058", "error", "column 'code': 9711 is not a procedure code", 9, 7),
        ("E058", "error", "column 'note': 97110 is not a text", 10, 29),
        ("E058", "error", "column 'seen': yes is not a date", 10, 36),
        ("E059", "error", "column 'minutes' is not optional: none is not allowed", 11, 18),
    ]
    assert [d.help for d in diagnostics[:2]] == ["write amounts with a dollar sign: $12.50",
                                                 "write the unit: 30 minutes"]
    assert diagnostics[4].help == 'write text in quotes: "97110"'
    assert diagnostics[6].help == "declare it `column minutes : optional minutes`"
    assert table is not None
    assert table.rows == ()  # every row had a problem


def test_none_in_a_key_column() -> None:
    _, diagnostics = load("table t\n  key code : code\n  row none\n")
    assert [where(d) for d in diagnostics] == [
        ("E059", "error", "column 'code' is not optional: none is not allowed", 3, 7),
    ]
    assert diagnostics[0].help == "a key column needs a value in every row"


def test_only_the_first_fifty_problems_are_listed() -> None:
    text = "table t\n  key code : code\n  column n : number\n" + "".join(
        f'  row {97000 + i}, "x"\n' for i in range(53))
    _, diagnostics = load(text)
    assert len(diagnostics) == 51
    assert [d.code for d in diagnostics[:50]] == ["E058"] * 50
    assert where(diagnostics[50]) == ("E067", "error", "and 3 more problems in this table", 54,
                                      14)


def test_every_table_code_is_registered_with_an_explanation() -> None:
    for number in range(50, 70):
        code = lookup(f"E0{number}")
        assert code is not None, number
        assert code.title
        assert len(code.explanation) > 40


def test_a_bug_while_loading_is_an_internal_error_not_a_raw_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from otrules.errors import InternalError
    from otrules.lang import tables

    def broken(*args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(tables, "_index", broken)
    with pytest.raises(InternalError, match=r"^loading table 't': ZeroDivisionError$"):
        load("table t\n  key code : code\n  row 97110\n")


def test_an_inline_amount_past_28_digits_is_a_bad_value() -> None:
    amount = "$" + "9" * 30
    _, diagnostics = load(f"table t\n  key code : code\n  column fee : money\n"
                          f"  row 97110, {amount}\n")
    assert [where(d) for d in diagnostics] == [
        ("E058", "error", f"column 'fee': {amount} is not an amount", 4, 14),
    ]


def test_the_tables_guide_examples_parse_and_inline_ones_load() -> None:
    guide = Path(__file__).parent.parent / "docs" / "language" / "tables.md"
    blocks = [b.split("```", 1)[0] for b in guide.read_text(encoding="utf-8").split("```\n")[1:]]
    examples = [textwrap.dedent(b) for b in blocks if textwrap.dedent(b).startswith("table ")]
    assert len(examples) == 5
    for example in examples:
        pack, diagnostics = parse_source(example, "guide.otr")
        assert diagnostics == [], example
        (decl,) = pack.decls
        assert isinstance(decl, A.Table)
        if decl.file is None:
            assert load_table(decl, Path("."))[1] == [], example


def test_more_inline_rows_than_the_limit() -> None:
    pack, _ = parse_source("table t\n  key code : code\n  row 97110\n  row 97140\n", "main.otr")
    (decl,) = pack.decls
    assert isinstance(decl, A.Table)
    table, diagnostics = load_table(decl, Path("."), limits=TableLimits(max_rows=1))
    assert [where(d) for d in diagnostics] == [
        ("E066", "error", "table 't' has more than 1 row", 4, 3),
    ]
    assert table is not None
    assert table.rows == (("97110",),)
