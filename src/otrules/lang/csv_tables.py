"""Table files: a safe path in the pack folder, UTF-8 text, the header row, typed rows.

This module knows the file side of tables and nothing of the rule-pack AST. It resolves and
reads a file (never outside the pack folder), decodes it, finds the header row for a list of
:class:`FileColumn` specs (a column, how its cells read, which header cell names it) and
returns typed rows with the line each starts on, reporting every problem through a capped
:class:`~otrules.lang.table_cells.Reporter`. :mod:`otrules.lang.tables` builds the specs,
from a declaration or from a CMS layout (:mod:`otrules.lang.cms_layouts`).
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import posixpath
import re
import stat
from array import array
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from operator import getitem, itemgetter
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import attrs

from otrules.diagnostics import Span
from otrules.lang.checked import ColumnInfo
from otrules.lang.errorcodes import register
from otrules.lang.table_cells import (
    BAD_VALUE,
    MISSING_VALUE,
    OVER_LIMIT,
    WRONG_ARITY,
    CellTooLong,
    CellType,
    EmptyCell,
    Memo,
    Reporter,
    TableLimits,
    rows_text,
    show,
)

__all__ = [
    "FileColumn", "Header", "check_text", "find_header", "header_problems", "match_header",
    "normalize_header", "read_bytes", "read_rows", "resolve",
]

UNSAFE_PATH = register(
    "E061", "table file outside the pack folder",
    "A pack may read only files inside its own folder: the path must be relative, must not "
    "climb out with `..`, and must not pass through a symbolic link that leads elsewhere. The "
    "file is not opened. Copy the file into the pack (for example into tables/).",
)
UNREADABLE = register(
    "E062", "table file cannot be read",
    "The file named by `from` does not exist in the pack folder, is a folder, or cannot be "
    "opened. The path is relative to the pack folder; the help line suggests close names.",
)
NOT_TEXT = register(
    "E063", "table file is not UTF-8 text",
    "Table files are UTF-8 text (a byte-order mark is fine). The file is a spreadsheet or "
    "another binary file, UTF-16, or text in another encoding such as Windows-1252; the "
    "message gives the first byte that cannot be read. In Excel, save as 'CSV UTF-8'.",
)
BAD_HEADER = register(
    "E064", "table file header row",
    "The first rows of a table file must include a header row naming the columns. Declared "
    "columns are matched to header cells by name, ignoring case, spaces, underscores, hyphens "
    "and slashes; a CMS layout looks for the published CMS header names. The file is empty, "
    "no row names all the columns, or two header cells name one column.",
)
BAD_CSV = register(
    "E065", "malformed CSV",
    "The file cannot be read as CSV past this line, usually because a quote (\") that opens a "
    "cell is never closed, so the cell runs on to the end of the file.",
)
NO_ROWS = register(
    "E069", "table file has no rows",
    "The file has a header row but no data rows. It may be the wrong file or an incomplete "
    "export; the table is loaded empty, so no lookup ever finds a row.",
)

HEADER_SEARCH = 100  # records searched for the header row (CMS files open with notices)


# ---------------------------------------------------------------------------- files


def _path_problem(name: str) -> tuple[str, str] | None:
    """(message, help) when the path is unusable before looking at the disk."""
    relative = "write the path relative to the pack folder, for example tables/ptp.csv"
    if not name.strip():
        return "the file name is empty", relative
    if "\x00" in name:
        return "the file name contains a NUL character", relative
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
        return f"'{name}' is an absolute path; a pack may read only its own files", relative
    if "\\" in name:
        return f"'{name}' contains a backslash", "write paths with forward slashes: " \
            + name.replace("\\", "/")
    return None


def resolve(name: str, folder: Path, span: Span | None, report: Reporter) -> Path | None:
    """The file's real path, when it lies inside the pack folder (symbolic links followed).
    ``span`` is where the pack names the file."""
    problem = _path_problem(name)
    if problem is not None:
        report.add(UNSAFE_PATH, problem[0], span, problem[1])
        return None
    try:
        root = folder.resolve()
        target = (root / name).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop, a name too long
        report.add(UNREADABLE, f"cannot follow the path '{name}': {_reason(exc)}", span)
        return None
    if not target.is_relative_to(root):
        lexical = posixpath.normpath(name)
        message = (f"'{name}' leads out of the pack folder"
                   if lexical == ".." or lexical.startswith("../") else
                   f"'{name}' passes through a symbolic link that leads out of the pack folder")
        report.add(UNSAFE_PATH, message, span,
                   "a pack may read only files inside its own folder; copy the file into "
                   "the pack, for example into tables/")
        return None
    return target


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def read_bytes(target: Path, origin: str, span: Span | None, limits: TableLimits,
               report: Reporter) -> bytes | None:
    """The file's bytes. Opened without following a last symbolic link (the path was just
    resolved, so one appearing now is a swap) and without blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(target, flags)
    except FileNotFoundError:
        report.add(UNREADABLE, f"there is no file '{origin}' in the pack folder",
                   span, _close_names(target, origin))
        return None
    except OSError as exc:
        report.add(UNREADABLE, f"cannot open '{origin}': {_reason(exc)}", span)
        return None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            report.add(UNREADABLE, f"'{origin}' is {what}", span, "name a CSV or text file")
            return None
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read(limits.max_file_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > limits.max_file_bytes:
        report.add(OVER_LIMIT, f"'{origin}' is larger than the limit of "
                   f"{limits.max_file_bytes:,} bytes", span,
                   "split the table into several files or raise the file size limit")
        return None
    return data


def _close_names(target: Path, origin: str) -> str | None:
    parent = target.parent
    if not parent.is_dir():
        return None
    names = [p.name for _, p in zip(range(2000), parent.iterdir(), strict=False)]
    close = difflib.get_close_matches(target.name, names, n=1)
    if not close:
        return None
    return f"did you mean '{posixpath.join(posixpath.dirname(origin), close[0])}'?"


_BOM = b"\xef\xbb\xbf"
_SAVE_UTF8 = ("save the file as UTF-8: in Excel, File > Save As > 'CSV UTF-8 (Comma "
              "delimited)'")
_MAGIC = (
    (b"PK\x03\x04", "is a ZIP archive or an Excel workbook, not a CSV text file",
     "open it in Excel and save it as 'CSV UTF-8'; for a CMS download, unzip it and name the "
     ".txt or .csv file inside"),
    (b"\xd0\xcf\x11\xe0", "is an Excel 97-2003 workbook, not a CSV text file", _SAVE_UTF8),
    (b"%PDF", "is a PDF document, not a CSV text file", "name the CSV or text file"),
    (b"\xff\xfe", "is UTF-16 text", _SAVE_UTF8),
    (b"\xfe\xff", "is UTF-16 text", _SAVE_UTF8),
)


def check_text(data: bytes, file: str, origin: str, report: Reporter) -> bool:
    """Whether the bytes are UTF-8 text (after an optional BOM); ``file`` names the file in
    spans, ``origin`` in messages."""
    for magic, what, help_ in _MAGIC:
        if data.startswith(magic):
            report.add(NOT_TEXT, f"'{origin}' {what}", Span.point(file, 1, 1), help_)
            return False
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _position(data, nul)
        report.add(NOT_TEXT, f"'{origin}' contains a NUL byte at byte offset {nul:,}: it is a "
                   "binary file, not text", Span.point(file, line, column), _SAVE_UTF8)
        return False
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        str(memoryview(data)[skip:], "utf-8")  # C speed; the rows are decoded again as read
    except UnicodeDecodeError as exc:
        offset = exc.start + skip
        line, column = _position(data, offset)
        report.add(NOT_TEXT, f"'{origin}' is not UTF-8 text: byte 0x{data[offset]:02X} at byte "
                   f"offset {offset:,} (line {line}, column {column}) cannot be read",
                   Span.point(file, line, column), _SAVE_UTF8 + "; a file saved in Windows-1252 "
                   "or Latin-1 shows this at its first accented letter")
        return False
    return True


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and character column of a byte offset. Lines end as the csv module
    reads them: CR LF, LF or a lone CR. A BOM is not a character."""
    line = data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) \
        - data.count(b"\r\n", 0, offset) + 1
    line_start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    if line_start == 0 and data.startswith(_BOM):
        line_start = len(_BOM)
    return line, len(data[line_start:offset].decode("utf-8", "replace")) + 1


def _records(data: bytes, delimiter: str) -> Any:
    """A csv reader over the file's lines. The bytes are decoded as they are read (no copy
    of the whole text); lines end at CR LF, LF or CR, and keep their ends for the csv module."""
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    return csv.reader(lines, delimiter=delimiter)


class _LineCursor:
    """Finds the raw text of a record from its line numbers, for the column of a bad cell.
    Scans forward from the last look-up: bad cells come in file order."""

    _EOL = re.compile(rb"\r\n|\r|\n")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.start = len(_BOM) if data.startswith(_BOM) else 0
        self.line, self.offset = 1, self.start

    def _offset_of(self, line: int) -> int:
        if line < self.line:
            self.line, self.offset = 1, self.start
        search, data = self._EOL.search, self.data
        while self.line < line:
            match = search(data, self.offset)
            if match is None:
                return len(data)
            self.line, self.offset = self.line + 1, match.end()
        return self.offset

    def text(self, first: int, last: int) -> str:
        """Lines first..last (1-based, inclusive), every line end made LF."""
        begin = self._offset_of(first)
        raw = self.data[begin:self._offset_of(last + 1)].decode("utf-8", "replace")
        return raw.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------- header


_HEADER_NOISE = str.maketrans("", "", " _-/\n\r\t")


def normalize_header(name: str) -> str:
    """Header cell or column name → the form they are compared in."""
    return name.lower().translate(_HEADER_NOISE)


@attrs.frozen
class FileColumn:
    """One column as a file provides it."""

    info: ColumnInfo
    cell: CellType
    matches: Callable[[str], bool]  # gets the raw header cell
    label: str  # how messages name the header cell this column expects
    in_header: bool = True  # False: the file may leave the column out (values are None)
    fixed: bool = False  # a layout's column, which the pack author cannot declare optional


@attrs.frozen
class Header:
    delimiter: str
    line: int  # 1-based line of the header row
    skip: int  # records read up to and including the header row
    cells: tuple[str, ...]
    positions: tuple[int | None, ...]  # per FileColumn: its header cell, or None
    missing: tuple[FileColumn, ...] = ()
    doubles: tuple[tuple[FileColumn, tuple[int, ...]], ...] = ()  # one column, several cells

    @property
    def complete(self) -> bool:
        return not self.missing


def find_header(data: bytes, columns: Sequence[FileColumn], preferred: str) -> Header | None:
    """The first record (of the first ``HEADER_SEARCH``) that names every required column,
    trying the preferred delimiter first; else the record naming the most of them, for the
    message; None when the file has no non-blank record at all."""
    best: Header | None = None
    for delimiter in (preferred, "\t" if preferred == "," else ","):
        reader = _records(data, delimiter)
        last_line = 0
        try:
            for count, record in enumerate(islice(reader, HEADER_SEARCH), start=1):
                start, last_line = last_line + 1, reader.line_num
                if not any(cell.strip() for cell in record):
                    continue
                header = _match_header(record, columns, delimiter, start, count)
                if header.complete:
                    return header
                if best is None or _found(header) > _found(best):
                    best = header
        except csv.Error:
            continue  # the record past the header is read again, and reported, later
    return best


def _found(header: Header) -> int:
    return sum(p is not None for p in header.positions)


def _match_header(record: list[str], columns: Sequence[FileColumn], delimiter: str,
                  line: int, skip: int) -> Header:
    positions: list[int | None] = []
    missing, doubles = [], []
    for column in columns:
        hits = tuple(i for i, cell in enumerate(record) if column.matches(cell))
        positions.append(hits[0] if hits else None)
        if not hits and column.in_header:
            missing.append(column)
        if len(hits) > 1:
            doubles.append((column, hits))
    return Header(delimiter, line, skip, tuple(record), tuple(positions), tuple(missing),
                  tuple(doubles))


def match_header(cells: Sequence[str], columns: Sequence[FileColumn]) -> bool:
    """Whether a row of header cells names every required column."""
    return _match_header(list(cells), columns, ",", 0, 0).complete


def header_problems(header: Header | None, columns: Sequence[FileColumn], file: str,
                    blame: Mapping[str, Span | None], report: Reporter,
                    hint: str | None = None) -> bool:
    """Report a missing or ambiguous header; True when rows can be read. ``hint`` replaces
    the help line of a missing-columns report."""
    if header is None:
        report.add(BAD_HEADER, "the file is empty: there is no header row",
                   Span.point(file, 1, 1), "the first row names the columns: "
                   + ", ".join(c.label for c in columns if c.in_header))
        return False
    if header.missing:
        names = ", ".join(f"'{c.label}'" for c in header.missing)
        plural = "s" if len(header.missing) > 1 else ""
        shown = ", ".join(_label(c) for c in header.cells[:12] if c.strip())
        span = blame.get(header.missing[0].info.name) or Span.point(file, header.line, 1)
        report.add(BAD_HEADER, f"{file} has no column{plural} {names} (the header row at "
                   f"line {header.line} has: {shown})", span, hint or _header_help(header))
        return False
    for column, hits in header.doubles:
        cells = " and ".join(f"'{_label(header.cells[i])}' (cell {i + 1})" for i in hits)
        report.add(BAD_HEADER, f"the header row names column '{column.info.name}' twice: "
                   f"{cells}", Span.point(file, header.line, 1),
                   "rename or remove one of the header cells")
    return not header.doubles


def _label(cell: str) -> str:
    """A header cell on one line (CMS header cells hold line breaks)."""
    return show(" ".join(cell.split()), 30)


def _header_help(header: Header) -> str | None:
    if len(header.cells) == 1 and ";" in header.cells[0]:
        return "the file seems to be separated by semicolons; save it as CSV with commas"
    normalized = {normalize_header(c): c for c in header.cells if c.strip()}
    hints = []
    for column in header.missing:
        close = difflib.get_close_matches(normalize_header(column.label), normalized, n=1,
                                          cutoff=0.6)
        if close:
            hints.append(f"'{_label(normalized[close[0]])}' for '{column.label}'")
    if hints:
        return "did you mean " + ", ".join(hints) + "? rename the column or the header cell"
    return None


# ---------------------------------------------------------------------------- records


@attrs.define
class _Reading:
    """The state of one pass over the records."""

    columns: Sequence[FileColumn]
    header: Header
    file: str
    limits: TableLimits
    report: Reporter
    skip_continuation: bool
    memos: list[Memo]
    lines: _LineCursor
    data_started: bool = False  # a data row was seen (rows kept are counted apart)


def read_rows(data: bytes, header: Header, columns: Sequence[FileColumn], *, file: str,
              limits: TableLimits, report: Reporter, skip_continuation: bool = False,
              ) -> tuple[list[tuple[Any, ...]], array[int]]:
    """Every data row after the header, typed, with the line each starts on. Bad rows are
    reported and left out. ``skip_continuation`` drops rows right after the header whose key
    cells are empty: CMS text files spread a header over several rows."""
    state = _Reading(columns, header, file, limits, report, skip_continuation,
                     [Memo(c.cell, c.info.optional, limits.max_cell_chars) for c in columns],
                     _LineCursor(data))
    reader = _records(data, header.delimiter)
    rows: list[tuple[Any, ...]] = []
    lines: array[int] = array("q")
    last = 0
    try:
        for _ in islice(reader, header.skip):
            last = reader.line_num
        last = _read_records(reader, state, rows, lines, last)
    except csv.Error as exc:
        report.add(BAD_CSV, f"the file cannot be read as CSV after line {last}: {exc}",
                   Span.point(file, last + 1, 1),
                   'check for a quote (") that opens a cell and is never closed')
    return rows, lines


def _read_records(reader: Any, state: _Reading, rows: list[tuple[Any, ...]],
                  lines: array[int], last: int) -> int:
    # A column the file leaves out reads the first key cell through a mapping that gives
    # None for anything (defaultdict calls NoneType at C speed): the fast path stays fast.
    positions = state.header.positions
    key_cell = next(p for p, c in zip(positions, state.columns, strict=True)
                    if p is not None and c.info.is_key)
    pick = _picker([key_cell if p is None else p for p in positions])
    memos: list[dict[str, Any]] = [
        defaultdict(type(None)) if p is None else memo
        for p, memo in zip(positions, state.memos, strict=True)
    ]
    max_rows = state.limits.max_rows
    add_row, add_line = rows.append, lines.append
    for record in reader:
        start, last = last + 1, reader.line_num
        row: tuple[Any, ...] | None
        try:
            row = tuple(map(getitem, memos, pick(record)))
        except (IndexError, ValueError):
            row = _slow_row(record, start, last, state, len(rows))
            if row is None:
                continue
        if len(rows) >= max_rows:
            state.report.add(OVER_LIMIT, f"the file has more than {rows_text(max_rows)}",
                             Span.point(state.file, start, 1),
                             "split the table into several files or raise the row limit")
            break
        add_row(row)
        add_line(start)
    return last


def _picker(positions: Sequence[int]) -> Callable[[list[str]], Sequence[str]]:
    """record → the cells of the wanted columns, in column order (IndexError when short)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda record: (record[only],)
    return itemgetter(*positions)


