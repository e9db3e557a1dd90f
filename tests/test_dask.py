"""The Dask integration against a real distributed cluster: two worker processes, small data.
Outcomes are the same JSON as ``Result.to_json()`` from one process, in the same order."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.bag as db
import dask.dataframe as dd
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from otrules.api import load_pack
from otrules.eval.engine import Pack
from otrules.integrations.dask import RESULT_COLUMNS, evaluate_bag, evaluate_dataframe
from otrules.visit_json import dump_visit

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(_BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(_BENCHMARKS))

import workload  # noqa: E402

BAD = '{"id": "V-bad", "payer": 5}'


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(workload.BENCH_PACK)


@pytest.fixture(scope="module")
def visits() -> list[dict[str, Any]]:
    return [dump_visit(v) for v in workload.generate_visits(120, seed=21)]


def expected(pack: Pack, visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from otrules.visit_json import load_visit

    return [pack.evaluate(load_visit(v)).to_json() for v in visits]


def test_cluster_has_two_worker_processes(client: Client) -> None:
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2


def test_bag_of_json_text(client: Client, pack: Pack, visits: list[dict[str, Any]]) -> None:
    bag = db.from_sequence([json.dumps(v) for v in visits] + [BAD], npartitions=4)
    out = evaluate_bag(pack, bag, client=client).compute()
    assert out[:-1] == expected(pack, visits)
    assert out[-1]["visit_id"] == "V-bad"
    assert out[-1]["status"] == "invalid"
    assert {p["path"] for p in out[-1]["problems"]} >= {"payer", "lines"}


def test_bag_of_dicts_and_visit_objects(client: Client, pack: Pack,
                                        visits: list[dict[str, Any]]) -> None:
    from otrules.visit_json import load_visit

    mixed: list[Any] = [v if i % 2 else load_visit(v) for i, v in enumerate(visits)]
    out = evaluate_bag(pack, db.from_sequence(mixed, npartitions=3)).compute()  # default client
    assert out == expected(pack, visits)


def test_dataframe_with_a_named_column(client: Client, pack: Pack,
                                       visits: list[dict[str, Any]]) -> None:
    texts = [json.dumps(v) for v in visits] + [BAD]
    frame = pd.DataFrame({"claim_json": texts, "batch": 7},
                         index=pd.RangeIndex(100, 100 + len(texts)))
    ddf = dd.from_pandas(frame, npartitions=3)
    out = evaluate_dataframe(pack, ddf, column="claim_json", client=client).compute()
    assert list(out.columns) == list(RESULT_COLUMNS)
    assert list(out.index) == list(frame.index)
    assert [json.loads(text) for text in out["result"][:-1]] == expected(pack, visits)
    assert list(out["visit_id"][:-1]) == [v["id"] for v in visits]
    assert list(out["status"])[-1] == "invalid"


def count_compiles() -> None:
    """Runs on each worker: count the compiled packs built there from now on."""
    from otrules.eval import compiler

    backend: Any = compiler.CompiledBackend
    if not hasattr(backend, "built"):
        real = backend.__init__

        def counting(self: Any, checked: Any) -> None:
            backend.built += 1
            real(self, checked)

        backend.__init__ = counting
    backend.built = 0


def compiles() -> int:
    from otrules.eval import compiler

    return int(compiler.CompiledBackend.built)  # type: ignore[attr-defined]


@pytest.mark.parametrize("partitions", [2, 12])
def test_the_pack_reaches_each_worker_once(client: Client, pack: Pack,
                                           visits: list[dict[str, Any]],
                                           partitions: int) -> None:
    client.run(count_compiles)
    bag = db.from_sequence([json.dumps(v) for v in visits], npartitions=partitions)
    evaluate_bag(pack, bag, client=client).compute()
    # Broadcast to both workers, unpickled (and so compiled) once on each, however many
    # tasks there are: no task carries a pack of its own.
    assert sorted(client.run(compiles).values()) == [1, 1]


def test_missing_column_is_a_clear_error(client: Client, pack: Pack) -> None:
    ddf = dd.from_pandas(pd.DataFrame({"visit_json": ["{}"]}), npartitions=1)
    with pytest.raises(KeyError, match="no column 'visit'"):
        evaluate_dataframe(pack, ddf, client=client)
