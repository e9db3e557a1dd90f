"""Scale: one process, N processes and a local Dask cluster on the same JSON Lines workload,
plus the pack cache's cold and cached load times.

The workload is the bench pack's synthetic visits (``workload.py``) written as JSON Lines,
with about 1 % bad records mixed in (invalid JSON, invalid fields, 51 service lines, a line
over the record limit). Every configuration runs the same pipeline — JSON Lines in, one JSON
line out per record (``Result.to_json()`` or the invalid-record shape), written to a file —
in a fresh process, and must account for every record: records in = results + invalid out.
Peak memory is the largest total RSS of the process tree (parent and workers), sampled.

    python benchmarks/bench_scale.py                      # 1,000,000 visits, about 30 minutes
    python benchmarks/bench_scale.py --visits 20000 --repeat 3
    python benchmarks/bench_scale.py --cache-only
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import workload
from otrules.visit_json import MAX_RECORD_CHARS

HERE = Path(__file__).resolve().parent
BUNDLED = ("medicare-ot", "medicaid-example", "commercial-example", "language-tour",
           "language-tour-extended")


# ---------------------------------------------------------------------------- workload


def write_workload(path: Path, count: int, seed: int) -> tuple[int, int]:
    """``count`` records, about 1 % of them bad; returns (good, bad)."""
    rng = random.Random(seed)
    good = bad = 0
    with path.open("w", encoding="utf-8") as out:
        for index, visit in enumerate(workload.generate_visit_dicts(count, seed)):
            if index and rng.random() < 0.01:
                out.write(_bad_record(visit, rng, count) + "\n")
                bad += 1
            else:
                out.write(json.dumps(visit, separators=(",", ":")) + "\n")
                good += 1
    return good, bad


def _bad_record(visit: dict[str, Any], rng: random.Random, count: int) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return json.dumps(visit)[:-7]
    if kind == 1:
        return json.dumps({**visit, "date_of_service": "2026-02-30"})
    if kind == 2:
        return json.dumps({**visit, "lines": visit["lines"][:1] * 51})
    # A few records over the size limit (each is a megabyte): about ten per million.
    if rng.random() < 10 / max(count // 400, 10):
        return json.dumps({**visit, "payer": "x" * MAX_RECORD_CHARS})
    return json.dumps({k: v for k, v in visit.items() if k != "payer"})


def records(path: Path) -> Iterator[str]:
    """The non-blank lines, as the workers receive them (the parent does not parse)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


# ---------------------------------------------------------------------------- one run


def run_local(path: Path, out: Path, workers: int, chunk: int) -> dict[str, int]:
    from otrules.api import load_pack
    from otrules.integrations import outcome_json
    from otrules.parallel import evaluate_many_parallel

    pack = load_pack(workload.BENCH_PACK)
    results = invalid = 0
    with out.open("w", encoding="utf-8") as sink:
        for item in evaluate_many_parallel(pack, records(path), workers=workers,
                                           chunk_size=chunk, json_text=True):
            if isinstance(item, str):
                results += 1
                sink.write(item + "\n")
            else:
                invalid += 1
                sink.write(json.dumps(outcome_json(item)) + "\n")
    return {"results": results, "invalid": invalid}


def run_dask(path: Path, out: Path, workers: int) -> dict[str, int]:
    import dask
    import dask.bag as db
    from distributed import Client, LocalCluster

    from otrules.api import load_pack
    from otrules.integrations.dask import evaluate_bag

    pack = load_pack(workload.BENCH_PACK)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        bag = db.read_text(str(path), blocksize=8_000_000).filter(str.strip)
        outcomes = evaluate_bag(pack, bag, client=client)
        written = outcomes.map(json.dumps).to_textfiles(str(out) + ".d/*.jsonl", compute=False)
        invalid = outcomes.map(lambda o: o["status"] == "invalid").frequencies()
        # One compute for both: the graphs share the evaluation, which then runs once.
        _, frequencies = dask.compute(written, invalid)
        counts = dict(frequencies)
    return {"results": counts.get(False, 0), "invalid": counts.get(True, 0)}


def child(args: argparse.Namespace) -> None:
    """One timed configuration in this (fresh) process; prints one JSON object."""
    sampler = _PeakMemory()
    started = time.perf_counter()
    if args.mode == "dask":
        counts = run_dask(args.input, args.output, args.workers)
    else:
        counts = run_local(args.input, args.output, args.workers, args.chunk)
    seconds = time.perf_counter() - started
    print(json.dumps({**counts, "seconds": seconds, "peak_mb": sampler.stop()}))