def _slow_row(record: list[str], start: int, last: int, state: _Reading, rows_before: int
              ) -> tuple[Any, ...] | None:
    """A row the fast path could not take: blank, short, or with a bad cell. Reports each
    problem and returns the row, or None when it is left out."""
    if not any(cell.strip() for cell in record):
        return None
    columns, positions = state.columns, state.header.positions
    if state.skip_continuation and not rows_before and not state.data_started and all(
        not _cell(record, p).strip() for c, p in zip(columns, positions, strict=True)
        if c.info.is_key
    ):
        return None  # the rest of a header spread over several rows
    state.data_started = True
    needed = max((p for c, p in zip(columns, positions, strict=True)
                  if p is not None and not c.info.optional), default=-1)
    if needed >= len(record):
        count = len(record)
        state.report.add(WRONG_ARITY, f"the row has {count} cell{'s' if count != 1 else ''}; "
                         f"the header row has {len(state.header.cells)}",
                         Span.point(state.file, start, 1),
                         "check for a missing separator or a row cut short")
        return None
    values, bad = [], False
    for index, (column, memo, position) in enumerate(
        zip(columns, state.memos, positions, strict=True)
    ):
        raw = _cell(record, position)
        try:
            values.append(memo[raw])
        except ValueError as exc:
            bad = True
            _report_cell(exc, raw, column, position if position is not None else index,
                         start, last, state)
    return None if bad else tuple(values)


