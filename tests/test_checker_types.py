"""Types per the operator table of semantics.md: E030–E035."""

from __future__ import annotations

import pytest

from checker_support import RULES_LINE, brief, check, one, rule

R = RULES_LINE


def line_rule(when: str, extra: str = "") -> str:
    return rule(f'for each line\nwhen {when}\nsay "x"\nsource "s"\n{extra}')


# ---------------------------------------------------------------------------- E030 operands


def test_minutes_never_compare_with_a_plain_number() -> None:
    d = one(check(line_rule("line.minutes >= 8")), "E030")
    assert (d.message, d.span.line, d.span.column, d.span.end_column) == (
        "cannot compare minutes with a number", R + 2, 8, 25)
    assert d.help == "write 8 minutes"


def test_money_literal_help_and_days_help() -> None:
    d = one(check(line_rule("line.charge > 100")), "E030")
    assert d.help == "write $100: amounts of money start with $"
    d = one(check(rule('when date_of_service - patient.plan_of_care_certified_on > 90\n'
                       'say "x"\nsource "s"')), "E030")
    assert (d.message, d.help) == ("cannot compare days with a number", "write 90 days")


def test_adding_minutes_and_money() -> None:
    d = one(check(line_rule("line.minutes + line.charge > $0")), "E030")
    assert (d.message, d.span.column) == ("'+' cannot combine minutes and money", 8)
    assert d.help is None


def test_minutes_plus_number_without_a_literal() -> None:
    d = one(check(line_rule("line.minutes + line.units > 8 minutes")), "E030")
    assert d.message == "'+' cannot combine minutes and a number"
    assert d.help == "minutes, money and days never mix with plain numbers"


def test_date_against_number() -> None:
    d = one(check(rule('when date_of_service > 2026\nsay "x"\nsource "s"')), "E030")
    assert d.message == "cannot compare a date with a number"


def test_code_against_quoted_text() -> None:
    d = one(check(line_rule('line.code = "97110"')), "E030")
    assert (d.message, d.help) == ("cannot compare a code with text",
                                   "write 97110 without quotes: codes are written bare")


def test_ordering_text_is_an_error() -> None:
    d = one(check(rule('when claim_type < "m"\nsay "x"\nsource "s"')), "E030")
    assert (d.message, d.help) == ("'<' cannot order text",
                                   "only numbers, minutes, money, days and dates are ordered; "
                                   "use = or !=")


def test_negating_text_and_matching_a_code() -> None:
    diags = check(line_rule('-claim_type = "x" or line.code matches F90.*'))
    assert brief(diags) == [
        ("E030", "cannot negate text", R + 2, 8),
        ("E030", "`matches` needs a diagnosis or text, not a code", R + 2, 29),
    ]


def test_list_items_must_have_the_subject_type() -> None:
    d = one(check(line_rule("line.minutes in (8 minutes, 9)")), "E030")
    assert (d.message, d.span.column, d.help) == ("cannot compare minutes with a number", 36,
                                                  "write 9 minutes")


@pytest.mark.parametrize(("expr", "result"), [
    ("date_of_service - patient.plan_of_care_certified_on > 30 days", "days - date"),
    ("date_of_service + 12 months > claim_submitted_on", "date + months"),
    ("line.minutes // 15 minutes > 1", "minutes // minutes → number"),
    ("line.minutes % 15 minutes >= 8 minutes", "minutes % minutes → minutes"),
    ("line.minutes / line.minutes > 0.5", "minutes / minutes → number"),
    ("line.charge / 2 > $1", "money / number → money"),
    ("line.charge * 0.85 > $1", "money × number"),
    ("2 * line.minutes > 8 minutes", "number × minutes"),
    ("-line.minutes < 0 minutes", "unary minus on minutes"),
    ('line.performed_by in ("OT", "OTA")', "text in texts"),
])
def test_well_typed_expressions_pass(expr: str, result: str) -> None:
    assert check(line_rule(expr)) == [], result


def test_diagnosis_compares_with_quoted_text() -> None:
    # A diagnosis has no literal form: a quoted text is how a rule writes one.
    assert check(rule('for each diagnosis\nwhen diagnosis = "F90.0"\nsay "x"\nsource "s"')) == []


