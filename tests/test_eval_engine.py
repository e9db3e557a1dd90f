"""The Pack engine: results and their JSON, errors, determinism, pickling, threads, streaming."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest

from otrules.errors import EvaluationError, InternalError, OtrulesError, PackError, VisitError
from otrules.eval import Finding, Pack, Result, RuleSummary
from otrules.eval.context import EvalContext
from otrules.model import Visit
from otrules.visit_json import dumps_visit, read_visits
from test_eval_support import PRELUDE, build_pack, make_visit

RULES = """
rule go-required : error
  for each line
  when line lacks GO
  say "{line.code} needs GO"
  fix add modifier GO
  source "CMS Pub 100-04 ch. 5 §20.1"

rule kx-required : warning
  let year_total = patient.ytd_ot_allowed + sum of line.charge over lines
  for each line where line.timed
  when year_total > kx_threshold and line lacks KX
  say "OT this year reaches {year_total}, over {kx_threshold}"
  fix add modifier KX
  source "BBA 2018 §50202"

rule same-code-twice : info
  for each pair a, b
  when a.code = b.code
  say "{b.code} is billed twice"
  source "illustration"

rule adhd : info
  for each diagnosis where diagnosis matches F90.*
  when yes
  say "{diagnosis} is ADHD"
  source "ICD-10-CM"
"""

PACK = build_pack(RULES)


def visit(number: int = 1, ytd: str = "2300.00") -> Visit:
    return make_visit(
        [{"code": "97110", "minutes": 20 + number, "charge": "120.00", "modifiers": ["GO"]},
         {"code": "97140", "minutes": 10, "charge": "80.50"},
         {"code": "97110", "minutes": 5, "charge": "40.00", "modifiers": ["GO", "KX"]},
         {"code": "97165", "charge": "185.00", "diagnosis_pointers": [1]}],
        id=f"V-{number}", patient={"id": f"P-{number}", "ytd_ot_allowed": ytd},
        diagnoses=["F90.2", "M17.11"])


VISITS = [visit(n, ytd) for n in range(1, 9) for ytd in ("100.00", "2300.00")]


# ---------------------------------------------------------------------------- results


def test_result_json_shape() -> None:
    data = PACK.evaluate(visit()).to_json()
    assert list(data) == ["visit_id", "pack", "pack_version", "status", "lines", "findings"]
    assert (data["visit_id"], data["pack"], data["pack_version"], data["status"]) == \
        ("V-1", "test-pack", "2026.1", "fail")
    # 21 + 10 + 5 = 36 timed minutes: 2 units. 97110 pools 26 minutes (1 whole unit, 11
    # left over) against 97140's 10, so 97110 gets both. Of its lines, line 0 has the whole
    # unit and 6 minutes left over against line 2's 5, so line 0 also takes the second.
    assert data["lines"][0] == {"line": 0, "code": "97110", "units": 2, "stated_units": None,
                                "modifiers": ["GO"], "charge": "120.00",
                                "diagnosis_pointers": []}
    assert [line["units"] for line in data["lines"]] == [2, 0, 0, 1]
    assert data["lines"][3]["diagnosis_pointers"] == [1]
    assert data["findings"][0] == {
        "rule": "go-required", "severity": "error", "line": 1, "message": "97140 needs GO",
        "fix": {"kind": "add_modifier", "line": 1, "modifier": "GO", "value": None},
        "source": "CMS Pub 100-04 ch. 5 §20.1"}
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [
        ("go-required", 1), ("go-required", 3), ("kx-required", 0), ("kx-required", 1),
        ("same-code-twice", 2), ("same-code-twice", 0), ("adhd", None)]
    assert json.loads(PACK.evaluate(visit()).to_json_text()) == data


def test_pack_properties() -> None:
    assert PACK.name == "test-pack"
    assert PACK.version == "2026.1"
    assert PACK.effective == (dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert PACK.rules[1] == RuleSummary("kx-required", "warning", "BBA 2018 §50202", None,
                                        "test-pack")
    assert [r.id for r in PACK.rules] == ["go-required", "kx-required", "same-code-twice",
                                          "adhd"]


def test_pack_load_reads_and_checks_a_pack_folder(tmp_path: Path) -> None:
    folder = tmp_path / "test-pack"
    folder.mkdir()
    (folder / "pack.otr").write_text(PRELUDE + RULES, encoding="utf-8")
    assert Pack.load(folder).evaluate(visit()) == PACK.evaluate(visit())
    (folder / "pack.otr").write_text(PRELUDE + RULES.replace("line lacks GO", "line lacks GOO"),
                                     encoding="utf-8")
    with pytest.raises(PackError):
        Pack.load(folder)


def test_results_are_immutable_records() -> None:
    result = PACK.evaluate(visit())
    with pytest.raises(AttributeError):
        result.status = "pass"  # type: ignore[misc]
    assert result == PACK.evaluate(visit())
    assert hash(result) == hash(PACK.evaluate(visit()))


# ---------------------------------------------------------------------------- errors


def test_a_failing_rule_raises_evaluation_error_naming_pack_rule_and_visit() -> None:
    # The checker rejects an unknown name (E020); a hand-built pack lets one through.
    pack = build_pack('rule broken : error\n  when no_such_name > 1\n  say "x"\n  source "s"\n',
                      checker=False)
    with pytest.raises(EvaluationError) as caught:
        pack.evaluate(visit())
    error = caught.value
    assert (error.pack, error.rule, error.visit_id) == ("test-pack", "broken", "V-1")
    rule_line = PRELUDE.count("\n") + 3  # the prelude, a blank line, then the rule's `when`
    assert f"`no_such_name` at pack.otr:{rule_line}:8" in str(error)
    assert isinstance(error, OtrulesError)
    assert isinstance(error.__cause__, InternalError)
    assert "P-1" not in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (again.pack, again.rule, again.visit_id) == ("test-pack", "broken", "V-1")


class _ExplodingBackend:
    supports_trace = False

    def run(self, ctx: EvalContext) -> list[Finding]:
        raise ZeroDivisionError("secret P-1")


def test_an_exception_in_a_back_end_becomes_evaluation_error() -> None:
    pack = Pack(PACK.checked, _ExplodingBackend())
    with pytest.raises(EvaluationError) as caught:
        pack.evaluate(visit())
    assert "ZeroDivisionError" in str(caught.value)
    assert "secret" not in str(caught.value)  # exception text may hold visit data
    assert caught.value.visit_id == "V-1"


def test_a_non_visit_is_refused_as_a_visit_error() -> None:
    with pytest.raises(VisitError) as caught:
        PACK.evaluate({"id": "V-1"})  # type: ignore[arg-type]
    assert "load_visit" in str(caught.value)


# ---------------------------------------------------------------------------- back ends


class _FixedBackend:
    supports_trace = False

    def run(self, ctx: EvalContext) -> list[Finding]:
        return [Finding("fixed", "warning", None, f"{len(ctx.lines)} lines")]


def test_pack_runs_any_back_end_and_traces_with_the_interpreter() -> None:
    pack = Pack(PACK.checked, _FixedBackend())
    result = pack.evaluate(visit())
    assert (result.status, result.findings) == ("warn", (Finding("fixed", "warning", None,
                                                                 "4 lines"),))
    traced = pack.evaluate(visit(), trace=True)
    assert traced.findings == PACK.evaluate(visit()).findings
    assert traced.trace is not None
    assert traced.trace[0].rule == "go-required"


# ---------------------------------------------------------------------------- determinism

_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import test_eval_engine as t
out = [t.PACK.evaluate(v, trace=True).to_json_text() for v in t.VISITS[:4]]
sys.stdout.buffer.write("\\n".join(out).encode("utf-8"))
"""