def _cell(record: list[str], position: int | None) -> str:
    return record[position] if position is not None and position < len(record) else ""


def _report_cell(exc: ValueError, raw: str, column: FileColumn, position: int, start: int,
                 last: int, state: _Reading) -> None:
    name = column.info.name
    span = _cell_span(raw, position, start, last, state)
    if isinstance(exc, EmptyCell):
        state.report.add(MISSING_VALUE, f"column '{name}' is empty", span,
                         "a key column needs a value in every row" if column.info.is_key
                         else "fill in a value" if column.fixed
                         else "fill in a value, or declare the column optional")
    elif isinstance(exc, CellTooLong):
        state.report.add(OVER_LIMIT, f"column '{name}': the cell has {len(raw):,} characters, "
                         f"over the limit of {state.limits.max_cell_chars:,}", span,
                         _runaway_help(raw) or "shorten the cell or raise the cell limit")
    else:
        help_ = _runaway_help(raw) or column.cell.help or None
        state.report.add(BAD_VALUE, f"column '{name}': '{show(raw.strip())}' is not "
                         f"{column.cell.what}", span, help_)


def _runaway_help(raw: str) -> str | None:
    if "\n" in raw:
        return ('the cell runs over several lines: a quote (") that opens it is probably '
                "never closed")
    return None


