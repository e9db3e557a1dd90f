"""Runtime value operations: the one definition of what each operator and built-in does.

The reference interpreter and the compiled back end both call these functions, so the two
can only differ in *when* they call them, never in what an operation means. Values are plain
Python objects (see ``otrules.lang.checked``): ``int``/``Decimal`` numbers, minutes, money and
days, ``datetime.date``, ``Months``, ``str`` and ``bool``; ``None`` is the missing value.

Everything here is total over well-typed operands: a missing operand gives missing, division
by zero gives missing, a date pushed out of the calendar gives missing. Decimal arithmetic
runs in a private context (28 significant digits, half-even) held per thread, so neither an
application's own decimal settings nor another thread can change a result.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import threading
from collections.abc import Callable, Sequence
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any, Final

from otrules.lang.ast import Months
from otrules.units import units_for_minutes

__all__ = [
    "ARITHMETIC_OPS",
    "BINARY",
    "BUILTINS",
    "COMPARISON_OPS",
    "MISSING_TEXT",
    "add",
    "add_months",
    "and3",
    "div",
    "eq",
    "floordiv",
    "format_money",
    "format_value",
    "ge",
    "gt",
    "has_modifiers",
    "icd10_shape",
    "in_items",
    "le",
    "lt",
    "matches_any",
    "matches_pattern",
    "mod",
    "money_json",
    "mul",
    "ne",
    "neg",
    "normalize_icd",
    "not3",
    "or3",
    "sub",
    "units_for",
]

DIVISION_DIGITS: Final = 28
MISSING_TEXT: Final = "(missing)"
_CENT: Final = Decimal("0.01")

_local = threading.local()


def decimal_context() -> Context:
    """This thread's context for exact decimal arithmetic (shared by every back end)."""
    try:  # one attribute read once the thread has its context (this is on hot paths)
        return _local.context  # type: ignore[no-any-return]
    except AttributeError:
        return _context()


def _context() -> Context:
    # Context objects record flags as they compute, so each thread gets its own.
    ctx: Context | None = getattr(_local, "context", None)
    if ctx is None:
        ctx = Context(prec=DIVISION_DIGITS, rounding=ROUND_HALF_EVEN,
                      traps=[InvalidOperation, DivisionByZero, Overflow])
        _local.context = ctx
    return ctx


# ---------------------------------------------------------------------------- logic


def and3(a: bool | None, b: bool | None) -> bool | None:
    """Three-valued ``and``: false wins over missing, missing over true."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or3(a: bool | None, b: bool | None) -> bool | None:
    """Three-valued ``or``: true wins over missing, missing over false."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not3(a: bool | None) -> bool | None:
    return None if a is None else not a


# ---------------------------------------------------------------------------- arithmetic


def _both_int(a: Any, b: Any) -> bool:
    return type(a) is int and type(b) is int


def _dec(x: int | Decimal) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(x)


def _whole_days(days: int | Decimal) -> int:
    if isinstance(days, Decimal):
        if days != days.to_integral_value():
            raise TypeError("a number of days must be whole")
        return int(days)
    return days


def _shift(day: dt.date, days: int | Decimal) -> dt.date | None:
    try:
        return day + dt.timedelta(days=_whole_days(days))
    except OverflowError:  # before year 1 or after 9999: no such date
        return None


