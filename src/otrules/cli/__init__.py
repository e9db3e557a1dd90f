"""The ``otrules`` command line (docs/cli.md). Only this package imports click; the core
never imports it.

Each subcommand lives in its own module (``cmd_*.py``); :func:`main` is the console-script
entry point and turns any unexpected exception into a one-line report (exit status 3) so
that no Python traceback reaches a pack author. Set ``OTRULES_DEBUG=1`` to see it anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from otrules import __version__
from otrules.cli._common import INTERNAL, Console
from otrules.cli.cmd_check import check_command
from otrules.cli.cmd_compile import compile_command
from otrules.cli.cmd_diff import diff_command
from otrules.cli.cmd_eval import eval_command
from otrules.cli.cmd_explain import explain_command
from otrules.cli.cmd_fix import fix_command
from otrules.cli.cmd_fmt import fmt_command
from otrules.cli.cmd_packs import packs_command
from otrules.cli.cmd_test import test_command
from otrules.errors import OtrulesError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="otrules")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True,
              help="Color in human output; auto colors a terminal unless NO_COLOR is set.")
@click.pass_context
def cli(ctx: click.Context, color: str) -> None:
    """Check outpatient OT billing visits against readable rule packs.

    Start with `otrules eval` (the bundled example visits against medicare-ot), then
    `otrules explain`, `otrules check` and `otrules test`. Every command takes --help.
    """
    ctx.obj = Console(color)


for _command in (check_command, fmt_command, eval_command, explain_command, fix_command,
                 test_command, diff_command, packs_command, compile_command):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; exits with the command's status."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="otrules")
    except Exception as error:  # the last guard: a bug must not print a traceback
        if os.environ.get("OTRULES_DEBUG"):
            raise
        kind = "" if isinstance(error, OtrulesError) else f" ({type(error).__name__})"
        click.echo(f"otrules: internal error{kind}: {_first_line(error)}\n"
                   "This is a bug in otrules, not in your input; please report it "
                   "(run again with OTRULES_DEBUG=1 for the details).", err=True)
        sys.exit(INTERNAL)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"
