"""``otrules explain``: the full trace of one visit, written for a biller."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from otrules.cli._common import BAD_INPUT, DEFAULT_PACK, FAILED, OK, Console, console, load_pack
from otrules.cli._input import FORMATS, VisitInput
from otrules.eval.result import Result, TraceEntry
from otrules.model import Visit


@click.command("explain")
@click.argument("visit_file", metavar="VISIT")
@click.option("--pack", "-p", default=DEFAULT_PACK, show_default=True, metavar="PACK",
              help="A bundled pack's name, a pack folder or an .otr file.")
@click.option("--visit-id", "-i", help="Which visit, when VISIT holds more than one.")
@click.option("--input-format", "-f", type=click.Choice(FORMATS), default="auto",
              show_default=True, help="How VISIT is written (as for `otrules eval`).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: the result JSON with its trace.")
def explain_command(visit_file: str, pack: str, visit_id: str | None, input_format: str,
                    fmt: str) -> None:
    """Explain how PACK judged one visit: its lines and units, its findings, every rule that
    fired with the values that decided it, and every rule checked that did not fire.

    VISIT is a file (or - for stdin) in any format `otrules eval` reads. Exit status 1 when
    the visit fails, 2 when it cannot be read or is invalid.
    """
    out = console()
    loaded = load_pack(pack, "interpreter")  # a trace always comes from the interpreter
    visit = _pick(VisitInput(visit_file, input_format), visit_id)
    result = loaded.evaluate(visit, trace=True)
    if fmt == "json":
        out.out(result.to_json_text(indent=2))
    else:
        _print(out, result)
    sys.exit(FAILED if result.status == "fail" else OK)


def _pick(source: VisitInput, wanted: str | None) -> Visit:
    """The visit named ``wanted``, or the only record of the file; exit status 2 otherwise
    (the problems of an invalid record have been printed as it was read)."""
    valid: list[Visit] = []
    for record in source:
        if wanted is not None and record.error is not None \
                and record.error.visit_id == wanted:
            sys.exit(BAD_INPUT)
        if record.visit is not None and wanted in (None, record.visit.id):
            if wanted is not None:
                return record.visit
            valid.append(record.visit)
        if wanted is None and len(valid) + source.invalid > 1:
            console().error(f"{source.label} holds several visits; choose one with "
                            "--visit-id")
            sys.exit(BAD_INPUT)
    if wanted is None and len(valid) == 1 and not source.invalid:
        return valid[0]
    if wanted is not None:
        console().error(f"{source.label}: no valid visit with id {wanted!r}")
    elif not source.invalid:
        console().error(f"{source.label} holds no visit")
    sys.exit(BAD_INPUT)


def _print(out: Console, result: Result) -> None:
    version = f" version {result.pack_version}" if result.pack_version else ""
    status = out.style(result.status, bold=True,
                       fg={"pass": "green", "warn": "yellow", "fail": "red"}[result.status])
    out.out(f"Visit {result.visit_id} checked against {result.pack}{version}: {status}")
    out.out("\nLines (units by the pack's unit method)")
    for line in result.lines:
        stated = "-" if line.stated_units is None else str(line.stated_units)
        unit = "unit" if line.units == 1 else "units"
        out.out(f"  line {line.line + 1}  {line.code}  {line.units} {unit}  "
                f"(stated: {stated})")
    out.out("\nFindings" + ("" if result.findings else ": none"))
    for f in result.findings:
        where = "" if f.line is None else f", line {f.line + 1}"
        out.out(f"  {f.severity} {f.rule}{where}: {f.message}")
        if f.source:
            out.out(f"    source: {f.source}")
        if f.fix is not None:
            out.out(f"    fix: {f.fix.describe()}")
    entries = result.trace or ()
    fired = [r for r in _rules(entries) if any(e.outcome == "fired" for e in _of(entries, r))]
    quiet = [r for r in _rules(entries) if r not in fired]
    for title, rules in (("Rules that fired", fired),
                         ("Rules checked that did not fire", quiet)):
        out.out(f"\n{title}" + ("" if rules else ": none"))
        for rule in rules:
            out.out(f"  {rule}")
            for entry in _of(entries, rule):
                out.out(f"    {entry.element}: {entry.outcome} ({entry.reason})")
                for step in entry.steps:
                    out.out(f"      {step}")


def _rules(entries: Iterable[TraceEntry]) -> list[str]:
    return list(dict.fromkeys(e.rule for e in entries))


def _of(entries: Iterable[TraceEntry], rule: str) -> list[TraceEntry]:
    return [e for e in entries if e.rule == rule]

