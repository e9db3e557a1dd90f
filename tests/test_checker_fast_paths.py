"""The checker's fast paths give exactly what the general ones give.

* never_true's quick proof (``cannot_fail``) answers "might be true" only when the full
  search finds nothing, so the W001 warnings are those of the search alone;
* type inference recurses for shallow expressions and uses an explicit stack below a depth:
  both walks give the same types and the same diagnostics, in the same order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otrules.lang import ast as A
from otrules.lang import typing_rules
from otrules.lang.checker import check_merged, load_tables
from otrules.lang.merge import PackSource, merge
from otrules.lang.never_true import _Search, cannot_fail, never_true
from otrules.lang.parser import parse_expression
from otrules.lang.typing_rules import chain
from otrules.testing import pack_asts

# Atoms over a few shared subjects, so that random conjunctions often contradict each other
# (and often do not), with literals that fold and opaque parts that do not.
_ATOMS = (
    "line.minutes > 8 minutes", "line.minutes < 3 minutes", "8 minutes <= line.minutes",
    "line.minutes = 10 minutes", "line.minutes != 10 minutes", "line.minutes >= 10 minutes",
    "line.units = 1", "line.units = 2", "line.units != 1", "line.units > 0",
    "line.units + 1 = 2", "-line.units < 0", "line.units = line.position",
    "line.code = 97110", "line.code != 97110", "line.code = 97140",
    "line.code in (97110, 97140)", "line.code not in (97110)", "line.code in codes",
    "line has GO", "line lacks GO", "line has any of (GO, KX)", "line lacks any of (KX, 59)",
    "line has all of (GO, KX)", "line lacks all of (GO, 59)",
    "line has more than one of (GO, KX, 59)", "line has more than one of (KX)",
    "line.units is missing", "line.units is present", "line.minutes is missing",
    "1 is missing", "line.timed", "telehealth", "yes", "no", "1 > 2", "1 < 2",
    "(yes and no) = yes", "-1 < 0",
)


def _conditions() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(_ATOMS)
    return st.recursive(atoms, lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) and ({p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]}) or ({p[1]})"),
        st.lists(inner, min_size=2, max_size=5).map(lambda ps: " and ".join(
            f"({p})" for p in ps)),
    ), max_leaves=12)


def _search(conditions: list[A.Expr]) -> object:
    """The verdict of the full search alone, without the quick proof."""
    return _Search(str).conjunction(chain(conditions, "and"))


@given(st.lists(_conditions(), min_size=1, max_size=2))
def test_the_quick_proof_agrees_with_the_search(texts: list[str]) -> None:
    conditions = [parse_expression(t) for t in texts]
    searched = _search(conditions)
    if cannot_fail(conditions):
        assert searched is None
    assert never_true(conditions, str) == searched


@given(st.lists(st.sampled_from(_ATOMS), min_size=2, max_size=5),
       st.lists(st.tuples(st.sampled_from(["and", "or", "not"]), st.integers(0, 99),
                          st.integers(0, 99)), max_size=12))
def test_the_quick_proof_agrees_when_nodes_are_shared(
        atoms: list[str], steps: list[tuple[str, int, int]]) -> None:
    # Built ASTs may use one node in several places (the parser never does): the quick proof
    # must still agree with the search, which explores each `or` by identity.
    pool: list[A.Expr] = [parse_expression(a) for a in atoms]
    for op, i, j in steps:
        left, right = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(A.Unary("not", left) if op == "not" else A.Binary(op, left, right))  # type: ignore[arg-type]
    conditions = [pool[-1], pool[len(pool) // 2]]
    assert never_true(conditions, str) == _search(conditions)


@pytest.mark.parametrize("text", [
    "line.code in codes and line.code != 97110 and (line.minutes > 8 minutes and line lacks GO "
    "or line has any of (KX, 59))",
    "line.units > 1 and line has GO and line.minutes is present",
    "line.code = 97110 or line.code = 97140",
])
def test_usual_conditions_are_proven_quickly(text: str) -> None:
    assert cannot_fail([parse_expression(text)])


@pytest.mark.parametrize("text", [
    "line.units > 1 and not line.units > 1",  # the same subject given a value twice
    "line has GO and line lacks GO",
    "line.units is missing and line.units > 0",
    "line.timed and not line.timed",
    "(yes and no) = yes or no",  # fold decides it
    "line has all of (GO, KX) and not line has all of (GO, KX)",
])
def test_conditions_that_may_clash_go_to_the_search(text: str) -> None:
    assert not cannot_fail([parse_expression(text)])


def _diagnostics(pack: A.PackFile) -> list[tuple[object, ...]]:
    header = next((d for d in pack.decls if isinstance(d, A.PackHeader)), None)
    merged, found = merge([PackSource("p", Path("."), (pack,), header)])
    loaded, table_diags = load_tables(merged)
    result = check_merged(merged, header, loaded, {})
    return [(d.code, d.severity, d.message, d.span, d.help)
            for d in [*found, *table_diags, *result.diagnostics]]


@given(pack_asts())
def test_random_packs_check_the_same_without_the_fast_paths(pack: A.PackFile) -> None:
    fast = _diagnostics(pack)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("otrules.lang.never_true.cannot_fail", lambda conditions: False)
        patch.setattr(typing_rules, "_MAX_RECURSION", 0)  # every expression on the stack
        slow = _diagnostics(pack)
    assert fast == slow
