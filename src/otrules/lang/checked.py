"""What the checker hands to evaluation: a merged, validated, immutable pack.

A :class:`CheckedPack` is the contract between the language (parser, checker, table loader)
and evaluation (reference interpreter, compiler, engine). Everything in it is plain data:
frozen attrs records, tuples and read-only mappings, so it is immutable, thread-safe and
picklable. Rules are the AST nodes themselves (``otrules.lang.ast.Rule``), already resolved
and type-checked: evaluation may assume every name exists and every operation is well typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A

# Value types of the language. Runtime representations:
#   number  -> int or Decimal          minutes -> int (or Decimal after * by a decimal)
#   money   -> Decimal                 days    -> int (a count of calendar days)
#   months  -> ast.Months              date    -> datetime.date
#   text, code, modifier, diagnosis -> str          flag -> bool
# A missing value is None everywhere (three-valued logic; see docs/language/semantics.md).
VALUE_TYPES = ("number", "minutes", "money", "days", "months", "date", "text", "code",
               "modifier", "diagnosis", "flag")


@attrs.frozen
class ColumnInfo:
    name: str
    type: str  # one of VALUE_TYPES
    optional: bool
    is_key: bool


@attrs.frozen(eq=False)
class TableData:
    """A loaded table. ``rows`` are tuples of typed values in ``columns`` order.

    ``index`` maps a key to the rows with that key, in file order. The key is the bare value
    when the table has one key column, else a tuple of the key values. Rows are "in force" on
    a day when ``valid_from <= day`` and ``day < valid_until`` (either bound may be absent,
    per table or per row: a None value means unbounded).
    """

    name: str
    columns: tuple[ColumnInfo, ...]
    rows: tuple[tuple[Any, ...], ...]
    index: Mapping[Any, tuple[tuple[Any, ...], ...]]
    valid_from: str | None = None
    valid_until: str | None = None
    origin: str = "inline"  # the CSV path (relative to the pack folder) or "inline"
    digest: str = ""  # sha256 of the CSV file's bytes, or of the inline rows' text
    span: Span | None = None
    # Positions of the validity columns, found once: `find` runs for every lookup.
    _from_col: int | None = attrs.field(init=False, default=None, repr=False)
    _until_col: int | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.valid_from is not None:
            object.__setattr__(self, "_from_col", self.column_index(self.valid_from))
        if self.valid_until is not None:
            object.__setattr__(self, "_until_col", self.column_index(self.valid_until))

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_key)

    def column_index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise KeyError(name)

    def in_force(self, row: tuple[Any, ...], day: dt.date) -> bool:
        if self._from_col is not None:
            start = row[self._from_col]
            if start is not None and day < start:
                return False
        if self._until_col is not None:
            end = row[self._until_col]
            if end is not None and day >= end:
                return False
        return True

    def find(self, key: Any, day: dt.date) -> tuple[Any, ...] | None:
        """The first row with ``key`` in force on ``day``, or None."""
        for row in self.index.get(key, ()):
            if self.in_force(row, day):
                return row
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}
        state["index"] = dict(self.index)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["index"] = MappingProxyType(state["index"])
        for k, v in state.items():
            object.__setattr__(self, k, v)


@attrs.frozen
class ParameterData:
    """A parameter's value(s). ``periods`` are (start, end inclusive, value), sorted."""

    name: str
    type: str
    constant: Any = None
    periods: tuple[tuple[dt.date, dt.date, Any], ...] = ()
    source: str | None = None
    about: str | None = None
    span: Span | None = None

    def value_on(self, day: dt.date) -> Any:
        if not self.periods:
            return self.constant
        for start, end, value in self.periods:
            if start <= day <= end:
                return value
        return None


@attrs.frozen
class RuleInfo:
    """A rule as it stands in the merged pack, with the pack it was declared in."""

    rule: A.Rule
    pack: str  # name of the pack whose source declares this (possibly overriding) rule
    file: str


@attrs.frozen(eq=False)
class CheckedPack:
    name: str
    title: str | None
    version: str | None
    payers: tuple[str, ...]
    effective: A.DateRange
    about: str | None
    unit_method: str  # "cms" or "ama"
    # Which codes are timed: (table, flag column) of this pack, or None for the built-in
    # code table (otrules.codes).
    timed_by: tuple[str, str] | None
    parameters: Mapping[str, ParameterData]
    tables: Mapping[str, TableData]
    rules: tuple[RuleInfo, ...]
    lineage: tuple[str, ...]  # pack names, base first, this pack last
    folder: str
    sources: Mapping[str, str]  # file path -> source text, for rendering diagnostics
    diagnostics: tuple[Diagnostic, ...] = ()  # warnings and infos (errors mean no pack)
    digest: str = ""  # sha256 over every source and table of the pack and its bases

    def rule(self, rule_id: str) -> RuleInfo | None:
        for info in self.rules:
            if info.rule.id == rule_id:
                return info
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in attrs.fields(type(self))}
        for key in ("parameters", "tables", "sources"):
            state[key] = dict(state[key])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in ("parameters", "tables", "sources"):
            state[key] = MappingProxyType(state[key])
        for k, v in state.items():
            object.__setattr__(self, k, v)
