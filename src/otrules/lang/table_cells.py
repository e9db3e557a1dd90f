"""Table cells: how the text of a cell becomes a typed value, the size limits, and the
capped problem report shared by every way of loading a table.

Cell readers are memoised per column (:class:`Memo`): a dict from the cell's text to its
value, so reading a large file is mostly C-level dict lookups, and a code, date or rationale
that repeats down the rows is read once and stored once (the rows share the objects).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Severity, Span
from otrules.lang import ast as A
from otrules.lang.errorcodes import register

__all__ = [
    "BAD_VALUE", "CELL_TYPES", "DEFAULT_TABLE_LIMITS", "MISSING_VALUE", "OVER_LIMIT",
    "TOO_MANY", "WRONG_ARITY", "CellTooLong", "CellType", "EmptyCell", "Memo", "Reporter",
    "TableLimits", "parse_code", "parse_date", "parse_diagnosis", "parse_modifier",
    "parse_money", "parse_number", "rows_text", "show", "to_cents",
]

WRONG_ARITY = register(
    "E057", "wrong number of values in a row",
    "An inline `row` gives one value per column, in the order the columns are declared; a CSV "
    "row has a cell for every column of the header. The message says how many were expected.",
)
BAD_VALUE = register(
    "E058", "value does not fit its column",
    "A value that is not of its column's type: a code column holds procedure codes (97110, "
    "G0283), a date column dates (2026-01-31), a money column amounts ($12.50), a flag column "
    "yes or no. For a CSV file the position is the cell's line and column in the file.",
)
MISSING_VALUE = register(
    "E059", "missing value in a required column",
    "The row has no value (`none`, or an empty CSV cell) in a column that is not optional. "
    "Fill it in, or declare the column `column NAME : optional TYPE`; key columns always "
    "need a value.",
)
OVER_LIMIT = register(
    "E066", "table over a size limit",
    "A table file is larger than the configured limit (1 GB by default), has more rows than "
    "the limit (5,000,000), or a cell longer than the limit (1,000 characters). The limits "
    "protect the checker from runaway files; split the table or raise the limit.",
)
TOO_MANY = register(
    "E067", "too many problems in one table",
    "Only the first 50 problems of a table are shown one by one; this line counts the rest. "
    "Fix the ones shown (they often share one cause, such as a wrong column) and check again.",
)

MAX_REPORTED = 50  # problems shown one by one per table; the rest are counted
_MEMO_CAP = 200_000  # distinct cell texts remembered per column


@attrs.frozen
class TableLimits:
    """Resource limits of table loading; the defaults admit every published CMS file."""

    max_rows: int = 5_000_000
    max_file_bytes: int = 1_000_000_000
    max_cell_chars: int = 1000


DEFAULT_TABLE_LIMITS = TableLimits()


# ---------------------------------------------------------------------------- reporting


class Reporter:
    """Collects one table's diagnostics: the first ``MAX_REPORTED`` in full, the rest counted,
    so a file with a million bad cells costs a counter, not a million objects."""

    def __init__(self, noun: str = "table", cap: int = MAX_REPORTED) -> None:
        self.noun = noun
        self.cap = cap
        self.shown: list[Diagnostic] = []
        self.hidden = 0
        self.hidden_errors = 0
        self.first_hidden: Span | None = None
        self.errors = 0

    def add(self, code: str, message: str, span: Span | None, help_: str | None = None,
            severity: Severity = "error") -> None:
        if severity == "error":
            self.errors += 1
        if len(self.shown) < self.cap:
            self.shown.append(Diagnostic(code, severity, message, span, help_))
            return
        if not self.hidden:
            self.first_hidden = span
        self.hidden += 1
        self.hidden_errors += severity == "error"

    @property
    def full(self) -> bool:
        """True once further problems are only counted."""
        return len(self.shown) >= self.cap

    def diagnostics(self) -> list[Diagnostic]:
        if not self.hidden:
            return list(self.shown)
        plural = "s" if self.hidden != 1 else ""
        summary = Diagnostic(
            TOO_MANY, "error" if self.hidden_errors else "warning",
            f"and {self.hidden:,} more problem{plural} in this {self.noun}", self.first_hidden,
            "the first problems are listed one by one; fix them and check again",
        )
        return [*self.shown, summary]


# ---------------------------------------------------------------------------- cell types


_NO_BLANK = object()  # marks a cell type whose empty cell is a missing value


@attrs.frozen
class CellType:
    """How the text of one cell becomes a value. ``parse`` gets the stripped, non-empty text
    (the whole cell when ``verbatim``) and raises ValueError when it does not fit."""

    name: str
    what: str  # completes "'x' is not …"
    help: str
    parse: Callable[[str], Any]
    verbatim: bool = False  # text keeps its spaces
    blank: Any = _NO_BLANK  # the value of an empty cell, when the type gives it one


def parse_code(text: str) -> str:
    """A CPT/HCPCS code: five digits, a capital letter and four digits, or four digits and a
    capital letter. Interned: a code repeats across rows and tables."""
    if len(text) == 5 and text.isascii() and (
        text.isdigit()
        or (text[0].isupper() and text[1:].isdigit())
        or (text[:4].isdigit() and text[4].isupper())
    ):
        return sys.intern(text)
    raise ValueError(text)


def parse_modifier(text: str) -> str:
    if len(text) == 2 and text.isascii() and text.isalnum() and text.upper() == text:
        return sys.intern(text)  # kept as text: 05 stays "05"
    raise ValueError(text)


def parse_number(text: str) -> int | Decimal:
    body = text[1:] if text[:1] == "-" else text
    if body.isascii():
        if body.isdigit():
            return int(text)
        whole, dot, fraction = body.partition(".")
        if dot and whole.isdigit() and fraction.isdigit():
            return Decimal(text)
    raise ValueError(text)


_CENT = Decimal("0.01")


def parse_money(text: str) -> Decimal:
    """``2480.00``, ``$2,480.00``, ``-$5``: whole dollars or cents, never more decimals."""
    sign, body = ("-", text[1:]) if text[:1] == "-" else ("", text)
    body = body.removeprefix("$")
    whole, dot, cents = body.partition(".")
    if "," in whole:
        groups = whole.split(",")
        if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
            raise ValueError(text)
        whole = "".join(groups)
    if not (whole.isascii() and whole.isdigit()):
        raise ValueError(text)
    if dot and not (cents.isascii() and cents.isdigit() and len(cents) <= 2):
        raise ValueError(text)
    return to_cents(Decimal(f"{sign}{whole}.{cents or '0'}"))


def to_cents(amount: Decimal) -> Decimal:
    """The amount with two decimals; ValueError past the 28 digits money arithmetic keeps."""
    try:
        return amount.quantize(_CENT)
    except InvalidOperation:
        raise ValueError(str(amount)) from None


def _quantity(units: tuple[str, ...], make: Callable[[int], Any]) -> Callable[[str], Any]:
    """``30`` or ``30 minutes``: a CSV column's type already says the unit."""
    def parse(text: str) -> Any:
        parts = text.split()
        if len(parts) == 2 and parts[1] in units:
            parts = parts[:1]
        if len(parts) == 1 and parts[0].isascii() and parts[0].isdigit():
            return make(int(parts[0]))
        raise ValueError(text)
    return parse


