"""Warnings: conditions that can never be true (W001), fixed comparisons (W002), unused
parameters (W003) and lets (W004)."""

from __future__ import annotations

import pytest

from checker_support import RULES_LINE, check, one, rule
from otrules.lang.never_true import fold, never_true
from otrules.lang.parser import parse_expression

R = RULES_LINE


def line_rule(when: str, where: str = "") -> str:
    each = f"for each line where {where}" if where else "for each line"
    return rule(f'{each}\nwhen {when}\nsay "x"\nsource "s"')


def never(when: str, where: str = "") -> tuple[str, int, int] | None:
    """(message, line, column) of the rule's W001, or None."""
    found = [d for d in check(line_rule(when, where)) if d.code == "W001"]
    assert len(found) <= 1
    return (found[0].message, found[0].span.line, found[0].span.column) if found else None


PREFIX = "rule 'r' can never fire: "


def test_a_part_that_is_always_no() -> None:
    assert never('claim_type = "x" and 1 > 2') == (PREFIX + "`1 > 2` is always no", R + 2,
                                                   29)
    assert never("no") == (PREFIX + "`no` is always no", R + 2, 8)


def test_x_and_not_x() -> None:
    assert never("line.timed and not line.timed") == (
        PREFIX + "`line.timed` and `not line.timed` cannot both be true", R + 2, 23)


def test_has_and_lacks_the_same_modifier() -> None:
    assert never("line has GO and line lacks GO") == (
        PREFIX + "`line has GO` and `line lacks GO` cannot both be true", R + 2, 24)
    assert never("line has all of (GO, KX) and line lacks any of (KX, 59)") == (
        PREFIX + "`line has all of (GO, KX)` and `line lacks any of (KX, 59)` cannot both be "
        "true", R + 2, 37)
    assert never("line has any of (GO, KX) and line lacks GO and line lacks KX") == (
        PREFIX + "`line has any of (GO, KX)` and `line lacks KX` cannot both be true", R + 2,
        55)


def test_two_different_values_for_one_expression() -> None:
    assert never("line.code = 97110 and line.code = 97140") == (
        PREFIX + "`line.code = 97110` and `line.code = 97140` cannot both be true", R + 2, 30)
    assert never("line.code in (97110, 97140) and line.code = 97530") == (
        PREFIX + "`line.code in (97110, 97140)` and `line.code = 97530` cannot both be true",
        R + 2, 40)
    assert never("line.code = 97110 and line.code != 97110") is not None
    assert never("line.code != 97110 and line.code = 97110") == (
        PREFIX + "`line.code != 97110` and `line.code = 97110` cannot both be true", R + 2, 31)
    assert never("line.code != 97140 and line.code = 97110") is None


def test_numeric_ranges_that_cannot_overlap() -> None:
    assert never("line.minutes > 5 minutes and line.minutes < 3 minutes") == (
        PREFIX + "`line.minutes > 5 minutes` and `line.minutes < 3 minutes` cannot both be "
        "true", R + 2, 37)
    # The literal may stand on either side; the bounds meet at 8 but exclude it.
    assert never("8 minutes < line.minutes and line.minutes <= 8 minutes") is not None
    assert never("line.minutes >= 8 minutes and line.minutes <= 8 minutes") is None
    assert never("not line.minutes <= 5 minutes and line.minutes < 5 minutes") is not None


def test_where_and_when_are_one_condition() -> None:
    assert never("line.minutes < 10 minutes", where="line.minutes > 30 minutes") == (
        PREFIX + "`line.minutes > 30 minutes` and `line.minutes < 10 minutes` cannot both be "
        "true", R + 2, 8)


def test_a_missing_value_makes_every_comparison_untrue() -> None:
    assert never("line.minutes is missing and line.minutes > 0 minutes") == (
        PREFIX + "`line.minutes is missing` and `line.minutes > 0 minutes` cannot both be true",
        R + 2, 36)
    assert never("line.units is present and line.units is missing") is not None


def test_every_alternative_of_an_or_contradicts_the_rest() -> None:
    assert never("line.minutes > 30 minutes and (line.minutes < 10 minutes or line.minutes "
                 "< 5 minutes)") == (
        PREFIX + "no alternative of `line.minutes < 10 minutes or line.minutes < 5 minutes` "
        "can be true together with the rest of the condition", R + 2, 39)


