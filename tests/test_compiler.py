"""The compiled back end against the reference interpreter (the oracle), and its safety.

Differential: every bundled and example pack over random visits, and random generated packs
over random visits, must give identical results (lines, findings, messages, order).
"""

from __future__ import annotations

import datetime as dt
import pickle
import re
import tempfile
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otrules._pack_strategies import pack_sources
from otrules.errors import EvaluationError, LimitError
from otrules.eval.compiler import _HANDLERS, CompiledBackend, compile_source
from otrules.eval.context import line_timed_flags, plain_lines, timed_flag_index
from otrules.eval.engine import Pack
from otrules.eval.result import (
    Finding,
    FixSuggestion,
    Result,
    add_modifier_fix,
    new_finding,
)
from otrules.eval.scan import plain_codes
from otrules.eval.scan import quick_scan as _quick_scan
from otrules.lang import ast as A
from otrules.lang.loader import load_checked_pack
from otrules.limits import visit_limit_problems
from otrules.model import Authorization, Line, Patient, Visit
from otrules.resources import rulepacks_dir
from otrules.testing import visits
from otrules.visit_json import read_visits

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "src" / "otrules" / "data" / "example-visits.jsonl"
PACK_DIRS = sorted(p for p in rulepacks_dir().iterdir() if any(p.glob("*.otr")))
BENCH_PACK = REPO / "benchmarks" / "bench-pack"


def _both(path: Path) -> tuple[Pack, Pack]:
    checked = load_checked_pack(path)
    return Pack(checked), Pack(checked, CompiledBackend(checked))


@pytest.fixture(scope="module", params=[*PACK_DIRS, BENCH_PACK], ids=lambda p: p.name)
def pack_pair(request: pytest.FixtureRequest) -> tuple[Pack, Pack]:
    return _both(request.param)


def _in_range(visit, pack: Pack, day_offset: int):  # type: ignore[no-untyped-def]
    start, end = pack.effective
    span = (end - start).days
    return attrs.evolve(visit, date_of_service=start + dt.timedelta(days=day_offset % (span + 1)))


def test_every_expression_node_has_a_compiler_handler() -> None:
    assert set(_HANDLERS) == set(A.EXPR_NODES)


def test_example_visits_agree(pack_pair: tuple[Pack, Pack]) -> None:
    interpreted, compiled = pack_pair
    for record in read_visits(EXAMPLES):
        assert record.visit is not None
        assert compiled.evaluate(record.visit).to_json() == \
            interpreted.evaluate(record.visit).to_json()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(visit=visits(), day=st.integers(0, 2000))
def test_random_visits_agree(pack_pair: tuple[Pack, Pack], visit, day: int) -> None:  # type: ignore[no-untyped-def]
    interpreted, compiled = pack_pair
    for candidate in (visit, _in_range(visit, interpreted, day)):
        assert compiled.evaluate(candidate).to_json_text() == \
            interpreted.evaluate(candidate).to_json_text()


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(source=pack_sources(), batch=st.lists(visits(), min_size=1, max_size=4),
       day=st.integers(0, 2000))
def test_random_packs_agree(source: str, batch: list, day: int) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pack.otr").write_text(source, encoding="utf-8")
        interpreted, compiled = _both(Path(folder))
    for visit in batch:
        for candidate in (visit, _in_range(visit, interpreted, day)):
            assert compiled.evaluate(candidate).to_json_text() == \
                interpreted.evaluate(candidate).to_json_text()


def test_generated_source_holds_no_pack_text(tmp_path: Path) -> None:
    hostile = 'x"); __import__("os").system("echo pwned") #'.replace('"', '\\"')
    (tmp_path / "pack.otr").write_text(f'''pack hostile "{hostile}"
  version "1"
  effective 2026-01-01 to 2026-12-31

table codes
  key code : code
  row 97110

table modifiers
  key modifier : modifier
  row GO

rule r-one : error
  for each line where line.code in codes
  when line lacks GO and line.code != 97110 or "{hostile}" = "x"
  say "{hostile} \\{{\\}}"
  source "{hostile}"
''', encoding="utf-8")
    checked = load_checked_pack(tmp_path)
    source = compile_source(checked)
    assert "__import__" not in source
    assert "pwned" not in source
    assert "hostile" not in source


def test_compiled_pack_pickles(pack_pair: tuple[Pack, Pack]) -> None:
    _, compiled = pack_pair
    clone = pickle.loads(pickle.dumps(compiled))
    for record in read_visits(EXAMPLES):
        assert record.visit is not None
        assert clone.evaluate(record.visit) == compiled.evaluate(record.visit)


# ---------------------------------------------------------------------------- fast paths
# The compiled back end specialises some forms; each test below makes sure a pack exercises
# both the specialised form and the general one, and that both agree with the interpreter.

FAST_PATHS = REPO / "tests" / "data" / "fastpaths-pack"


@pytest.fixture(scope="module")
def fast_pair() -> tuple[Pack, Pack]:
    return _both(FAST_PATHS)