def parse_date(text: str) -> dt.date:
    """``2026-01-31`` or the CMS form ``20260131``. (``date.fromisoformat`` alone would also
    take week dates and times, which no table means.)"""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        year, month, day = text[:4], text[5:7], text[8:]
    elif len(text) == 8:
        year, month, day = text[:4], text[4:6], text[6:]
    else:
        raise ValueError(text)
    digits = year + month + day
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(text)
    return dt.date(int(year), int(month), int(day))


_FLAGS = {"yes": True, "no": False}


def parse_flag(text: str) -> bool:
    flag = _FLAGS.get(text.lower())
    if flag is None:
        raise ValueError(text)
    return flag


_ICD10 = re.compile(r"([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{1,4})?")


def parse_diagnosis(text: str) -> str:
    """An ICD-10-CM code, stored in the dotted form (F902 and F90.2 are both F90.2)."""
    match = _ICD10.fullmatch(text)
    if match is None or text.endswith("."):
        raise ValueError(text)
    head, tail = match.groups()
    return sys.intern(f"{head}.{tail}" if tail else head)


def _text(text: str) -> str:
    return text


_DATE_HELP = "write dates as YYYY-MM-DD, for example 2026-01-31"
CELL_TYPES: Mapping[str, CellType] = {t.name: t for t in (
    CellType("code", "a procedure code", "a procedure code has five characters: five digits "
             "(97110), a capital letter and four digits (G0283), or four digits and a capital "
             "letter (0001F)", parse_code),
    CellType("modifier", "a modifier", "a modifier is two capital letters or digits: GO, 59",
             parse_modifier),
    CellType("number", "a number", "write a whole number (30) or a decimal (0.25)",
             parse_number),
    CellType("money", "an amount", "write an amount such as 2480.00 or $2,480.00 (at most "
             "two decimals)", parse_money),
    CellType("minutes", "a number of minutes", "write whole minutes: 30 or 30 minutes",
             _quantity(("minutes", "minute"), int)),
    CellType("days", "a number of days", "write whole days: 90 or 90 days",
             _quantity(("days", "day"), int)),
    CellType("months", "a number of months", "write whole months: 12 or 12 months",
             _quantity(("months", "month"), A.Months)),
    CellType("date", "a date", _DATE_HELP, parse_date),
    CellType("text", "a text", "", _text, verbatim=True),
    CellType("diagnosis", "an ICD-10-CM code", "write a diagnosis code such as F90.2 or F902",
             parse_diagnosis),
    CellType("flag", "yes or no", "write yes or no", parse_flag),
)}


class EmptyCell(ValueError):
    """An empty cell in a column that needs a value."""


class CellTooLong(ValueError):
    """A cell over the length limit."""


class Memo(dict):  # type: ignore[type-arg]
    """One column's cell reader: cell text → value, remembered. A hit is a C-level dict
    lookup; a miss reads the cell (``__missing__``). Bad cells raise and are not kept."""

    def __init__(self, cell: CellType, optional: bool, max_chars: int) -> None:
        super().__init__()
        self.cell = cell
        self.optional = optional
        self.max_chars = max_chars

    def __missing__(self, raw: str) -> Any:
        value = self.read(raw)
        if len(self) < _MEMO_CAP:
            self[raw] = value
        return value

    def read(self, raw: str) -> Any:
        if len(raw) > self.max_chars:
            raise CellTooLong(raw)
        text = raw.strip()
        if not text:
            if self.cell.blank is not _NO_BLANK:
                return self.cell.blank
            if self.optional:
                return None
            raise EmptyCell(raw)
        return self.cell.parse(raw if self.cell.verbatim else text)


def rows_text(count: int) -> str:
    """'1 row', '5,000,000 rows'."""
    return f"{count:,} row{'s' if count != 1 else ''}"


def show(text: str, limit: int = 40) -> str:
    """A cell as a message shows it: one line, control characters escaped, cut to size."""
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
