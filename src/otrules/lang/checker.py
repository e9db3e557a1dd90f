"""The static checker: a merged pack's declarations → a CheckedPack's parts, or diagnostics.

It loads the tables (through :func:`otrules.lang.tables.load_table`), checks the header's
dates, the unit method, the parameters and every rule against the merged parameters and
tables, and reports unused parameters. Every problem found is reported; one problem does not
hide another, and an unresolved name has the type ``unknown`` so that it does not cascade.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang import collector
from otrules.lang.checked import VALUE_TYPES, ColumnInfo, ParameterData, RuleInfo, TableData
from otrules.lang.merge import Declared, Merged
from otrules.lang.params import check_parameter
from otrules.lang.rulecheck import PackContext, RuleChecker, report_repeats
from otrules.lang.scope import VISIT_FIELDS, Binding, Scope, TableView, describe
from otrules.lang.suggest import field_help
from otrules.lang.tables import TableLimits, load_table
from otrules.lang.typing_rules import ExprTyper, TypeContext

_CODE_LAYOUTS = ("cms-ptp", "cms-mue")  # the CMS layouts have code columns


@attrs.frozen
class CheckResult:
    parameters: dict[str, ParameterData]
    tables: dict[str, TableData]
    rules: tuple[RuleInfo, ...]
    unit_method: str
    timed_by: tuple[str, str] | None
    loaded: tuple[tuple[Declared[A.Table], TableData | None], ...]  # every table of the lineage
    diagnostics: list[Diagnostic]


def load_tables(merged: Merged, limits: TableLimits | None = None
                ) -> tuple[list[tuple[Declared[A.Table], TableData | None]], list[Diagnostic]]:
    """Load every table declaration of the lineage (overridden ones too: their codes count)."""
    out, diags = [], []
    for declared in merged.every_table:
        if limits is None:
            data, found = load_table(declared.decl, declared.folder)
        else:
            data, found = load_table(declared.decl, declared.folder, limits=limits)
        out.append((declared, data))
        diags.extend(found)
    return out, diags


def check_merged(merged: Merged, header: A.PackHeader | None,
                 loaded: list[tuple[Declared[A.Table], TableData | None]],
                 sources: Mapping[str, str]) -> CheckResult:
    """Check a merged pack whose tables are already loaded."""
    # Checking makes many small objects and no cycles, like parsing: the cyclic collector
    # would walk every live object (the whole AST) again and again (see collector.py).
    # The loader pauses it already; this covers direct callers too.
    with collector.paused():
        return _check_merged(merged, header, loaded, sources)


def _check_merged(merged: Merged, header: A.PackHeader | None,
                  loaded: list[tuple[Declared[A.Table], TableData | None]],
                  sources: Mapping[str, str]) -> CheckResult:
    diags: list[Diagnostic] = []
    _check_header(merged, header, diags)
    data = {id(d): t for d, t in loaded}
    tables = {name: data.get(id(d)) for name, d in merged.tables.items()}
    views = {name: _view(merged.tables[name].decl, t) for name, t in tables.items()}
    codes = _column_values(loaded, "code")
    modifiers = _column_values(loaded, "modifier")
    texts = _SourceText(sources)
    typer = ExprTyper(TypeContext(views, codes, modifiers, diags=diags))
    unit_method, timed_by = _check_units(merged, views, typer)
    for table in merged.tables.values():
        report_repeats(table.decl, f"table '{table.decl.name}'", diags)
    for param in merged.parameters.values():
        report_repeats(param.decl, f"parameter '{param.decl.name}'", diags)
    params = {name: check_parameter(d.decl, merged.effective, diags, typer.check_code)
              for name, d in merged.parameters.items()}
    pack = PackContext(views, codes, modifiers, _globals(params), merged.effective,
                       texts.of_expr, texts.line, texts.locate, diags=diags)
    rules = []
    for declared in merged.rules.values():
        RuleChecker(pack, declared.decl).check()
        rules.append(RuleInfo(declared.decl, declared.pack, declared.file))
    for name, param in merged.parameters.items():
        if ("param", name) not in pack.used:
            pack.report(C.UNUSED_PARAMETER, "warning", f"parameter '{name}' is never used",
                        param.decl.name_span, "remove it, or disable it in an extending pack")
    good_tables = {name: t for name, t in tables.items() if t is not None}
    return CheckResult(params, good_tables, tuple(rules), unit_method, timed_by, tuple(loaded),
                       diags)


# ---------------------------------------------------------------------------- header, units


def _check_header(merged: Merged, header: A.PackHeader | None, diags: list[Diagnostic]) -> None:
    if header is not None:
        report_repeats(header, f"the header of pack '{header.name}'", diags)
    rng = merged.effective
    if rng is None:
        if header is not None:
            diags.append(Diagnostic(
                C.NO_EFFECTIVE, "error", f"pack '{merged.name}' has no effective range",
                header.name_span, "add `effective 2026-01-01 to 2026-12-31` to the pack header"))
        return
    if rng.start > rng.end:
        diags.append(Diagnostic(C.REVERSED_RANGE, "error", f"the range {rng.start} to "
                                f"{rng.end} ends before it starts", rng.span))


def _check_units(merged: Merged, views: Mapping[str, TableView], typer: ExprTyper
                 ) -> tuple[str, tuple[str, str] | None]:
    if merged.units is None:
        return "cms", None  # the default: the CMS 8-minute rule over the built-in code table
    units = merged.units.decl
    if units.timed_table is None or units.timed_column is None:
        return units.method, None
    table, column = units.timed_table, units.timed_column
    view = typer.table(table, units.span)
    if view is None or view.columns is None:
        return units.method, (table, column)
    keys = view.keys or ()
    where = f"`timed by {table}.{column}`"
    if [k.type for k in keys] != ["code"]:
        shown = ", ".join(f"{k.name} ({k.type})" for k in keys) or "no key column"
        typer.ctx.error(C.TABLE_SHAPE, f"{where} needs a table with one code key column; "
                        f"'{table}' is keyed by {shown}", units.span)
    col = view.column(column)
    if col is None:
        typer.ctx.error(C.UNKNOWN_FIELD, f"table '{table}' has no column '{column}'",
                        units.span,
                        field_help(column, (c.name for c in view.columns), noun="columns"))
    elif col.type != "flag":
        typer.ctx.error(C.TABLE_SHAPE, f"{where} needs a flag column; '{column}' holds "
                        f"{describe(col.type)}", units.span)
    return units.method, (table, column)


# ---------------------------------------------------------------------------- tables


def _view(decl: A.Table, data: TableData | None) -> TableView:
    if data is not None:
        return TableView(decl.name, data.columns)
    # The table failed to load: its declared columns still give its rows a type.
    if decl.layout is None and decl.columns and all(
            c.type.name in VALUE_TYPES for c in decl.columns):
        return TableView(decl.name, tuple(ColumnInfo(c.name, c.type.name, c.optional, c.is_key)
                                          for c in decl.columns))
    return TableView(decl.name, None)


def _column_values(loaded: list[tuple[Declared[A.Table], TableData | None]], type_: str
                   ) -> frozenset[str] | None:
    """Every value of every ``type_`` column; None when a table that may hold some failed."""
    out: set[Any] = set()
    for declared, data in loaded:
        if data is None:
            if _may_hold(declared.decl, type_):
                return None
            continue
        for i, col in enumerate(data.columns):
            if col.type == type_:
                out.update(row[i] for row in data.rows)
    out.discard(None)
    return frozenset(out)


def _may_hold(decl: A.Table, type_: str) -> bool:
    if decl.layout is not None:
        return type_ == "code" or decl.layout not in _CODE_LAYOUTS
    return any(c.type.name == type_ or c.type.name not in VALUE_TYPES for c in decl.columns)


# ---------------------------------------------------------------------------- scopes, text


def _globals(params: Mapping[str, ParameterData]) -> Scope:
    visit = {name: Binding(t, "visit") for name, t in VISIT_FIELDS.items()}
    visit["visit"] = Binding("visit", "visit")
    return Scope(visit).child({name: Binding(p.type, "param", ("param", name))
                               for name, p in params.items()})


class _SourceText:
    """Source text of spans, for messages that quote the pack."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per check, freed with it
    def _lines(self, file: str) -> list[str]:
        return self.sources.get(file, "").split("\n")

    def line(self, span: Span) -> str | None:
        lines = self._lines(span.file)
        return lines[span.line - 1] if 1 <= span.line <= len(lines) else None

    def locate(self, region: Span | None, word: str, after: Span | None) -> Span | None:
        """The span of ``word`` inside ``region`` (after ``after``), else ``region``."""
        if region is None:
            return None
        pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])")
        start = (after.end_line, after.end_column) if after is not None else (
            region.line, region.column)
        lines = self._lines(region.file)
        for number in range(start[0], min(region.end_line, len(lines)) + 1):
            text = lines[number - 1]
            end = region.end_column - 1 if number == region.end_line else len(text)
            found = pattern.search(text, start[1] - 1 if number == start[0] else 0, end)
            if found is not None:
                return Span(region.file, number, found.start() + 1, number, found.end() + 1)
        return region

    def of_expr(self, expr: A.Expr) -> str:
        span = expr.span
        if span is None:
            return "this condition"
        lines = self._lines(span.file)[span.line - 1:span.end_line]
        if not lines:
            return "this condition"
        if len(lines) == 1:
            text = lines[0][span.column - 1:span.end_column - 1]
        else:
            text = "\n".join([lines[0][span.column - 1:], *lines[1:-1],
                              lines[-1][:span.end_column - 1]])
        text = re.sub(r"\s+", " ", text).strip()
        return text if len(text) <= 80 else text[:77] + "…"