@pytest.mark.parametrize("when", [
    "line.code = 97110 or line.code = 97140",
    "line.minutes > 5 minutes and line.minutes < 30 minutes",
    "line has GO and line lacks KX",
    "line.minutes > 5 minutes and line.units < 3",
    "line.code = 97110 and line.units = 2",
    "line has any of (GO, KX) and line lacks GO",
    "line.minutes is missing or line.minutes > 0 minutes",
])
def test_satisfiable_conditions_are_not_reported(when: str) -> None:
    assert never(when) is None


def test_rules_with_errors_are_not_analysed() -> None:
    diags = check(line_rule("line.minuts > 5 minutes and line.minuts < 3 minutes"))
    assert {d.code for d in diags} == {"E021"}


# ---------------------------------------------------------------------------- W002


def test_a_comparison_of_two_literals() -> None:
    d = one(check(line_rule('line has GO or 2 > 1')), "W002")
    assert (d.message, d.severity, d.span.line, d.span.column, d.help) == (
        "`2 > 1` compares two fixed values and is always yes", "warning", R + 2, 23,
        "compare a field, a let or a parameter instead")
    d = one(check(rule('let same = 97110 = 97110\nwhen same\nsay "x"\nsource "s"')), "W002")
    assert (d.message, d.span.line, d.span.column) == (
        "`97110 = 97110` compares two fixed values and is always yes", R + 1, 14)


# ---------------------------------------------------------------------------- W003, W004


def test_unused_parameter_and_let() -> None:
    diags = check("parameter spare : number = 1\nparameter shown : number = 2\n\n"
                  + rule('let unused = 1\nlet shown_too = 2\nwhen claim_type = "x"\n'
                         'say "{shown} {shown_too}"\nsource "s"'))
    assert [(d.code, d.severity, d.message, d.span.line, d.span.column, d.help)
            for d in diags] == [
        ("W003", "warning", "parameter 'spare' is never used", R, 11,
         "remove it, or disable it in an extending pack"),
        ("W004", "warning", "let 'unused' is never used", R + 4, 7, "remove it"),
    ]


# ---------------------------------------------------------------------------- the analysis


def test_fold_decides_literal_logic_only() -> None:
    assert fold(parse_expression("yes and 1 < 2")) == ("flag", True)
    assert fold(parse_expression("claim_type = \"x\" and no")) == ("flag", False)
    assert fold(parse_expression("claim_type = \"x\" or yes")) == ("flag", True)
    decided = (("flag", True), ("flag", False))
    assert fold(parse_expression("claim_type = \"x\" or no")) not in decided
    assert fold(parse_expression("8 minutes = 8")) not in decided  # different kinds


def test_never_true_without_source_text_still_explains() -> None:
    verdict = never_true([parse_expression("1 > 2")], lambda e: "…")
    assert verdict is not None
    assert verdict.message == "`…` is always no"


def or_chain(count: int) -> str:
    # (u = 0 or m = 0) and (u = 1 or m = 1) and …: u and m take one value each, so at most
    # two parts can hold; with three or more the condition is never true.
    return " and ".join(f"(line.units = {i} or line.minutes = {i} minutes)"
                        for i in range(count))


def test_alternatives_are_explored_when_cheap() -> None:
    assert never_true([parse_expression(or_chain(3))], str) is not None


def test_long_chains_are_proven_without_exploring_every_branch() -> None:
    assert never_true([parse_expression(or_chain(12))], str) is not None


def test_branch_budget_bounds_the_work() -> None:
    # Twelve independent alternatives: exploring every order of them would take 12! steps.
    # The branch budget stops the search; a condition that may be true is never reported.
    parts = " and ".join(f"(line.units + {i} = 0 or line.charge + ${i} = $0)" for i in range(12))
    assert never_true([parse_expression(parts)], str) is None


def test_parts_deeper_than_the_comparison_limit_are_not_compared() -> None:
    # `line.units + 1 + … + 1 = 1 and … = 2`: each comparison is 3 levels deeper than its
    # count of additions; parts up to 40 levels deep are compared, deeper ones are left alone.
    def clash(additions: int) -> str:
        subject = "line.units" + " + 1" * additions
        return f"{subject} = 1 and {subject} = 2"

    assert never_true([parse_expression(clash(37))], str) is not None  # 40 levels
    assert never_true([parse_expression(clash(38))], str) is None  # 41 levels
