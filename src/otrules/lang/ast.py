"""The rule-pack AST: frozen, slotted attrs records with source spans.

Spans are excluded from equality and hashing, so two parses of differently formatted text
compare equal. Every node type is listed in ``EXPR_NODES`` / ``DECL_NODES``; each pass
(checker, interpreter, compiler, formatter) dispatches through a table keyed by node type, and
a test checks that every pass handles every node.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Literal as TLiteral

import attrs

from otrules.diagnostics import Span


def _span() -> attrs.Attribute:  # type: ignore[type-arg]
    return attrs.field(default=None, eq=False, repr=False)


# ---------------------------------------------------------------------------- values


@attrs.frozen
class Months:
    """A number of calendar months, for date arithmetic (``12 months``)."""

    count: int

    def __str__(self) -> str:
        return f"{self.count} month{'s' if self.count != 1 else ''}"


LiteralKind = TLiteral[
    "number", "minutes", "days", "months", "money", "date", "text", "code", "flag", "word",
    "none",
]
LiteralValue = int | Decimal | str | bool | _dt.date | Months | None


# ---------------------------------------------------------------------------- expressions


@attrs.frozen
class Literal:
    """A literal value. ``kind`` is its lexical kind; ``text`` is the source text (so that
    ``59`` can still become the modifier ``59`` when a table column says so)."""

    kind: LiteralKind
    value: LiteralValue
    text: str
    span: Span | None = _span()


@attrs.frozen
class Name:
    name: str
    span: Span | None = _span()


@attrs.frozen
class Attribute:
    obj: Expr
    name: str
    span: Span | None = _span()


@attrs.frozen
class Lookup:
    """``table[key, ...]``: the row of ``table`` in force on the date of service, or missing."""

    table: str
    keys: tuple[Expr, ...]
    span: Span | None = _span()


BinaryOp = TLiteral["+", "-", "*", "/", "//", "%", "=", "!=", "<", "<=", ">", ">=", "and", "or"]


@attrs.frozen
class Binary:
    op: BinaryOp
    left: Expr
    right: Expr
    span: Span | None = _span()


@attrs.frozen
class Unary:
    op: TLiteral["not", "-"]
    operand: Expr
    span: Span | None = _span()


@attrs.frozen
class InTable:
    """``x in table`` / ``x not in table``: membership among the table's keys in force."""

    subject: Expr
    table: str
    negated: bool
    span: Span | None = _span()


@attrs.frozen
class InList:
    subject: Expr
    items: tuple[Expr, ...]
    negated: bool
    span: Span | None = _span()


@attrs.frozen
class Has:
    """``line has GO`` / ``lacks any of (...)`` / ``has more than one of (...)``."""

    subject: Expr
    mode: TLiteral["one", "any", "all", "many"]
    modifiers: tuple[str, ...]
    negated: bool
    span: Span | None = _span()


@attrs.frozen
class Matches:
    """``diagnosis matches F90.*, F84.0``: ICD-10 code patterns (``*`` = any continuation)."""

    subject: Expr
    patterns: tuple[str, ...]
    span: Span | None = _span()


@attrs.frozen
class IsMissing:
    subject: Expr
    negated: bool  # True for ``is present``
    span: Span | None = _span()


@attrs.frozen
class IfElse:
    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span | None = _span()


@attrs.frozen
class Call:
    function: str
    args: tuple[Expr, ...]
    span: Span | None = _span()


Collection = TLiteral["lines", "diagnoses"]


@attrs.frozen
class Aggregate:
    """``count of lines where …``, ``sum of X over lines where …``, ``any line where …``,
    ``no diagnosis where …``. ``var`` is the name bound to each element (``line`` or
    ``diagnosis`` unless renamed with ``as``)."""

    kind: TLiteral["count", "sum", "any", "no"]
    collection: Collection
    var: str
    value: Expr | None
    where: Expr | None
    span: Span | None = _span()


Expr = (
    Literal | Name | Attribute | Lookup | Binary | Unary | InTable | InList | Has | Matches
    | IsMissing | IfElse | Call | Aggregate
)
EXPR_NODES: tuple[type, ...] = (
    Literal, Name, Attribute, Lookup, Binary, Unary, InTable, InList, Has, Matches, IsMissing,
    IfElse, Call, Aggregate,
)


