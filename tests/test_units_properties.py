"""Properties of otrules.units, checked with Hypothesis (profiles are set in conftest.py).

Each property was checked against a deliberate mutation of units.py (see docs/units.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otrules.units import (
    allocate_units,
    closest_allocation,
    is_valid_allocation,
    total_units,
    units_for_minutes,
    valid_allocations,
)

METHODS = ["cms", "ama"]
CODES = ["97035", "97110", "97112", "97116", "97140", "97530", "97535", "97542"]
# Small minutes and a few favourite values make equal remainders (ties) common.
minutes_values = st.one_of(st.integers(0, 75), st.sampled_from([0, 7, 8, 14, 15, 22, 23, 30]))
code_visits = st.dictionaries(st.sampled_from(CODES), minutes_values, max_size=6)
line_visits = st.dictionaries(  # keyed by (code, line index), as the engine does
    st.tuples(st.sampled_from(CODES[:3]), st.integers(0, 3)), minutes_values, max_size=6
)
visits = st.one_of(code_visits, line_visits)
nonempty_visits = st.one_of(
    st.dictionaries(st.sampled_from(CODES), minutes_values, min_size=1, max_size=6),
    st.dictionaries(st.integers(0, 9), minutes_values, min_size=1, max_size=6),
)


def _extras(minutes: Mapping[Any, int], allocation: Mapping[Any, int]) -> set[Any]:
    return {key for key, units in allocation.items() if units > minutes[key] // 15}


def _as_set(allocations: list[dict[Any, int]]) -> set[frozenset[tuple[Any, int]]]:
    return {frozenset(a.items()) for a in allocations}


# ---- totals ------------------------------------------------------------------------------


@given(visits)
def test_cms_total_is_the_table_of_the_total(minutes: dict[Any, int]) -> None:
    assert total_units(minutes) == units_for_minutes(sum(minutes.values()))


@given(nonempty_visits, st.data())
def test_cms_total_depends_only_on_total_minutes(
    minutes: dict[Any, int], data: st.DataObject
) -> None:
    # Move some minutes from one key to another: the total, and so the units, stay put.
    source = data.draw(st.sampled_from(sorted(minutes)))
    target = data.draw(st.sampled_from(sorted(minutes)))
    moved = data.draw(st.integers(0, minutes[source]))
    shifted = dict(minutes)
    shifted[source] -= moved
    shifted[target] += moved
    assert total_units(shifted) == total_units(minutes)


@pytest.mark.parametrize("method", METHODS)
@given(nonempty_visits)
def test_total_never_decreases_when_minutes_increase(
    method: str, minutes: dict[Any, int]
) -> None:
    # Every key, every step up to two whole units: this crosses every remainder boundary.
    before = total_units(minutes, method)
    for key in minutes:
        for more in range(1, 31):
            assert total_units({**minutes, key: minutes[key] + more}, method) >= before


@given(visits)
def test_cms_total_is_within_seven_minutes_of_its_units(minutes: dict[Any, int]) -> None:
    total, units = sum(minutes.values()), total_units(minutes)
    if total >= 8:
        assert units * 15 - 7 <= total <= units * 15 + 7
    else:
        assert units == 0


@given(st.integers(0, 10_000))
def test_fifteen_more_minutes_is_one_more_unit(minutes: int) -> None:
    assert units_for_minutes(minutes + 15) == units_for_minutes(minutes) + 1


# ---- per key -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@given(visits)
def test_every_key_present_and_no_unit_without_minutes(
    method: str, minutes: dict[Any, int]
) -> None:
    allocation = allocate_units(minutes, method)
    assert set(allocation) == set(minutes)
    for key, units in allocation.items():
        assert units >= 0
        if minutes[key] == 0:
            assert units == 0


@given(visits)
def test_cms_floor_rule_and_at_most_one_extra_unit(minutes: dict[Any, int]) -> None:
    for key, units in allocate_units(minutes).items():
        assert minutes[key] // 15 <= units <= minutes[key] // 15 + 1


@given(visits)
def test_cms_extra_units_go_to_the_largest_remainders(minutes: dict[Any, int]) -> None:
    extras = _extras(minutes, allocate_units(minutes))
    for winner in extras:
        for loser in set(minutes) - extras:
            assert minutes[winner] % 15 >= minutes[loser] % 15


@given(visits)
def test_cms_tie_rule_more_minutes_then_smaller_key(minutes: dict[Any, int]) -> None:
    extras = _extras(minutes, allocate_units(minutes))
    for winner in extras:
        for loser in set(minutes) - extras:
            if minutes[winner] % 15 == minutes[loser] % 15:
                more_minutes = minutes[winner] > minutes[loser]
                same_minutes_smaller_key = minutes[winner] == minutes[loser] and winner < loser
                assert more_minutes or same_minutes_smaller_key


@pytest.mark.parametrize("method", METHODS)
@given(visits, st.data())
def test_allocation_ignores_input_order(
    method: str, minutes: dict[Any, int], data: st.DataObject
) -> None:
    reordered = dict(data.draw(st.permutations(list(minutes.items()))))
    assert allocate_units(reordered, method) == allocate_units(minutes, method)
    assert _as_set(valid_allocations(reordered, method)) == _as_set(
        valid_allocations(minutes, method)
    )


@given(visits)
def test_ama_is_per_code(minutes: dict[Any, int]) -> None:
    allocation = allocate_units(minutes, "ama")
    for key, m in minutes.items():
        assert allocation[key] == units_for_minutes(m) == allocate_units({key: m}, "ama")[key]
        assert allocation[key] == m // 15 + (1 if m % 15 >= 8 else 0)


# ---- valid allocations and stated units --------------------------------------------------


def _brute_force_valid(minutes: Mapping[Any, int]) -> list[dict[Any, int]]:
    """Oracle: every 0/1 choice of extra units with the right total in which no key with a
    smaller remainder got an extra unit that a key with a larger remainder did not."""
    keys = list(minutes)
    target = units_for_minutes(sum(minutes.values()))
    found = []
    for bits in itertools.product((0, 1), repeat=len(keys)):
        allocation = {key: minutes[key] // 15 + bit for key, bit in zip(keys, bits, strict=True)}
        if sum(allocation.values()) != target:
            continue
        rem = {key: minutes[key] % 15 for key in keys}
        winners = [k for k, bit in zip(keys, bits, strict=True) if bit]
        losers = [k for k, bit in zip(keys, bits, strict=True) if not bit]
        if all(rem[w] >= rem[lo] for w in winners for lo in losers):
            found.append(allocation)
    return found


@given(visits)
def test_valid_allocations_match_brute_force(minutes: dict[Any, int]) -> None:
    found = valid_allocations(minutes)
    assert len(found) == len(_as_set(found))  # no duplicates
    assert _as_set(found) == _as_set(_brute_force_valid(minutes))
    assert found[0] == allocate_units(minutes)


@pytest.mark.parametrize("method", METHODS)
@given(visits)
def test_allocate_units_is_a_valid_allocation(method: str, minutes: dict[Any, int]) -> None:
    allocation = allocate_units(minutes, method)
    assert allocation in valid_allocations(minutes, method)
    assert is_valid_allocation(minutes, allocation, method)


@pytest.mark.parametrize("method", METHODS)
@given(visits, st.data())
def test_is_valid_allocation_agrees_with_enumeration(
    method: str, minutes: dict[Any, int], data: st.DataObject
) -> None:
    # Differential test: the counting shortcut against membership in the full list.
    keys = sorted(minutes)
    stated_keys = data.draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    stated = {
        key: data.draw(st.integers(minutes[key] // 15 - 1, minutes[key] // 15 + 2))
        for key in stated_keys
    }
    expected = any(
        all(allocation[key] == units for key, units in stated.items())
        for allocation in valid_allocations(minutes, method)
    )
    assert is_valid_allocation(minutes, stated, method) == expected


# ---- AMA versus CMS ------------------------------------------------------------------------
# With r_i = m_i % 15 the whole units cancel, so AMA - CMS = #{r_i >= 8} - floor((sum r_i + 7)/15).
# For k codes: -floor(7(k+1)/15) <= AMA - CMS <= k - floor((8k+7)/15), both tight
# (all remainders 7 reach the lower bound, all remainders 8 the upper one), and symmetric:
# |AMA - CMS| <= floor(7(k+1)/15). Proof in docs/units.md.


def _lower(k: int) -> int:
    return -((7 * (k + 1)) // 15)


def _upper(k: int) -> int:
    return k - (8 * k + 7) // 15


def _ama_minus_cms(minutes: Mapping[Any, int]) -> int:
    return total_units(minutes, "ama") - total_units(minutes, "cms")


def test_ama_cms_bounds_hand_values() -> None:
    # k=1: 0..0  k=2: -floor(21/15)..2-floor(23/15)  k=3: -floor(28/15)..3-floor(31/15)
    # k=4: -floor(35/15)..4-floor(39/15)  k=5: -floor(42/15)..5-floor(47/15)
    assert [(_lower(k), _upper(k)) for k in range(1, 6)] == [
        (0, 0), (-1, 1), (-1, 1), (-2, 2), (-2, 2),
    ]
    # The bounds are symmetric: ceil(7(k-1)/15) == floor(7(k+1)/15), since 7(k-1)/15 has
    # denominator 15 and the two arguments differ by 14/15.
    for k in range(1, 100):
        assert _upper(k) == -_lower(k) == -((-7 * (k - 1)) // 15)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_ama_cms_bounds_are_tight_by_brute_force(k: int) -> None:
    # Remainders 0..14 cover every case (whole units cancel, checked below), and the totals
    # do not depend on key order, so multisets of remainders suffice.
    diffs = [
        _ama_minus_cms(dict(enumerate(rems)))
        for rems in itertools.combinations_with_replacement(range(15), k)
    ]
    assert (min(diffs), max(diffs)) == (_lower(k), _upper(k))
    assert _ama_minus_cms(dict.fromkeys(range(k), 7)) == _lower(k)
    assert _ama_minus_cms(dict.fromkeys(range(k), 8)) == _upper(k)


@given(visits)
def test_ama_minus_cms_formula_and_bounds(minutes: dict[Any, int]) -> None:
    rems = [m % 15 for m in minutes.values()]
    diff = _ama_minus_cms(minutes)
    assert diff == sum(1 for r in rems if r >= 8) - (sum(rems) + 7) // 15
    assert diff == _ama_minus_cms({key: m % 15 for key, m in minutes.items()})
    assert _lower(len(minutes)) <= diff <= _upper(len(minutes))


# ---------------------------------------------------------------- closest_allocation


@given(visits, st.data())
def test_closest_allocation_is_valid_and_follows_a_valid_claim(
    minutes: dict[Any, int], data: st.DataObject
) -> None:
    valid = valid_allocations(minutes)
    claim = data.draw(st.sampled_from(valid)) if valid else {}
    keys = st.sets(st.sampled_from(sorted(minutes))) if minutes else st.just(set())
    stated_keys = data.draw(keys)
    stated = {key: claim[key] for key in stated_keys}
    closest = closest_allocation(minutes, stated)
    assert closest in valid
    # A claim that made any valid (tie) choice gets its own units back on every stated key.
    assert all(closest[key] == units for key, units in stated.items())


@given(visits, st.data())
def test_closest_allocation_matches_as_many_stated_keys_as_any_valid_one(
    minutes: dict[Any, int], data: st.DataObject
) -> None:
    keys = sorted(minutes)
    stated = {key: data.draw(st.integers(0, 6)) for key in keys if data.draw(st.booleans())}
    closest = closest_allocation(minutes, stated)

    def agreement(allocation: Mapping[Any, int]) -> int:
        return sum(1 for key, units in stated.items() if allocation[key] == units)

    assert agreement(closest) == max(agreement(a) for a in valid_allocations(minutes))


@given(visits)
def test_closest_allocation_without_a_claim_is_the_default(minutes: dict[Any, int]) -> None:
    assert closest_allocation(minutes, {}) == allocate_units(minutes)
