"""Units of timed codes: the CMS 8-minute rule and the AMA per-code rule of eights.

A pure module: it knows minutes and keys, nothing of rule packs or visits. Keys are usually
CPT/HCPCS code strings, but any hashable, mutually orderable value works (the engine keys by
``(code, line index)`` to allocate among claim lines). Only *timed* minutes go in; which codes
are timed is :mod:`otrules.codes`' business. See ``docs/units.md`` for the rules and sources.

CMS tie rule (CMS leaves ties to the clinician; we need one deterministic answer that does not
depend on the input's order): among keys with equal remainder, the key with more total minutes
gets the extra unit first, then the smaller key in sort order. Every other tie-break is still
a valid claim: :func:`valid_allocations` lists them and :func:`is_valid_allocation` accepts them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from otrules.errors import LimitError

__all__ = [
    "MAX_ALLOCATIONS",
    "METHODS",
    "allocate_units",
    "closest_allocation",
    "is_valid_allocation",
    "total_units",
    "units_for_minutes",
    "valid_allocations",
]

METHODS = ("cms", "ama")
UNIT_MINUTES = 15
# A unit is earned by its 8th minute (more than half of 15): 0-7 -> 0, 8-22 -> 1, 23-37 -> 2 ...
_ROUND_UP = UNIT_MINUTES - 8
# Ties are few in practice, but 50 lines with equal remainders would explode combinatorially.
MAX_ALLOCATIONS = 1000


class _Key(Hashable, Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Key)


def units_for_minutes(total_minutes: int) -> int:
    """The CMS minutes -> units table: floor((m + 7) / 15)."""
    _check_minutes("total_minutes", total_minutes)
    return (total_minutes + _ROUND_UP) // UNIT_MINUTES


def allocate_units(minutes_by_code: Mapping[K, int], method: str = "cms") -> dict[K, int]:
    """Units per key for one visit's timed minutes; every key is present (0 when it gets none)."""
    minutes = _checked(minutes_by_code, method)
    if method == "ama":
        # Per code, independently: the same table applied to each code's own minutes.
        return {key: units_for_minutes(m) for key, m in minutes.items()}
    split = _split(minutes)
    return _with_extras(split, split.must + split.tied[: split.needed])


def total_units(minutes_by_code: Mapping[K, int], method: str = "cms") -> int:
    """Total timed units billable for the visit."""
    return sum(allocate_units(minutes_by_code, method).values())


def valid_allocations(
    minutes_by_code: Mapping[K, int], method: str = "cms", *, limit: int = MAX_ALLOCATIONS
) -> list[dict[K, int]]:
    """Every allocation the method accepts: one per way of breaking the CMS remainder tie.

    The first one is :func:`allocate_units`' answer. Raises LimitError beyond ``limit``.
    """
    minutes = _checked(minutes_by_code, method)
    if method == "ama":
        return [allocate_units(minutes, method)]
    split = _split(minutes)
    count = math.comb(len(split.tied), split.needed)
    if count > limit:
        raise LimitError(f"{count} valid unit allocations (more than the limit of {limit})")
    return [
        _with_extras(split, split.must + chosen)
        for chosen in itertools.combinations(split.tied, split.needed)
    ]


def is_valid_allocation(
    minutes_by_code: Mapping[K, int], stated: Mapping[K, int], method: str = "cms"
) -> bool:
    """True when ``stated`` agrees with at least one valid allocation on the keys it states.

    Keys absent from ``stated`` are unconstrained. Decided without enumerating allocations.
    """
    minutes = _checked(minutes_by_code, method)
    unknown = [key for key in stated if key not in minutes]
    if unknown:
        raise ValueError(f"stated units for keys with no minutes: {unknown!r}")
    if method == "ama":
        expected = allocate_units(minutes, method)
        return all(units == expected[key] for key, units in stated.items())
    split = _split(minutes)
    extras = {key: units - split.floors[key] for key, units in stated.items()}
    if any(extra not in (0, 1) for extra in extras.values()):
        return False  # the floor rule, or more than one extra unit on a key
    tied = set(split.tied)
    must = set(split.must)
    if any(extra != int(key in must) for key, extra in extras.items() if key not in tied):
        return False  # keys above the cut-off always get the extra unit, those below never
    # Within the tied group any `needed` keys may take the extra unit.
    given = sum(1 for key in tied if extras.get(key) == 1)
    refused = sum(1 for key in tied if extras.get(key) == 0)
    return given <= split.needed and refused <= len(split.tied) - split.needed


