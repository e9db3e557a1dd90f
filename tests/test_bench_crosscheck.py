"""The benchmark's three implementations of the bench pack agree, and the workload is sound.

Hand-written Python (benchmarks/handwritten.py), the zen-engine model (benchmarks/zen/) and
otrules itself must give the same findings, or the benchmark compares different work. Small
hand-built visits pin each rule to a hand-computed answer; a few hundred generated visits
cross-check the engines against each other. Needs the ``bench`` extra (zen-engine).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otrules.model import Line
from otrules.units import allocate_units, is_valid_allocation
from otrules.visit_json import dump_visit, load_visit

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
for _path in (BENCHMARKS / "zen", BENCHMARKS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import zen_runner  # noqa: E402

import handwritten  # noqa: E402
import workload  # noqa: E402

ALL_RULES = {"units-match-minutes", "go-required", "kx-required", "co-required", "ncci-pair",
             "evaluation-twice", "mue-exceeded", "telehealth-needs-95", "diagnosis-shape",
             "diagnosis-required", "code-not-covered"}


def _load_runner_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_run", BENCHMARKS / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def zen() -> zen_runner.ZenRunner:
    return zen_runner.ZenRunner(zen_runner.DECISION_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def otrules_pack() -> Any:
    from otrules.eval.engine import Pack
    from otrules.lang.loader import load_checked_pack

    return Pack(load_checked_pack(workload.BENCH_PACK))


@pytest.fixture(scope="module")
def generated() -> list[Any]:
    return list(workload.generate_visits(300, seed=11))


# ---- hand-built visits with hand-computed findings -----------------------------------------


def _visit(**fields: Any) -> dict[str, Any]:
    visit: dict[str, Any] = {
        "id": "T-1", "date_of_service": "2026-03-02", "payer": "medicare",
        "place_of_service": "11", "patient": {"id": "P-1", "ytd_ot_allowed": "1000.00"},
        "diagnoses": ["M62.81"], "lines": [],
    }
    visit.update(fields)
    return visit


def _line(code: str, minutes: int | None, units: int, *modifiers: str, **more: Any) -> dict:
    line = {"code": code, "units": units, "modifiers": list(modifiers), "charge": "40.00"}
    if minutes is not None:
        line["minutes"] = minutes
    line.update(more)
    return line


HAND_CASES = [
    pytest.param(
        # 97140 23 min + 97530 15 min = 38 timed minutes -> 3 units: whole units 1 + 1, the
        # extra one to 97140 (remainder 8 beats 0), so 2 + 1 is right. $2,450.00 + $80.00 is
        # over $2,480.00, so both lines need KX; 97140/97530 is a pair edit (indicator 1) and
        # 97530, the column-2 line, has no 59/X modifier.
        _visit(patient={"id": "P-1", "ytd_ot_allowed": "2450.00"},
               lines=[_line("97140", 23, 2, "GO"), _line("97530", 15, 1, "GO")]),
        [("kx-required", 0), ("kx-required", 1), ("ncci-pair", 1)],
        id="kx-and-pair-edit",
    ),
    pytest.param(
        # The same pair written the other way round on the claim, with XU on 97530: no
        # finding (pairs are ordered pairs of lines, whatever their order on the claim).
        _visit(lines=[_line("97530", 15, 1, "GO", "XU"), _line("97140", 23, 2, "GO")]),
        [],
        id="pair-bypassed-in-either-line-order",
    ),
    pytest.param(
        # 97110 20 min + 97112 20 min = 40 -> 3 units; remainders tie (5 and 5), so 2+1 and
        # 1+2 are both valid but 2+2 is not. An OTA gave all of 97112 without CO.
        _visit(lines=[_line("97110", 20, 2, "GO"),
                      _line("97112", 20, 2, "GO", performed_by="OTA", assistant_minutes=20)]),
        [("units-match-minutes", None), ("co-required", 1)],
        id="units-and-co",
    ),
    pytest.param(
        # Telehealth at home (POS 10) without 95 on either line; a malformed diagnosis; a
        # commercial payer that does not cover 97150 (the bench coverage table); two OT
        # evaluations. 2 minutes of 12 by an assistant is not over 10% -> no CO (and the
        # payer is not Medicare anyway).
        _visit(payer="commercial", place_of_service="10", diagnoses=["F90.2", "9F0.2"],
               lines=[_line("97165", 45, 1, "GO"), _line("97166", None, 1, "GO"),
                      _line("97150", 12, 1, "GO", assistant_minutes=2)]),
        [("evaluation-twice", None), ("telehealth-needs-95", 0), ("telehealth-needs-95", 1),
         ("telehealth-needs-95", 2), ("diagnosis-shape", None), ("code-not-covered", 2)],
        id="telehealth-diagnosis-coverage",
    ),
    pytest.param(
        # 97129 30 min alone -> 2 units (23-37), over its limit of 1; no diagnosis at all;
        # an institutional telehealth claim (no place of service) still needs 95; a PT
        # evaluation (97161) is no OT code (so no GO finding) and nobody covers it.
        _visit(place_of_service=None, claim_type="institutional", telehealth=True,
               diagnoses=[], lines=[_line("97129", 30, 2, "GO", "95"),
                                    _line("97161", None, 1, "95")]),
        [("mue-exceeded", 0), ("diagnosis-required", None), ("code-not-covered", 1)],
        id="mue-no-diagnosis-institutional",
    ),
    pytest.param(
        # Outside the pack's 2026 range: one finding and nothing else.
        _visit(date_of_service="2025-12-31", diagnoses=[], lines=[_line("97110", 10, 3)]),
        [("pack-not-effective", None)],
        id="not-effective",
    ),
]


def _clean(visit: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in visit.items() if value is not None}


@pytest.mark.parametrize(("visit", "expected"), HAND_CASES)
def test_handwritten_on_hand_computed_cases(visit: dict, expected: list) -> None:
    assert handwritten.check(load_visit(_clean(visit))) == expected


@pytest.mark.parametrize(("visit", "expected"), HAND_CASES)
def test_zen_on_hand_computed_cases(zen: zen_runner.ZenRunner, visit: dict,
                                    expected: list) -> None:
    assert zen.evaluate(dump_visit(load_visit(_clean(visit)))) == expected


@pytest.mark.parametrize(("visit", "expected"), HAND_CASES)
def test_otrules_on_hand_computed_cases(otrules_pack: Any, visit: dict, expected: list) -> None:
    result = otrules_pack.evaluate(load_visit(_clean(visit)))
    assert [(f.rule, f.line) for f in result.findings] == expected


# ---- cross-checks on generated visits ------------------------------------------------------


def test_zen_per_visit_and_batch_match_handwritten(zen: zen_runner.ZenRunner,
                                                   generated: list) -> None:
    expected = [handwritten.check(visit) for visit in generated]
    contexts = [dump_visit(visit) for visit in generated]
    assert [zen.evaluate(context) for context in contexts] == expected
    assert zen.evaluate_batch(contexts) == expected
    texts = [json.dumps(context) for context in contexts[:50]]
    assert [zen.evaluate(text) for text in texts] == expected[:50]


def test_otrules_matches_handwritten(otrules_pack: Any, generated: list) -> None:
    for visit in generated:
        found = [(f.rule, f.line) for f in otrules_pack.evaluate(visit).findings]
        assert found == handwritten.check(visit), visit.id


def test_big_pair_table_changes_no_finding(tmp_path: Path, generated: list) -> None:
    big = workload.write_pack_with_ptp_rows(tmp_path / "bench-pack", 5000)
    assert len(workload.read_tables(big).ptp) == 5000
    runner = zen_runner.ZenRunner(zen_runner.decision_text(big, indent=None))
    check = handwritten.Checker.from_pack(big).check
    sample = generated[:100]
    expected = [handwritten.check(visit) for visit in sample]
    assert [check(visit) for visit in sample] == expected
    assert [runner.evaluate(dump_visit(visit)) for visit in sample] == expected


# ---- the workload --------------------------------------------------------------------------


def test_generator_is_deterministic_per_seed() -> None:
    first = list(workload.generate_visit_dicts(50, seed=3))
    assert list(workload.generate_visit_dicts(50, seed=3)) == first
    assert list(workload.generate_visit_dicts(50, seed=4)) != first


def test_workload_mix() -> None:
    visits = list(workload.generate_visits(1500, seed=5))
    findings = [handwritten.check(visit) for visit in visits]
    defective = sum(1 for found in findings if found) / len(visits)
    assert 0.20 <= defective <= 0.32
    assert {rule for found in findings for rule, _ in found} == ALL_RULES
    assert Counter(visit.payer for visit in visits).keys() == {"medicare", "medicaid",
                                                                "commercial"}
    assert all(1 <= len(visit.lines) <= 5 for visit in visits)
    # A column-2 line listed before its column-1 line: the case that needs ordered pairs.
    assert any(rule == "ncci-pair" and line == 0 for found in findings for rule, line in found)


def test_committed_model_and_pair_table_are_current(tmp_path: Path) -> None:
    assert zen_runner.DECISION_FILE.read_text(encoding="utf-8") == zen_runner.decision_text()
    workload.write_ptp_csv(tmp_path / "ptp.csv", workload.SMALL_PTP_ROWS)
    shipped = workload.BENCH_PACK / "tables" / "ptp.csv"
    assert shipped.read_bytes() == (tmp_path / "ptp.csv").read_bytes()


# ---- the inlined CMS unit check ------------------------------------------------------------

CODES = ("97110", "97112", "97530", "97535", "97140")


@st.composite
def _stated_minutes(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int]]:
    minutes = draw(st.dictionaries(st.sampled_from(CODES), st.integers(0, 90), min_size=1))
    allocation = allocate_units(minutes)
    stated = {}
    for code in minutes:
        if draw(st.booleans()) or len(minutes) == 1:
            stated[code] = max(0, allocation[code] + draw(st.sampled_from((0, 0, 1, -1))))
    return minutes, stated


@given(_stated_minutes())
def test_inlined_unit_check_agrees_with_otrules_units(case: tuple[dict, dict]) -> None:
    minutes, stated = case
    expected = is_valid_allocation(minutes, stated)
    assert handwritten._stated_units_valid(minutes, stated) is expected
    checker = handwritten.Checker(workload.read_tables())
    lines = tuple(Line(code=code, minutes=m, units=stated.get(code))
                  for code, m in minutes.items())
    assert checker._units_valid_unique(lines) is expected


def test_cms_tie_example_by_hand() -> None:
    # CMS example 2: 20 + 20 minutes -> 3 units; either code may take the second unit.
    minutes = {"97110": 20, "97112": 20}
    assert handwritten._stated_units_valid(minutes, {"97110": 2, "97112": 1})
    assert handwritten._stated_units_valid(minutes, {"97110": 1, "97112": 2})
    assert not handwritten._stated_units_valid(minutes, {"97110": 2, "97112": 2})
    assert not handwritten._stated_units_valid(minutes, {"97110": 3, "97112": 0})


# ---- the runner ----------------------------------------------------------------------------


def test_runner_end_to_end_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    bench_run = _load_runner_module()
    status = bench_run.main(["--visits", "40", "--repeat", "1", "--max-seconds", "0.001",
                             "--big-rows", "300"])
    out = capsys.readouterr().out
    assert status == 0
    assert "hand-written Python" in out
    assert "zen-engine, one call per visit" in out
    assert "us/visit @300" in out
    assert "engine (interleaved)" in out  # hand-written and compiled alternated ...
    assert "otrules compiled, result.to_json()" in out  # ... and with every result built


def test_runner_aborts_on_a_mismatch() -> None:
    bench_run = _load_runner_module()
    visit = load_visit(_clean(HAND_CASES[0].values[0]))
    work = bench_run.Workset([visit], [dump_visit(visit)], [""], [handwritten.check(visit)])
    with pytest.raises(bench_run.Mismatch, match="1 of 1 visits differ"):
        bench_run.verify("broken", [[("go-required", 0)]], work, "test")
