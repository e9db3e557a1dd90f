"""evaluate_many_parallel: the same outcomes as one process, in input order, with the pack
sent once, bounded work in flight, and errors that come out as they should."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otrules.api import load_pack
from otrules.errors import EvaluationError, Problem, VisitError
from otrules.eval.compiler import CompiledBackend
from otrules.eval.context import EvalContext
from otrules.eval.engine import Pack
from otrules.eval.result import Finding, Result
from otrules.model import Line, Visit
from otrules.parallel import evaluate_many_parallel
from otrules.visit_json import VisitRecord, dump_visit

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(_BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(_BENCHMARKS))

import workload  # noqa: E402


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(workload.BENCH_PACK)


@pytest.fixture(scope="module")
def visits() -> list[Visit]:
    return list(workload.generate_visits(600, seed=11))


def test_same_outcomes_in_the_same_order(pack: Pack, visits: list[Visit]) -> None:
    serial = [pack.evaluate(v) for v in visits]
    parallel = list(evaluate_many_parallel(pack, visits, workers=2, chunk_size=7))
    assert parallel == serial
    assert [r.visit_id for r in parallel] == [v.id for v in visits]


def test_json_in_and_json_text_out(pack: Pack, visits: list[Visit]) -> None:
    texts = [dump_visit(v) for v in visits[:100]]
    out = list(evaluate_many_parallel(pack, texts, workers=2, chunk_size=16, json_text=True))
    assert out == [pack.evaluate(v).to_json_text() for v in visits[:100]]


def test_bad_records_come_out_in_their_place(pack: Pack, visits: list[Visit]) -> None:
    error = VisitError([Problem("", "not valid JSON")], record=2)
    too_big = Visit(id="V-big", date_of_service=visits[0].date_of_service, payer="medicare",
                    patient=visits[0].patient, diagnoses=(),
                    lines=[Line(code="97110", minutes=15)] * 51)
    items: list[Any] = [visits[0], VisitRecord(2, None, error), too_big, '{"id": 5}',
                        VisitRecord(5, visits[1], None)]
    out = list(evaluate_many_parallel(pack, items, workers=2, chunk_size=2))
    assert [type(o).__name__ for o in out] == ["Result", "VisitError", "VisitError",
                                               "VisitError", "Result"]
    assert out[1] is not error  # it crossed a process boundary, and kept its data
    assert out[1].problems == error.problems  # type: ignore[union-attr]
    assert out[1].record == 2  # type: ignore[union-attr]
    assert (out[2].record, out[2].visit_id) == (3, "V-big")  # type: ignore[union-attr]
    assert [p.message for p in out[2].problems] == [  # type: ignore[union-attr]
        "51 service lines, over the limit of 50"]
    assert out[3].record == 4  # type: ignore[union-attr]
    assert out[3].problems[0].path == "id"  # type: ignore[union-attr]


def test_one_worker_needs_no_pool(pack: Pack, visits: list[Visit],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a pool was started")

    monkeypatch.setattr("otrules.parallel.ProcessPoolExecutor", no_pool)
    out = list(evaluate_many_parallel(pack, visits[:50], workers=1))
    assert out == [pack.evaluate(v) for v in visits[:50]]


def test_the_pack_is_pickled_once(pack: Pack, visits: list[Visit],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pickled: list[int] = []
    real = CompiledBackend.__reduce__

    def counting(self: CompiledBackend) -> tuple[Any, ...]:
        pickled.append(1)
        return real(self)

    monkeypatch.setattr(CompiledBackend, "__reduce__", counting)
    out = list(evaluate_many_parallel(pack, visits, workers=2, chunk_size=10))
    assert len(out) == len(visits)  # 60 chunks
    assert len(pickled) == 1


def test_work_in_flight_is_bounded(pack: Pack, visits: list[Visit]) -> None:
    pulled = 0

    def endless() -> Iterator[Visit]:
        nonlocal pulled
        while True:
            for v in visits:
                pulled += 1
                yield v

    chunk, in_flight = 20, 3
    outcomes = evaluate_many_parallel(pack, endless(), workers=2, chunk_size=chunk,
                                      max_in_flight=in_flight)
    for count, _ in enumerate(outcomes, start=1):
        assert pulled - count <= (in_flight + 1) * chunk
        if count == 500:
            break
    started = time.monotonic()
    outcomes.close()  # stopping early shuts the pool down without evaluating the rest
    assert time.monotonic() - started < 30
    assert pulled <= 500 + (in_flight + 1) * chunk
    assert multiprocessing.active_children() == []


class FailOn:
    """A back end that fails on one visit (a stand-in for a bug in otrules)."""

    supports_trace = False

    def __init__(self, pack: Pack, visit_id: str, how: str) -> None:
        self.inner = pack.backend
        self.visit_id = visit_id
        self.how = how

    def run(self, ctx: EvalContext) -> list[Finding]:
        if ctx.visit.id == self.visit_id:
            if self.how == "exit":
                os._exit(3)  # the worker dies as if killed
            raise EvaluationError("boom", pack="bench", visit_id=self.visit_id)
        return self.inner.run(ctx)


def test_an_evaluation_error_is_raised_after_every_earlier_result(
        pack: Pack, visits: list[Visit]) -> None:
    failing = Pack(pack.checked, FailOn(pack, visits[123].id, "raise"))
    seen: list[Result | VisitError] = []
    outcomes = evaluate_many_parallel(failing, visits, workers=2, chunk_size=10)
    with pytest.raises(EvaluationError) as caught:
        seen.extend(outcomes)
    assert caught.value.visit_id == visits[123].id
    assert [r.visit_id for r in seen] == [v.id for v in visits[:123]]  # type: ignore[union-attr]
    assert multiprocessing.active_children() == []


def test_a_dead_worker_is_an_evaluation_error(pack: Pack, visits: list[Visit]) -> None:
    failing = Pack(pack.checked, FailOn(pack, visits[40].id, "exit"))
    with pytest.raises(EvaluationError, match="worker process stopped unexpectedly"):
        list(evaluate_many_parallel(failing, visits[:80], workers=2, chunk_size=10))
    assert multiprocessing.active_children() == []


def test_spawned_workers_get_the_same_answers(pack: Pack, visits: list[Visit]) -> None:
    out = list(evaluate_many_parallel(pack, visits[:60], workers=2, chunk_size=15,
                                      start_method="spawn"))
    assert out == [pack.evaluate(v) for v in visits[:60]]


def test_trace_crosses_the_process_boundary(pack: Pack, visits: list[Visit]) -> None:
    out = list(evaluate_many_parallel(pack, visits[:20], workers=2, chunk_size=5, trace=True))
    assert out == [pack.evaluate(v, trace=True) for v in visits[:20]]
    assert all(r.trace for r in out)  # type: ignore[union-attr]


@pytest.mark.parametrize(("workers", "chunk_size"), [(0, 10), (2, 0), (-1, 5)])
def test_nonsense_settings_are_refused(pack: Pack, workers: int, chunk_size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        evaluate_many_parallel(pack, [], workers=workers, chunk_size=chunk_size)


def test_pack_evaluate_many_with_workers(pack: Pack, visits: list[Visit]) -> None:
    assert list(pack.evaluate_many(visits[:80], workers=2)) == [
        pack.evaluate(v) for v in visits[:80]]
