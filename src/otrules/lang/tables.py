"""Tables: a ``table`` declaration → a :class:`~otrules.lang.checked.TableData`.

A table lists its rows inline (``row 97110, yes``), or reads them from a CSV file in the pack
folder with declared columns (``from "tables/x.csv"`` plus ``key``/``column`` clauses), or from
a CMS NCCI file as published (``from "tables/ptp.txt" as cms-ptp``). This module checks the
declaration, reads the rows (:mod:`otrules.lang.csv_tables` for files,
:mod:`otrules.lang.cms_layouts` for the CMS layouts), and builds the key index. Every problem
is a diagnostic (E050–E069); nothing a pack author writes raises.

The checker calls :func:`load_table` once per table declaration.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import posixpath
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.errors import InternalError, OtrulesError
from otrules.lang import ast as A
from otrules.lang.checked import ColumnInfo, TableData
from otrules.lang.cms_layouts import LAYOUTS, Layout
from otrules.lang.csv_tables import (
    NO_ROWS,
    FileColumn,
    Header,
    check_text,
    find_header,
    header_problems,
    match_header,
    normalize_header,
    read_bytes,
    read_rows,
    resolve,
)
from otrules.lang.errorcodes import register
from otrules.lang.table_cells import (
    BAD_VALUE,
    CELL_TYPES,
    DEFAULT_TABLE_LIMITS,
    MISSING_VALUE,
    OVER_LIMIT,
    WRONG_ARITY,
    CellType,
    Reporter,
    TableLimits,
    rows_text,
    to_cents,
)

__all__ = ["DEFAULT_TABLE_LIMITS", "TABLE_TYPES", "TableLimits", "load_table"]

UNKNOWN_TYPE = register(
    "E050", "unknown column type",
    "A table column's type is one of: code, modifier, diagnosis, text, number, money, "
    "minutes, days, months, date, flag. The help line suggests the closest.",
)
DUPLICATE_COLUMN = register(
    "E051", "column declared twice",
    "Two `key`/`column` clauses of one table use the same name, or names that a CSV header "
    "cannot tell apart (valid_from and valid-from match the same header cell).",
)
NO_KEY = register(
    "E052", "table without a key",
    "A table needs at least one `key NAME : TYPE` clause: the key is what `x in table` and "
    "`table[key]` look up. A two-key table (two codes) is what `for each pair` uses.",
)
BAD_VALIDITY = register(
    "E053", "invalid `valid from … until …`",
    "`valid from A until B` names two different date columns of the table: a row is in force "
    "on a day when A <= day < B (an empty cell means no bound).",
)
ROWS_AND_FILE = register(
    "E054", "table with both a file and rows",
    "A table reads its rows from a file (`from \"tables/x.csv\"`) or lists them with `row`, "
    "not both. Move the rows into the file, or drop `from`.",
)
UNKNOWN_LAYOUT = register(
    "E055", "unknown table layout",
    "`from \"file\" as LAYOUT` knows two layouts: cms-ptp (the NCCI practitioner PTP edits "
    "file) and cms-mue (the MUE table). Without `as`, declare the columns yourself.",
)
LAYOUT_CLAUSES = register(
    "E056", "clauses a layout does not take",
    "A CMS layout fixes the table's columns and validity dates; remove the `key`, `column` "
    "and `valid` clauses (the columns are listed in the tables guide).",
)
REPEATED_KEY = register(
    "E060", "repeated key",
    "Each key may appear in one row only, unless the table has `valid from … until …` "
    "columns and the rows' periods do not overlap (the same pair of codes may be edited in "
    "one period and again, differently, in a later one).",
)
EMPTY_PERIOD = register(
    "E068", "row never in force",
    "The row's `until` date is not after its `from` date, so there is no day on which the row "
    "is in force. A row is in force from its `from` date up to the day before its `until` date.",
)

TABLE_TYPES = tuple(CELL_TYPES)
_TEXT_FILE_EXTENSIONS = (".txt", ".tsv")  # tab-separated unless the header says otherwise


def load_table(
    decl: A.Table, folder: Path, *, limits: TableLimits = DEFAULT_TABLE_LIMITS
) -> tuple[TableData | None, list[Diagnostic]]:
    """Check a table declaration and load its rows.

    Returns the table and its diagnostics. The table is None only when its columns cannot be
    known (an unknown type, a repeated column, no key, an unknown layout); otherwise it is
    returned even when rows or the file had errors (bad rows are left out), so that rules can
    still be checked against its columns. Any error diagnostic means the pack is unusable.
    """
    report = Reporter()
    try:
        table = _load(decl, Path(folder), limits, report)
    except OtrulesError:
        raise
    except Exception as exc:  # a bug here must not reach a pack author as a traceback
        raise InternalError(f"loading table '{decl.name}': {type(exc).__name__}") from exc
    return table, report.diagnostics()


@attrs.frozen
class _Shape:
    """What the declaration (or the layout) says the table looks like."""

    columns: tuple[FileColumn, ...]
    valid_from: str | None
    valid_until: str | None
    layout: Layout | None
    blame: Mapping[str, Span | None]  # column name → where it is declared


def _load(decl: A.Table, folder: Path, limits: TableLimits, report: Reporter
          ) -> TableData | None:
    shape = _layout_shape(decl, report) if decl.layout else _declared_shape(decl, report)
    if shape is None:
        return None
    if decl.file is None:
        rows, spans = _inline_rows(decl, shape, limits, report)
        return _finish(decl, shape, rows, spans.__getitem__, "inline", _inline_digest(decl),
                       report)
    if decl.rows:
        report.add(ROWS_AND_FILE, f"table '{decl.name}' reads its rows from '{decl.file}' and "
                   "also lists rows", decl.rows[0].span,
                   "move the rows into the file, or remove `from`")
    return _file_table(decl, folder, shape, limits, report)


# ---------------------------------------------------------------------------- declaration


def _layout_shape(decl: A.Table, report: Reporter) -> _Shape | None:
    layout = LAYOUTS.get(decl.layout or "")
    if layout is None:
        close = difflib.get_close_matches(decl.layout or "", LAYOUTS, n=1)
        report.add(UNKNOWN_LAYOUT, f"unknown table layout '{decl.layout}'", decl.file_span,
                   f"did you mean '{close[0]}'?" if close else
                   "the layouts are " + " and ".join(LAYOUTS))
        return None
    if decl.columns:
        report.add(LAYOUT_CLAUSES, f"the {layout.name} layout fixes the columns of table "
                   f"'{decl.name}'", decl.columns[0].span,
                   "remove the key and column clauses; the columns are "
                   + ", ".join(c.info.name for c in layout.columns))
    if decl.valid_from is not None:
        report.add(LAYOUT_CLAUSES, f"the {layout.name} layout fixes the validity dates of "
                   f"table '{decl.name}'", decl.valid_span, "remove the valid clause")
    return _Shape(layout.columns, layout.valid_from, layout.valid_until, layout, {})


def _declared_shape(decl: A.Table, report: Reporter) -> _Shape | None:
    columns: list[FileColumn] = []
    seen: dict[str, A.Column] = {}
    ok = True
    for column in decl.columns:
        cell = CELL_TYPES.get(column.type.name)
        if cell is None:
            ok = False
            close = difflib.get_close_matches(column.type.name, TABLE_TYPES, n=1)
            report.add(UNKNOWN_TYPE, f"unknown column type '{column.type.name}'",
                       column.type.span, f"did you mean '{close[0]}'?" if close else
                       "the column types are " + ", ".join(TABLE_TYPES))
            continue
        ok &= _unique_column(decl, column, seen, report)
        columns.append(FileColumn(
            ColumnInfo(column.name, cell.name, column.optional, column.is_key), cell,
            _named(column.name), column.name,
        ))
    if ok and not any(c.is_key for c in decl.columns):
        ok = False
        report.add(NO_KEY, f"table '{decl.name}' has no key column", decl.name_span,
                   "add `key NAME : TYPE` for the column that rows are looked up by")
    if not ok:
        return None
    valid_from, valid_until = _check_validity(decl, columns, report)
    return _Shape(tuple(columns), valid_from, valid_until, None,
                  {c.name: c.span for c in decl.columns})


def _named(name: str) -> Callable[[str], bool]:
    """A header matcher for a declared column: equal names once normalized."""
    target = normalize_header(name)
    return lambda header: normalize_header(header) == target


def _unique_column(decl: A.Table, column: A.Column, seen: dict[str, A.Column],
                   report: Reporter) -> bool:
    """A column name may be used once; in a file table, once up to header spelling."""
    key = normalize_header(column.name) if decl.file is not None else column.name
    first = seen.get(key)
    if first is None:
        seen[key] = column
        return True
    line = first.span.line if first.span is not None else 0
    if first.name == column.name:
        message = f"column '{column.name}' is declared twice (first at line {line})"
    else:
        message = (f"columns '{first.name}' (line {line}) and '{column.name}' would match the "
                   "same header cell")
    report.add(DUPLICATE_COLUMN, message, column.span, "give each column its own name")
    return False


def _check_validity(decl: A.Table, columns: Sequence[FileColumn], report: Reporter
                    ) -> tuple[str | None, str | None]:
    """The validity columns that can be used: each must name a date column, the two differ.
    A bad one is reported and left out, so evaluation never compares a date with a non-date."""
    if decl.valid_from is None or decl.valid_until is None:
        return None, None
    types = {c.info.name: c.info.type for c in columns}
    usable: list[str | None] = []
    for name in (decl.valid_from, decl.valid_until):
        usable.append(None)
        if name not in types:
            close = difflib.get_close_matches(name, types, n=1)
            report.add(BAD_VALIDITY, f"table '{decl.name}' has no column '{name}'",
                       decl.valid_span, f"did you mean '{close[0]}'?" if close else
                       "declare it: `column " + name + " : optional date`")
        elif types[name] != "date":
            report.add(BAD_VALIDITY, f"column '{name}' is a {types[name]} column, not a date "
                       "column", decl.valid_span, "validity columns hold dates")
        else:
            usable[-1] = name
    if decl.valid_from == decl.valid_until:
        usable[1] = None
        report.add(BAD_VALIDITY, f"'valid from' and 'until' both name column "
                   f"'{decl.valid_from}'", decl.valid_span,
                   "a row is in force from one date column until another")
    return usable[0], usable[1]


# ---------------------------------------------------------------------------- inline rows


def _inline_rows(decl: A.Table, shape: _Shape, limits: TableLimits, report: Reporter
                 ) -> tuple[list[tuple[Any, ...]], list[Span | None]]:
    rows: list[tuple[Any, ...]] = []
    spans: list[Span | None] = []
    columns = shape.columns
    for row in decl.rows:
        if len(row.values) != len(columns):
            _report_arity(decl, row, columns, report)
            continue
        values = [_inline_value(lit, column, report)
                  for lit, column in zip(row.values, columns, strict=True)]
        if any(v is _BAD for v in values):
            continue
        if len(rows) >= limits.max_rows:
            report.add(OVER_LIMIT, f"table '{decl.name}' has more than "
                       f"{rows_text(limits.max_rows)}", row.span, "move the rows into a CSV file")
            break
        rows.append(tuple(values))
        spans.append(row.span)
    return rows, spans


def _report_arity(decl: A.Table, row: A.Row, columns: Sequence[FileColumn],
                  report: Reporter) -> None:
    count = len(row.values)
    names = ", ".join(c.info.name for c in columns)
    report.add(WRONG_ARITY, f"the row has {count} value{'s' if count != 1 else ''}; table "
               f"'{decl.name}' has {len(columns)} column{'s' if len(columns) != 1 else ''} "
               f"({names})", row.span, "give one value per column, in the declared order; "
               "write none for an empty optional value")


_BAD = object()  # an inline value that was reported


def _inline_value(lit: A.Literal, column: FileColumn, report: Reporter) -> Any:
    info = column.info
    if lit.kind == "none":
        if info.optional:
            return None
        report.add(MISSING_VALUE, f"column '{info.name}' is not optional: none is not allowed",
                   lit.span, "a key column needs a value in every row" if info.is_key else
                   f"declare it `column {info.name} : optional {info.type}`")
        return _BAD
    try:
        return _LITERAL_READERS[info.type](lit)
    except ValueError:
        report.add(BAD_VALUE, f"column '{info.name}': {lit.text} is not {column.cell.what}",
                   lit.span, _literal_help(lit, column.cell))
        return _BAD


def _as_text(*kinds: str, raw: tuple[str, ...] = ()) -> Callable[[A.Literal], str]:
    """The text a literal gives a code-like column: its value, or its source text for the
    kinds in ``raw`` (a modifier 05 written bare must not lose its zero)."""
    def text(lit: A.Literal) -> str:
        if lit.kind in raw:
            return lit.text
        if lit.kind in kinds and isinstance(lit.value, str):
            return lit.value
        raise ValueError(lit.text)
    return text


def _of_kind(kind: str, convert: Callable[[Any], Any] = lambda v: v
             ) -> Callable[[A.Literal], Any]:
    def value(lit: A.Literal) -> Any:
        if lit.kind != kind:
            raise ValueError(lit.text)
        return convert(lit.value)
    return value


def _number(lit: A.Literal) -> Any:
    if lit.kind == "code" and lit.text.isdigit():  # 10000 lexes as a code
        return int(lit.text)
    return _of_kind("number")(lit)


def _compose(read: Callable[[A.Literal], str], parse: Callable[[str], Any]
             ) -> Callable[[A.Literal], Any]:
    return lambda lit: parse(read(lit))


_LITERAL_READERS: Mapping[str, Callable[[A.Literal], Any]] = {
    "code": _compose(_as_text("code", "word", "text", raw=("number",)), CELL_TYPES["code"].parse),
    "modifier": _compose(_as_text("word", "text", raw=("number",)),
                         CELL_TYPES["modifier"].parse),
    "diagnosis": _compose(_as_text("text", "word", "code"), CELL_TYPES["diagnosis"].parse),
    "text": _as_text("text", "word"),
    "number": _number,
    "money": _of_kind("money", to_cents),
    "minutes": _of_kind("minutes"),
    "days": _of_kind("days"),
    "months": _of_kind("months"),
    "date": _of_kind("date"),
    "flag": _of_kind("flag"),
}


def _literal_help(lit: A.Literal, cell: CellType) -> str | None:
    """A help line that shows the value written the way the column wants it."""
    if lit.kind == "number":
        if cell.name == "money":
            return f"write amounts with a dollar sign: ${lit.text}"
        if cell.name in ("minutes", "days", "months"):
            return f"write the unit: {lit.text} {cell.name}"
    if cell.name == "text" and lit.kind != "text":
        return f'write text in quotes: "{lit.text}"'
    if lit.kind == "text" and cell.name in ("number", "money", "date", "flag"):
        return f"write {cell.what} without quotes"
    return cell.help or None


def _inline_digest(decl: A.Table) -> str:
    text = "\n".join(", ".join(v.text for v in row.values) for row in decl.rows)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- files


def _file_table(decl: A.Table, folder: Path, shape: _Shape, limits: TableLimits,
                report: Reporter) -> TableData:
    assert decl.file is not None
    origin = posixpath.normpath(decl.file)
    # CSV diagnostics name the file the way the pack's own sources are named.
    file = str(PurePath(decl.span.file).parent / origin) if decl.span else origin
    empty = _finish(decl, shape, [], lambda i: None, origin, "", report)
    target = resolve(decl.file, folder, decl.file_span, report)
    data = None if target is None else read_bytes(target, origin, decl.file_span, limits, report)
    if data is None or not check_text(data, file, origin, report):
        return empty
    report.noun = "file"
    columns = shape.columns
    header = find_header(data, columns, _preferred_delimiter(origin, data))
    if not header_problems(header, columns, file, shape.blame, report,
                           _layout_hint(header, shape)):
        return attrs.evolve(empty, digest=hashlib.sha256(data).hexdigest())
    assert header is not None
    rows, lines = read_rows(data, header, columns, file=file, limits=limits, report=report,
                            skip_continuation=shape.layout is not None)
    if not rows and not report.errors:
        report.add(NO_ROWS, f"'{origin}' has a header row but no data rows",
                   decl.file_span, "check that this is the right file", severity="warning")
    return _finish(decl, shape, rows, lambda i: Span.point(file, lines[i], 1), origin,
                   hashlib.sha256(data).hexdigest(), report)


def _layout_hint(header: Header | None, shape: _Shape) -> str | None:
    """For a CMS file read with the other CMS layout: say which one it is."""
    if header is None or shape.layout is None:
        return None
    for layout in LAYOUTS.values():
        if layout is not shape.layout and match_header(header.cells, layout.columns):
            return f"this looks like a {layout.name} file: write `as {layout.name}`"
    return None


def _preferred_delimiter(origin: str, data: bytes) -> str:
    if origin.lower().endswith(_TEXT_FILE_EXTENSIONS):
        return "\t"
    end = data.find(b"\n")
    return "\t" if b"\t" in (data[:end] if end >= 0 else data) else ","


# ---------------------------------------------------------------------------- the table


def _finish(decl: A.Table, shape: _Shape, rows: list[tuple[Any, ...]],
            locate: Callable[[int], Span | None], origin: str, digest: str,
            report: Reporter) -> TableData:
    infos = tuple(c.info for c in shape.columns)
    keys = [i for i, c in enumerate(infos) if c.is_key]
    index, repeated = _index(rows, keys)
    names = [c.name for c in infos]
    bounds = (names.index(shape.valid_from) if shape.valid_from in names else None,
              names.index(shape.valid_until) if shape.valid_until in names else None)
    if repeated:
        _check_repeats(rows, index, repeated, bounds, locate, report)
    if shape.layout is None and None not in bounds:
        _check_periods(rows, shape, bounds, locate, report)
    return TableData(
        name=decl.name, columns=infos, rows=tuple(rows), index=MappingProxyType(index),
        valid_from=shape.valid_from if bounds[0] is not None else None,
        valid_until=shape.valid_until if bounds[1] is not None else None,
        origin=origin, digest=digest, span=decl.span,
    )


def _index(rows: list[tuple[Any, ...]], keys: list[int]
           ) -> tuple[dict[Any, tuple[tuple[Any, ...], ...]], list[Any]]:
    """key → its rows in file order; also the keys that have more than one row."""
    key_of = itemgetter(*keys)  # one key: the bare value, several: a tuple (the contract)
    row_keys = list(map(key_of, rows))
    index = dict(zip(row_keys, zip(rows), strict=True))  # zip(rows) gives (row,), at C speed
    if len(index) == len(rows):
        return index, []
    # Some keys repeat (CMS edits re-added after a deletion do): group those, in file order.
    counts = Counter(row_keys)
    repeated = [key for key, count in counts.items() if count > 1]
    wanted = set(repeated)
    groups: dict[Any, list[tuple[Any, ...]]] = {key: [] for key in repeated}
    for key, row in zip(row_keys, rows, strict=True):
        if key in wanted:
            groups[key].append(row)
    index.update((key, tuple(group)) for key, group in groups.items())
    return index, repeated


Bounds = tuple[int | None, int | None]


def _check_repeats(rows: list[tuple[Any, ...]], index: Mapping[Any, Any], repeated: list[Any],
                   bounds: Bounds, locate: Callable[[int], Span | None],
                   report: Reporter) -> None:
    position = {id(row): i for i, row in enumerate(rows)}

    def line(row: tuple[Any, ...]) -> int:
        span = locate(position[id(row)])
        return span.line if span is not None else 0

    for key in repeated:
        group = index[key]
        if bounds == (None, None):
            for row in group[1:]:
                report.add(REPEATED_KEY, f"key {_show_key(key)} is repeated: the row at line "
                           f"{line(group[0])} has it too", locate(position[id(row)]),
                           "each key may appear once; remove one row, or give the table "
                           "`valid from … until …` columns so each row has its own period")
            continue
        for row, other in _overlaps(group, bounds):
            later, earlier = sorted((row, other), key=lambda r: position[id(r)], reverse=True)
            report.add(REPEATED_KEY, f"key {_show_key(key)}: this row and the row at line "
                       f"{line(earlier)} are both in force {_shared(later, earlier, bounds)}",
                       locate(position[id(later)]),
                       "rows with the same key must have periods that do not overlap")


_NEVER = dt.date.min


def _overlaps(group: Sequence[tuple[Any, ...]], bounds: Bounds
              ) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Pairs of rows whose periods [from, until) overlap: each row against the row reaching
    furthest among those that start before it."""
    start, end = _bound_getters(bounds)
    live = [r for r in group if start(r) is None or end(r) is None or start(r) < end(r)]
    live.sort(key=lambda r: start(r) or _NEVER)
    found = []
    reach: tuple[Any, ...] | None = None
    for row in live:
        if reach is not None and (end(reach) is None or (start(row) or _NEVER) < end(reach)):
            found.append((row, reach))
        if reach is None or (end(reach) is not None and (end(row) is None
                                                        or end(row) > end(reach))):
            reach = row
    return found