def test_fast_paths_pack_has_both_forms() -> None:
    source = compile_source(load_checked_pack(FAST_PATHS))
    # sums and counts always evaluated by a statement: plain loops ...
    assert "_sum_step(" in source
    assert "+= 1" in source
    # ... and the same aggregates under `or` / `if`: generator expressions
    assert "_sum_values(" in source
    # conditions as flags, with missing operands checked inline
    assert "is not None and" in source
    # a dated parameter is read for the day, a constant one is hoisted
    assert "(_day)" in source
    # per-code totals (`other.code = line.code` in a line loop): one dict per visit, sums
    # (int and money) and a count; the same sum under `if` stays a loop per line
    assert len(re.findall(r"_g\d+ = \{\}", source)) == 3
    assert "] = _g" in source
    assert ".get(_l" in source
    # a count with no `where` always evaluated: the length, no loop
    assert re.search(r"_s\d+ = len\(_lines\)", source)
    # ... unless every code is on one line: then a line's total is its own value
    assert source.count("if len(_codes) == len(_lines):") == 3
    # icd10_shape of a diagnosis matched inline; of an optional value, the shared function
    assert "_icd10_fullmatch(_d" in source
    # pairs loop over the codes, skipping first codes that start no key of the table
    assert re.search(r"for _i\d+, _a\d+ in _enumerate\(_k\d+\):\n +if _a\d+ not in _c", source)
    # `T[key].column = literal` on an undated table: a set of keys; on a dated one, a lookup
    assert re.search(r"\(_l\d+\.code in _c\d+\) or \(_l\d+\.code in _c\d+\)", source)
    assert re.search(r"if \(_e\d+\.code in _c\d+\):\n +_s\d+ \+= 1", source)
    assert ".find(_l" in source
    # `T[key] is missing / present` on an undated table: membership; on a dated one, a lookup
    assert re.search(r"\(not \(_l\d+\.code in _c\d+\)\) or \(\(_c\d+, _l\d+\.code,\) in _c",
                     source)
    assert re.search(r"_c\d+\.find\(_l\d+\.code, _day\) is None", source)
    # a code guard shared by rules is tested once
    assert len(re.findall(r"_h\d+ = not _c\d+\.isdisjoint\(_codes\)", source)) < \
        len(re.findall(r"if _h\d+:", source))
    assert re.search(r"_c\d+\(\(None if", source)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(visit=visits(), day=st.integers(0, 364))
def test_fast_paths_agree_with_the_interpreter(fast_pair: tuple[Pack, Pack], visit,  # type: ignore[no-untyped-def]
                                               day: int) -> None:
    interpreted, compiled = fast_pair
    candidate = _in_range(visit, interpreted, day)
    assert compiled.evaluate(candidate).to_json_text() == \
        interpreted.evaluate(candidate).to_json_text()


def test_fast_paths_rules_fire(fast_pair: tuple[Pack, Pack]) -> None:
    # The differential test above is only as good as the rules it sees fire.
    _, compiled = fast_pair
    visit = Visit(
        id="v1", date_of_service=dt.date(2026, 8, 3), payer="medicare",
        patient=Patient(id="p1"), diagnoses=("F90.2",), place_of_service="12",
        authorization=Authorization(number="A1", visits_used=5),
        lines=(Line(code="97110", minutes=38, units=2, charge=Decimal("120.00"),
                    assistant_minutes=20),
               Line(code="97530", minutes=8, units=4, charge=Decimal("95.50")),
               Line(code="97165", units=1, charge=Decimal("10"))))
    fired = {f.rule for f in compiled.evaluate(visit).findings}
    assert fired == {"sums-both-ways", "sums-in-choice", "mixed-number-sums", "three-valued",
                     "pairs-with-rows", "minutes-and-units", "per-code-totals",
                     "diagnosis-shapes", "table-columns-folded", "table-columns-counted",
                     "rows-missing-or-present"}


def test_per_code_totals_pool_lines_of_one_code(fast_pair: tuple[Pack, Pack]) -> None:
    # Two lines of 97110 (one without units or charge) and one of 97530: each line reads its
    # own code's totals, as the interpreter's loop per line does.
    interpreted, compiled = fast_pair
    visit = Visit(
        id="v2", date_of_service=dt.date(2026, 3, 2), payer="medicare",
        patient=Patient(id="p1"), diagnoses=("F90.2",),
        lines=(Line(code="97110", minutes=20, units=3, charge=Decimal("100.00")),
               Line(code="97530", minutes=30, units=2, charge=Decimal("40.00")),
               Line(code="97110", minutes=10),
               Line(code="97110", minutes=10, units=2, charge=Decimal("75.25"))))
    messages = [f.message for f in compiled.evaluate(visit).findings
                if f.rule == "per-code-totals"]
    assert messages == ["97110: 5 units on 3 of 4 lines, 175.25 charged.",
                        "97530: 2 units on 1 of 4 lines, 40.00 charged.",
                        "97110: 5 units on 3 of 4 lines, 175.25 charged.",
                        "97110: 5 units on 3 of 4 lines, 175.25 charged."]
    assert compiled.evaluate(visit).to_json_text() == interpreted.evaluate(visit).to_json_text()


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visit=visits(), day=st.integers(0, 2000))
def test_timed_flag_index_matches_the_table_search(pack_pair: tuple[Pack, Pack], visit,  # type: ignore[no-untyped-def]
                                                   day: int) -> None:
    checked = pack_pair[0].checked
    on = dt.date(2023, 1, 1) + dt.timedelta(days=day)
    index = timed_flag_index(checked)
    if checked.timed_by is None:
        assert index is None
    assert line_timed_flags(checked, visit, on, index) == line_timed_flags(checked, visit, on)


