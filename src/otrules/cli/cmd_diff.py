"""``otrules diff``: what a new pack version changes for a stream of visits."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import click

from otrules.cli._common import (
    BAD_INPUT,
    FAILED,
    OK,
    Console,
    backend_option,
    console,
    load_pack,
)
from otrules.cli._input import FORMATS, VisitInput
from otrules.impact import Category, ImpactReport, compare_packs


@click.command("diff")
@click.argument("old_pack", metavar="OLD_PACK")
@click.argument("new_pack", metavar="NEW_PACK")
@click.argument("visits", metavar="VISITS")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the report as one JSON object.")
@click.option("--examples", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Visit ids shown per category.")
@click.option("--input-format", "-f", type=click.Choice(FORMATS), default="auto",
              show_default=True, help="How VISITS is written (as for `otrules eval`).")
@click.option("--fail-on-change", is_flag=True,
              help="Exit with status 1 when any visit's outcome changes.")
@backend_option
def diff_command(old_pack: str, new_pack: str, visits: str, fmt: str, examples: int,
                 input_format: str, fail_on_change: bool, backend: str) -> None:
    """Check every visit of VISITS under OLD_PACK and NEW_PACK and report what changes:
    visits whose status changes, findings added, removed or reworded per rule, and lines
    whose units change per code, each with counts and a few example visit ids.

    Exit status 0 (1 with --fail-on-change when something changed), 2 when VISITS has an
    invalid record (it is skipped and counted; the others are compared).
    """
    old, new = load_pack(old_pack, backend), load_pack(new_pack, backend)
    source = VisitInput(visits, input_format)
    report = compare_packs(old, new, source, examples=examples)
    source.report_hidden()
    out = console()
    if fmt == "json":
        out.out(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print(out, report, old_pack, new_pack)
    if source.invalid:
        sys.exit(BAD_INPUT)
    sys.exit(FAILED if fail_on_change and report.changed else OK)


_DESCRIBE: dict[str, Callable[[Category], str]] = {
    "status changes": lambda c: f"{c.key}: {_n(c.visits, 'visit')}",
    "findings added": lambda c: f"{c.key}: {_n(c.items, 'finding')} on {_n(c.visits, 'visit')}",
    "units changed": lambda c: (f"{c.key}: {_n(c.items, 'line')} on {_n(c.visits, 'visit')}, "
                                f"{c.before} -> {c.after} units"),
}


def _print(out: Console, report: ImpactReport, old_spec: str, new_spec: str) -> None:
    for label, spec, (name, version) in (("old", old_spec, report.old),
                                         ("new", new_spec, report.new)):
        shown = f"{name} version {version}" if version else name
        out.out(f"{label}: {shown}" + ("" if spec == name else f", from {spec}"))
    out.out(f"{_n(report.visits, 'visit')} compared, "
            f"{_n(report.invalid_records, 'invalid record')} skipped: "
            f"{report.changed_visits} changed, {report.unchanged_visits} unchanged")
    for title, categories in report.sections():
        describe = _DESCRIBE.get(title, _DESCRIBE["findings added"])
        out.out(f"\n{title}" + ("" if categories else ": none"))
        for category in categories:
            examples = ", ".join(category.examples)
            out.out(f"  {describe(category)}" + (f" (e.g. {examples})" if examples else ""))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