def add_months(day: dt.date, months: int) -> dt.date | None:
    """``day`` moved by whole calendar months, clamped to the last day of a shorter month."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year = day.year + years
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return None
    month = month0 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, dt.date):
        return add_months(a, b.count) if isinstance(b, Months) else _shift(a, b)
    if _both_int(a, b):
        return a + b
    return _context().add(_dec(a), _dec(b))


def sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if isinstance(a, dt.date):
        if isinstance(b, dt.date):
            return (a - b).days
        return add_months(a, -b.count) if isinstance(b, Months) else _shift(a, -b)
    if _both_int(a, b):
        return a - b
    return _context().subtract(_dec(a), _dec(b))


def mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if _both_int(a, b):
        return a * b
    return _context().multiply(_dec(a), _dec(b))


def div(a: Any, b: Any) -> Decimal | None:
    """Exact decimal division (28 significant digits); by zero gives missing."""
    if a is None or b is None or b == 0:
        return None
    return _context().divide(_dec(a), _dec(b))


def floordiv(a: Any, b: Any) -> int | None:
    """The whole number of times ``b`` goes into ``a``, rounded down (toward minus infinity,
    as Python's ``//`` on ints); by zero gives missing."""
    if a is None or b is None or b == 0:
        return None
    if _both_int(a, b):
        return a // b  # type: ignore[no-any-return]
    ctx = _context()
    x, y = _dec(a), _dec(b)
    quotient = ctx.divide_int(x, y)  # truncates toward zero
    if ctx.multiply(quotient, y) != x and (x < 0) != (y < 0):
        quotient -= 1
    return int(quotient)


def mod(a: Any, b: Any) -> Any:
    """The remainder that goes with :func:`floordiv` (it takes the sign of ``b``)."""
    if a is None or b is None or b == 0:
        return None
    if _both_int(a, b):
        return a % b
    ctx = _context()
    quotient = floordiv(a, b)
    assert quotient is not None  # b is not zero
    return ctx.subtract(_dec(a), ctx.multiply(_dec(b), Decimal(quotient)))


def neg(a: Any) -> Any:
    if a is None:
        return None
    return a.copy_negate() if isinstance(a, Decimal) else -a


# ---------------------------------------------------------------------------- comparison


def eq(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a == b


def ne(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a != b


def lt(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a < b


def le(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a <= b


def gt(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a > b


def ge(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else a >= b


# Every binary operator of the language. ``and``/``or`` are here for completeness; a back end
# may short-circuit them (the result is the same, as evaluation has no side effects).
BINARY: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+": add, "-": sub, "*": mul, "/": div, "//": floordiv, "%": mod,
    "=": eq, "!=": ne, "<": lt, "<=": le, ">": gt, ">=": ge,
    "and": and3, "or": or3,
}
ARITHMETIC_OPS: Final = frozenset({"+", "-", "*", "/", "//", "%"})
COMPARISON_OPS: Final = frozenset({"=", "!=", "<", "<=", ">", ">="})


def in_items(subject: Any, items: Sequence[Any]) -> bool | None:
    """``x in (a, b, …)``: true if x equals an item; otherwise missing if x or an item is
    missing (it might have been equal), else false."""
    if subject is None:
        return None
    if any(item is not None and item == subject for item in items):
        return True
    return None if any(item is None for item in items) else False


# ---------------------------------------------------------------------------- modifiers


def has_modifiers(modifiers: Sequence[str], mode: str, wanted: Sequence[str]) -> bool:
    """``has M`` (mode one), ``has any of``, ``has all of``, ``has more than one of``."""
    present = {m.upper() for m in modifiers}
    hits = sum(1 for w in wanted if w.upper() in present)
    if mode in ("one", "any"):
        return hits >= 1
    if mode == "all":
        return hits == len(wanted)
    if mode == "many":
        return hits >= 2
    raise ValueError(f"unknown has-mode {mode!r}")


# ---------------------------------------------------------------------------- diagnoses

ICD10_SHAPE: Final = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")  # the compiled
# back end calls its fullmatch as icd10_shape does (on the text, then upper-cased)


def normalize_icd(code: str) -> str:
    """The undotted, upper-case form that patterns and codes are compared in."""
    return code.replace(".", "").upper()


def matches_pattern(code: str, pattern: str) -> bool:
    """``F90.*`` matches every code starting with F90 (F90 itself too); ``F90.2`` matches only
    F90.2 or F902. The dot is ignored on both sides."""
    if pattern.endswith("*"):
        return normalize_icd(code).startswith(normalize_icd(pattern[:-1]))
    return normalize_icd(code) == normalize_icd(pattern)


def matches_any(value: str | None, patterns: Sequence[str]) -> bool | None:
    if value is None:
        return None
    return any(matches_pattern(value, p) for p in patterns)


def icd10_shape(value: str | None) -> bool | None:
    """A letter, a digit, a letter or digit, then optionally (a dot and) 1–4 letters or digits.
    Case is ignored, as codes are normalised to capitals."""
    if value is None:
        return None
    return ICD10_SHAPE.fullmatch(value.upper()) is not None


# ---------------------------------------------------------------------------- built-ins


def _year(day: dt.date | None) -> int | None:
    return None if day is None else day.year


def _month(day: dt.date | None) -> int | None:
    return None if day is None else day.month


def _min(a: Any, b: Any) -> Any:
    return None if a is None or b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return None if a is None or b is None else max(a, b)


def _abs(a: Any) -> Any:
    if a is None:
        return None
    return a.copy_abs() if isinstance(a, Decimal) else abs(a)


def units_for(minutes: int | Decimal | None) -> int | None:
    """The CMS minutes→units table, floor((m + 7) / 15). Negative minutes have no units.

    A fraction of a minute never reaches the next band, so minutes are floored first."""
    if minutes is None or minutes < 0:
        return None
    return units_for_minutes(math.floor(minutes))


BUILTINS: Final[dict[str, Callable[..., Any]]] = {
    "year": _year, "month": _month, "icd10_shape": icd10_shape,
    "min": _min, "max": _max, "abs": _abs, "units_for": units_for,
}


# ---------------------------------------------------------------------------- formatting


def _number_text(value: int | Decimal) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


def format_money(value: int | Decimal) -> str:
    """``2,540.00``: thousands separators, always two decimals (half-up, as billing rounds)."""
    return format(_dec(value).quantize(_CENT, rounding=ROUND_HALF_UP), ",.2f")


def money_json(value: Decimal) -> str:
    """Money in JSON: a string with exactly two decimals and no separators (``"2540.00"``)."""
    return format(value.quantize(_CENT, rounding=ROUND_HALF_UP), "f")


def format_value(value: Any, type_name: str) -> str:
    """A value as messages and traces print it, given its static type.

    Money ``2,540.00``; dates ISO; flags yes/no; months ``12 months``; missing ``(missing)``;
    numbers, minutes and days as plain numbers (a message says the unit in its own words).
    """
    if value is None:
        return MISSING_TEXT
    if isinstance(value, bool):
        return "yes" if value else "no"
    if type_name == "money" and isinstance(value, int | Decimal):
        return format_money(value)
    if isinstance(value, int | Decimal):
        return _number_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Months):
        return str(value)
    if isinstance(value, str):
        return value
    describe = getattr(value, "describe", None)  # lines and rows describe themselves
    return describe() if callable(describe) else f"({type_name})"