def _cell_span(raw: str, position: int, start: int, last: int, state: _Reading) -> Span:
    """Where cell ``position`` of the record on lines start..last begins in the file.
    Only worked out for problems that will be shown: it rescans the file's bytes."""
    if state.report.full:
        return Span.point(state.file, start, 1)
    starts = _field_starts(state.lines.text(start, last), state.header.delimiter)
    if position >= len(starts):
        return Span.point(state.file, start, 1)
    offset, column = starts[position]
    width = len(raw) if raw and "\n" not in raw else 1
    return Span(state.file, start + offset, column, start + offset, column + width)


_START, _PLAIN, _QUOTED, _CLOSED = range(4)


def _field_starts(text: str, delimiter: str) -> list[tuple[int, int]]:
    """(line offset, 1-based column) of each cell of one CSV record, by RFC 4180 rules."""
    starts = [(0, 1)]
    line, column, state = 0, 1, _START
    for ch in text:
        if ch == "\n":
            if state != _QUOTED:
                break
            line, column = line + 1, 1
            continue
        if state == _QUOTED:
            state = _CLOSED if ch == '"' else _QUOTED
        elif ch == delimiter:
            starts.append((line, column + 1))
            state = _START
        elif ch == '"' and state in (_START, _CLOSED):
            state = _QUOTED
        else:
            state = _PLAIN
        column += 1
    return starts


