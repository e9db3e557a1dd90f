"""The rule-pack AST: frozen, slotted attrs records with source spans.

Spans are excluded from equality and hashing, so two parses of differently formatted text
compare equal. Every clause of a declaration has a span of its own, from its keyword to its
last token, so that diagnostics and the formatter never need to read the text again.

Expression nodes cache their hash: the checker keys its facts by expression (the same
`line.code` in two conditions is one subject), and a deep hash per lookup would walk the
whole subtree every time.

Every node type is listed in ``EXPR_NODES`` / ``DECL_NODES``; each pass (checker, interpreter,
compiler, formatter) dispatches through a table keyed by node type, and a test checks that
every pass handles every node.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any
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


@attrs.frozen(cache_hash=True)
class Literal:
    """A literal value. ``kind`` is its lexical kind; ``text`` is the source text (so that
    ``59`` can still become the modifier ``59`` when a table column says so)."""

    kind: LiteralKind
    value: LiteralValue
    text: str
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Name:
    name: str
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Attribute:
    obj: Expr
    name: str
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Lookup:
    """``table[key, ...]``: the row of ``table`` in force on the date of service, or missing."""

    table: str
    keys: tuple[Expr, ...]
    span: Span | None = _span()


BinaryOp = TLiteral["+", "-", "*", "/", "//", "%", "=", "!=", "<", "<=", ">", ">=", "and", "or"]


@attrs.frozen(cache_hash=True)
class Binary:
    op: BinaryOp
    left: Expr
    right: Expr
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Unary:
    op: TLiteral["not", "-"]
    operand: Expr
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class InTable:
    """``x in table`` / ``x not in table``: membership among the table's keys in force."""

    subject: Expr
    table: str
    negated: bool
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class InList:
    subject: Expr
    items: tuple[Expr, ...]
    negated: bool
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Has:
    """``line has GO`` / ``lacks any of (...)`` / ``has more than one of (...)``."""

    subject: Expr
    mode: TLiteral["one", "any", "all", "many"]
    modifiers: tuple[str, ...]
    negated: bool
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Matches:
    """``diagnosis matches F90.*, F84.0``: ICD-10 code patterns (``*`` = any continuation)."""

    subject: Expr
    patterns: tuple[str, ...]
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class IsMissing:
    subject: Expr
    negated: bool  # True for ``is present``
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class IfElse:
    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span | None = _span()


@attrs.frozen(cache_hash=True)
class Call:
    function: str
    args: tuple[Expr, ...]
    span: Span | None = _span()


Collection = TLiteral["lines", "diagnoses"]


@attrs.frozen(cache_hash=True)
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
class Repeat:
    """A clause given again in a declaration that takes it once (``when`` twice in a rule,
    ``version`` twice in a pack header). The declaration's own field holds the first one; each
    later one is kept here, in source order, so that the checker reports it (E042) and the
    formatter prints it. ``value`` is what the declaration's field would hold for this clause
    (a text, a tuple of payers, a DateRange, an Expr, a Template, a Fix, a ForEach, or a
    ``(from, until)`` pair for a table's ``valid``); ``span`` covers the whole clause."""

    keyword: str
    value: Any
    span: Span | None = _span()


def _by_keyword(repeats: tuple[Repeat, ...]) -> tuple[Repeat, ...]:
    return tuple(sorted(repeats, key=lambda r: r.keyword))


def _repeats() -> Any:
    # Repeats are compared (formatted text must keep every one), keyword by keyword in source
    # order: the canonical layout moves clauses of different kinds past each other.
    return attrs.field(default=(), eq=_by_keyword)


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
    repeated: tuple[Repeat, ...] = _repeats()
    span: Span | None = _span()
    name_span: Span | None = _span()
    extends_span: Span | None = _span()  # the base pack's name
    # The head (`pack NAME "title"`) and each clause, from its keyword to its end; the
    # effective clause's span is ``effective.span``.
    head_span: Span | None = _span()
    version_span: Span | None = _span()
    payer_span: Span | None = _span()
    extends_clause_span: Span | None = _span()
    about_span: Span | None = _span()


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
    repeated: tuple[Repeat, ...] = _repeats()
    span: Span | None = _span()
    name_span: Span | None = _span()
    # The head (`parameter NAME : TYPE = VALUE`) and each clause; periods have their own.
    head_span: Span | None = _span()
    about_span: Span | None = _span()
    source_span: Span | None = _span()


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
    repeated: tuple[Repeat, ...] = _repeats()
    span: Span | None = _span()
    name_span: Span | None = _span()
    file_span: Span | None = _span()  # the `from "file" as layout` part of the head
    valid_span: Span | None = _span()  # the `valid` clause
    # The head (`table NAME "title" from …`) and the source clause; columns and rows have their
    # own spans.
    head_span: Span | None = _span()
    source_span: Span | None = _span()


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
    # Clauses given more than once (the fields above hold the first of each). The checker
    # reports them; the formatter keeps them so that it never drops text.
    repeated: tuple[Repeat, ...] = _repeats()
    span: Span | None = _span()
    id_span: Span | None = _span()
    source_span: Span | None = _span()
    # The head (`rule ID : SEVERITY`) and the clauses whose value has no span of the clause:
    # `effective`, `for each`, `fix` and `let` clauses are spanned by their own nodes.
    head_span: Span | None = _span()
    about_span: Span | None = _span()
    when_span: Span | None = _span()
    say_span: Span | None = _span()


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
