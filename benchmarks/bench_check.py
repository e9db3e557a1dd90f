"""How long parsing and checking a large pack takes.

    python benchmarks/bench_check.py [--rules 2000] [--runs 5]

Generates a one-file pack of N rules (each with a `for each`, a let, a condition with codes,
modifiers and minutes, and a message with placeholders) plus a code table, then prints the
median of several runs for: parsing alone, checking alone (merge, tables, names, types,
warnings), and the whole `check_source`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

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


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--rules", type=int, default=2000)
    args.add_argument("--runs", type=int, default=5)
    opts = args.parse_args()
    text = generate(opts.rules)
    parsed, diags = parse_source(text, "big.otr")
    assert not diags, diags[:3]

    def check_only() -> object:
        source = PackSource("big", __import__("pathlib").Path("."), (parsed,), parsed.decls[0])
        merged, _ = merge([source])
        loaded, _ = load_tables(merged)
        return check_merged(merged, parsed.decls[0], loaded, {"big.otr": text})  # type: ignore[arg-type]

    result = check_source(text, "big.otr")
    assert result == [], result[:3]
    print(f"pack: {opts.rules:,} rules, {len(text):,} bytes, {text.count(chr(10)):,} lines")
    print(f"parse         median {median_seconds(lambda: parse_source(text, 'big.otr'), opts.runs):.3f} s")
    print(f"check         median {median_seconds(check_only, opts.runs):.3f} s")
    print(f"check_source  median {median_seconds(lambda: check_source(text, 'big.otr'), opts.runs):.3f} s")


if __name__ == "__main__":
    main()