def _bound_getters(bounds: Bounds) -> tuple[Callable[[tuple[Any, ...]], Any],
                                             Callable[[tuple[Any, ...]], Any]]:
    first, last = bounds
    start = (lambda r: None) if first is None else itemgetter(first)
    end = (lambda r: None) if last is None else itemgetter(last)
    return start, end


def _shared(a: tuple[Any, ...], b: tuple[Any, ...], bounds: Bounds) -> str:
    """The overlap of two periods, in words."""
    start, end = _bound_getters(bounds)
    starts = [d for d in (start(a), start(b)) if d is not None]
    ends = [d for d in (end(a), end(b)) if d is not None]
    if starts:
        return f"on {max(starts).isoformat()}"
    if ends:
        return f"before {min(ends).isoformat()}"
    return "on every day"


def _check_periods(rows: list[tuple[Any, ...]], shape: _Shape, bounds: Bounds,
                   locate: Callable[[int], Span | None], report: Reporter) -> None:
    first, last = bounds
    assert first is not None
    assert last is not None
    for i, row in enumerate(rows):
        start, end = row[first], row[last]
        if start is not None and end is not None and end <= start:
            report.add(EMPTY_PERIOD, f"the row is never in force: {shape.valid_from} is "
                       f"{start.isoformat()} and {shape.valid_until} is {end.isoformat()}",
                       locate(i), f"a row is in force from its {shape.valid_from} date up to "
                       f"the day before its {shape.valid_until} date", severity="warning")


def _show_key(key: Any) -> str:
    if isinstance(key, tuple):
        return "(" + ", ".join(_show_value(v) for v in key) + ")"
    return _show_value(key)


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
