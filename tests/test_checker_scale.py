"""Large packs: thousands of rules, rows, list items, and expressions far deeper than the
parser allows by default. The checker's passes are iterative, so none of this may raise
RecursionError (timings live in benchmarks/bench_check.py, not here)."""

from __future__ import annotations

from pathlib import Path

import attrs

from otrules.diagnostics import Span
from otrules.lang import ast as A
from otrules.lang.checker import check_merged, load_tables
from otrules.lang.merge import PackSource, merge
from otrules.lang.parser import parse_source

TEXT = """\
pack big
  effective 2026-01-01 to 2026-12-31

table codes
  key code : code
  column timed : flag
  row 97110, yes

rule template : warning
  for each line where line.code in codes
  when line.minutes > 8 minutes and line.code != 97110
  say "{line.code}"
  source "s"
"""


def parsed() -> tuple[A.PackHeader, A.Table, A.Rule]:
    pack, diags = parse_source(TEXT, "big.otr")
    assert diags == []
    header, table, rule = pack.decls
    assert isinstance(header, A.PackHeader)
    assert isinstance(table, A.Table)
    assert isinstance(rule, A.Rule)
    return header, table, rule


def check(decls: list[A.Decl]) -> list[tuple[str, str]]:
    header = decls[0]
    assert isinstance(header, A.PackHeader)
    source = PackSource("big", Path("."), (A.PackFile("big.otr", tuple(decls)),), header)
    merged, diags = merge([source])
    loaded, table_diags = load_tables(merged)
    result = check_merged(merged, header, loaded, {"big.otr": TEXT})
    return [(d.code, d.message) for d in [*diags, *table_diags, *result.diagnostics]]


def code(value: str) -> A.Literal:
    return A.Literal("code", value, value)


def test_thousands_of_rules_and_rows() -> None:
    header, table, rule = parsed()
    rows = tuple(A.Row((code(f"{10000 + i:05d}"), A.Literal("flag", True, "yes")))
                 for i in range(10_000))
    big_table = attrs.evolve(table, rows=(*table.rows, *rows))
    rules = [attrs.evolve(rule, id=f"r{i}") for i in range(2000)]
    assert check([header, big_table, *rules]) == []


def test_a_long_list_and_a_deep_chain() -> None:
    header, table, rule = parsed()
    line_code = A.Attribute(A.Name("line"), "code")
    items = tuple(code("97110") for _ in range(10_000))
    condition: A.Expr = A.InList(line_code, items, False)
    for _ in range(5000):  # a left-deep `and` chain, 25 times the parser's default limit
        condition = A.Binary("and", condition, A.Unary("not", A.Has(A.Name("line"), "one",
                                                                       ("GO",), False)))
    deep = attrs.evolve(rule, id="deep", when=condition)
    found = check([header, table, deep])
    assert found == [("E026", "unknown modifier 'GO'")] * 5000


def test_a_deep_contradiction_is_still_found() -> None:
    header, table, rule = parsed()
    minutes = A.Attribute(A.Name("line"), "minutes")
    at_least = A.Binary(">", minutes, A.Literal("minutes", 30, "30 minutes",
                                                Span("big.otr", 11, 8, 11, 30)))
    condition: A.Expr = at_least
    for i in range(3000):
        condition = A.Binary("and", condition, A.Binary("<", minutes, A.Literal(
            "minutes", 1000 - i, f"{1000 - i} minutes")))
    condition = A.Binary("and", condition, A.Binary("<", minutes, A.Literal("minutes", 5,
                                                                            "5 minutes")))
    found = check([header, table, attrs.evolve(rule, id="deep", when=condition)])
    assert [c for c, _ in found] == ["W001"]
