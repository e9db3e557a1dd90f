"""The parser: AST shapes for every construct, and every parser diagnostic (E001-E007) with
its exact message, line, column and help."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from otrules.diagnostics import render
from otrules.errors import PackError
from otrules.lang import ast as A
from otrules.lang.parser import Limits, parse_expression, parse_source


def only_error(text: str, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    _, diags = parse_source(text, "p.otr", **({"limits": limits} if limits else {}))
    assert len(diags) == 1, diags
    return diags[0]


# ---------------------------------------------------------------- expressions


def test_precedence_and_associativity() -> None:
    expr = parse_expression("a + b * c - d > 1 and not x or y")
    assert expr == A.Binary(
        "or",
        A.Binary("and",
                 A.Binary(">",
                          A.Binary("-", A.Binary("+", A.Name("a"),
                                                 A.Binary("*", A.Name("b"), A.Name("c"))),
                                   A.Name("d")),
                          A.Literal("number", 1, "1")),
                 A.Unary("not", A.Name("x"))),
        A.Name("y"))


@pytest.mark.parametrize(("text", "expected"), [
    ("97110", A.Literal("code", "97110", "97110")),
    ("G0283", A.Literal("code", "G0283", "G0283")),
    ("15", A.Literal("number", 15, "15")),
    ("0.10", A.Literal("number", Decimal("0.10"), "0.10")),
    ("12345.5", A.Literal("number", Decimal("12345.5"), "12345.5")),
    ("$2,480.00", A.Literal("money", Decimal("2480.00"), "$2,480.00")),
    ("8 minutes", A.Literal("minutes", 8, "8 minutes")),
    ("1 day", A.Literal("days", 1, "1 day")),
    ("12 months", A.Literal("months", A.Months(12), "12 months")),
    ("2026-02-28", A.Literal("date", dt.date(2026, 2, 28), "2026-02-28")),
    ('"say \\"hi\\""', A.Literal("text", 'say "hi"', '"say \\"hi\\""')),
    ("yes", A.Literal("flag", True, "yes")),
    ("no", A.Literal("flag", False, "no")),
])
def test_literals(text: str, expected: A.Literal) -> None:
    assert parse_expression(f"x = {text}").right == expected  # type: ignore[attr-defined]


def test_modifier_forms() -> None:
    line = A.Name("line")
    assert parse_expression("line has GO") == A.Has(line, "one", ("GO",), False)
    assert parse_expression("line lacks any of (59, XE)") == A.Has(line, "any", ("59", "XE"),
                                                                    True)
    assert parse_expression("line has all of (GO, KX)") == A.Has(line, "all", ("GO", "KX"), False)
    assert parse_expression("line has more than one of (GO, GP, GN)") == A.Has(
        line, "many", ("GO", "GP", "GN"), False)


def test_membership_lookup_and_aggregates() -> None:
    code = A.Attribute(A.Name("line"), "code")
    assert parse_expression("line.code in covered") == A.InTable(code, "covered", False)
    assert parse_expression("line.code not in (97110, 97530)") == A.InList(
        code, (A.Literal("code", "97110", "97110"), A.Literal("code", "97530", "97530")), True)
    assert parse_expression("mue[line.code].mue") == A.Attribute(A.Lookup("mue", (code,)), "mue")
    count = parse_expression("count of lines as l where l.units is missing")
    assert count == A.Aggregate("count", "lines", "l", None,
                                A.IsMissing(A.Attribute(A.Name("l"), "units"), False))
    matches = parse_expression("any diagnosis matches F90.*, F84.0")
    assert matches == A.Aggregate("any", "diagnoses", "diagnosis", None,
                                  A.Matches(A.Name("diagnosis"), ("F90.*", "F84.0")))
    assert parse_expression("if a then b else c") == A.IfElse(A.Name("a"), A.Name("b"),
                                                              A.Name("c"))
    assert parse_expression("year(date_of_service)") == A.Call("year",
                                                               (A.Name("date_of_service"),))


def test_spans_point_at_the_source_and_do_not_affect_equality() -> None:
    first = parse_expression("a  +  b")
    second = parse_expression("a + b")
    assert first == second
    assert first.span is not None
    assert (first.span.line, first.span.column) == (2, 8)


# ---------------------------------------------------------------- declarations


PACK = '''# header comment
pack demo "Demo"
  version 2026.1
  payer medicare, medicaid
  effective 2026-01-01 to 2026-12-31
  extends base-pack

units ama timed by codes.timed

parameter limit : money
  from 2026-01-01 to 2026-06-30 = $1.00
  from 2026-07-01 to 2026-12-31 = $2.00
  source "notice"

table codes "Codes" from "tables/codes.csv"
  key code : code
  column timed : optional flag
  valid from starts until ends

rule r-one : warning  # trailing comment
  about "why"
  let total = sum of line.charge over lines
  for each pair first, second in ptp where first.code != second.code
  when total > limit
  say "Total {total} over {limit}"
  fix add modifier KX
  source "cite"

disable rule old-rule because "gone"
'''


def test_declarations() -> None:
    pack, diags = parse_source(PACK, "p.otr")
    assert diags == []
    header, units, param, table, rule, disable = pack.decls
    assert header == A.PackHeader("demo", "Demo", "2026.1", ("medicare", "medicaid"),
                                  A.DateRange(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
                                  "base-pack", None)
    assert units == A.UnitsDecl("ama", "codes", "timed")
    assert isinstance(param, A.Parameter)
    assert len(param.periods) == 2
    assert param.periods[1].value == A.Literal("money", Decimal("2.00"), "$2.00")
    assert isinstance(table, A.Table)
    assert table.file == "tables/codes.csv"
    assert [c.name for c in table.columns] == ["code", "timed"]
    assert table.columns[1].optional
    assert table.valid_from == "starts"
    assert isinstance(rule, A.Rule)
    assert rule.iteration == A.ForEach(
        "pair", ("first", "second"), "ptp",
        A.Binary("!=", A.Attribute(A.Name("first"), "code"),
                 A.Attribute(A.Name("second"), "code")))
    assert rule.say == A.Template(("Total ", A.Placeholder(("total",)), " over ",
                                   A.Placeholder(("limit",))))
    assert rule.fix == A.Fix("add_modifier", "KX", None)
    assert disable == A.Disable("rule", "old-rule", "gone")
    assert [(c.line, c.own_line) for c in pack.comments] == [(1, True), (20, False)]


def test_lets_keep_their_side_of_for_each_and_repeats_are_recorded() -> None:
    pack, diags = parse_source(
        "rule r : info\n  let a = 1\n  for each line\n  let b = 2\n  when yes\n  when no\n"
        '  say "x"\n  source "s"\n', "p.otr")
    assert diags == []
    rule = pack.decls[0]
    assert isinstance(rule, A.Rule)
    assert [x.name for x in rule.lets_before] == ["a"]
    assert [x.name for x in rule.lets_after] == ["b"]
    assert [(r.keyword, r.value) for r in rule.repeated] == [("when", A.Literal("flag", False,
                                                                               "no"))]
    assert rule.when == A.Literal("flag", True, "yes")


def _decl(text: str) -> A.Decl:
    pack, diags = parse_source(text)
    assert diags == []
    return pack.decls[0]


def test_repeats_are_part_of_the_ast_keyword_by_keyword() -> None:
    one = _decl('rule r : info\n  when a\n  about "x"\n  when b\n  about "y"\n')
    # Clauses of different kinds may move past each other (the formatter does)...
    assert one == _decl('rule r : info\n  about "x"\n  about "y"\n  when a\n  when b\n')
    # ...but a repeat lost, changed or swapped with its first is a different declaration.
    assert one != _decl('rule r : info\n  when a\n  about "x"\n  about "y"\n')
    assert one != _decl('rule r : info\n  when a\n  about "x"\n  when c\n  about "y"\n')
    assert one != _decl('rule r : info\n  when b\n  about "x"\n  when a\n  about "y"\n')


def test_parameter_clauses_come_in_any_order_and_may_repeat() -> None:
    param = _decl('parameter p : number = 1 source "s" about "a"\n  about "b"\n')
    assert isinstance(param, A.Parameter)
    assert (param.about, param.source) == ("a", "s")
    assert [(r.keyword, r.value) for r in param.repeated] == [("about", "b")]


# ---------------------------------------------------------------- diagnostics


def test_e001_misspelled_keyword_with_suggestion() -> None:
    d = only_error("rule r : error\n  for each line\n  whne line lacks GO\n")
    assert (d.code, d.message, d.help) == ("E001", "unexpected 'whne'", "did you mean 'when'?")
    assert d.span is not None
    assert (d.span.line, d.span.column) == (3, 3)


def test_e001_lower_case_modifier() -> None:
    d = only_error("rule r : error\n  when line lacks Go\n")
    assert (d.code, d.message) == ("E001", "unexpected 'Go'")
    assert d.help == "did you mean 'GO'? modifiers are written in capitals"
    assert d.span is not None
    assert (d.span.line, d.span.column) == (2, 19)


def test_e001_lists_what_could_come_in_plain_words() -> None:
    d = only_error("rule r : error\n  when line.minutes >= \n  say \"x\"\n")
    assert d.code == "E001"
    assert d.message == "unexpected 'say'"
    assert d.help == "'say' is a keyword of the language and cannot name a value"
    assert d.span is not None
    assert (d.span.line, d.span.column) == (3, 3)


def test_e001_expected_words_are_plain() -> None:
    d = only_error("rule r : error\n  when line.minutes >= )\n")
    assert d.code == "E001"
    assert d.message == "unexpected ')'"
    assert d.help is not None
    assert "a whole number" in d.help
    assert "a date such as" in d.help
    assert "INT" not in d.help
    assert "NAME" not in d.help


def test_e002_unexpected_character() -> None:
    d = only_error("rule r : error\n  when a ~ b\n")
    assert (d.code, d.message) == ("E002", "unexpected '~'")
    assert d.span is not None
    assert (d.span.line, d.span.column) == (2, 10)


def test_e003_unexpected_end() -> None:
    d = only_error("rule r : error\n  when (a + b\n")
    assert (d.code, d.message) == ("E003", "the declaration ends too early")
    assert d.span is not None
    assert (d.span.line, d.span.column) == (2, 14)
    assert d.help == "expected ')'"


def test_e004_impossible_date() -> None:
    d = only_error("pack p\n  effective 2026-01-01 to 2026-02-30\n")
    assert (d.code, d.message) == ("E004", "'2026-02-30' is not a calendar date")
    assert d.span is not None
    assert (d.span.line, d.span.column, d.span.end_column) == (2, 27, 37)
    assert d.help == "write dates as YYYY-MM-DD, for example 2026-01-31"


def test_e005_bad_placeholder() -> None:
    d = only_error('rule r : error\n  when yes\n  say "units {line.} here"\n')
    assert (d.code, d.message) == ("E005", "'{line.' is not a placeholder")
    assert d.span is not None
    assert (d.span.line, d.span.column) == (3, 14)


def test_message_templates_split_into_text_and_placeholders_with_exact_spans() -> None:
    pack, diags = parse_source(
        'rule r : error\n  when yes\n  say "a\\{b\\} {line.code}{x}\\n\\\\ {y }z\\t"\n', "p.otr")
    assert diags == []
    say = pack.decls[0].say  # type: ignore[union-attr]
    assert say.parts == ("a{b} ", A.Placeholder(("line", "code")), A.Placeholder(("x",)),
                         "\n\\ ", A.Placeholder(("y",)), "z\t")
    spans = [(p.span.column, p.span.end_column) for p in say.parts
             if isinstance(p, A.Placeholder)]
    # `say "` ends at column 8; each placeholder's span covers its braces.
    assert spans == [(15, 26), (26, 29), (34, 38)]


def test_e005_placeholder_left_open() -> None:
    d = only_error('rule r : error\n  when yes\n  say "x \\{ {line.code"\n')
    assert (d.code, d.message) == ("E005", "'{line.code' is not a placeholder")
    assert d.span is not None
    assert (d.span.line, d.span.column, d.span.end_column) == (3, 13, 23)


def test_e005_stray_closing_brace() -> None:
    d = only_error('rule r : error\n  when yes\n  say "oops }"\n')
    assert (d.code, d.message) == ("E005", "'}' closes no placeholder")


def test_e006_source_too_large() -> None:
    d = only_error("# " + "x" * 200 + "\n", Limits(max_source_bytes=100))
    assert d.code == "E006"
    assert d.message == "the pack source is 203 bytes, over the limit of 100 bytes"


def test_e007_nesting_too_deep_is_a_diagnostic_not_a_recursion_error() -> None:
    text = "rule r : info\n  when " + "not " * 10_000 + "yes\n"
    d = only_error(text)
    assert d.code == "E007"
    assert d.message == "expression nested more than 200 levels deep"
    long_sum = "rule r : info\n  when 1" + " + 1" * 10_000 + " = 1\n"
    assert only_error(long_sum).code == "E007"


def test_independent_errors_are_all_reported() -> None:
    text = ("rule a : error\n  whne x\n\nrule b : error\n  when line lacks Go\n\n"
            "rule c : eror\n")
    _, diags = parse_source(text, "p.otr")
    assert [(d.code, d.span.line) for d in diags if d.span] == [("E001", 2), ("E001", 5),
                                                               ("E001", 7)]
    pack, _ = parse_source(text + "\nrule d : info\n  when yes\n", "p.otr")
    assert [getattr(x, "id", None) for x in pack.decls] == ["d"]  # the good one still parses


def test_rendered_diagnostic_has_source_line_and_caret() -> None:
    text = "rule r : error\n  when line lacks Go\n"
    _, diags = parse_source(text, "p.otr")
    assert render(diags[0], {"p.otr": text}) == (
        "p.otr:2:19: error[E001]: unexpected 'Go'\n"
        "2 |   when line lacks Go\n"
        "                      ^^\n"
        "help: did you mean 'GO'? modifiers are written in capitals")


def test_parse_expression_raises_pack_error() -> None:
    with pytest.raises(PackError):
        parse_expression("a +")


def test_a_megabyte_line_is_parsed_or_rejected_quickly() -> None:
    text = 'rule r : info\n  when yes\n  say "' + "x" * 1_000_000 + '"\n  source "s"\n'
    pack, diags = parse_source(text, "p.otr")
    assert diags == []
    assert isinstance(pack.decls[0], A.Rule)