class _PeakMemory:
    """The largest total RSS of this process and its descendants, sampled every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.done.wait(0.2):
            total = 0
            for proc in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except Exception:  # a worker that just ended
                    continue
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak // 2**20


def measure(mode: str, workers: int, path: Path, scratch: Path, chunk: int) -> dict[str, Any]:
    out = scratch / f"out-{mode}-{workers}.jsonl"
    command = [sys.executable, __file__, "--child", mode, "--workers", str(workers),
               "--chunk", str(chunk), "--input", str(path), "--output", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True,
                          cwd=HERE)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- cache


def cache_figures(repeat: int) -> list[dict[str, Any]]:
    """Cold (no cache) and cached load of each bundled pack, each in a fresh process, so
    that nothing is warm but the disk."""
    rows = []
    with tempfile.TemporaryDirectory() as cache_dir:
        for name in BUNDLED:
            timings: dict[str, list[float]] = {"cold": [], "cached": [], "compile": []}
            _load_once(name, cache_dir, "cached")  # fill the entry
            for _ in range(repeat):
                for kind in ("cold", "cached", "compile"):
                    timings[kind].append(_load_once(name, cache_dir, kind))
            rows.append({"pack": name, **{k: statistics.median(v) for k, v in timings.items()}})
    return rows


_LOAD = """
import sys, time
import otrules, otrules.cache as c
from otrules.eval.compiler import CompiledBackend
name, cache_dir, kind = sys.argv[1:4]
otrules.lang.parser._base_parser()  # the grammar is built once per process either way
if kind == "compile":
    checked = c.load_cached_checked(name, cache_dir=cache_dir).pack
    t = time.perf_counter(); CompiledBackend(checked)
else:
    t = time.perf_counter()
    otrules.load_pack(name) if kind == "cold" else c.load_cached(name, cache_dir=cache_dir)
print(time.perf_counter() - t)
"""


def _load_once(name: str, cache_dir: str, kind: str) -> float:
    done = subprocess.run([sys.executable, "-c", _LOAD, name, cache_dir, kind],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip()) * 1000


# ---------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--only", choices=["one", "processes", "dask"],
                        help="run one configuration only")
    parser.add_argument("--cache-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", dest="mode", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        child(args)
        return 0
    figures: dict[str, Any] = {"load_average_before": os.getloadavg()}
    if not args.cache_only:
        figures["scale"] = scale_section(args)
    figures["cache"] = cache_figures(max(args.repeat, 5))
    figures["load_average_after"] = os.getloadavg()
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def scale_section(args: argparse.Namespace) -> list[dict[str, Any]]:
    configs = [("local", 1), ("local", args.workers)]
    if not args.no_dask:
        configs.append(("dask", args.workers))
    if args.only:
        configs = [configs[["one", "processes", "dask"].index(args.only)]]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "visits.jsonl"
        good, bad = write_workload(path, args.visits, args.seed)
        print(f"workload: {good:,} good + {bad:,} bad records, "
              f"{path.stat().st_size / 2**20:,.0f} MB", file=sys.stderr)
        for mode, workers in configs:
            runs = [measure(mode, workers, path, Path(scratch), args.chunk)
                    for _ in range(args.repeat)]
            for run in runs:  # nothing lost, in every run
                assert (run["results"], run["invalid"]) == (good, bad), run
            seconds = statistics.median(r["seconds"] for r in runs)
            rows.append({"config": _label(mode, workers), "records": good + bad,
                         "seconds": seconds, "per_second": (good + bad) / seconds,
                         "peak_mb": max(r["peak_mb"] for r in runs)})
            print(f"  {rows[-1]}", file=sys.stderr)
    return rows


def _label(mode: str, workers: int) -> str:
    if mode == "dask":
        return f"Dask LocalCluster, {workers} worker processes"
    return "1 process" if workers == 1 else f"{workers} processes"


def print_report(figures: dict[str, Any]) -> None:
    print(f"load average before: {figures['load_average_before']}, "
          f"after: {figures['load_average_after']}")
    if "scale" in figures:
        print("\n| configuration | records | visits/s | peak memory (all processes) |")
        print("|---|---:|---:|---:|")
        for row in figures["scale"]:
            print(f"| {row['config']} | {row['records']:,} | {row['per_second']:,.0f} | "
                  f"{row['peak_mb']:,} MB |")
    print("\n| pack | cold load | cached load | of which compile |")
    print("|---|---:|---:|---:|")
    for row in figures["cache"]:
        print(f"| {row['pack']} | {row['cold']:.0f} ms | {row['cached']:.0f} ms | "
              f"{row['compile']:.0f} ms |")


if __name__ == "__main__":
    sys.exit(main())
