"""Types and name resolution for the checker.

A type is a string: one of ``checked.VALUE_TYPES``, a record (``line``, ``patient``,
``authorization``, ``visit``), a table row (``row:NAME``) or ``unknown``. ``unknown`` is what
a name that could not be resolved gets: it is compatible with everything, so one misspelling
produces one diagnostic and not a cascade of type errors downstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from otrules.lang.checked import VALUE_TYPES, ColumnInfo

UNKNOWN = "unknown"
RECORDS = ("line", "patient", "authorization", "visit")

LINE_FIELDS: Mapping[str, str] = {
    "code": "code", "minutes": "minutes", "units": "number", "computed_units": "number",
    "performed_by": "text", "assistant_minutes": "minutes", "charge": "money",
    "position": "number", "pointer_count": "number", "timed": "flag",
}
PATIENT_FIELDS: Mapping[str, str] = {
    "birth_date": "date", "ytd_ot_allowed": "money", "visits_this_year": "number",
    "treatment_days_since_progress_report": "number", "plan_of_care_certified_on": "date",
    "age": "number",
}
AUTHORIZATION_FIELDS: Mapping[str, str] = {
    "number": "text", "visits_authorized": "number", "visits_used": "number",
    "valid_from": "date", "valid_to": "date",
}
# Usable bare or as visit.NAME.
VISIT_FIELDS: Mapping[str, str] = {
    "date_of_service": "date", "payer": "text", "claim_type": "text",
    "place_of_service": "text", "telehealth": "flag", "claim_submitted_on": "date",
    "patient": "patient", "authorization": "authorization",
}
# Computed by the engine; only as visit.NAME, so that they read as properties of the visit.
VISIT_DERIVED: Mapping[str, str] = {
    "timed_minutes": "minutes", "line_count": "number", "stated_units_valid": "flag",
}
RECORD_FIELDS: Mapping[str, Mapping[str, str]] = {
    "line": LINE_FIELDS, "patient": PATIENT_FIELDS, "authorization": AUTHORIZATION_FIELDS,
    "visit": {**VISIT_FIELDS, **VISIT_DERIVED},
}
# Fields that identify the patient: never shown in a message.
PHI_FIELDS = frozenset({"id", "birth_date"})

_ARTICLES = {
    "number": "a number", "date": "a date", "code": "a code", "modifier": "a modifier",
    "diagnosis": "a diagnosis", "flag": "a yes/no value", "line": "a line",
    "patient": "the patient", "authorization": "the authorization", "visit": "the visit",
}


def row_type(table: str) -> str:
    return f"row:{table}"


def row_table(type_: str) -> str | None:
    return type_[4:] if type_.startswith("row:") else None


def is_value(type_: str) -> bool:
    return type_ in VALUE_TYPES


def describe(type_: str) -> str:
    """The type in words, with an article: 'a number', 'minutes', "a row of table 'ptp'"."""
    table = row_table(type_)
    if table is not None:
        return f"a row of table '{table}'"
    return _ARTICLES.get(type_, type_)


# ---------------------------------------------------------------------------- tables


@attrs.frozen
class TableView:
    """What the checker knows of a table: its columns, or None when they are unknown (the
    table failed to load and declares no usable columns)."""

    name: str
    columns: tuple[ColumnInfo, ...] | None
    # The key columns, found once: every `in TABLE` and TABLE[…] of every rule asks.
    keys: tuple[ColumnInfo, ...] | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        keys = None if self.columns is None else tuple(c for c in self.columns if c.is_key)
        object.__setattr__(self, "keys", keys)

    def column(self, name: str) -> ColumnInfo | None:
        for col in self.columns or ():
            if col.name == name:
                return col
        return None


# ---------------------------------------------------------------------------- scopes


class Binding(NamedTuple):
    """What a name stands for. ``key`` identifies the declaration, to find unused ones.
    (A named tuple: a few are made for every rule, and a frozen attrs class costs more.)"""

    type: str
    kind: str  # "let", "param", "visit", "element", "aggregate", "row"
    key: Any = None


class Scope:
    """A chain of name tables, innermost first. ``pending`` holds lets that exist in the
    rule but are not visible yet, so that using one gets a precise diagnostic."""

    __slots__ = ("names", "parent", "pending")

    def __init__(self, names: Mapping[str, Binding], parent: Scope | None = None,
                 pending: Mapping[str, str] | None = None) -> None:
        self.names = names
        self.parent = parent
        self.pending: Mapping[str, str] = pending or {}

    def child(self, names: Mapping[str, Binding],
              pending: Mapping[str, str] | None = None) -> Scope:
        return Scope(names, self, pending)

    def _chain(self) -> Iterator[Scope]:
        scope: Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def lookup(self, name: str) -> Binding | None:
        scope: Scope | None = self  # a plain loop: names are looked up at every use
        while scope is not None:
            found = scope.names.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def pending_reason(self, name: str) -> str | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.pending:
                return scope.pending[name]
            scope = scope.parent
        return None

    def visible(self) -> set[str]:
        out: set[str] = set()
        for scope in self._chain():
            out.update(scope.names)
        return out

    def has_kind(self, kind: str) -> bool:
        return any(b.kind == kind for s in self._chain() for b in s.names.values())
