"""``otrules fix``: apply the pack's safe fixes and write the corrected visits."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click

from otrules.cli._common import BAD_INPUT, DEFAULT_PACK, OK, backend_option, console, load_pack
from otrules.cli._input import FORMATS, VisitInput
from otrules.eval.result import AppliedFix
from otrules.visit_json import dumps_visit


@click.command("fix")
@click.argument("visits", metavar="VISITS")
@click.option("--pack", "-p", default=DEFAULT_PACK, show_default=True, metavar="PACK",
              help="A bundled pack's name, a pack folder or an .otr file.")
@click.option("--input-format", "-f", type=click.Choice(FORMATS), default="auto",
              show_default=True, help="How VISITS is written (as for `otrules eval`).")
@click.option("--output", "-o", "output", type=click.File("w", encoding="utf-8", lazy=True),
              default="-", help="Where the corrected visits go.  [default: stdout]")
@click.option("--report", type=click.File("w", encoding="utf-8", lazy=True),
              help="Write the applied fixes to this file as JSON Lines instead of listing "
                   "them on stderr.")
@backend_option
def fix_command(visits: str, pack: str, input_format: str, output: IO[str],
                report: IO[str] | None, backend: str) -> None:
    """Apply the safe fixes PACK's findings propose (add a modifier, set the units) to each
    visit of VISITS and write every visit, corrected or not, as JSON Lines.

    Fixes never remove a line, code, diagnosis or modifier. The applied fixes are listed on
    stderr, one per line (or written to --report). Exit status 0, or 2 when VISITS has an
    invalid record (it is left out of the output; the others are still fixed).
    """
    out = console()
    loaded = load_pack(pack, backend)
    source = VisitInput(visits, input_format)
    visits_fixed = fixes = 0
    for record in source:
        if record.visit is None:
            continue
        fixed, applied = loaded.fix(record.visit)
        output.write(dumps_visit(fixed) + "\n")
        for fix in applied:
            _report(report, record.visit.id, fix)
        visits_fixed += bool(applied)
        fixes += len(applied)
    source.report_hidden()
    out.err(f"{fixes} fix{'' if fixes == 1 else 'es'} applied to {visits_fixed} "
            f"visit{'' if visits_fixed == 1 else 's'}")
    sys.exit(BAD_INPUT if source.invalid else OK)


def _report(report: IO[str] | None, visit_id: str, fix: AppliedFix) -> None:
    if report is None:
        console().err(f"{visit_id}: {fix.describe()}")
        return
    item: dict[str, Any] = {"visit_id": visit_id, "rule": fix.rule, **fix.fix.to_json(),
                            "previous_units": fix.previous_units}
    report.write(json.dumps(item, ensure_ascii=False) + "\n")
