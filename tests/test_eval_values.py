"""Runtime value operations (otrules.eval.values), against hand-computed answers."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

import pytest

from otrules.eval import values as V
from otrules.lang.ast import Months

T, F, M = True, False, None

# ---------------------------------------------------------------------------- three-valued logic

AND_TABLE = [
    (T, T, T), (T, F, F), (T, M, M),
    (F, T, F), (F, F, F), (F, M, F),
    (M, T, M), (M, F, F), (M, M, M),
]
OR_TABLE = [
    (T, T, T), (T, F, T), (T, M, T),
    (F, T, T), (F, F, F), (F, M, M),
    (M, T, T), (M, F, M), (M, M, M),
]


@pytest.mark.parametrize(("a", "b", "expected"), AND_TABLE)
def test_and_truth_table(a: bool | None, b: bool | None, expected: bool | None) -> None:
    assert V.and3(a, b) is expected
    assert V.BINARY["and"](a, b) is expected


@pytest.mark.parametrize(("a", "b", "expected"), OR_TABLE)
def test_or_truth_table(a: bool | None, b: bool | None, expected: bool | None) -> None:
    assert V.or3(a, b) is expected


@pytest.mark.parametrize(("a", "expected"), [(T, F), (F, T), (M, M)])
def test_not_truth_table(a: bool | None, expected: bool | None) -> None:
    assert V.not3(a) is expected


# ---------------------------------------------------------------------------- arithmetic


def test_integer_arithmetic_stays_integer() -> None:
    assert V.add(2, 3) == 5
    assert type(V.add(2, 3)) is int
    assert V.sub(30, 45) == -15
    assert V.mul(4, 15) == 60
    assert type(V.mul(4, 15)) is int


def test_money_arithmetic_is_exact_decimal() -> None:
    assert V.add(Decimal("2300.00"), Decimal("240.00")) == Decimal("2540.00")
    assert str(V.add(Decimal("0.10"), Decimal("0.20"))) == "0.30"
    assert str(V.mul(Decimal("2480.00"), Decimal("0.10"))) == "248.0000"
    assert V.add(1, Decimal("0.5")) == Decimal("1.5")


def test_division_is_exact_with_28_digits() -> None:
    assert V.div(10, 4) == Decimal("2.5")
    assert str(V.div(1, 3)) == "0." + "3" * 28
    assert str(V.div(2, 3)) == "0." + "6" * 27 + "7"
    assert V.div(Decimal("100.00"), 4) == Decimal("25")


def test_division_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        assert str(V.div(1, 3)) == "0." + "3" * 28


@pytest.mark.parametrize("op", [V.div, V.floordiv, V.mod])
@pytest.mark.parametrize("zero", [0, Decimal("0"), Decimal("0.00")])
def test_division_by_zero_is_missing(op: object, zero: object) -> None:
    assert op(7, zero) is None  # type: ignore[operator]


@pytest.mark.parametrize(("a", "b", "quotient", "remainder"), [
    (7, 2, 3, 1),
    (-7, 2, -4, 1),
    (7, -2, -4, -1),
    (45, 15, 3, 0),
    (38, 15, 2, 8),
    (Decimal("7.5"), 2, 3, Decimal("1.5")),
    (Decimal("-7.5"), 2, -4, Decimal("0.5")),
    (Decimal("22.5"), 15, 1, Decimal("7.5")),
])
def test_floor_division_and_remainder(a: object, b: object, quotient: int,
                                      remainder: object) -> None:
    assert V.floordiv(a, b) == quotient
    assert type(V.floordiv(a, b)) is int
    assert V.mod(a, b) == remainder


def test_negation() -> None:
    assert str(V.neg(Decimal("2.50"))) == "-2.50"
    assert V.neg(15) == -15
    assert V.neg(None) is None


@pytest.mark.parametrize("op", [V.add, V.sub, V.mul, V.div, V.floordiv, V.mod])
def test_missing_operand_gives_missing(op: object) -> None:
    assert op(None, 1) is None  # type: ignore[operator]
    assert op(1, None) is None  # type: ignore[operator]


# ---------------------------------------------------------------------------- dates


def test_date_minus_date_is_days() -> None:
    assert V.sub(dt.date(2026, 3, 2), dt.date(2026, 1, 1)) == 60  # 30 + 28 + 2
    assert V.sub(dt.date(2026, 1, 1), dt.date(2026, 3, 2)) == -60


def test_date_plus_and_minus_days() -> None:
    assert V.add(dt.date(2026, 1, 1), 90) == dt.date(2026, 4, 1)  # 31 + 28 + 31
    assert V.sub(dt.date(2024, 3, 1), 1) == dt.date(2024, 2, 29)


@pytest.mark.parametrize(("day", "months", "expected"), [
    (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
    (dt.date(2024, 2, 29), 48, dt.date(2028, 2, 29)),
    (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
    (dt.date(2025, 1, 31), 1, dt.date(2025, 2, 28)),
    (dt.date(2025, 3, 31), 1, dt.date(2025, 4, 30)),
    (dt.date(2024, 12, 15), 1, dt.date(2025, 1, 15)),
    (dt.date(2026, 3, 2), -12, dt.date(2025, 3, 2)),
    (dt.date(2024, 3, 31), -1, dt.date(2024, 2, 29)),
    (dt.date(2026, 1, 10), -13, dt.date(2024, 12, 10)),
])
def test_months_keep_the_day_or_clamp_to_month_end(day: dt.date, months: int,
                                                   expected: dt.date) -> None:
    assert V.add_months(day, months) == expected
    assert V.add(day, Months(months)) == expected
    assert V.sub(day, Months(-months)) == expected


def test_date_minus_months() -> None:
    assert V.sub(dt.date(2025, 2, 28), Months(12)) == dt.date(2024, 2, 28)
    assert V.sub(dt.date(2024, 3, 31), Months(1)) == dt.date(2024, 2, 29)


def test_dates_outside_the_calendar_are_missing() -> None:
    assert V.add(dt.date(9999, 12, 31), 1) is None
    assert V.add(dt.date(9999, 12, 1), Months(1)) is None
    assert V.sub(dt.date(1, 1, 1), 1) is None


# ---------------------------------------------------------------------------- comparison


def test_comparisons_with_missing_are_missing() -> None:
    for op in ("=", "!=", "<", "<=", ">", ">="):
        assert V.BINARY[op](None, 1) is None
        assert V.BINARY[op](dt.date(2026, 1, 1), None) is None


def test_comparisons() -> None:
    assert V.BINARY["="](Decimal("2.50"), Decimal("2.5")) is True
    assert V.BINARY["<"](1, Decimal("1.5")) is True
    assert V.BINARY[">="](dt.date(2026, 1, 1), dt.date(2026, 1, 1)) is True
    assert V.BINARY["!="]("97110", "97112") is True
    assert V.BINARY["="](Months(12), Months(12)) is True


def test_in_items_three_valued() -> None:
    assert V.in_items("97110", ["97110", "97112"]) is True
    assert V.in_items("97140", ["97110", "97112"]) is False
    assert V.in_items("97140", ["97110", None]) is None
    assert V.in_items("97110", [None, "97110"]) is True
    assert V.in_items(None, ["97110"]) is None


# ---------------------------------------------------------------------------- modifiers


@pytest.mark.parametrize(("mods", "mode", "wanted", "expected"), [
    (("GO", "KX"), "one", ("GO",), True),
    (("GO", "KX"), "one", ("CO",), False),
    (("GO", "KX"), "any", ("59", "XE"), False),
    (("GO", "XE"), "any", ("59", "XE"), True),
    (("GO", "KX"), "all", ("GO", "KX"), True),
    (("GO", "KX"), "all", ("GO", "CO"), False),
    (("GO", "GP"), "many", ("GO", "GP", "GN"), True),
    (("GO", "KX"), "many", ("GO", "GP", "GN"), False),
    ((), "any", ("GO",), False),
])
def test_has_modes(mods: tuple[str, ...], mode: str, wanted: tuple[str, ...],
                   expected: bool) -> None:
    assert V.has_modifiers(mods, mode, wanted) is expected


# ---------------------------------------------------------------------------- diagnoses


@pytest.mark.parametrize(("code", "pattern", "expected"), [
    ("F90", "F90", True),
    ("F90.2", "F90", False),
    ("F902", "F90", False),
    ("F90", "F90.2", False),
    ("F90.2", "F90.2", True),
    ("F902", "F90.2", True),
    ("F90.2", "F90.*", True),
    ("F902", "F90.*", True),
    ("F90", "F90.*", True),
    ("F90.9", "F90*", True),
    ("F91.0", "F90.*", False),
    ("F9", "F90.*", False),
    ("F84.0", "F84.0", True),
    ("f90.2", "F90.2", True),
    ("I69.351", "I69.*", True),
    ("I69.351", "I69.3*", True),
    ("I69.351", "I69.35", False),
])
def test_icd_patterns(code: str, pattern: str, expected: bool) -> None:
    assert V.matches_pattern(code, pattern) is expected


def test_matches_any() -> None:
    assert V.matches_any("F84.0", ("F90.*", "F84.0")) is True
    assert V.matches_any("M17.11", ("F90.*", "F84.0")) is False
    assert V.matches_any(None, ("F90.*",)) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("F90", True), ("F90.2", True), ("F902", True), ("I69.351", True), ("S62.101D", True),
    ("C4A", True), ("Z3A.01", True), ("U07.1", True), ("f90.2", True),
    ("F9", False), ("90.2", False), ("FF0", False), ("F90.", False), ("F90.12345", False),
    ("F9012345", False), ("F90..2", False), ("", False),
])
def test_icd10_shape(text: str, expected: bool) -> None:
    assert V.icd10_shape(text) is expected


# ---------------------------------------------------------------------------- built-ins


def test_builtins() -> None:
    b = V.BUILTINS
    assert b["year"](dt.date(2026, 3, 2)) == 2026
    assert b["month"](dt.date(2026, 3, 2)) == 3
    assert b["min"](2, Decimal("1.5")) == Decimal("1.5")
    assert b["max"](dt.date(2026, 1, 1), dt.date(2025, 1, 1)) == dt.date(2026, 1, 1)
    assert b["min"](None, 3) is None
    assert b["abs"](-5) == 5
    assert str(b["abs"](Decimal("-2.50"))) == "2.50"
    assert b["year"](None) is None
    assert b["icd10_shape"]("F90.2") is True


@pytest.mark.parametrize(("minutes", "units"), [
    (0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (99, 7), (127, 8),
    (Decimal("22.9"), 1), (Decimal("7.99"), 0), (-1, None), (None, None),
])
def test_units_for(minutes: object, units: int | None) -> None:
    assert V.units_for(minutes) == units  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("value", "kind", "text"), [
    (Decimal("2540"), "money", "2,540.00"),
    (Decimal("2540.00"), "money", "2,540.00"),
    (Decimal("1234567.891"), "money", "1,234,567.89"),
    (Decimal("0.005"), "money", "0.01"),
    (Decimal("-12.5"), "money", "-12.50"),
    (0, "money", "0.00"),
    (Decimal("0.10"), "number", "0.10"),
    (30, "number", "30"),
    (23, "minutes", "23"),
    (90, "days", "90"),
    (dt.date(2026, 3, 2), "date", "2026-03-02"),
    (True, "flag", "yes"),
    (False, "flag", "no"),
    (Months(12), "months", "12 months"),
    (Months(1), "months", "1 month"),
    (None, "money", "(missing)"),
    ("97110", "code", "97110"),
])
def test_format_value(value: object, kind: str, text: str) -> None:
    assert V.format_value(value, kind) == text


def test_money_json_has_two_decimals_and_no_separators() -> None:
    assert V.money_json(Decimal("2540")) == "2540.00"
    assert V.money_json(Decimal("118.5")) == "118.50"
