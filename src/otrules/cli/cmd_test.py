"""``otrules test``: run golden cases, measure rule coverage, update expectations."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

import click

import otrules
from otrules.api import BackendName
from otrules.cases import Case
from otrules.cli._common import BAD_INPUT, FAILED, OK, Console, backend_option, console
from otrules.suite import (
    CaseRun,
    PackCoverage,
    SuiteError,
    SuiteReport,
    discover,
    keyword_matcher,
    run_suite,
    update_case_file,
    update_matcher,
)


@click.command("test")
@click.argument("paths", nargs=-1, metavar="[PATHS]...")
@click.option("-k", "keyword", metavar="EXPR",
              help="Run only cases whose id (file::name) matches, pytest style: "
                   "words, and, or, not, parentheses.")
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that pass.")
@click.option("--coverage", is_flag=True,
              help="Report per pack the rules that never fired and the conditions that "
                   "were never true or never false.")
@click.option("--fail-under", type=click.FloatRange(0, 100), metavar="PERCENT",
              help="Fail when a pack's rule coverage is below PERCENT (implies --coverage).")
@click.option("--update", "updates", multiple=True, metavar="CASE",
              help="Rewrite the expectations of the failing cases CASE names "
                   "(file::name, or a -k style expression) from current results. Repeatable.")
@click.option("--update-all", is_flag=True,
              help="Rewrite the expectations of every failing case that ran.")
@backend_option
def test_command(paths: tuple[str, ...], keyword: str | None, verbose: bool, coverage: bool,
                 fail_under: float | None, updates: tuple[str, ...], update_all: bool,
                 backend: str) -> None:
    """Run the golden cases found in PATHS: pack folders, their tests/ folders, case files,
    folders of packs, or bundled pack names (default: every bundled pack).

    Prints one block per failing case (expected against got, per line and per finding) and
    a summary line. Exit status 0 when every case passes, 1 when one fails (or coverage is
    under --fail-under), 2 when a case file or pack cannot be loaded or nothing ran.
    """
    out = console()
    try:
        found = discover(paths)
        select = keyword_matcher(keyword) if keyword else None
        chosen = [update_matcher(p) for p in updates]
    except SuiteError as error:
        out.error(str(error))
        sys.exit(BAD_INPUT)
    for skipped in found.skipped:
        out.note(f"{skipped} has no top-level `cases:` key; it is not a case file")

    def wanted(case: Case) -> bool:
        return update_all or any(match(case) for match in chosen)

    def show(run: CaseRun) -> None:
        if not run.result.passed and not wanted(run.result.case):
            _print_failure(out, run)
        elif verbose and run.result.passed:
            out.out(f"{out.style('ok', fg='green')} {run.id}")

    traced = coverage or fail_under is not None
    # Coverage needs traces, which only the interpreter gives: no use compiling.
    load = _loader("interpreter" if traced else backend)
    report = run_suite(found, select=select, coverage=traced, on_run=show, load=load)
    _print_errors(out, report, keyword)
    updated, still_failing = _updates(out, report, updates, chosen, wanted)
    status = _coverage(out, report.coverage, fail_under)
    _summary(out, report, updated, still_failing)
    if report.errors:
        sys.exit(BAD_INPUT)
    sys.exit(FAILED if still_failing or status else OK)


def _loader(backend: str) -> Callable[[Path], otrules.Pack]:
    def load(folder: Path) -> otrules.Pack:
        return otrules.load_pack(folder, backend=cast(BackendName, backend))

    return load


def _print_errors(out: Console, report: SuiteReport, keyword: str | None) -> None:
    """The case files and packs that could not be used; stop when nothing ran at all."""
    for where, message in report.errors:
        out.err(message)
        out.error(f"{where}: could not be used")
    if not report.runs and not report.errors:
        out.error("no case ran" + (" (nothing matches -k)" if keyword else
                                   ": no case files found"))
        sys.exit(BAD_INPUT)


def _print_failure(out: Console, run: CaseRun) -> None:
    out.out(f"{out.style('FAILED', fg='red', bold=True)} {run.id} "
            f"(line {run.result.case.line})")
    _print_differences(out, run.result.differences)


def _print_differences(out: Console, differences: Iterable[str]) -> None:
    for difference in differences:
        if difference.startswith("missing finding"):
            out.out("  " + out.style(f"- {difference}", fg="red"))
        elif difference.startswith(("unexpected finding", "finding that must be absent")):
            out.out("  " + out.style(f"+ {difference}", fg="green"))
        else:
            out.out(f"  ~ {difference}")


def _updates(out: Console, report: SuiteReport, patterns: tuple[str, ...],
             chosen: list[Callable[[Case], bool]], wanted: Callable[[Case], bool]
             ) -> tuple[int, int]:
    """Rewrite the chosen failing cases; (cases updated, cases still failing)."""
    for pattern, match in zip(patterns, chosen, strict=True):
        if not any(match(run.result.case) for run in report.runs):
            out.error(f"--update {pattern}: matches no case that ran; nothing was updated")
            sys.exit(BAD_INPUT)
    by_file: dict[str, list[CaseRun]] = {}
    still_failing = 0
    for run in report.runs:
        if not wanted(run.result.case):
            still_failing += not run.result.passed
        elif run.result.passed:
            if patterns:
                out.note(f"{run.id} already passes; left as it is")
        else:
            by_file.setdefault(run.result.case.file, []).append(run)
    updated = 0
    for file, runs in by_file.items():
        try:
            result = update_case_file(Path(file), runs)
        except SuiteError as error:
            out.error(str(error))
            still_failing += len(runs)
            continue
        for case, changes in result.updated:
            out.out(f"{out.style('updated', fg='yellow', bold=True)} {case}, which had:")
            _print_differences(out, changes)
        for case, reason in result.refused:
            out.error(f"{case}: not updated: {reason}")
        updated += len(result.updated)
        still_failing += len(result.refused)
    return updated, still_failing


def _coverage(out: Console, packs: tuple[PackCoverage, ...], fail_under: float | None) -> int:
    """Print each pack's coverage; FAILED when one is under ``fail_under``."""
    status = OK
    for pack in packs:
        fired = len(pack.rules) - len(pack.never_fired)
        out.out(f"\ncoverage of {pack.pack} ({pack.folder}), {pack.cases} cases: {fired} of "
                f"{len(pack.rules)} rules fired ({pack.percent:.1f}%)")
        fired_rules = tuple(r.rule for r in pack.rules if r.fired)
        out.out(f"  fired in some case: {_names(fired_rules)}")
        out.out(f"  never fired (condition never true): {_names(pack.never_fired)}")
        out.out(f"  condition never false: {_names(pack.never_false)}")
        out.out(f"  condition never reached (where never matched): "
                f"{_names(pack.never_reached)}")
        if fail_under is not None and pack.percent < fail_under:
            out.error(f"the rule coverage of {pack.pack} is {pack.percent:.1f}%, under "
                      f"--fail-under {fail_under:g}")
            status = FAILED
    return status


def _names(rules: tuple[str, ...]) -> str:
    return ", ".join(rules) or "none"


def _summary(out: Console, report: SuiteReport, updated: int, failing: int) -> None:
    parts = [f"{report.passed} passed", f"{failing} failed"]
    if updated:
        parts.append(f"{updated} updated")
    if report.errors:
        parts.append(f"{len(report.errors)} could not be used")
    text = ", ".join(parts)
    bad = failing or report.errors
    out.out(out.style(text, fg="red" if bad else "green", bold=bool(bad)))