def test_json_is_byte_identical_whatever_the_hash_seed() -> None:
    tests = str(Path(__file__).parent)
    outputs = set()
    for seed in ("0", "1", "4242", "987654321"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _SCRIPT.format(tests=tests)], env=env,
                              capture_output=True, check=True, timeout=120)
        outputs.add(done.stdout)
    assert len(outputs) == 1
    here = "\n".join(PACK.evaluate(v, trace=True).to_json_text() for v in VISITS[:4])
    assert outputs == {here.encode("utf-8")}


# ---------------------------------------------------------------------------- pickling, threads


def test_pickle_round_trip_gives_identical_results() -> None:
    again = pickle.loads(pickle.dumps(PACK))
    assert isinstance(again, Pack)
    for v in VISITS:
        assert again.evaluate(v, trace=True).to_json_text() == \
            PACK.evaluate(v, trace=True).to_json_text()
    result = PACK.evaluate(visit(), trace=True)
    assert pickle.loads(pickle.dumps(result)) == result


def test_eight_threads_get_the_same_results() -> None:
    expected = [PACK.evaluate(v, trace=True) for v in VISITS]
    start = threading.Barrier(8)

    def work(offset: int) -> int:
        start.wait()  # all eight evaluate at once, each starting at a different visit
        mismatches = 0
        for _ in range(3):
            for i in range(len(VISITS)):
                j = (i + offset) % len(VISITS)
                mismatches += PACK.evaluate(VISITS[j], trace=True) != expected[j]
        return mismatches

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(work, range(8))) == [0] * 8


def test_packs_are_immutable() -> None:
    with pytest.raises(AttributeError):
        PACK.checked = None  # type: ignore[misc]


# ---------------------------------------------------------------------------- streaming


def test_evaluate_many_streams_one_result_per_visit_pulled() -> None:
    pulled: list[str] = []

    def source() -> Iterator[Visit]:
        for v in VISITS[:5]:
            pulled.append(v.id)
            yield v

    stream = PACK.evaluate_many(source())
    assert pulled == []  # nothing is read before the first result is asked for
    for n, result in enumerate(stream, start=1):
        assert isinstance(result, Result)
        assert len(pulled) == n  # one visit in, one result out
        assert result.visit_id == pulled[-1]


