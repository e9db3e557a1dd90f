"""Properties: random typed tables survive a trip through a CSV file, and a table listed inline
loads to the same data as the same rows in a CSV file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from otrules.lang import ast as A
from otrules.lang.checked import TableData
from otrules.lang.parser import parse_source
from otrules.lang.tables import load_table


class Cell(NamedTuple):
    """One value three ways: as loaded, as a CSV cell, as pack text."""

    value: Any
    csv: str
    inline: str


class Column(NamedTuple):
    name: str
    type: str
    optional: bool
    key: bool


def _pick(draw: st.DrawFn, *texts: str) -> str:
    return draw(st.sampled_from(texts))


@st.composite
def code_cells(draw: st.DrawFn) -> Cell:
    code = draw(st.from_regex(r"[0-9]{5}|[A-Z][0-9]{4}|[0-9]{4}[A-Z]", fullmatch=True))
    return Cell(code, code, code)


@st.composite
def modifier_cells(draw: st.DrawFn) -> Cell:
    modifier = draw(st.from_regex(r"[A-Z0-9]{2}", fullmatch=True))
    return Cell(modifier, modifier, f'"{modifier}"')


_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r")


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


@st.composite
def text_cells(draw: st.DrawFn) -> Cell:
    # An all-blank cell is an empty (missing) value, so a text has something besides spaces.
    text = draw(st.text(_TEXT, min_size=1, max_size=30).filter(str.strip))
    return Cell(text, text, _quote(text))


@st.composite
def number_cells(draw: st.DrawFn) -> Cell:
    if draw(st.booleans()):
        number = draw(st.integers(0, 10**9))
        return Cell(number, str(number), str(number))
    # A decimal with a five-digit whole part does not lex in pack text (12345.5): kept apart.
    whole = draw(st.integers(0, 9999))
    fraction = draw(st.text("0123456789", min_size=1, max_size=4))
    text = f"{whole}.{fraction}"
    return Cell(Decimal(text), text, text)


@st.composite
def money_cells(draw: st.DrawFn) -> Cell:
    amount = Decimal(draw(st.integers(0, 10**9))).scaleb(-2)
    shown = _pick(draw, f"{amount}", f"${amount:,}", f"{amount:,}")
    return Cell(amount, shown, f"${amount:,}")


def quantity_cells(unit: str, make: Any = int) -> st.SearchStrategy[Cell]:
    @st.composite
    def cells(draw: st.DrawFn) -> Cell:
        count = draw(st.integers(0, 9999))  # 10000 minutes does not lex in pack text
        return Cell(make(count), _pick(draw, str(count), f"{count} {unit}"), f"{count} {unit}")
    return cells()


@st.composite
def date_cells(draw: st.DrawFn) -> Cell:
    day = draw(st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)))
    return Cell(day, _pick(draw, day.isoformat(), day.strftime("%Y%m%d")), day.isoformat())


@st.composite
def flag_cells(draw: st.DrawFn) -> Cell:
    flag = draw(st.booleans())
    word = "yes" if flag else "no"
    return Cell(flag, _pick(draw, word, word.upper(), word.title()), word)


@st.composite
def diagnosis_cells(draw: st.DrawFn) -> Cell:
    dotted = draw(st.from_regex(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", fullmatch=True))
    return Cell(dotted, _pick(draw, dotted, dotted.replace(".", "")), f'"{dotted}"')


CELLS: dict[str, st.SearchStrategy[Cell]] = {
    "code": code_cells(), "modifier": modifier_cells(), "text": text_cells(),
    "number": number_cells(), "money": money_cells(), "minutes": quantity_cells("minutes"),
    "days": quantity_cells("days"), "months": quantity_cells("months", A.Months),
    "date": date_cells(), "flag": flag_cells(), "diagnosis": diagnosis_cells(),
}
KEY_TYPES = ("code", "modifier", "text", "number", "date")


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], list[list[Cell | None]]]:
    key_types = draw(st.lists(st.sampled_from(KEY_TYPES), min_size=1, max_size=2))
    other = draw(st.lists(st.tuples(st.sampled_from(sorted(CELLS)), st.booleans()),
                          max_size=4))
    columns = [Column(f"k{i}", t, False, True) for i, t in enumerate(key_types)]
    columns += [Column(f"c{i}", t, optional, False) for i, (t, optional) in enumerate(other)]

    def cell(column: Column) -> st.SearchStrategy[Cell | None]:
        return CELLS[column.type] | st.none() if column.optional else CELLS[column.type]

    row = st.tuples(*(cell(c) for c in columns)).map(list)
    rows = draw(st.lists(row, min_size=1, max_size=8,
                         unique_by=lambda r: tuple(c.value for c in r[:len(key_types)])))
    return columns, rows


def _declaration(columns: list[Column], file: str | None) -> str:
    head = f'table t from "{file}"\n' if file else "table t\n"
    return head + "".join(
        f"  key {c.name} : {c.type}\n" if c.key else
        f"  column {c.name} : {'optional ' if c.optional else ''}{c.type}\n"
        for c in columns
    )


def _load(text: str, folder: Path) -> TableData:
    pack, diagnostics = parse_source(text, "main.otr")
    assert diagnostics == []
    (decl,) = pack.decls
    assert isinstance(decl, A.Table)
    table, problems = load_table(decl, folder)
    assert problems == []
    assert table is not None
    return table


def _csv(columns: list[Column], rows: list[list[Cell | None]], delimiter: str,
         upper: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.name.upper() if upper else c.name for c in columns])
    writer.writerows([[cell.csv if cell else "" for cell in row] for row in rows])
    return out.getvalue()


def _expected(rows: list[list[Cell | None]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(cell.value if cell else None for cell in row) for row in rows)


@given(tables(), st.sampled_from([",", "\t"]), st.booleans())
def test_rows_written_to_csv_load_back_unchanged(
    table: tuple[list[Column], list[list[Cell | None]]], delimiter: str, upper: bool
) -> None:
    columns, rows = table
    name = "t.csv" if delimiter == "," else "t.tsv"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text(_csv(columns, rows, delimiter, upper),
                                         encoding="utf-8", newline="")
        loaded = _load(_declaration(columns, name), Path(folder))
    assert loaded.rows == _expected(rows)
    keys = [i for i, c in enumerate(columns) if c.key]
    assert dict(loaded.index) == {
        (row[keys[0]] if len(keys) == 1 else tuple(row[i] for i in keys)): (row,)
        for row in loaded.rows
    }


@given(tables())
def test_inline_rows_and_the_same_rows_in_a_csv_file_load_alike(
    table: tuple[list[Column], list[list[Cell | None]]]
) -> None:
    columns, rows = table
    inline_text = _declaration(columns, None) + "".join(
        "  row " + ", ".join(cell.inline if cell else "none" for cell in row) + "\n"
        for row in rows
    )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "t.csv").write_text(_csv(columns, rows, ",", False), encoding="utf-8",
                                            newline="")
        from_file = _load(_declaration(columns, "t.csv"), Path(folder))
        inline = _load(inline_text, Path(folder))
    assert inline.columns == from_file.columns
    assert inline.rows == from_file.rows == _expected(rows)
    assert dict(inline.index) == dict(from_file.index)
    assert (inline.origin, from_file.origin) == ("inline", "t.csv")


_BYTES = st.one_of(
    st.binary(max_size=300),
    st.text(st.sampled_from('ab97110,\t"\n\r*G 2026-01-0159\ufeff'), max_size=300).map(
        lambda s: s.encode("utf-8")),
)


@given(_BYTES, st.sampled_from([
    'table t from "t.csv"\n  key code : code\n  column when : optional date\n',
    'table t from "t.csv" as cms-ptp\n',
    'table t from "t.csv" as cms-mue\n',
]))
def test_any_file_gives_diagnostics_never_an_exception(content: bytes, text: str) -> None:
    pack, _ = parse_source(text, "main.otr")
    (decl,) = pack.decls
    assert isinstance(decl, A.Table)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "t.csv").write_bytes(content)
        table, diagnostics = load_table(decl, Path(folder))
    assert table is not None
    assert all("E050" <= d.code <= "E069" for d in diagnostics)
    assert all(d.span is not None for d in diagnostics)
