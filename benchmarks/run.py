"""Benchmark runner: hand-written Python vs zen-engine vs otrules on the bench pack.

    python benchmarks/run.py [--visits N] [--repeat K] [--quick] [--seed S] [--big-rows R]

Prints, in one run: visits/s (median of K repeats) for every engine on already-loaded visits
and end to end (JSON text in, result JSON text out), each with its slowdown against the
hand-written baseline; then the table-size curve (the pair table with 100 rows vs
``--big-rows`` rows, per-visit time ratio). Before anything is timed every engine is checked
to give the same findings as the hand-written baseline; every timed run is checked again
afterwards. A difference aborts the run with exit status 1.

Machines are noisy (2 cores, shared): read the medians and ratios, not single times. A timed
run covers at most ``--max-seconds`` of work per engine (slow engines time fewer visits of the
same seeded stream), so a full run stays within minutes.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
for _path in (HERE / "zen", HERE):  # run as a script or imported by the tests
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import zen_runner  # noqa: E402

import handwritten  # noqa: E402
import workload  # noqa: E402
from otrules.model import Visit  # noqa: E402
from otrules.visit_json import dump_visit, load_visit  # noqa: E402

Finding = tuple[str, int | None]
Loaded = Callable[[Sequence[Any]], list[Any]]  # pre-loaded inputs -> the engine's own results
EndToEnd = Callable[[Sequence[str]], list[str]]  # visit JSON texts -> result JSON texts


class Mismatch(Exception):
    """An engine disagreed with the hand-written baseline."""


@attrs.frozen
class Engine:
    name: str
    loaded: Loaded
    end_to_end: EndToEnd
    takes_dicts: bool  # its pre-loaded input is the visit's JSON dict, not a Visit
    pack: Any = None  # the otrules Pack behind it, if any
    # The engine's results as (rule, line) findings for the cross-check, converted after the
    # timed run: the timed call is the one an application makes, returning what it returns.
    findings: Callable[[list[Any]], list[list[Finding]]] = list


@attrs.frozen
class Workset:
    visits: list[Visit]
    dicts: list[dict[str, Any]]
    texts: list[str]
    reference: list[list[Finding]]  # the hand-written findings, the yardstick

    def inputs(self, engine: Engine) -> Sequence[Any]:
        return self.dicts if engine.takes_dicts else self.visits


@attrs.frozen
class Settings:
    visits: int
    repeat: int
    seed: int
    max_seconds: float
    crosscheck: int
    big_rows: int
    batch_size: int


# ---- engines -------------------------------------------------------------------------------


def _result_json(visit_id: str, findings: list[Finding]) -> str:
    return json.dumps({"visit_id": visit_id,
                       "findings": [{"rule": rule, "line": line} for rule, line in findings]},
                      separators=(",", ":"))


def handwritten_engine(pack_dir: Path) -> Engine:
    check = handwritten.Checker.from_pack(pack_dir).check

    def loaded(visits: Sequence[Visit]) -> list[list[Finding]]:
        return [check(visit) for visit in visits]

    def end_to_end(texts: Sequence[str]) -> list[str]:
        out = []
        for text in texts:
            visit = load_visit(text)  # the same validation otrules' end-to-end path does
            out.append(_result_json(visit.id, check(visit)))
        return out

    return Engine("hand-written Python", loaded, end_to_end, takes_dicts=False)


def zen_engines(pack_dir: Path, batch_size: int) -> list[Engine]:
    runner = zen_runner.ZenRunner(zen_runner.decision_text(pack_dir, indent=None))

    def per_visit(contexts: Sequence[Any]) -> list[list[Finding]]:
        return [runner.evaluate(context) for context in contexts]

    def batch(contexts: Sequence[Any]) -> list[list[Finding]]:
        out: list[list[Finding]] = []
        for start in range(0, len(contexts), batch_size):
            out.extend(runner.evaluate_batch(contexts[start:start + batch_size]))
        return out

    def per_visit_text(texts: Sequence[str]) -> list[str]:
        # zen takes the JSON text as it is (it does not validate it against the contract).
        return [json.dumps(runner.evaluate_raw(text)["result"], separators=(",", ":"))
                for text in texts]

    def batch_text(texts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            out.extend(json.dumps(result, separators=(",", ":"))
                       for result in runner.evaluate_batch_raw(texts[start:start + batch_size]))
        return out

    return [Engine("zen-engine, one call per visit", per_visit, per_visit_text, True),
            Engine(f"zen-engine, batch of {batch_size}", batch, batch_text, True)]


def _result_findings(results: list[Any]) -> list[list[Finding]]:
    return [[(f.rule, f.line) for f in result.findings] for result in results]


def _otrules_engine(name: str, pack: Any) -> Engine:
    def loaded(visits: Sequence[Visit]) -> list[Any]:
        return [pack.evaluate(visit) for visit in visits]

    def end_to_end(texts: Sequence[str]) -> list[str]:
        return [pack.evaluate(load_visit(text)).to_json_text() for text in texts]

    return Engine(name, loaded, end_to_end, takes_dicts=False, findings=_result_findings)


def materialised(engine: Engine, pack: Any) -> Engine:
    """``engine`` with every result fully built (``to_json()``) before its findings are
    read: the figure to compare when a back end builds parts of the result on first read."""
    def loaded(visits: Sequence[Visit]) -> list[Any]:
        out = []
        for visit in visits:
            result = pack.evaluate(visit)
            result.to_json()
            out.append(result)
        return out

    return Engine(f"{engine.name}, result.to_json()", loaded, engine.end_to_end,
                  takes_dicts=False, findings=_result_findings)


def _compiled(pack_cls: Any, checked: Any, probe: Visit) -> tuple[Any | None, str]:
    """A Pack on the compiled back end, if this checkout has one; else None and why not."""
    makers: list[tuple[str, Callable[[], Any]]] = [
        ("Pack(checked, backend='compiled')", lambda: pack_cls(checked, backend="compiled")),
        ("Pack.compiled(checked)", lambda: pack_cls.compiled(checked)),
    ]
    for module_name in ("otrules.eval.compiled", "otrules.eval.compiler", "otrules.compiler"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in ("CompiledBackend", "CompilerBackend"):
            if hasattr(module, attr):
                backend = getattr(module, attr)
                makers.append((f"{module_name}.{attr}",
                               lambda b=backend: pack_cls(checked, backend=b(checked))))
    for label, make in makers:
        try:
            pack = make()
            pack.evaluate(probe)
        except Exception:
            continue
        if "interpret" not in type(getattr(pack, "backend", None)).__name__.lower():
            return pack, label
    return None, "no compiled back end found (tried Pack(..., backend='compiled'), " \
                 "Pack.compiled(...), otrules.eval.compiled/compiler.CompiledBackend)"


def otrules_engines(pack_dir: Path, probe: Visit) -> tuple[list[Engine], list[str]]:
    try:
        from otrules.eval.engine import Pack
        from otrules.lang.loader import load_checked_pack
    except ImportError as error:
        return [], [f"otrules engine not available yet ({error}); its rows are skipped"]
    checked = load_checked_pack(pack_dir)
    engines = [_otrules_engine("otrules interpreter", Pack(checked))]
    compiled, how = _compiled(Pack, checked, probe)
    if compiled is None:
        return engines, [f"otrules compiled: skipped, {how}"]
    engines.append(_otrules_engine("otrules compiled", compiled))
    engines[-1] = attrs.evolve(engines[-1], pack=compiled)
    return engines, [f"otrules compiled: via {how}"]


def all_engines(pack_dir: Path, settings: Settings, probe: Visit) -> tuple[list[Engine], list[str]]:
    otrules, notes = otrules_engines(pack_dir, probe)
    return [handwritten_engine(pack_dir), *zen_engines(pack_dir, settings.batch_size),
            *otrules], notes


# ---- checking and timing ---------------------------------------------------------------------


def findings_in(result_json: str) -> list[Finding]:
    found = json.loads(result_json)["findings"]
    return [(f["rule"], None if f["line"] is None else int(f["line"])) for f in found]


def verify(engine: str, got: list[list[Finding]], work: Workset, what: str) -> None:
    expected = work.reference[: len(got)]
    if got == expected:
        return
    lines = [f"{engine} ({what}) disagrees with the hand-written baseline:"]
    bad = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    for i in bad[:5]:
        lines.append(f"  visit {work.visits[i].id}: got {got[i]}, expected {expected[i]}")
    lines.append(f"  {len(bad)} of {len(got)} visits differ")
    raise Mismatch("\n".join(lines))


def crosscheck(engines: list[Engine], work: Workset, count: int) -> None:
    """Every engine, both paths, against the baseline on the first ``count`` visits."""
    for engine in engines:
        verify(engine.name, engine.findings(engine.loaded(work.inputs(engine)[:count])), work,
               "loaded visits")
        texts = engine.end_to_end(work.texts[: min(count, 300)])
        verify(engine.name, [findings_in(text) for text in texts], work, "end to end")


@attrs.frozen
class Measure:
    rate: float  # visits/s, median of the repeats
    visits: int  # visits per timed run


def measure(run: Callable[[Sequence[Any]], list[Any]], inputs: Sequence[Any],
            check: Callable[[list[Any]], None], settings: Settings) -> Measure:
    warm = inputs[:100]
    start = time.perf_counter()
    run(warm)  # warm-up, and a first estimate of the speed
    estimate = len(warm) / max(time.perf_counter() - start, 1e-9)
    count = min(len(inputs), max(len(warm), int(estimate * settings.max_seconds)))
    sample = inputs[:count]
    rates = []
    for _ in range(settings.repeat):
        gc.collect()
        gc.disable()  # as timeit does: a collection landing in one run only adds noise
        try:
            start = time.perf_counter()
            out = run(sample)
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        check(out)
        rates.append(count / elapsed)
    return Measure(statistics.median(rates), count)


def measure_loaded(engine: Engine, work: Workset, settings: Settings) -> Measure:
    return measure(engine.loaded, work.inputs(engine),
                   lambda out: verify(engine.name, engine.findings(out), work, "timed run"),
                   settings)


def measure_end_to_end(engine: Engine, work: Workset, settings: Settings) -> Measure:
    return measure(engine.end_to_end, work.texts,
                   lambda out: verify(engine.name, [findings_in(t) for t in out], work,
                                      "timed end-to-end run"), settings)


# ---- the report ------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows,
                                                                        strict=True)]
    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        return "  ".join([first.ljust(widths[0]),
                          *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))])
    return "\n".join([line(headers), line(["-" * w for w in widths]),
                      *(line(row) for row in rows)])


def _progress(message: str) -> None:
    sys.stdout.flush()
    print(f"  ... {message}", file=sys.stderr, flush=True)


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _slowdown(baseline: float, value: float) -> str:
    return f"{baseline / value:,.1f}x"


def speed_section(engines: list[Engine], work: Workset, settings: Settings) -> list[dict]:
    results = []
    for engine in engines:
        loaded = measure_loaded(engine, work, settings)
        end_to_end = measure_end_to_end(engine, work, settings)
        results.append({"engine": engine.name, "loaded": attrs.asdict(loaded),
                        "end_to_end": attrs.asdict(end_to_end)})
        _progress(f"timed {engine.name}")
    base_loaded = results[0]["loaded"]["rate"]
    base_e2e = results[0]["end_to_end"]["rate"]
    rows = [[r["engine"], _rate(r["loaded"]["rate"]), _slowdown(base_loaded, r["loaded"]["rate"]),
             str(r["loaded"]["visits"]), _rate(r["end_to_end"]["rate"]),
             _slowdown(base_e2e, r["end_to_end"]["rate"]), str(r["end_to_end"]["visits"])]
            for r in results]
    print(table(["engine", "loaded visits/s", "vs hand", "timed", "JSON->JSON visits/s",
                 "vs hand", "timed"], rows))
    return results


def interleaved_section(engines: list[Engine], work: Workset, rounds: int) -> list[dict]:
    """Hand-written and the otrules compiled back end alternated in one process, ``rounds``
    times over the same visits: best and median CPU time (``time.process_time``) per visit.
    On a shared machine, alternating puts both engines under the same load. The compiled
    back end is timed twice: ``Pack.evaluate`` as it returns, and with every result fully
    built (``to_json()``), since a result builds its billable lines on first read."""
    chosen = [e for e in engines if e.name.startswith("hand-written") or e.name ==
              "otrules compiled"]
    chosen += [materialised(e, e.pack) for e in chosen if e.pack is not None]
    count = min(len(work.visits), 2000)
    times: dict[str, list[float]] = {engine.name: [] for engine in chosen}
    for _ in range(rounds):
        for engine in chosen:
            inputs = work.inputs(engine)[:count]
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                out = engine.loaded(inputs)
                elapsed = time.process_time() - start
            finally:
                gc.enable()
            verify(engine.name, engine.findings(out), work, "interleaved run")
            times[engine.name].append(elapsed / count * 1e6)
    base = min(times[chosen[0].name])
    results = [{"engine": name, "best_us": min(ts), "median_us": statistics.median(ts),
                "visits": count, "rounds": rounds} for name, ts in times.items()]
    rows = [[r["engine"], f"{r['best_us']:,.1f}", f"{r['median_us']:,.1f}",
             f"{1e6 / r['best_us']:,.0f}", f"{base / r['best_us']:.0%}"] for r in results]
    print(table(["engine (interleaved)", "best us/visit", "median us/visit", "visits/s (best)",
                 "of hand throughput"], rows))
    return results


def curve_section(small: list[Engine], work: Workset, settings: Settings) -> list[dict]:
    """Per-visit time with the 100-row pair table vs a ``big_rows`` one (same visits)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="otrules-bench-") as tmp:
        big_dir = workload.write_pack_with_ptp_rows(Path(tmp) / "bench-pack", settings.big_rows)
        for engine in small:
            if "batch" in engine.name:  # the same model as one call per visit
                continue
            start = time.perf_counter()
            big = _rebuild(engine, big_dir, settings, work.visits[0])
            load = time.perf_counter() - start
            big_measure = measure_loaded(big, work, settings)
            same = attrs.evolve(settings, visits=big_measure.visits)
            small_measure = measure(engine.loaded, work.inputs(engine)[: big_measure.visits],
                                    lambda out, e=engine: verify(e.name, e.findings(out), work,
                                                                 "curve"),
                                    same)
            results.append({"engine": engine.name, "small_rate": small_measure.rate,
                            "big_rate": big_measure.rate, "visits": big_measure.visits,
                            "load_seconds": load})
            _progress(f"table-size curve: {engine.name}")
    rows = [[r["engine"], f"{1e6 / r['small_rate']:,.1f}", f"{1e6 / r['big_rate']:,.1f}",
             f"{r['small_rate'] / r['big_rate']:.2f}", f"{r['load_seconds']:.1f}",
             str(r["visits"])] for r in results]
    print(table(["engine", "us/visit @100", f"us/visit @{settings.big_rows:,}", "ratio",
                 "big pack load s", "timed"], rows))
    return results