def test_evaluate_many_passes_bad_records_through_in_order() -> None:
    good = [visit(n) for n in (1, 2, 3)]
    text = "\n".join([dumps_visit(good[0]), '{"id": "V-bad", "lines": []}',
                      dumps_visit(good[1]), "not json", dumps_visit(good[2])]) + "\n"
    out = list(PACK.evaluate_many(read_visits(io.StringIO(text))))
    assert [type(item).__name__ for item in out] == \
        ["Result", "VisitError", "Result", "VisitError", "Result"]
    assert [item.visit_id for item in out if isinstance(item, Result)] == ["V-1", "V-2", "V-3"]
    errors = [item for item in out if isinstance(item, VisitError)]
    assert [(e.record, e.visit_id) for e in errors] == [(2, "V-bad"), (4, None)]
    assert out[2] == PACK.evaluate(good[1])


def test_evaluate_many_raises_evaluation_errors() -> None:
    pack = build_pack('rule broken : error\n  when no_such_name > 1\n  say "x"\n  source "s"\n',
                      checker=False)
    stream = pack.evaluate_many(iter([visit(1), visit(2)]))
    with pytest.raises(EvaluationError):
        next(stream)


def test_public_api() -> None:
    import otrules.eval

    assert sorted(otrules.eval.__all__) == [
        "AppliedFix", "Backend", "BillableLine", "Finding", "FixSuggestion",
        "InterpreterBackend", "Pack", "Result", "RuleSummary", "TraceEntry"]


def test_as_of_selects_parameters_for_another_day_but_keeps_the_date_of_service() -> None:
    import datetime as _dt

    import otrules

    pack = otrules.load_pack("medicare-ot")
    visit = otrules.load_visit({
        "id": "V-AS-OF", "date_of_service": "2026-03-02", "payer": "medicare",
        "patient": {"id": "P-1", "ytd_ot_allowed": "2300.00"}, "diagnoses": ["R27.8"],
        "lines": [{"code": "97530", "minutes": 23, "modifiers": ["GO"], "charge": "120.00",
                   "diagnosis_pointers": [1]}],
    })
    # 2,300.00 + 120.00 = 2,420.00: over the 2025 threshold (2,410.00), under 2026's (2,480.00)
    assert [f.rule for f in pack.evaluate(visit).findings] == []
    as_2025 = pack.evaluate(visit, as_of=_dt.date(2025, 6, 1))
    assert [(f.rule, f.line) for f in as_2025.findings] == [("kx-modifier-required", 0)]
    outside = pack.evaluate(visit, as_of=_dt.date(2027, 1, 5))
    assert [f.rule for f in outside.findings] == ["pack-not-effective"]


# ---------------------------------------------------------------------------- lines built late
# Pack.evaluate builds Result.lines on first read. Every way of reading a result must give
# exactly what a result built with its lines at once gives.


def _eager(result: Result) -> Result:
    lines = tuple(result.lines)  # reads (and so builds) them
    return Result(result.visit_id, result.pack, result.pack_version, result.status, lines,
                  result.findings, result.trace)


_READS = {
    "lines": lambda r: r.lines,
    "json": lambda r: r.to_json_text(),
    "eq": lambda r: r == _eager(PACK.evaluate(VISITS[0])),
    "hash": hash,
    "repr": repr,
    "pickle": lambda r: pickle.loads(pickle.dumps(r)),
    "evolve": lambda r: attrs.evolve(r, status="pass"),
    "asdict": attrs.asdict,
}


@pytest.mark.parametrize("first", list(_READS))
def test_lines_built_late_read_the_same_every_way(first: str) -> None:
    for v in VISITS[:4]:
        reference = _eager(PACK.evaluate(v))
        late = PACK.evaluate(v)
        _READS[first](late)  # whatever reads it first builds the lines ...
        assert late == reference  # ... and everything after sees the same result
        assert hash(late) == hash(reference)
        assert repr(late) == repr(reference)
        assert late.to_json_text() == reference.to_json_text()
        assert pickle.loads(pickle.dumps(late)) == reference
        assert attrs.asdict(late) == attrs.asdict(reference)
        assert late.lines == reference.lines
        assert late.lines is late.lines  # built once, then kept


def test_lines_built_late_are_one_tuple_across_threads() -> None:
    for v in VISITS:
        result = PACK.evaluate(v)
        start = threading.Barrier(8)

        def read(_: int, result: Result = result, start: threading.Barrier = start) -> int:
            start.wait()  # all eight read the unbuilt lines at once
            return id(result.lines)

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert len(set(pool.map(read, range(8)))) == 1


def test_a_visit_the_units_reject_fails_in_evaluate_not_on_reading_lines() -> None:
    bad = attrs.evolve(visit(), lines=[attrs.evolve(line, minutes=-5) for line in visit().lines])
    with pytest.raises(EvaluationError, match="while preparing the visit"):
        PACK.evaluate(bad)
