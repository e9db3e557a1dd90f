"""One compiled pack shared by eight threads gives exactly what one thread gives."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from otrules.api import load_pack
from otrules.eval.engine import Pack
from otrules.model import Visit
from otrules.resources import package_data_dir
from otrules.visit_json import read_visits

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(_BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(_BENCHMARKS))

import workload  # noqa: E402

THREADS = 8


def run_threads(pack: Pack, visits: list[Visit], trace: bool) -> list[list[object]]:
    """Each thread evaluates every visit, starting at its own offset, all released at once
    so that they really overlap."""
    barrier = threading.Barrier(THREADS)

    def work(offset: int) -> list[object]:
        barrier.wait()
        order = visits[offset:] + visits[:offset]
        results = [pack.evaluate(v, trace=trace) for v in order]
        return results[-offset:] + results[:-offset] if offset else results

    step = max(len(visits) // THREADS, 1)
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, [i * step for i in range(THREADS)]))


@pytest.mark.parametrize("name", ["bench", "medicare-ot", "language-tour"])
def test_eight_threads_agree_with_one(name: str) -> None:
    if name == "bench":
        pack = load_pack(workload.BENCH_PACK)
        visits = list(workload.generate_visits(400, seed=5))
    else:
        pack = load_pack(name)
        base = [r.visit for r in read_visits(package_data_dir() / "example-visits.jsonl")]
        visits = [v for v in base if v is not None] * 20
    assert type(pack.backend).__name__ == "CompiledBackend"
    expected = [pack.evaluate(v) for v in visits]
    for got in run_threads(pack, visits, trace=False):
        assert got == expected


def test_traced_evaluation_from_eight_threads() -> None:
    pack = load_pack(workload.BENCH_PACK)
    visits = list(workload.generate_visits(80, seed=6))
    expected = [pack.evaluate(v, trace=True) for v in visits]
    for got in run_threads(pack, visits, trace=True):
        assert got == expected


def test_fix_from_eight_threads() -> None:
    pack = load_pack(workload.BENCH_PACK)
    visits = list(workload.generate_visits(100, seed=8))
    expected = [pack.fix(v) for v in visits]
    barrier = threading.Barrier(THREADS)

    def work(_: int) -> list[object]:
        barrier.wait()
        return [pack.fix(v) for v in visits]

    with ThreadPoolExecutor(THREADS) as pool:
        for got in pool.map(work, range(THREADS)):
            assert got == expected
