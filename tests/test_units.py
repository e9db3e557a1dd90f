"""otrules.units: the minutes -> units table, the CMS and AMA allocations, tie handling.

Expected values are computed by hand (the arithmetic is in the comments) or come from the
worked examples transcribed from the domain notes in tests/data/unit_examples.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from otrules.errors import LimitError
from otrules.units import (
    allocate_units,
    is_valid_allocation,
    total_units,
    units_for_minutes,
    valid_allocations,
)

EXAMPLES_FILE = Path(__file__).parent / "data" / "unit_examples.yaml"


def _load_examples() -> list[dict[str, Any]]:
    with EXAMPLES_FILE.open(encoding="utf-8") as handle:
        examples: list[dict[str, Any]] = yaml.safe_load(handle)["examples"]
    return examples


EXAMPLES = _load_examples()
UNIQUE = [e for e in EXAMPLES if e["expected_units"] is not None]
TIED = [e for e in EXAMPLES if e["expected_units"] is None]


def _timed_expected(example: dict[str, Any]) -> dict[str, int]:
    # The notes list untimed codes (1 unit each) in expected_units too; units.py sees only
    # timed minutes, so split them off and check the untimed ones are 1.
    expected = dict(example["expected_units"])
    for code in example["untimed"]:
        assert expected.pop(code) == 1
    return expected


# ---- the examples file itself ------------------------------------------------------------


def test_examples_file_has_every_cms_manual_example() -> None:
    manual = [e["id"] for e in EXAMPLES if e["origin"] == "cms_manual"]
    assert manual == ["cms-ex1", "cms-ex2", "cms-ex3", "cms-ex4", "cms-ex5"]
    assert len(EXAMPLES) == 21
    assert len(TIED) == 5


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["id"])
def test_example_is_self_consistent(example: dict[str, Any]) -> None:
    if "total_timed_minutes" in example:
        assert sum(example["minutes"].values()) == example["total_timed_minutes"]
    for allocation in example.get("acceptable_allocations") or [_timed_expected(example)]:
        assert set(allocation) == set(example["minutes"])
        assert sum(allocation.values()) == example["expected_total_units"]


# ---- worked examples ---------------------------------------------------------------------


@pytest.mark.parametrize("example", UNIQUE, ids=lambda e: e["id"])
def test_unique_example(example: dict[str, Any]) -> None:
    minutes, method = example["minutes"], example["method"]
    expected = _timed_expected(example)
    assert allocate_units(minutes, method) == expected
    assert total_units(minutes, method) == example["expected_total_units"]
    assert valid_allocations(minutes, method) == [expected]
    assert is_valid_allocation(minutes, expected, method)


@pytest.mark.parametrize("example", TIED, ids=lambda e: e["id"])
def test_tied_example(example: dict[str, Any]) -> None:
    minutes, method = example["minutes"], example["method"]
    acceptable = example["acceptable_allocations"]
    assert allocate_units(minutes, method) in acceptable
    found = valid_allocations(minutes, method)
    assert len(found) == len(acceptable)
    assert sorted(map(sorted, map(dict.items, found))) == sorted(
        map(sorted, map(dict.items, acceptable))
    )
    for allocation in acceptable:
        assert is_valid_allocation(minutes, allocation, method)


def test_example_2_never_three_units_of_one_code() -> None:
    minutes = {"97112": 20, "97110": 20}
    assert not is_valid_allocation(minutes, {"97112": 3, "97110": 0})
    assert not is_valid_allocation(minutes, {"97110": 3})
    assert not is_valid_allocation(minutes, {"97112": 2, "97110": 2})  # 4 units, total is 3
    assert not is_valid_allocation(minutes, {"97112": 1, "97110": 1})  # 2 units, total is 3
    # Either code may take the tied unit, and a partial claim is unconstrained elsewhere.
    assert is_valid_allocation(minutes, {"97110": 2})
    assert is_valid_allocation(minutes, {"97112": 1})
    assert is_valid_allocation(minutes, {})


def test_example_5_any_one_code() -> None:
    minutes = {"97112": 7, "97110": 7, "97140": 7}
    assert not is_valid_allocation(minutes, {"97112": 1, "97110": 1})
    assert not is_valid_allocation(minutes, {"97112": 0, "97110": 0, "97140": 0})
    assert is_valid_allocation(minutes, {"97112": 0, "97110": 0})  # then 97140 has it


def test_example_4_rejects_a_unit_below_the_cut_off() -> None:
    # Remainders 3, 13, 10, 8 with 2 extra units: 97140 and 97116 must, 97035 must not.
    minutes = {"97110": 18, "97140": 13, "97116": 10, "97035": 8}
    assert not is_valid_allocation(minutes, {"97035": 1})
    assert not is_valid_allocation(minutes, {"97140": 0})
    assert not is_valid_allocation(minutes, {"97110": 0})  # 18 >= 15: floor rule
    assert is_valid_allocation(minutes, {"97110": 1, "97116": 1})


# ---- the minutes -> units table ----------------------------------------------------------

# Every band boundary of MCPM ch. 5 §20.2's table (0-7, 8-22, 23-37, ..., 113-127), hand-listed.
TABLE = [
    (0, 0), (1, 0), (7, 0), (8, 1), (15, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3),
    (53, 4), (67, 4), (68, 5), (82, 5), (83, 6), (97, 6), (98, 7), (99, 7), (112, 7),
    (113, 8), (127, 8), (128, 9), (142, 9), (143, 10),
]


@pytest.mark.parametrize(("minutes", "units"), TABLE)
def test_units_table(minutes: int, units: int) -> None:
    assert units_for_minutes(minutes) == units
    assert (minutes + 7) // 15 == units  # the closed form floor((m + 7) / 15), pinned to the table
    assert allocate_units({"97110": minutes}) == {"97110": units}
    assert allocate_units({"97110": minutes}, "ama") == {"97110": units}


def test_units_table_as_band_walk() -> None:
    # Independent formulation: one unit per band start 8, 23, 38, ... that m has reached.
    for minutes in range(500):
        reached = sum(1 for start in range(8, 501, 15) if start <= minutes)
        assert units_for_minutes(minutes) == reached


@pytest.mark.parametrize("bad", [-1, -15])
def test_negative_minutes_rejected(bad: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        units_for_minutes(bad)
    with pytest.raises(ValueError, match="negative"):
        allocate_units({"97110": 20, "97140": bad})


@pytest.mark.parametrize("bad", [7.5, "8", True, None])
def test_non_int_minutes_rejected(bad: Any) -> None:
    with pytest.raises(TypeError, match="int"):
        units_for_minutes(bad)
    with pytest.raises(TypeError, match="97140"):
        allocate_units({"97140": bad})


def test_unknown_method_names_the_valid_ones() -> None:
    for call in (allocate_units, valid_allocations, total_units):
        with pytest.raises(ValueError, match="cms, ama"):
            call({"97110": 8}, "medicaid")
    with pytest.raises(ValueError, match="cms, ama"):
        is_valid_allocation({"97110": 8}, {}, "CMS")


# ---- allocation details --------------------------------------------------------------------


def test_empty_visit() -> None:
    assert allocate_units({}) == {}
    assert valid_allocations({}) == [{}]
    assert is_valid_allocation({}, {})


def test_zero_minute_key_is_kept_with_zero_units() -> None:
    assert allocate_units({"97110": 23, "97140": 0}) == {"97110": 2, "97140": 0}
    assert allocate_units({"97110": 0}, "ama") == {"97110": 0}


def test_tie_prefers_more_minutes() -> None:
    # 23 + 8 = 31 min -> 2 units. Floors 1 + 0; remainders 8 and 8 tie for the 2nd unit.
    # Our rule gives it to 97110 (23 min > 8 min); giving it to 97140 is equally valid.
    minutes = {"97140": 8, "97110": 23}
    assert allocate_units(minutes) == {"97110": 2, "97140": 0}
    assert valid_allocations(minutes) == [{"97110": 2, "97140": 0}, {"97110": 1, "97140": 1}]
    assert is_valid_allocation(minutes, {"97110": 1, "97140": 1})


def test_tie_then_prefers_smaller_key() -> None:
    # 7 + 7 = 14 -> 1 unit; equal remainder and minutes: "97530" < "97535".
    assert allocate_units({"97535": 7, "97530": 7}) == {"97530": 1, "97535": 0}


def test_line_keys_allocate_among_lines() -> None:
    # Keyed by (code, line index), as the engine does: 20 + 20 = 40 min -> 3 units, a tie
    # on remainder 5 and on minutes, so the smaller key (line 0) gets the 2nd unit.
    minutes = {("97110", 1): 20, ("97110", 0): 20}
    assert allocate_units(minutes) == {("97110", 0): 2, ("97110", 1): 1}


def test_ama_vs_cms_witnesses() -> None:
    # AMA gives more: 8 + 8 -> AMA 1 + 1 = 2; CMS 16 min -> 1.
    assert total_units({"a": 8, "b": 8}, "ama") == 2
    assert total_units({"a": 8, "b": 8}, "cms") == 1
    # CMS gives more: 7 + 7 -> AMA 0 + 0 = 0; CMS 14 min -> 1.
    assert total_units({"a": 7, "b": 7}, "ama") == 0
    assert total_units({"a": 7, "b": 7}, "cms") == 1
    # Tight for k = 4 (the bounds in test_units_properties): all remainders 8 -> AMA 4,
    # CMS 32 min -> floor(39/15) = 2, so +2; all remainders 7 -> AMA 0, CMS 28 min -> 2, so -2.
    eights, sevens = dict.fromkeys("abcd", 8), dict.fromkeys("abcd", 7)
    assert (total_units(eights, "ama"), total_units(eights, "cms")) == (4, 2)
    assert (total_units(sevens, "ama"), total_units(sevens, "cms")) == (0, 2)


def test_valid_allocations_is_capped() -> None:
    # 20 keys of 7 min = 140 min -> floor(147/15) = 9 units among 20 tied keys: C(20, 9) = 167960.
    minutes = {f"k{i:02}": 7 for i in range(20)}
    with pytest.raises(LimitError, match="167960"):
        valid_allocations(minutes)
    # is_valid_allocation does not enumerate, so it still answers.
    assert is_valid_allocation(minutes, dict.fromkeys([f"k{i:02}" for i in range(9)], 1))
    assert not is_valid_allocation(minutes, dict.fromkeys([f"k{i:02}" for i in range(10)], 1))
    assert not is_valid_allocation(minutes, dict.fromkeys([f"k{i:02}" for i in range(12)], 0))
    # 4 keys of 5 min = 20 min -> 1 unit among 4 tied keys: C(4, 1) = 4, within a limit of 4.
    assert len(valid_allocations({f"k{i}": 5 for i in range(4)}, limit=4)) == 4


def test_stated_key_without_minutes_is_an_error() -> None:
    with pytest.raises(ValueError, match="97530"):
        is_valid_allocation({"97110": 20}, {"97530": 1})


def test_ama_stated_must_match_exactly() -> None:
    minutes = {"97112": 20, "97110": 20}  # AMA: 1 + 1
    assert is_valid_allocation(minutes, {"97112": 1}, "ama")
    assert not is_valid_allocation(minutes, {"97112": 2}, "ama")
    assert len(valid_allocations(minutes, "ama")) == 1
