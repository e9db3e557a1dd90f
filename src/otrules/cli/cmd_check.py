"""``otrules check``: every diagnostic of one or more packs."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Final

import click

import otrules
from otrules.cli._common import FAILED, OK, Console, console
from otrules.diagnostics import Diagnostic
from otrules.lang.loader import render_diagnostics

_HEADLINE: Final = re.compile(r"^(?P<where>.*?)(?P<severity>error|warning|info)"
                              r"(?P<code>\[[A-Z][0-9]+\]): ", re.MULTILINE)
_STYLE: Final[dict[str, dict[str, Any]]] = {
    "error": {"fg": "red", "bold": True}, "warning": {"fg": "yellow", "bold": True},
    "info": {"fg": "cyan"}}


@click.command("check")
@click.argument("packs", nargs=-1, required=True, metavar="PACK...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one array of every diagnostic, for editors and CI.")
def check_command(packs: tuple[str, ...], fmt: str) -> None:
    """Check each PACK (a bundled pack's name, a pack folder or an .otr file) and print its
    diagnostics with the source line and a caret.

    Exit status 1 when a pack has an error; warnings are printed but do not fail.
    """
    out = console()
    found = [(pack, otrules.check(pack)) for pack in packs]
    if fmt == "json":
        items = [{**d.to_dict(), "pack": pack} for pack, diags in found for d in diags]
        out.out(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        for pack, diags in found:
            _print_text(out, pack, diags)
    failed = any(d.severity == "error" for _, diags in found for d in diags)
    sys.exit(FAILED if failed else OK)


def _print_text(out: Console, pack: str, diags: list[Diagnostic]) -> None:
    if diags:
        text = render_diagnostics(diags)
        out.out(_HEADLINE.sub(lambda m: _styled(out, m), text) + "\n")
    errors = sum(1 for d in diags if d.severity == "error")
    warnings = sum(1 for d in diags if d.severity == "warning")
    if errors:
        verdict = out.style(f"{_count(errors, 'error')}, {_count(warnings, 'warning')}",
                            fg="red", bold=True)
    elif warnings:
        verdict = out.style(f"ok, {_count(warnings, 'warning')}", fg="yellow")
    else:
        verdict = out.style("ok", fg="green")
    out.out(f"{pack}: {verdict}")


def _styled(out: Console, match: re.Match[str]) -> str:
    severity = match["severity"]
    head = out.style(f"{severity}{match['code']}", **_STYLE[severity])
    return f"{match['where']}{head}: "


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