def _rebuild(engine: Engine, pack_dir: Path, settings: Settings, probe: Visit) -> Engine:
    if engine.name.startswith("hand-written"):
        return handwritten_engine(pack_dir)
    if engine.name.startswith("zen-engine"):
        return zen_engines(pack_dir, settings.batch_size)[0]
    otrules, _ = otrules_engines(pack_dir, probe)
    return next(e for e in otrules if e.name == engine.name)


def build_workset(settings: Settings) -> Workset:
    dicts = list(workload.generate_visit_dicts(settings.visits, settings.seed))
    visits = [load_visit(d) for d in dicts]
    json_dicts = [dump_visit(v) for v in visits]  # canonical JSON shape, what zen reads
    texts = [json.dumps(d, separators=(",", ":")) for d in json_dicts]
    check = handwritten.Checker.from_pack(workload.BENCH_PACK).check
    return Workset(visits, json_dicts, texts, [check(v) for v in visits])


def _environment() -> str:
    try:
        zen_version = version("zen-engine")
    except PackageNotFoundError:
        zen_version = "?"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Python {platform.python_version()}, zen-engine {zen_version}, "
            f"{os.cpu_count()} CPUs, load average {load}")


def parse_args(argv: Sequence[str] | None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, help="visits generated (default 5000)")
    parser.add_argument("--repeat", type=int, help="timed runs per measurement (default 5)")
    parser.add_argument("--quick", action="store_true", help="a small run, under 30 s")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-seconds", type=float, help="work per timed run (default 3)")
    parser.add_argument("--big-rows", type=int, help="rows of the big pair table "
                        "(default 1,000,000; 20,000 with --quick)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--no-curve", action="store_true", help="skip the table-size curve")
    parser.add_argument("--interleaved", type=int, default=7, metavar="ROUNDS",
                        help="rounds of the interleaved hand-written vs compiled measurement "
                        "(default 7; 0 skips it)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    quick = args.quick
    settings = Settings(
        visits=args.visits or (600 if quick else 5000),
        repeat=args.repeat or (3 if quick else 5),
        seed=args.seed,
        max_seconds=args.max_seconds or (0.25 if quick else 3.0),
        crosscheck=300 if quick else 2000,
        big_rows=args.big_rows or (20_000 if quick else 1_000_000),
        batch_size=args.batch_size,
    )
    return settings, args


def main(argv: Sequence[str] | None = None) -> int:
    settings, args = parse_args(argv)
    began = time.perf_counter()
    print(f"# otrules benchmark: bench pack, {settings.visits:,} visits (seed {settings.seed}),"
          f" median of {settings.repeat}\n# {_environment()}")
    work = build_workset(settings)
    defective = sum(1 for found in work.reference if found) / len(work.reference)
    print(f"# {defective:.0%} of the visits have at least one finding")
    engines, notes = all_engines(workload.BENCH_PACK, settings, work.visits[0])
    for note in notes:
        print(f"# {note}")
    try:
        crosscheck(engines, work, settings.crosscheck)
        print(f"# cross-check: every engine gives the hand-written findings on the first "
              f"{min(settings.crosscheck, len(work.visits)):,} visits\n")
        report: dict[str, Any] = {"settings": attrs.asdict(settings),
                                  "speed": speed_section(engines, work, settings)}
        if args.interleaved > 0:
            print()
            report["interleaved"] = interleaved_section(engines, work, args.interleaved)
        if not args.no_curve:
            print()
            report["curve"] = curve_section(engines, work, settings)
    except Mismatch as error:
        print(f"\nABORTED: {error}", file=sys.stderr)
        return 1
    print(f"\n# {time.perf_counter() - began:.0f} s; {_environment()}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
