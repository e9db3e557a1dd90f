"""The language-tour packs: clean under the checker, merged as documented, and covering
every construct of the language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack
from otrules.lang.loader import load_checked_pack
from otrules.lang.parser import parse_source
from otrules.lang.typing_rules import FUNCTIONS, HANDLED_NODES, walk
from otrules.resources import rulepacks_dir

TOUR_RULES = [
    "go-modifier-required", "kx-modifier-required", "stated-units-match", "too-few-minutes",
    "unit-left-unbilled", "ncci-pair-conflict", "ncci-modifier-on-wrong-line",
    "one-discipline-modifier", "assistant-modifier", "units-above-mue", "charge-far-from-fee",
    "one-evaluation-per-visit", "diagnosis-shape", "adhd-needs-support", "certification-late",
    "timely-filing", "progress-report-due", "authorization-exhausted", "telehealth-place",
    "line-without-diagnosis", "ytd-total-from-last-year", "plan-of-care-from-last-year",
    "telehealth-lapse-2026",
]


@pytest.fixture(scope="module")
def tour() -> CheckedPack:
    return load_checked_pack("language-tour")


@pytest.fixture(scope="module")
def extended() -> CheckedPack:
    return load_checked_pack("language-tour-extended")


def test_the_tour_loads_without_warnings(tour: CheckedPack) -> None:
    assert tour.diagnostics == ()
    assert (tour.name, tour.version, tour.payers, tour.unit_method, tour.timed_by) == (
        "language-tour", "2026.1", ("medicare", "medicare-advantage"), "cms",
        ("therapy_codes", "timed"))
    assert (tour.effective.start, tour.effective.end) == (dt.date(2025, 1, 1),
                                                         dt.date(2026, 12, 31))
    assert [r.rule.id for r in tour.rules] == TOUR_RULES
    assert {r.pack for r in tour.rules} == {"language-tour"}


def test_the_tour_parameters_and_tables(tour: CheckedPack) -> None:
    kx = tour.parameters["kx_threshold"]
    assert (kx.type, kx.periods) == ("money", (
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31), Decimal("2410.00")),
        (dt.date(2026, 1, 1), dt.date(2026, 12, 31), Decimal("2480.00"))))
    assert kx.value_on(dt.date(2026, 3, 2)) == Decimal("2480.00")
    assert (tour.parameters["min_timed_minutes"].type,
            tour.parameters["min_timed_minutes"].constant) == ("minutes", 8)
    assert tour.parameters["assistant_share"].constant == Decimal("0.10")
    assert list(tour.tables) == ["therapy_codes", "modifiers", "fee_schedule", "ptp", "mue"]
    assert [(c.name, c.is_key) for c in tour.tables["ptp"].columns][:2] == [
        ("column1", True), ("column2", True)]
    assert tour.tables["fee_schedule"].origin == "tables/fees.csv"
    assert len(tour.tables["therapy_codes"].rows) == 8


def test_the_extended_tour_merges_in_place(extended: CheckedPack, tour: CheckedPack) -> None:
    assert extended.diagnostics == ()
    assert extended.lineage == ("language-tour", "language-tour-extended")
    expected = [r for r in TOUR_RULES if r not in ("progress-report-due",
                                                    "telehealth-lapse-2026")]
    assert [r.rule.id for r in extended.rules] == [*expected, "acme-bundled-pair",
                                                   "visit-limit-reached"]
    first = extended.rules[0]
    assert (first.rule.id, first.rule.severity, first.pack) == (
        "go-modifier-required", "warning", "language-tour-extended")
    assert [r.pack for r in extended.rules[1:-2]] == ["language-tour"] * (len(expected) - 1)
    assert "progress_report_days" not in extended.parameters
    assert extended.parameters["kx_threshold"].constant == Decimal("3000.00")
    assert extended.parameters["kx_threshold"].periods == ()
    assert extended.tables["fee_schedule"].origin == "inline"
    assert extended.tables["ptp"] is not tour.tables["ptp"]  # loaded again, same content
    assert extended.tables["ptp"].rows == tour.tables["ptp"].rows
    assert (extended.unit_method, extended.payers, extended.effective) == (
        "ama", ("acme-health",), tour.effective)
    assert extended.digest != tour.digest


# ---------------------------------------------------------------------------- coverage


def _tour_files() -> list[A.PackFile]:
    files = []
    for name in ("language-tour", "language-tour-extended"):
        for path in sorted((rulepacks_dir() / name).glob("*.otr")):
            pack, diags = parse_source(path.read_text(encoding="utf-8"), str(path))
            assert diags == []
            files.append(pack)
    return files


def _features() -> set[str]:
    """Every construct the tour uses, named as below."""
    seen: set[str] = set()
    for file in _tour_files():
        for decl in file.decls:
            seen.add(type(decl).__name__ + (":override" if getattr(decl, "override", False)
                                            else ""))
            seen.update(_decl_features(decl))
    return seen


def _decl_features(decl: A.Decl) -> set[str]:
    seen: set[str] = set()
    if isinstance(decl, A.PackHeader):
        seen.update(f"header:{f.name}" for f in attrs.fields(A.PackHeader)
                    if getattr(decl, f.name) not in (None, ()) and "span" not in f.name)
    elif isinstance(decl, A.UnitsDecl):
        seen.add(f"units:{decl.method}" + (":timed-by" if decl.timed_table else ""))
    elif isinstance(decl, A.Parameter):
        seen.add("parameter:" + ("constant" if decl.constant else "periods"))
        seen.add("parameter-type:" + decl.type.name)
    elif isinstance(decl, A.Table):
        seen.update(_table_features(decl))
    elif isinstance(decl, A.Rule):
        seen.update(_rule_features(decl))
    elif isinstance(decl, A.Disable):
        seen.add("disable:" + decl.kind)
    return seen


def _table_features(table: A.Table) -> set[str]:
    seen = {"table:" + (table.layout or ("file" if table.file else "inline"))}
    if any(c.optional for c in table.columns):
        seen.add("table:optional-column")
    if sum(c.is_key for c in table.columns) == 2:
        seen.add("table:two-keys")
    if table.valid_from:
        seen.add("table:valid")
    seen.update(f"row-value:{v.kind}" for row in table.rows for v in row.values)
    return seen


def _rule_features(rule: A.Rule) -> set[str]:
    seen = {f"severity:{rule.severity}"}
    seen.update(f"rule:{clause}" for clause in ("about", "effective", "fix", "source")
                if getattr(rule, clause) is not None)
    if rule.lets_before:
        seen.add("let:before")
    if rule.lets_after:
        seen.add("let:after")
    each = rule.iteration
    if each is not None:
        renamed = each.kind != "pair" and each.names[0] != each.kind
        seen.add(f"for-each:{each.kind}" + (":table" if each.table else "")
                 + (":as" if renamed else "") + (":where" if each.where else ""))
    if rule.fix is not None:
        seen.add(f"fix:{rule.fix.kind}")
    if rule.say is not None and any("{" in p or "}" in p for p in rule.say.parts
                                    if isinstance(p, str)):
        seen.add("say:escaped-brace")
    exprs = [let.value for let in (*rule.lets_before, *rule.lets_after)]
    exprs += [e for e in (each.where if each else None, rule.when,
                          rule.fix.value if rule.fix else None) if e is not None]
    for expr in exprs:
        for node in walk(expr):
            seen.update(_expr_features(node))
    return seen


def _expr_features(node: A.Expr) -> set[str]:
    seen = {type(node).__name__}
    if isinstance(node, A.Literal):
        seen.add(f"literal:{node.kind}" + (":decimal" if node.kind == "number"
                                           and isinstance(node.value, Decimal) else ""))
        if node.kind in ("minutes", "days", "months"):
            seen.add(f"literal-text:{node.text.split()[-1]}")  # `8 minutes` or `1 minute`
    elif isinstance(node, A.Binary | A.Unary):
        seen.add(f"op:{node.op}")
    elif isinstance(node, A.Lookup):
        seen.add(f"lookup:{len(node.keys)}-keys")
    elif isinstance(node, A.InTable | A.InList):
        seen.add(f"{type(node).__name__}:{'not' if node.negated else 'in'}")
    elif isinstance(node, A.Has):
        seen.add(f"{'lacks' if node.negated else 'has'}:{node.mode}")
    elif isinstance(node, A.IsMissing):
        seen.add("is-present" if node.negated else "is-missing")
    elif isinstance(node, A.Call):
        seen.add(f"call:{node.function}")
    elif isinstance(node, A.Aggregate):
        seen.add(f"aggregate:{node.kind}:{node.collection}"
                 + (":as" if node.var not in ("line", "diagnosis") else ""))
    return seen


EXPECTED_FEATURES = {
    "PackHeader", "UnitsDecl", "Parameter", "Parameter:override", "Table", "Table:override",
    "Rule", "Rule:override", "Disable",
    *(f"header:{f}" for f in ("name", "title", "version", "payers", "effective", "extends",
                              "about")),
    "units:cms:timed-by", "units:ama:timed-by", "parameter:constant", "parameter:periods",
    *(f"parameter-type:{t}" for t in ("number", "minutes", "money", "days", "months", "date",
                                      "text", "code", "flag")),
    "table:inline", "table:file", "table:cms-ptp", "table:cms-mue", "table:optional-column",
    "table:two-keys", "table:valid",
    *(f"row-value:{k}" for k in ("code", "flag", "text", "word", "number", "none", "money",
                                 "date")),
    "severity:error", "severity:warning", "severity:info", "rule:about", "rule:effective",
    "rule:fix", "rule:source", "let:before", "let:after", "for-each:line",
    "for-each:line:where", "for-each:line:as:where", "for-each:diagnosis:as:where",
    "for-each:pair:table:where", "for-each:pair:where", "fix:add_modifier", "fix:set_units",
    "say:escaped-brace",
    *(t.__name__ for t in A.EXPR_NODES),
    *(f"literal:{k}" for k in ("number", "minutes", "days", "money", "date", "text", "code",
                               "flag")),
    "literal:number:decimal", "literal-text:minute", "literal-text:minutes", "literal-text:day",
    *(f"op:{op}" for op in ("+", "-", "*", "/", "//", "%", "=", "!=", "<", "<=", ">", ">=",
                            "and", "or", "not")),
    "lookup:1-keys", "lookup:2-keys", "InTable:in", "InTable:not", "InList:in", "InList:not",
    *(f"{word}:{mode}" for word in ("has", "lacks") for mode in ("one", "any", "all", "many")),
    "is-missing", "is-present",
    *(f"call:{name}" for name in FUNCTIONS),
    "aggregate:count:lines", "aggregate:count:diagnoses", "aggregate:sum:lines",
    "aggregate:any:lines:as", "aggregate:any:diagnoses", "aggregate:no:diagnoses:as",
}


def test_the_tours_use_every_construct() -> None:
    missing = EXPECTED_FEATURES - _features()
    assert not missing, sorted(missing)


def test_the_type_checker_handles_every_expression_node() -> None:
    assert set(A.EXPR_NODES) == HANDLED_NODES
