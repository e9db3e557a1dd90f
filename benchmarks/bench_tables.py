"""Table loading speed: a 500,000-row CMS PTP file and a 1,000,000-row declared-column CSV.

Run with ``python benchmarks/bench_tables.py [--repeat N] [--scale F]``. The files are
generated into a temporary folder (synthetic codes and dates, never real CMS data) and each
is loaded ``--repeat`` times; the median time and rows per second are printed. ``--scale``
shrinks or grows both files (0.1 for a quick run).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from otrules.lang import ast as A
from otrules.lang.parser import parse_source
from otrules.lang.tables import load_table

PTP_PREAMBLE = (
    "CPT codes, descriptions and other data only are copyright 2025 American Medical "
    "Association. All Rights Reserved.\n"
    "Applicable FARS/HHSARS apply.\n\n"
)
PTP_HEADER = (
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data"
    "\tModifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
)
RATIONALES = (
    "Misuse of column two code with column one code",
    "Standards of medical / surgical practice",
    "Mutually exclusive procedures",
    "CPT Manual or CMS manual coding instructions",
)
PACK = """
table ptp from "ptp.txt" as cms-ptp

table fees from "fees.csv"
  key code : code
  key modifier : modifier
  column fee : money
  column minutes : minutes
  column active : flag
  column since : date
  column until : optional date
  column note : text
  valid from since until until
"""


def _codes(count: int, rng: random.Random) -> list[str]:
    """Distinct codes: mostly five digits, about one in nine HCPCS (a letter and four digits)."""
    numbers = rng.sample(range(10_000, 100_000), count)
    return [f"G{n - 10_000:04d}" if n < 20_000 else str(n) for n in numbers]


def write_ptp(path: Path, rows: int, seed: int = 1) -> None:
    """Unique (column 1, column 2) pairs over ~12,000 codes, as in the real files."""
    rng = random.Random(seed)
    codes = _codes(12_000, rng)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(PTP_PREAMBLE + PTP_HEADER)
        for i in range(rows):
            first, second = codes[i % len(codes)], codes[(i // len(codes) + 1 + i) % len(codes)]
            year = 1996 + rng.randrange(30)
            effective = f"{year}{rng.randrange(1, 13):02d}01"
            deletion = "*" if rng.random() < 0.8 else f"{year + 1}0101"
            out.write(f"{first}\t{second}\t{'*' if year == 1996 else ''}\t{effective}\t"
                      f"{deletion}\t{rng.choice('019')}\t{rng.choice(RATIONALES)}\n")


def write_fees(path: Path, rows: int, seed: int = 2) -> None:
    """Unique (code, modifier) keys: every code with up to 100 two-digit modifiers."""
    rng = random.Random(seed)
    codes = _codes(rows // 100 + 1, rng)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("code,modifier,fee,minutes,active,since,until,note\n")
        for i in range(rows):
            code, modifier = codes[i // 100], f"{i % 100:02d}"
            until = "" if rng.random() < 0.5 else "2027-01-01"
            out.write(f"{code},{modifier},{rng.randrange(1, 50000) / 100:.2f},"
                      f"{rng.randrange(1, 120)},{rng.choice(('yes', 'no'))},2024-01-01,"
                      f"{until},fee schedule {i % 7}\n")


def _tables() -> dict[str, A.Table]:
    pack, diagnostics = parse_source(PACK, "bench.otr")
    assert not diagnostics, diagnostics
    return {d.name: d for d in pack.decls if isinstance(d, A.Table)}


def _time(load: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """Median wall-clock and CPU seconds of ``repeat`` loads (CPU time is steadier on a
    shared machine), and the row count."""
    walls, cpus, rows = [], [], 0
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        rows = load()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    decls = _tables()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        write_ptp(folder / "ptp.txt", int(500_000 * args.scale))
        write_fees(folder / "fees.csv", int(1_000_000 * args.scale))
        for name in ("ptp", "fees"):
            def load(name: str = name) -> int:
                table, diagnostics = load_table(decls[name], folder)
                assert not diagnostics, diagnostics[:3]
                assert table is not None
                return len(table.rows)
            wall, cpu, rows = _time(load, args.repeat)
            size = (folder / str(decls[name].file)).stat().st_size
            print(f"{name:5} {rows:>9,} rows  {size / 1e6:6.1f} MB  median {wall:6.2f} s "
                  f"(cpu {cpu:5.2f} s)  {rows / wall:>9,.0f} rows/s")


if __name__ == "__main__":
    main()
