"""``otrules eval``: check a stream of visits against a pack."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import click

from otrules.cli._common import (
    BAD_INPUT,
    DEFAULT_PACK,
    FAILED,
    OK,
    Console,
    backend_option,
    console,
    load_pack,
)
from otrules.cli._input import FORMATS, VisitInput
from otrules.eval.result import Result
from otrules.visit_json import VisitRecord

LARGE_INPUT: Final = 1_000_000  # bytes: above this a terminal gets a progress bar
TOP_FINDINGS: Final = 5
_STATUS_STYLE: Final[dict[str, dict[str, Any]]] = {
    "pass": {"fg": "green"}, "warn": {"fg": "yellow"}, "fail": {"fg": "red", "bold": True}}


class Summary:
    """Counts per status and findings per rule, for the closing lines."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.invalid = 0

    def add(self, result: Result) -> None:
        self.statuses[result.status] += 1
        self.rules.update(f.rule for f in result.findings)

    def lines(self) -> list[str]:
        total = sum(self.statuses.values())
        counts = ", ".join(f"{self.statuses[s]} {s}" for s in ("pass", "warn", "fail"))
        out = [f"{total} visit{'' if total == 1 else 's'}: {counts}; "
               f"{self.invalid} invalid record{'' if self.invalid == 1 else 's'}"]
        top = sorted(self.rules.items(), key=lambda item: (-item[1], item[0]))[:TOP_FINDINGS]
        shown = ", ".join(f"{rule} ({count})" for rule, count in top) or "none"
        out.append(f"most frequent findings: {shown}")
        return out

    @property
    def exit_code(self) -> int:
        if self.invalid:
            return BAD_INPUT
        return FAILED if self.statuses["fail"] else OK


@click.command("eval")
@click.argument("visits", required=False, metavar="[VISITS]")
@click.option("--pack", "-p", default=DEFAULT_PACK, show_default=True, metavar="PACK",
              help="A bundled pack's name, a pack folder or an .otr file.")
@click.option("--output", "-o", type=click.Choice(["jsonl", "table"]),
              help="jsonl: one result per line; table: for people. "
                   "[default: table on a terminal, else jsonl]")
@click.option("--input-format", "-f", type=click.Choice(FORMATS), default="auto",
              show_default=True, help="How VISITS is written; auto goes by the file "
                                      "extension, then by the first character.")
@click.option("--trace", is_flag=True, help="Add each visit's trace to the jsonl output.")
@backend_option
def eval_command(visits: str | None, pack: str, output: str | None, input_format: str,
                 trace: bool, backend: str) -> None:
    """Check VISITS against a pack and print each visit's billable lines and findings.

    VISITS is a JSON file (one visit or an array), JSON Lines, CSV (see docs/cli.md), or -
    for stdin; without it, the example visits bundled with otrules. Exit status: 0 when
    every visit passes or warns, 1 when one fails, 2 when the input has an invalid record
    (the valid ones are still checked) or cannot be read.
    """
    out = console()
    loaded = load_pack(pack, backend)
    source = VisitInput(visits, input_format)
    table = (output or ("table" if sys.stdout.isatty() else "jsonl")) == "table"
    summary = Summary()
    if table:
        out.out(_TABLE_HEAD)
    with _progress(source, table) as records:
        for item in loaded.evaluate_many(records, trace=trace and not table):
            if not isinstance(item, Result):
                continue  # an invalid record: reported on stderr as it was read
            summary.add(item)
            if table:
                _print_table(out, item)
            else:
                out.out(item.to_json_text())
    source.report_hidden()
    summary.invalid = source.invalid
    show = out.out if table else out.err
    for line in summary.lines():
        show(line)
    sys.exit(summary.exit_code)


@contextmanager
def _progress(source: VisitInput, table: bool) -> Iterator[Iterator[VisitRecord]]:
    """The records, under a progress bar on stderr when stderr is a terminal of its own (not
    shared with table output) and the input is large; otherwise as they are."""
    wanted = (source.size is not None and source.size > LARGE_INPUT and not table
              and sys.stderr.isatty() and not sys.stdout.isatty())
    if not wanted:
        yield iter(source)
        return
    bar: Any = click.progressbar(length=source.size, label="checking visits", file=sys.stderr)
    with bar:
        yield _counted(source, bar)


def _counted(source: VisitInput, bar: Any) -> Iterator[VisitRecord]:
    done = 0
    for record in source:
        bar.update(source.reader.consumed - done)
        done = source.reader.consumed
        yield record


_TABLE_HEAD: Final = "visit       status  line  code   units  findings"


def _print_table(out: Console, result: Result) -> None:
    """One row per service line; findings on the row of their line, visit-level ones below.
    Lines are numbered from 1 here, as billers count them (the JSON counts from 0)."""
    by_line: dict[int | None, list[str]] = {}
    for f in result.findings:
        by_line.setdefault(f.line, []).append(f"{f.severity} {f.rule}: {f.message}")
    rows: list[tuple[str, str, str, str]] = []
    for line in result.lines:
        notes = by_line.get(line.line) or [""]
        rows.append((str(line.line + 1), line.code, str(line.units), notes[0]))
        rows += [("", "", "", note) for note in notes[1:]]
    rows += [("-", "", "", note) for note in by_line.get(None, [])]
    for index, (number, code, units, note) in enumerate(rows):
        visit = result.visit_id if index == 0 else ""
        status = (out.style(result.status.ljust(6), **_STATUS_STYLE[result.status])
                  if index == 0 else " " * 6)
        out.out(f"{visit:<10}  {status}  {number:<4}  {code:<5}  {units:<5}  {note}".rstrip())
