"""The per-visit context: units per line, derived visit fields, field access."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
import pytest

from otrules.eval.context import EvalContext, share_units
from otrules.model import Authorization
from test_eval_support import PRELUDE, build_pack, make_visit

CMS = build_pack("")
AMA = build_pack("", PRELUDE.replace("units cms timed by", "units ama timed by"))
BUILT_IN = build_pack("", PRELUDE.replace("units cms timed by codes.timed", "units cms"))


def context(lines: list[dict[str, Any]], pack: Any = CMS, **fields: Any) -> EvalContext:
    return EvalContext(pack.checked, make_visit(lines, **fields))


def units(pack: Any, *lines: tuple[str, int | None]) -> list[int]:
    given = [{"code": c} if m is None else {"code": c, "minutes": m} for c, m in lines]
    return [lv.computed_units for lv in context(given, pack).lines]


# ---------------------------------------------------------------------------- units per line


@pytest.mark.parametrize(("lines", "expected"), [
    # CMS example 1: 47 minutes, 3 units; the extra unit to the code with more time.
    ((("97112", 24), ("97110", 23)), [2, 1]),
    # CMS example 3: 97110 has 2 whole units; 97140's 7 minutes beat 97110's 3 left over.
    ((("97110", 33), ("97140", 7)), [2, 1]),
    # CMS example 4: 49 minutes, 3 units; the 8-minute service gets none.
    ((("97110", 18), ("97140", 13), ("97116", 10), ("97035", 8)), [1, 1, 1, 0]),
    # An untimed evaluation bills 1 unit and adds no minutes: 37 timed minutes, 2 units.
    ((("97110", 25), ("97140", 12), ("97165", None)), [1, 1, 1]),
    # 45 + 7 = 52 minutes, 3 units, all whole units of 97112.
    ((("97112", 45), ("97035", 7)), [3, 0]),
    # 8 + 7 = 15 minutes: one unit, to the service with more minutes.
    ((("97530", 8), ("97535", 7)), [1, 0]),
    # CMS example 2 (a tie): units.py's documented choice is the smaller code, 97110.
    ((("97112", 20), ("97110", 20)), [1, 2]),
])
def test_cms_examples_across_lines(lines: tuple[tuple[str, int | None], ...],
                                   expected: list[int]) -> None:
    assert units(CMS, *lines) == expected


@pytest.mark.parametrize(("lines", "expected"), [
    # 20 + 10 = 30 minutes of one code, 2 units: line 0 has 1 whole unit (5 minutes left),
    # line 1 none (10 left), so the second unit goes to line 1.
    ((("97110", 20), ("97110", 10)), [1, 1]),
    # 8 + 8 = 16 minutes, 1 unit; equal remainders: the earlier line.
    ((("97110", 8), ("97110", 8)), [1, 0]),
    # 40 + 5 = 45 minutes, 3 units: 2 whole on line 0, the extra to line 0 (10 left > 5).
    ((("97110", 40), ("97110", 5)), [3, 0]),
    # 14 * 3 = 42 minutes, 3 units: none has a whole unit, each gets one.
    ((("97110", 14), ("97110", 14), ("97110", 14)), [1, 1, 1]),
    # 97530 pooled 24 min and 97535 20 min: 44 min, 3 units; 97530 gets 2 (rem 9 > 5),
    # shared 1 and 1 between its two lines.
    ((("97530", 12), ("97535", 20), ("97530", 12)), [1, 1, 1]),
    # A later line of the code with more minutes left over takes the extra unit.
    ((("97110", 16), ("97112", 15), ("97110", 9)), [1, 1, 1]),
])
def test_two_lines_of_one_code_share_the_codes_units(
        lines: tuple[tuple[str, int | None], ...], expected: list[int]) -> None:
    assert units(CMS, *lines) == expected


def test_timed_line_without_minutes_counts_zero() -> None:
    assert units(CMS, ("97110", None)) == [0]
    assert units(CMS, ("97110", None), ("97112", 20)) == [0, 1]


def test_untimed_and_unlisted_codes_get_one_unit() -> None:
    ctx = context([{"code": "97165", "minutes": 45}, {"code": "97750", "minutes": 30}])
    assert [lv.computed_units for lv in ctx.lines] == [1, 1]
    assert [lv.timed for lv in ctx.lines] == [False, None]
    assert ctx.timed_minutes == 0


def test_ama_counts_each_code_on_its_own() -> None:
    # 8 + 8 minutes: 1 unit under CMS (16 pooled), 1 each under AMA.
    assert units(CMS, ("97530", 8), ("97535", 8)) == [1, 0]
    assert units(AMA, ("97530", 8), ("97535", 8)) == [1, 1]
    # AMA still pools two lines of one code: 8 + 8 = 16 minutes of 97530, 1 unit.
    assert units(AMA, ("97530", 8), ("97530", 8)) == [1, 0]


def test_built_in_code_table_decides_timed_without_timed_by() -> None:
    # 97750 is timed in the built-in table (the pack's own table does not list it);
    # 97150 (group therapy) is untimed there; 97999 is in neither.
    ctx = context([{"code": "97750", "minutes": 23}, {"code": "97150", "minutes": 40},
                   {"code": "97999", "minutes": 30}], BUILT_IN)
    assert [lv.timed for lv in ctx.lines] == [True, False, None]
    assert [lv.computed_units for lv in ctx.lines] == [2, 1, 1]
    assert ctx.timed_minutes == 23


def test_share_units_gives_whole_units_first() -> None:
    assert share_units(3, [20, 25]) == [1, 2]  # whole 1 + 1, extra to the 10 left over
    assert share_units(2, [7, 7]) == [1, 1]
    assert share_units(0, [5]) == [0]


# ---------------------------------------------------------------------------- derived fields


def test_timed_minutes_sums_timed_lines_only() -> None:
    ctx = context([{"code": "97110", "minutes": 20}, {"code": "97165", "minutes": 30},
                   {"code": "97110", "minutes": 5}, {"code": "97112"}])
    assert ctx.timed_minutes == 25
    assert ctx.global_value("timed_minutes") == 25
    assert ctx.field(ctx.visit, "line_count") == 4


@pytest.mark.parametrize(("stated", "valid"), [
    ((2, 1), True),  # CMS example 2, either tie choice is valid
    ((1, 2), True),
    ((2, 2), False),  # 4 units for 40 minutes
    ((3, 0), False),  # piling onto one code
    ((None, None), True),  # nothing stated, nothing contradicted
    ((2, None), True),  # 97112 x2 is part of a valid allocation
    ((3, None), False),
])
def test_stated_units_valid(stated: tuple[int | None, int | None], valid: bool) -> None:
    lines = [{"code": "97112", "minutes": 20}, {"code": "97110", "minutes": 20}]
    for line, n in zip(lines, stated, strict=True):
        if n is not None:
            line["units"] = n
    assert context(lines).stated_units_valid is valid


def test_a_code_counts_as_stated_only_when_all_its_lines_state_units() -> None:
    # 97110 pooled 30 minutes = 2 units; 5 stated on one line alone is not checked.
    lines = [{"code": "97110", "minutes": 20, "units": 5}, {"code": "97110", "minutes": 10}]
    assert context(lines).stated_units_valid is True
    lines[1]["units"] = 0  # now the code states 5 units for 30 minutes
    assert context(lines).stated_units_valid is False
    lines[0]["units"] = 1
    lines[1]["units"] = 1
    assert context(lines).stated_units_valid is True


def test_stated_units_on_untimed_lines_are_not_checked() -> None:
    assert context([{"code": "97165", "units": 3}]).stated_units_valid is True


# ---------------------------------------------------------------------------- field access


def test_line_fields() -> None:
    ctx = context([
        {"code": "97110", "minutes": 30, "units": 2, "performed_by": "OTA",
         "assistant_minutes": 12, "charge": "120.00", "diagnosis_pointers": [1, 2],
         "modifiers": ["GO"]},
        {"code": "97165"},
    ])
    first, second = ctx.lines
    f = ctx.field
    assert (f(first, "code"), f(first, "minutes"), f(first, "units")) == ("97110", 30, 2)
    assert (f(first, "performed_by"), f(first, "assistant_minutes")) == ("OTA", 12)
    assert f(first, "charge") == Decimal("120.00")
    assert (f(first, "position"), f(second, "position")) == (1, 2)
    assert (f(first, "pointer_count"), f(second, "pointer_count")) == (2, 0)
    assert (f(first, "timed"), f(second, "timed")) == (True, False)
    assert f(first, "computed_units") == 2
    assert f(second, "minutes") is None
    assert f(second, "units") is None
    assert f(second, "assistant_minutes") == 0  # absent means 0
    assert f(second, "performed_by") is None


@pytest.mark.parametrize(("day", "age"), [
    ("2026-06-14", 75), ("2026-06-15", 76), ("2026-03-02", 75),
])
def test_patient_age_is_whole_years_on_the_date_of_service(day: str, age: int) -> None:
    ctx = context([{"code": "97110"}], date_of_service=day)
    assert ctx.field(ctx.global_value("patient"), "age") == age


def test_visit_fields_and_defaults() -> None:
    ctx = context([{"code": "97110"}])
    g = ctx.global_value
    assert g("date_of_service") == dt.date(2026, 3, 2)
    assert g("claim_type") == "professional"  # absent means professional
    assert g("telehealth") is False  # absent means no
    assert g("place_of_service") is None
    assert g("claim_submitted_on") is None
    assert g("authorization") is None
    assert ctx.field(g("authorization"), "number") is None  # missing propagates
    assert ctx.field(g("visit"), "payer") == "medicare"
    assert ctx.field(g("patient"), "ytd_ot_allowed") is None
    assert g("kx_threshold") == Decimal("2480.00")  # the 2026 period
    assert g("share") == Decimal("0.10")


def test_authorization_fields() -> None:
    ctx = context([{"code": "97110"}], authorization={
        "number": "A-9", "visits_authorized": 12, "visits_used": 3,
        "valid_from": "2026-01-01", "valid_to": "2026-06-30"})
    auth = ctx.global_value("authorization")
    assert isinstance(auth, Authorization)
    assert [ctx.field(auth, n) for n in ("number", "visits_authorized", "visits_used")] == \
        ["A-9", 12, 3]
    assert ctx.field(auth, "valid_to") == dt.date(2026, 6, 30)


def test_table_lookup_and_membership() -> None:
    ctx = context([{"code": "97110"}])
    row = ctx.lookup("codes", ["97165"])
    assert row is not None
    assert row.field("timed") is False
    assert ctx.lookup("codes", ["97999"]) is None
    assert ctx.lookup("codes", [None]) is None
    assert ctx.in_table("modifiers", "59") is True
    assert ctx.in_table("modifiers", "95") is False
    assert ctx.in_table("modifiers", None) is None


# The fast path for the common visit must give exactly the general answer.
from hypothesis import given as _given  # noqa: E402
from hypothesis import strategies as _st  # noqa: E402

from otrules.eval.context import _fast_line_units, line_units  # noqa: E402
from otrules.testing import visits as _visits  # noqa: E402


@_given(_visits(), _st.sampled_from(["cms", "ama"]), _st.data())
def test_fast_units_path_agrees_with_the_general_one(visit, method, data) -> None:  # type: ignore[no-untyped-def]
    timed = tuple(data.draw(_st.sampled_from([True, False, None])) for _ in visit.lines)
    fast = _fast_line_units(visit.lines, timed, method)
    if fast is not None:
        units, minutes = fast
        assert units == line_units(visit.lines, timed, method)
        assert minutes == sum(line.minutes or 0 for line, t in zip(visit.lines, timed,
                                                                   strict=True) if t is True)


# ---------------------------------------------------------------------------- the quick unit check
# quick_stated_units_valid decides the common visit in one pass; the general decision
# (stated_units_valid, over units.is_valid_allocation) is the oracle.

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from otrules.codes import is_timed  # noqa: E402
from otrules.eval.context import (  # noqa: E402
    quick_stated_units_valid,
    quick_stated_units_valid_indexed,
    stated_units_valid,
)
from otrules.model import Line  # noqa: E402

_TIMED_CODES = ("97110", "97112", "97140", "97530", "97535", "97129")


@st.composite
def _timed_lines(draw: st.DrawFn) -> list[Line]:
    codes = draw(st.lists(st.sampled_from((*_TIMED_CODES, "97165")), max_size=5))
    return [Line(code=code, minutes=draw(st.none() | st.integers(0, 120)),
                 units=draw(st.none() | st.integers(0, 9) | st.just(-1)))
            for code in codes]


@settings(max_examples=400)
@given(lines=_timed_lines(), method=st.sampled_from(["cms", "ama"]),
       near=st.booleans(), data=st.data())
def test_quick_unit_check_agrees_with_the_general_one(lines: list[Line], method: str,
                                                      near: bool, data: st.DataObject) -> None:
    if near:  # most stated units close to the minutes, so that valid claims are common
        lines = [Line(code=line.code, minutes=line.minutes,
                      units=((line.minutes or 0) + data.draw(st.sampled_from([0, 7, 14]))) // 15)
                 for line in lines]
    timed = [is_timed(line.code) for line in lines]
    quick = quick_stated_units_valid(lines, timed, method)
    if quick is not None:
        assert quick == stated_units_valid(lines, timed, method)
    # The same decision with the flags read from a pack's index as it goes (codes the index
    # lacks are not timed, like a `timed by` table without the code).
    index = {code: data.draw(st.sampled_from([True, False]))
             for code in (*_TIMED_CODES, "97165") if data.draw(st.booleans())}
    flags = [index.get(line.code) for line in lines]
    assert quick_stated_units_valid_indexed(lines, index, method) == \
        quick_stated_units_valid(lines, flags, method)


def test_quick_unit_check_covers_both_answers_and_leaves_the_rest() -> None:
    def decide(*lines: tuple[str, int, int | None]) -> bool | None:
        given = [Line(code=c, minutes=m, units=u) for c, m, u in lines]
        return quick_stated_units_valid(given, [True] * len(given), "cms")

    assert decide(("97112", 24, 2), ("97110", 23, 1)) is True   # CMS example 1
    assert decide(("97112", 24, 1), ("97110", 23, 2)) is False  # the extra unit misplaced
    assert decide(("97110", 33, 2), ("97140", 7, 1)) is True    # CMS example 3
    assert decide(("97110", 30, 3)) is False                    # more than one extra unit
    assert decide(("97110", 30, None)) is None                  # not stated: general path
    assert decide(("97110", 10, 1), ("97110", 10, 0)) is None   # a code twice: general path


def test_context_computes_on_first_use_but_early_for_unchecked_lines() -> None:
    ctx = context([{"code": "97110", "minutes": 24, "units": 2}])
    assert ctx._units is None  # nothing read yet
    assert ctx.stated_units_valid is True
    assert ctx._units is None  # decided in one pass, without units
    assert ctx.units == (2,)
    # A Visit built in code with minutes the unit computation rejects: computed at once, so
    # the error comes from evaluation, not from a later read of the result.
    visit = make_visit([{"code": "97110", "minutes": 20}, {"code": "97110", "minutes": 20}])
    bad = attrs.evolve(visit, lines=[attrs.evolve(line, minutes=-5) for line in visit.lines])
    with pytest.raises(ValueError, match="must not be negative"):
        EvalContext(CMS.checked, bad)


def test_plain_context_is_the_general_one() -> None:
    # Pack.evaluate's common path makes the context without the options: every slot the same
    # as the constructor's, and the same values read through it.
    from otrules.eval.context import timed_flag_index

    general = context([{"code": "97110", "minutes": 24, "units": 2},
                       {"code": "97165", "units": 1}])
    index = timed_flag_index(general.pack)
    general = EvalContext(general.pack, general.visit, timed_index=index, plain=True)
    quick = EvalContext.of_plain_visit(general.pack, general.visit, index)
    for slot in EvalContext.__slots__:
        assert getattr(quick, slot) == getattr(general, slot), slot
    assert quick.trace is None
    assert quick._parameters == {}
    assert quick._parameters is not \
        general._parameters
    assert (quick.stated_units_valid, quick.units, quick.timed, quick.timed_minutes) == \
        (general.stated_units_valid, general.units, general.timed, general.timed_minutes)