def closest_allocation(
    minutes_by_code: Mapping[K, int], stated: Mapping[K, int], method: str = "cms"
) -> dict[K, int]:
    """The valid allocation that agrees with ``stated`` on as many keys as possible.

    Where CMS leaves a tie to the clinician, this follows the claim's choice: a claim that
    gave the tied unit to the other code gets exactly its own units back. Keys not stated
    (or stated impossibly) take our tie rule. Without ``stated`` it is :func:`allocate_units`.
    """
    minutes = _checked(minutes_by_code, method)
    if method == "ama" or not stated:
        return allocate_units(minutes, method)
    split = _split(minutes)

    def rank(key: K) -> int:
        # The claim gave this tied key the extra unit (0), said nothing usable (1: unstated, or
        # a count no valid allocation has), or refused it (2).
        floor = split.floors[key]
        if stated.get(key) == floor + 1:
            return 0
        return 2 if stated.get(key) == floor else 1

    # `tied` is already in tie-rule order; a stable sort keeps that order inside each group.
    chosen = sorted(split.tied, key=rank)[: split.needed]
    return _with_extras(split, split.must + tuple(k for k in split.tied if k in chosen))


class _Split(NamedTuple, Generic[K]):
    """The CMS allocation problem, reduced to what varies between valid answers."""

    floors: dict[K, int]  # whole 15-minute units: the floor every valid allocation keeps
    must: tuple[K, ...]  # remainder above the cut-off: extra unit in every allocation
    tied: tuple[K, ...]  # remainder at the cut-off, in our preference order
    needed: int  # how many of `tied` get an extra unit


def _split(minutes: dict[K, int]) -> _Split[K]:
    floors = {key: m // UNIT_MINUTES for key, m in minutes.items()}
    # R = N - F = floor((sum of remainders + 7) / 15); as each remainder is <= 14, R never
    # exceeds the number of keys with a remainder > 0, so nobody needs two extra units and
    # no key without minutes gets one.
    extra = units_for_minutes(sum(minutes.values())) - sum(floors.values())
    if extra == 0:
        return _Split(floors, (), (), 0)
    ranked = sorted(minutes, key=lambda key: _preference(key, minutes[key]))
    cut = minutes[ranked[extra - 1]] % UNIT_MINUTES
    must = tuple(key for key in ranked if minutes[key] % UNIT_MINUTES > cut)
    tied = tuple(key for key in ranked if minutes[key] % UNIT_MINUTES == cut)
    return _Split(floors, must, tied, extra - len(must))


def _preference(key: K, minutes: int) -> tuple[int, int, K]:
    # Largest remainder first; then more minutes; then the smaller key. Keys are only compared
    # when remainder and minutes are equal, and the order never depends on the input's order.
    return (-(minutes % UNIT_MINUTES), -minutes, key)


def _with_extras(split: _Split[K], extra_keys: tuple[K, ...]) -> dict[K, int]:
    allocation = dict(split.floors)
    for key in extra_keys:
        allocation[key] += 1
    return allocation


def _checked(minutes_by_code: Mapping[K, int], method: str) -> dict[K, int]:
    if method not in METHODS:
        raise ValueError(f"unknown unit method {method!r}; valid methods: {', '.join(METHODS)}")
    for key, m in minutes_by_code.items():
        _check_minutes(f"minutes for {key!r}", m)
    return dict(minutes_by_code)


def _check_minutes(what: str, minutes: int) -> None:
    # bool is an int subclass; True minutes is a bug in the caller, not one minute.
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise TypeError(f"{what} must be an int, got {type(minutes).__name__}")
    if minutes < 0:
        raise ValueError(f"{what} must not be negative, got {minutes}")