# ---------------------------------------------------------------------------- E031 flags


def test_when_needs_a_condition() -> None:
    d = one(check(line_rule("line.minutes")), "E031")
    assert (d.message, d.span.line, d.span.column) == (
        "`when` needs a condition (yes/no), not minutes", R + 2, 8)
    assert d.help == "compare the value, for example `x > 0` or `x is present`"


def test_and_or_not_where_and_if_need_conditions() -> None:
    diags = check(rule('for each line where line.units\n'
                       'when line.timed and line.code or not line.charge\n'
                       'say "x"\nsource "s"\n'
                       'let n = if line.units then 1 else 2\n'
                       'fix set units to n'))
    assert brief(diags) == [
        ("E031", "`where` needs a condition (yes/no), not a number", R + 1, 23),
        ("E031", "'and' needs a condition (yes/no), not a code", R + 2, 23),
        ("E031", "'not' needs a condition (yes/no), not money", R + 2, 40),
        ("E031", "`if` needs a condition (yes/no), not a number", R + 5, 14),
    ]


# ---------------------------------------------------------------------------- E032–E034


def test_if_branches_of_one_type() -> None:
    d = one(check(line_rule('(if line.timed then line.minutes else 8) > 8 minutes')), "E032")
    assert (d.message, d.span.column, d.help) == (
        "the branches of `if` give minutes and a number", 9, "write 8 minutes")


def test_sum_needs_a_summable_type() -> None:
    d = one(check(rule('when sum of line.code over lines > 1\nsay "x"\nsource "s"')), "E033")
    assert (d.message, d.span.line, d.span.column, d.help) == (
        "`sum of` cannot add up a code", R + 1, 15, "sum numbers, minutes, money or days")


def test_sum_of_money_is_money() -> None:
    d = one(check(rule('when sum of line.charge over lines > 100\nsay "x"\nsource "s"')), "E030")
    assert d.message == "cannot compare money with a number"


def test_has_needs_a_line() -> None:
    d = one(check(line_rule("line.code has GO")), "E034")
    assert (d.message, d.span.column, d.help) == ("`has` needs a line, not a code", 8,
                                                  "write `line has …`")
    d = one(check(rule('for each diagnosis\nwhen diagnosis lacks GO\nsay "x"\nsource "s"')),
            "E034")
    assert d.message == "`lacks` needs a line, not a diagnosis"


def test_pair_elements_are_lines() -> None:
    assert check(rule('for each pair a, b\nwhen a has GO and b lacks any of (59, XE)\n'
                      'say "x"\nsource "s"')) == []


# ---------------------------------------------------------------------------- E035 parameters


def test_parameter_values_must_match_the_declared_type() -> None:
    diags = check("parameter limit : money = 2480.00\n"
                  "parameter least : minutes\n"
                  "  from 2026-01-01 to 2026-06-30 = 8\n"
                  "  from 2026-07-01 to 2026-12-31 = 9 minutes\n"
                  "parameter first : code = \"97110\"\n\n"
                  + line_rule("line.charge > limit and line.minutes > least "
                              "and line.code = first"))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E035", "parameter 'limit' holds money, but '2480.00' is a number", R, 27,
         "write $2480.00"),
        ("E035", "parameter 'least' holds minutes, but '8' is a number", R + 2, 35,
         "write 8 minutes"),
        ("E035", "parameter 'first' holds a code, but '\"97110\"' is text", R + 4, 26,
         "write 97110 without quotes: codes are written bare"),
    ]


def test_parameter_types_and_their_literals() -> None:
    diags = check("parameter a : days = 30 days\nparameter b : months = 12 months\n"
                  "parameter c : date = 2026-01-01\nparameter d : text = \"OT\"\n"
                  "parameter e : flag = no\nparameter f : number = 0.10\n"
                  "parameter g : diagnosis = \"F90.0\"\n\n"
                  + rule('for each diagnosis\nwhen date_of_service + b - a > c and d = claim_type '
                         'and e and f > 0 and diagnosis = g\nsay "x"\nsource "s"'))
    assert diags == []
