"""How long parsing and checking a large pack takes.

    python benchmarks/bench_check.py [--rules 2000] [--runs 5]

Generates a one-file pack of N rules (each with a `for each`, a let, a condition with codes,
modifiers and minutes, and a message with placeholders) plus a code table, then prints the
median of several runs (and the best CPU time) for: parsing alone, checking alone (merge,
tables, names, types, warnings) and the whole `check_source`. The `check` line reuses one
parsed AST, whose expression nodes have cached their hashes by the second run; the
`check_source` line is the end-to-end figure (fresh parse, merge, tables, check).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from otrules.lang import ast as A
from otrules.lang.checker import check_merged, load_tables
from otrules.lang.loader import check_source
from otrules.lang.merge import PackSource, merge
from otrules.lang.parser import parse_source


def generate(rules: int) -> str:
    parts = ["pack big\n  effective 2026-01-01 to 2026-12-31\n\n",
             "table codes\n  key code : code\n  column timed : flag\n",
             "".join(f"  row {97000 + i}, yes\n" for i in range(200)), "\n",
             "table mods\n  key modifier : modifier\n  row GO\n  row KX\n  row 59\n\n",
             "parameter least : minutes = 8 minutes\n\n"]
    for i in range(rules):
        parts.append(
            f"rule r{i} : warning\n"
            f"  for each line where line.code in codes and line.code != {97000 + i % 200}\n"
            f"  let extra = line.minutes - least\n"
            f"  when extra > {i % 60} minutes and line lacks GO or line has any of (KX, 59)\n"
            f'  say "{{line.code}}: {{extra}} over {{least}}"\n'
            f'  source "generated {i}"\n\n')
    return "".join(parts)


def medians(work: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median wall-clock and CPU seconds of ``runs`` runs, and the best CPU time (CPU time is
    steadier on a busy machine, and the best run the least disturbed)."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), min(cpu)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--rules", type=int, default=2000)
    args.add_argument("--runs", type=int, default=5)
    opts = args.parse_args()
    text = generate(opts.rules)
    parsed, diags = parse_source(text, "big.otr")
    assert not diags, diags[:3]
    header = parsed.decls[0]
    assert isinstance(header, A.PackHeader)

    def check_only() -> object:
        merged, _ = merge([PackSource("big", Path("."), (parsed,), header)])
        loaded, _ = load_tables(merged)
        return check_merged(merged, header, loaded, {"big.otr": text})

    result = check_source(text, "big.otr")
    assert result == [], result[:3]
    print(f"pack: {opts.rules:,} rules, {len(text):,} bytes, {text.count(chr(10)):,} lines; "
          f"median of {opts.runs} runs")
    for label, work in (("parse", lambda: parse_source(text, "big.otr")),
                        ("check", check_only),
                        ("check_source", lambda: check_source(text, "big.otr"))):
        wall, cpu, best = medians(work, opts.runs)
        print(f"{label:<13} {wall:7.3f} s wall  {cpu:7.3f} s cpu  (best {best:.3f} s cpu)")


if __name__ == "__main__":
    main()
