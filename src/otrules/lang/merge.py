"""Pack composition: ``extends``, ``override`` and ``disable`` (semantics.md, "Packs and files").

The merged pack is built base first. Rules keep the base's order, an override takes the place
of the rule it replaces, a disabled rule disappears, and the extending pack's new rules follow
in file order. Parameters and tables merge the same way (there is no ``disable table``); a
``units`` declaration replaces the base's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

import attrs

from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang.suggest import did_you_mean

D = TypeVar("D")


@attrs.frozen
class PackSource:
    """One pack folder, parsed: its files in file-name order."""

    name: str
    folder: Path
    files: tuple[A.PackFile, ...]
    header: A.PackHeader | None


@attrs.frozen
class Declared(Generic[D]):
    decl: D
    pack: str
    file: str
    folder: Path


@attrs.define
class Merged:
    name: str = ""
    title: str | None = None
    version: str | None = None
    payers: tuple[str, ...] = ()
    effective: A.DateRange | None = None
    about: str | None = None
    units: Declared[A.UnitsDecl] | None = None
    parameters: dict[str, Declared[A.Parameter]] = attrs.field(factory=dict)
    tables: dict[str, Declared[A.Table]] = attrs.field(factory=dict)
    rules: dict[str, Declared[A.Rule]] = attrs.field(factory=dict)  # in rule order
    every_table: list[Declared[A.Table]] = attrs.field(factory=list)  # of the whole lineage
    lineage: list[str] = attrs.field(factory=list)


def merge(packs: list[PackSource]) -> tuple[Merged, list[Diagnostic]]:
    """Merge a lineage given base first."""
    merged = Merged()
    diags: list[Diagnostic] = []
    for level, pack in enumerate(packs):
        _Level(merged, pack, level > 0, diags).apply()
    return merged, diags


def _where(span: Span | None) -> str:
    return f"{span.file}:{span.line}:{span.column}" if span is not None else "elsewhere"


class _Level:
    """Applies one pack's declarations on top of what its bases merged."""

    def __init__(self, merged: Merged, pack: PackSource, has_base: bool,
                 diags: list[Diagnostic]) -> None:
        self.merged = merged
        self.pack = pack
        self.has_base = has_base
        self.diags = diags
        self.base_rules = set(merged.rules)
        self.base_params = set(merged.parameters)
        self.base_tables = set(merged.tables)

    def error(self, code: str, message: str, span: Span | None, help_: str | None = None
              ) -> None:
        self.diags.append(Diagnostic(code, "error", message, span, help_))

    def decls(self) -> Iterator[tuple[A.Decl, str]]:
        for file in self.pack.files:
            for decl in file.decls:
                yield decl, file.path

    def apply(self) -> None:
        self._header()
        self.merged.lineage.append(self.pack.name)
        seen: dict[tuple[str, str], tuple[str, Span | None]] = {}
        for decl, path in self.decls():
            if isinstance(decl, A.PackHeader):
                continue
            if self._duplicate(decl, seen):
                continue
            declared = Declared(decl, self.pack.name, path, self.pack.folder)
            if isinstance(decl, A.UnitsDecl):
                self.merged.units = declared  # type: ignore[assignment]
            elif isinstance(decl, A.Rule):
                self._rule(declared)  # type: ignore[arg-type]
            elif isinstance(decl, A.Parameter):
                self._parameter(declared)  # type: ignore[arg-type]
            elif isinstance(decl, A.Table):
                self._table(declared)  # type: ignore[arg-type]
            elif isinstance(decl, A.Disable):
                self._disable(decl)

    def _header(self) -> None:
        head = self.pack.header
        m = self.merged
        m.name = self.pack.name
        if head is None:
            return
        m.title = head.title if head.title is not None else m.title
        m.version = head.version if head.version is not None else m.version
        m.payers = head.payers or m.payers
        m.effective = head.effective if head.effective is not None else m.effective
        m.about = head.about if head.about is not None else m.about

    # ----------------------------------------------------------------- duplicates
    def _duplicate(self, decl: A.Decl, seen: dict[tuple[str, str], tuple[str, Span | None]]
                   ) -> bool:
        kind, name, span = _identity(decl)
        space = "rule" if kind == "rule" else ("units" if kind == "units" else "value")
        first = seen.get((space, name))
        if first is None:
            seen[(space, name)] = (kind, span)
            return False
        if kind == "units":
            message = "`units` is declared twice"
        elif first[0] == kind:
            message = f"{kind} '{name}' is declared twice"
        else:
            message = f"{kind} '{name}' has the same name as {first[0]} '{name}'"
        self.error(C.DUPLICATE, message, span, f"the first is at {_where(first[1])}")
        return True

    # ----------------------------------------------------------------- rules
    def _rule(self, declared: Declared[A.Rule]) -> None:
        rule = declared.decl
        rules = self.merged.rules
        if rule.override:
            if rule.id not in self.base_rules:
                self._missing_base(C.OVERRIDE_NOTHING, f"override rule '{rule.id}'", "rule",
                                   rule.id, rule.id_span, self.base_rules)
        elif rule.id in self.base_rules:
            self.error(C.NEEDS_OVERRIDE, f"rule '{rule.id}' is already declared in base pack "
                       f"'{rules[rule.id].pack}'", rule.id_span,
                       f"write `override rule {rule.id}` to replace it, or choose another id")
        rules[rule.id] = declared  # an existing key keeps its place: overrides stay in order

    def _missing_base(self, code: str, what: str, kind: str, name: str, span: Span | None,
                      pool: set[str]) -> None:
        if not self.has_base:
            self.error(code, f"{what}: pack '{self.pack.name}' extends no pack", span,
                       f"remove `{what.split()[0]}`, or add `extends BASE` to the pack header")
            return
        self.error(code, f"{what}: the base pack has no {kind} '{name}'", span,
                   did_you_mean(name, pool))

    # ----------------------------------------------------------------- parameters, tables
    def _parameter(self, declared: Declared[A.Parameter]) -> None:
        param = declared.decl
        self._value_decl("parameter", param.name, param.override, param.name_span,
                         self.base_params)
        self.merged.parameters[param.name] = declared

    def _table(self, declared: Declared[A.Table]) -> None:
        table = declared.decl
        self._value_decl("table", table.name, table.override, table.name_span,
                         self.base_tables)
        self.merged.tables[table.name] = declared
        self.merged.every_table.append(declared)

    def _value_decl(self, kind: str, name: str, override: bool, span: Span | None,
                    same: set[str]) -> None:
        other_kind = "table" if kind == "parameter" else "parameter"
        other = self.base_tables if kind == "parameter" else self.base_params
        if name in other:
            self.error(C.NEEDS_OVERRIDE, f"{kind} '{name}' has the name of {other_kind} "
                       f"'{name}' of the base pack", span, "choose another name")
        elif override and name not in same:
            self._missing_base(C.OVERRIDE_NOTHING, f"override {kind} '{name}'", kind, name,
                               span, same)
        elif not override and name in same:
            owner = (self.merged.parameters if kind == "parameter" else self.merged.tables)
            self.error(C.NEEDS_OVERRIDE, f"{kind} '{name}' is already declared in base pack "
                       f"'{owner[name].pack}'", span,
                       f"write `override {kind} {name}` to replace it, or choose another name")

    # ----------------------------------------------------------------- disable
    def _disable(self, decl: A.Disable) -> None:
        pool = self.base_rules if decl.kind == "rule" else self.base_params
        if decl.target not in pool:
            self._missing_base(C.DISABLE_NOTHING, f"disable {decl.kind} '{decl.target}'",
                               decl.kind, decl.target, decl.target_span, pool)
            return
        if decl.kind == "rule":
            self.merged.rules.pop(decl.target, None)
        else:
            self.merged.parameters.pop(decl.target, None)


def _identity(decl: A.Decl) -> tuple[str, str, Span | None]:
    if isinstance(decl, A.Rule):
        return "rule", decl.id, decl.id_span
    if isinstance(decl, A.Parameter):
        return "parameter", decl.name, decl.name_span
    if isinstance(decl, A.Table):
        return "table", decl.name, decl.name_span
    if isinstance(decl, A.Disable):
        return decl.kind, decl.target, decl.target_span
    return "units", "", decl.span