_OVER_LIMITS = {
    "lines": lambda v: attrs.evolve(v, lines=v.lines * 51),
    "diagnoses": lambda v: attrs.evolve(v, diagnoses=("F90.2",) * 101),
    "modifiers": lambda v: attrs.evolve(v, lines=(attrs.evolve(
        v.lines[0], modifiers=("GO", "KX", "59", "XU", "95")),)),
    "pointers": lambda v: attrs.evolve(v, lines=(attrs.evolve(
        v.lines[0], diagnosis_pointers=(1, 1, 1, 1, 1)),)),
}


_NOT_PLAIN = {  # what a Visit built in code may hold and the unit computation rejects
    "negative minutes": {"minutes": -5}, "flag minutes": {"minutes": True},
    "decimal minutes": {"minutes": Decimal("7.5")}, "text units": {"units": "2"},
}


@settings(max_examples=80)
@given(visit=visits(), over=st.sampled_from([None, *_OVER_LIMITS]),
       odd=st.sampled_from([None, *_NOT_PLAIN]))
def test_the_quick_limit_check_agrees_with_check_visit(visit, over: str | None,  # type: ignore[no-untyped-def]
                                                       odd: str | None) -> None:
    if odd is not None and visit.lines:
        visit = attrs.evolve(visit, lines=(attrs.evolve(visit.lines[0], **_NOT_PLAIN[odd]),
                                           *visit.lines[1:]))
    if over is not None and visit.lines:
        visit = _OVER_LIMITS[over](visit)
    scan = _quick_scan(visit)
    assert (scan is not None) == (visit_limit_problems(visit) == [])
    if scan is not None:
        assert scan == plain_lines(visit.lines)
        assert scan == (odd is None or not visit.lines)
    if _quick_scan(visit) is None:
        with pytest.raises(LimitError):
            Pack(load_checked_pack(BENCH_PACK)).evaluate(visit)
    # the fast path's scan: the codes exactly when the visit is within limits and plain
    codes = plain_codes(visit)
    assert (codes is not None) == (scan is True)
    if codes is not None:
        assert codes == {line.code for line in visit.lines}


@given(rule=st.text(max_size=5), severity=st.sampled_from(["error", "warning", "info"]),
       line=st.none() | st.integers(0, 49), message=st.text(max_size=20),
       modifier=st.sampled_from(["GO", "KX", "59"]), source=st.none() | st.text(max_size=5))
def test_findings_and_fixes_made_fast_equal_attrs_made_ones(
        rule: str, severity: str, line: int | None, message: str, modifier: str,
        source: str | None) -> None:
    fix = add_modifier_fix(modifier, line or 0)
    assert fix == FixSuggestion("add_modifier", line or 0, modifier=modifier)
    assert add_modifier_fix(modifier, line or 0) is fix  # shared: it is immutable
    for given_fix in (None, fix):
        made = new_finding(rule, severity, line, message, given_fix, source)  # type: ignore[arg-type]
        expected = Finding(rule, severity, line, message, given_fix, source)  # type: ignore[arg-type]
        assert made == expected
        assert hash(made) == hash(expected)
        assert repr(made) == repr(expected)
        assert pickle.loads(pickle.dumps(made)) == expected


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(visit=visits(), day=st.integers(0, 364), odd=st.sampled_from([None, *_NOT_PLAIN]))
def test_the_fast_path_gives_the_general_result(fast_pair: tuple[Pack, Pack], visit,  # type: ignore[no-untyped-def]
                                                day: int, odd: str | None) -> None:
    # `as_of` set to the date of service changes nothing but the path: the general one.
    _, compiled = fast_pair
    visit = _in_range(visit, compiled, day)
    if odd is not None:
        visit = attrs.evolve(visit, lines=(attrs.evolve(visit.lines[0], **_NOT_PLAIN[odd]),
                                           *visit.lines[1:]))
    fast = compiled.backend.evaluate_plain(visit)
    assert (fast is None) == (odd is not None)
    try:
        general = compiled.evaluate(visit, as_of=visit.date_of_service)
    except EvaluationError:
        assert odd is not None  # the unit computation rejects what a plain visit never holds
        return
    if fast is not None:
        assert fast == general
        assert fast.to_json_text() == general.to_json_text()
        # a list of lines given to Result is kept as a tuple, never read as pending
        built = Result(fast.visit_id, fast.pack, fast.pack_version, fast.status,
                       list(general.lines), general.findings)
        assert built == fast
        assert hash(built) == hash(fast)
