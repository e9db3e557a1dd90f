"""Support for the evaluation tests: small packs written as text, and visits.

``build_pack`` writes a prelude plus some rules into a temporary pack folder and loads it with
the real front end (``otrules.lang.loader.load_checked_pack``). A few tests feed evaluation
what the checker refuses (an unknown name, a placeholder showing patient.id) to test its own
defences; for them ``build_checked`` builds the CheckedPack by hand - parse, then inline tables
and parameters as typed data, deliberately minimal: no checking, no merging, no CSV.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from otrules.eval import Pack
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack, ColumnInfo, ParameterData, RuleInfo, TableData
from otrules.lang.loader import load_checked_pack
from otrules.lang.parser import parse_source
from otrules.model import Visit
from otrules.visit_json import load_visit

PRELUDE = """\
pack test-pack "A pack for evaluation tests"
  version 2026.1
  payer medicare
  effective 2024-01-01 to 2026-12-31

units cms timed by codes.timed

parameter kx_threshold : money
  from 2024-01-01 to 2024-12-31 = $2,330.00
  from 2025-01-01 to 2025-12-31 = $2,410.00
  from 2026-01-01 to 2026-12-31 = $2,480.00
  source "CMS threshold notices"

parameter share : number = 0.10

table codes
  key code : code
  column timed : flag
  row 97110, yes
  row 97112, yes
  row 97116, yes
  row 97140, yes
  row 97035, yes
  row 97530, yes
  row 97535, yes
  row 97165, no
  row 97166, no
  row G0283, no

table elsewhere "A code the pack knows but the codes table does not list"
  key code : code
  row 97750

table modifiers
  key modifier : modifier
  row GO
  row GP
  row GN
  row KX
  row CO
  row 59
  row XE
  row XS
"""


def _cell(literal: A.Literal, column: ColumnInfo) -> Any:
    if literal.kind == "none":
        return None
    if column.type == "modifier":
        return literal.text  # 59 is the modifier "59", not the number 59
    return literal.value


def _table(decl: A.Table) -> TableData:
    columns = tuple(ColumnInfo(c.name, c.type.name, c.optional, c.is_key) for c in decl.columns)
    rows = tuple(tuple(_cell(v, c) for v, c in zip(r.values, columns, strict=True))
                 for r in decl.rows)
    keys = [i for i, c in enumerate(columns) if c.is_key]
    index: dict[Any, tuple[tuple[Any, ...], ...]] = {}
    for row in rows:
        key = row[keys[0]] if len(keys) == 1 else tuple(row[i] for i in keys)
        index[key] = (*index.get(key, ()), row)
    return TableData(decl.name, columns, rows, MappingProxyType(index), decl.valid_from,
                     decl.valid_until)


def _parameter(decl: A.Parameter) -> ParameterData:
    periods = tuple((p.start, p.end, p.value.value) for p in decl.periods)
    constant = decl.constant.value if decl.constant is not None else None
    return ParameterData(decl.name, decl.type.name, constant, periods, decl.source, decl.about)


def build_checked(text: str) -> CheckedPack:
    """A CheckedPack built by hand from one source text, without the checker."""
    pack_file, diagnostics = parse_source(text, "pack.otr")
    assert not diagnostics, diagnostics
    header: A.PackHeader | None = None
    units: A.UnitsDecl | None = None
    parameters: dict[str, ParameterData] = {}
    tables: dict[str, TableData] = {}
    rules: list[RuleInfo] = []
    for decl in pack_file.decls:
        if isinstance(decl, A.PackHeader):
            header = decl
        elif isinstance(decl, A.UnitsDecl):
            units = decl
        elif isinstance(decl, A.Parameter):
            parameters[decl.name] = _parameter(decl)
        elif isinstance(decl, A.Table):
            tables[decl.name] = _table(decl)
        elif isinstance(decl, A.Rule):
            rules.append(RuleInfo(decl, "test-pack", "pack.otr"))
    assert header is not None
    assert header.effective is not None
    timed_by = None
    if units is not None and units.timed_table is not None:
        timed_by = (units.timed_table, units.timed_column or "")
    return CheckedPack(
        name=header.name, title=header.title, version=header.version, payers=header.payers,
        effective=header.effective, about=header.about,
        unit_method=units.method if units is not None else "cms", timed_by=timed_by,
        parameters=MappingProxyType(parameters), tables=MappingProxyType(tables),
        rules=tuple(rules), lineage=(header.name,), folder="<test>",
        sources=MappingProxyType({"pack.otr": text}),
    )


def load_pack(text: str) -> CheckedPack:
    """The pack ``text`` through the real front end, from a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "test-pack"
        folder.mkdir()
        (folder / "pack.otr").write_text(text, encoding="utf-8")
        return load_checked_pack(folder)


def build_pack(rules: str, prelude: str = PRELUDE, *, checker: bool = True) -> Pack:
    """A Pack from the prelude (header, units, parameters, tables) plus ``rules``: loaded and
    checked by the real front end, or with ``checker=False`` built by hand, for the few tests
    that feed evaluation what the checker would refuse."""
    text = prelude + "\n" + rules
    return Pack(load_pack(text) if checker else build_checked(text))


def make_visit(lines: list[dict[str, Any]], **fields: Any) -> Visit:
    """A validated visit dated 2026-03-02 for patient P-1 unless ``fields`` say otherwise."""
    patient = {"id": "P-1", "birth_date": "1950-06-15", **fields.pop("patient", {})}
    data = {"id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",
            "patient": patient, "diagnoses": ["I69.351", "R26.89"], "lines": lines, **fields}
    return load_visit(data)


def findings(pack: Pack, visit: Visit) -> list[tuple[str, int | None, str]]:
    """(rule, line, message) of each finding, in order."""
    return [(f.rule, f.line, f.message) for f in pack.evaluate(visit).findings]


# ---------------------------------------------------------------------------- the helper itself


@pytest.mark.parametrize("checker", [True, False], ids=["loader", "by-hand"])
def test_both_ways_give_the_same_pack_data(checker: bool) -> None:
    pack = build_pack('rule r : info\n  when yes\n  say "hi"\n  source "s"\n', checker=checker)
    checked = pack.checked
    assert checked.parameters["kx_threshold"].value_on(dt.date(2025, 6, 1)) == 2410
    assert checked.tables["modifiers"].find("59", dt.date(2026, 1, 1)) == ("59",)
    assert checked.tables["codes"].find("97165", dt.date(2026, 1, 1)) == ("97165", False)
    assert checked.timed_by == ("codes", "timed")
    assert checked.unit_method == "cms"
    assert [r.id for r in pack.rules] == ["r"]


def test_make_visit_is_validated() -> None:
    visit = make_visit([{"code": "97110", "minutes": 20}])
    assert visit.lines[0].minutes == 20
    assert visit.patient.id == "P-1"
