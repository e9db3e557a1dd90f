"""``otrules compile``: what a pack compiled to — the debug view of the compiled back end."""

from __future__ import annotations

import sys

import click

from otrules.cli._common import OK, console, load_pack
from otrules.eval.compiler import CompiledBackend


@click.command("compile")
@click.argument("pack", metavar="PACK")
@click.option("--emit", type=click.Choice(["plan", "source"]), default="plan",
              show_default=True,
              help="plan: each rule, where it comes from and the code guard that lets it be "
                   "skipped; source: the generated Python module.")
def compile_command(pack: str, emit: str) -> None:
    """Show what PACK (a bundled pack's name, a pack folder or an .otr file) compiles to, so
    a developer can see why a rule is or is not applied to a visit."""
    out = console()
    backend = load_pack(pack).backend
    assert isinstance(backend, CompiledBackend)
    if emit == "source":
        out.out(backend.source.rstrip("\n"))
        sys.exit(OK)
    for line in backend.plan():
        out.out(line)
    sys.exit(OK)
