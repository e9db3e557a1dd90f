"""What every subcommand shares: exit codes, colored or plain output, errors without
tracebacks, and loading a pack named on the command line."""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Final, cast

import click

import otrules
from otrules.api import BackendName
from otrules.errors import PackError
from otrules.eval.engine import Pack

# Exit statuses, the same for every subcommand (docs/cli.md, "Exit status").
OK: Final = 0
FAILED: Final = 1  # the command worked and found a problem: a failing visit, case or pack
BAD_INPUT: Final = 2  # unusable input: a file that cannot be read, invalid JSON or CSV
INTERNAL: Final = 3  # a bug in otrules

DEFAULT_PACK: Final = "medicare-ot"
BACKENDS: Final = ("compiled", "interpreter")

backend_option = click.option(
    "--backend", type=click.Choice(BACKENDS), default="compiled", show_default=True,
    help="Evaluate with the compiled pack, or with the reference interpreter (slower; the "
         "oracle the compiled pack is tested against).")


class BadInput(click.ClickException):
    """Input otrules cannot use: reported in one line, exit status 2."""

    exit_code = BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        console().error(self.format_message())


class Console:
    """Styled output: color on a terminal unless NO_COLOR is set; plain when piped."""

    def __init__(self, color: str = "auto") -> None:
        self.color = color

    def colored(self, stream: IO[Any]) -> bool:
        if self.color != "auto":
            return self.color == "always"
        if os.environ.get("NO_COLOR"):
            return False
        isatty = getattr(stream, "isatty", None)
        return bool(isatty and isatty())

    def out(self, text: str = "", **style: Any) -> None:
        self._echo(text, False, style)

    def err(self, text: str = "", **style: Any) -> None:
        self._echo(text, True, style)

    def _echo(self, text: str, err: bool, style: dict[str, Any]) -> None:
        stream = sys.stderr if err else sys.stdout
        color = self.colored(stream)
        if style and color:
            text = click.style(text, **style)
        click.echo(text, err=err, color=color)

    def style(self, text: str, *, err: bool = False, **style: Any) -> str:
        """``text`` styled for stdout (or stderr), or as is when that stream is plain."""
        stream = sys.stderr if err else sys.stdout
        return click.style(text, **style) if self.colored(stream) else text

    def error(self, message: str) -> None:
        self.err(self.style("error", err=True, fg="red", bold=True) + f": {message}")

    def note(self, message: str) -> None:
        self.err(self.style("note", err=True, fg="cyan") + f": {message}")


def console() -> Console:
    """The console of the running command (plain when called outside one)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(Console) if ctx is not None else None
    return found if found is not None else Console()


def load_pack(spec: str, backend: str = "compiled") -> Pack:
    """The pack named ``spec`` (a bundled pack's name, a folder or an .otr file); a pack with
    errors prints its diagnostics on stderr and stops the command with exit status 2."""
    try:
        return otrules.load_pack(spec, backend=cast(BackendName, backend))
    except PackError as error:
        console().err(error.rendered or str(error))
        raise BadInput(f"the pack {spec!r} has errors; run `otrules check {spec}`") from None


def scrub(message: str, path: str) -> str:
    """A visit problem's text without the offending value when the field is protected health
    information (the validator echoes bad values: a malformed birth date would be shown)."""
    if path.startswith(("patient.id", "patient.birth_date")):
        return message.split(", got ", 1)[0]
    return message