# ---------------------------------------------------------------------------- templates


@attrs.frozen
class Placeholder:
    """``{line.code}`` inside a message: a dotted name evaluated when the rule fires."""

    path: tuple[str, ...]
    span: Span | None = _span()

    @property
    def text(self) -> str:
        return ".".join(self.path)


@attrs.frozen
class Template:
    parts: tuple[str | Placeholder, ...]
    span: Span | None = _span()


# ---------------------------------------------------------------------------- declarations


@attrs.frozen
class DateRange:
    start: _dt.date
    end: _dt.date  # inclusive
    span: Span | None = _span()

    def contains(self, day: _dt.date) -> bool:
        return self.start <= day <= self.end


@attrs.frozen
class PackHeader:
    name: str
    title: str | None
    version: str | None
    payers: tuple[str, ...]
    effective: DateRange | None
    extends: str | None
    about: str | None
    span: Span | None = _span()
    name_span: Span | None = _span()
    extends_span: Span | None = _span()


@attrs.frozen
class UnitsDecl:
    method: TLiteral["cms", "ama"]
    timed_table: str | None
    timed_column: str | None
    span: Span | None = _span()


@attrs.frozen
class TypeRef:
    name: str
    span: Span | None = _span()


@attrs.frozen
class Period:
    start: _dt.date
    end: _dt.date
    value: Literal
    span: Span | None = _span()


@attrs.frozen
class Parameter:
    name: str
    type: TypeRef
    constant: Literal | None
    periods: tuple[Period, ...]
    about: str | None
    source: str | None
    override: bool
    span: Span | None = _span()
    name_span: Span | None = _span()


@attrs.frozen
class Column:
    name: str
    type: TypeRef
    optional: bool
    is_key: bool
    span: Span | None = _span()


@attrs.frozen
class Row:
    values: tuple[Literal, ...]
    span: Span | None = _span()


@attrs.frozen
class Table:
    name: str
    title: str | None
    file: str | None
    layout: str | None  # "cms-ptp", "cms-mue", or None for declared columns
    columns: tuple[Column, ...]
    valid_from: str | None
    valid_until: str | None
    rows: tuple[Row, ...]
    source: str | None
    override: bool
    span: Span | None = _span()
    name_span: Span | None = _span()
    file_span: Span | None = _span()
    valid_span: Span | None = _span()


@attrs.frozen
class Let:
    name: str
    value: Expr
    span: Span | None = _span()


@attrs.frozen
class ForEach:
    """``for each line``, ``for each diagnosis``, ``for each pair first, second in ptp``."""

    kind: TLiteral["line", "diagnosis", "pair"]
    names: tuple[str, ...]
    table: str | None
    where: Expr | None
    span: Span | None = _span()


@attrs.frozen
class Fix:
    kind: TLiteral["add_modifier", "set_units"]
    modifier: str | None
    value: Expr | None
    span: Span | None = _span()


@attrs.frozen
class Rule:
    id: str
    severity: TLiteral["error", "warning", "info"]
    override: bool
    about: str | None
    effective: DateRange | None
    lets_before: tuple[Let, ...]
    iteration: ForEach | None
    lets_after: tuple[Let, ...]
    when: Expr | None
    say: Template | None
    fix: Fix | None
    source: str | None
    # Clauses given more than once: (clause keyword, span of the repeat). The checker
    # reports them; the formatter keeps them so that it never drops text.
    repeated: tuple[tuple[str, Span | None], ...] = attrs.field(default=(), eq=False)
    span: Span | None = _span()
    id_span: Span | None = _span()
    source_span: Span | None = _span()


@attrs.frozen
class Disable:
    kind: TLiteral["rule", "parameter"]
    target: str
    reason: str
    span: Span | None = _span()
    target_span: Span | None = _span()


Decl = PackHeader | UnitsDecl | Parameter | Table | Rule | Disable
DECL_NODES: tuple[type, ...] = (PackHeader, UnitsDecl, Parameter, Table, Rule, Disable)


@attrs.frozen
class Comment:
    text: str  # including the leading '#'
    line: int
    own_line: bool  # True when nothing but the comment is on its line


@attrs.frozen
class PackFile:
    """One parsed source file of a pack."""

    path: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = attrs.field(default=(), eq=False)
