"""The ``otrules`` program as a whole (help, version, color, exit statuses, no tracebacks),
and the helpers the other ``test_cli_*`` modules share: running the real command in a
subprocess and writing small packs.

Every run goes through :func:`run`, which also asserts that no Python traceback reached the
user, whatever the command and its input.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_VISITS = REPO / "src" / "otrules" / "data" / "example-visits.jsonl"


@attrs.frozen
class Ran:
    code: int
    out: str
    err: str


def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> Ran:
    """Run ``python -m otrules.cli ARGS`` with pipes for stdout and stderr (so not a
    terminal), without NO_COLOR unless ``env`` sets it."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "OTRULES_DEBUG")}
    done = subprocess.run([sys.executable, "-m", "otrules.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, env={**base, "COLUMNS": "80", **(env or {})},
                          timeout=300, check=False)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    assert "Traceback" not in out + err, out + err
    return Ran(done.returncode, out, err)


# A pack small enough to compute every expected value by hand:
#   units-mismatch  stated units differ from the 8-minute rule's
#   go-modifier-required  a line lacks GO (fix: add GO)
#   long-visit  more than 60 timed minutes (a warning, about the visit)
TINY_PACK = """\
pack tiny "A tiny pack for tests"
  version 1.0
  payer medicare
  effective 2026-01-01 to 2026-12-31

units cms

table modifiers
  key modifier : modifier
  row GO

rule units-mismatch : error
  for each line where line.units is present
  when line.units != line.computed_units
  say "{line.code} states {line.units} unit(s); the 8-minute rule gives {line.computed_units}."
  fix set units to line.computed_units
  source "CMS Pub 100-04 ch. 5 §20.2"

rule go-modifier-required : error
  for each line
  when line lacks GO
  say "{line.code} needs GO."
  fix add modifier GO
  source "CMS Pub 100-04 ch. 5 §20.1"

rule long-visit : warning
  when visit.timed_minutes > 60 minutes
  say "The visit has {visit.timed_minutes} timed minutes."
  source "test"
"""


def write_pack(folder: Path, text: str = TINY_PACK, files: dict[str, str] | None = None
               ) -> Path:
    """A pack folder holding ``pack.otr`` and any other ``files`` (relative path -> text)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.otr").write_text(text, encoding="utf-8")
    for name, content in (files or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content), encoding="utf-8")
    return folder


def visit_json(visit_id: str, lines: str, *, ytd: str | None = None,
               date: str = "2026-03-02") -> str:
    """One visit as a JSON Lines line; ``lines`` is the JSON of its lines list."""
    patient = '{"id": "P-1"' + (f', "ytd_ot_allowed": "{ytd}"' if ytd else "") + "}"
    return (f'{{"id": "{visit_id}", "date_of_service": "{date}", "payer": "medicare", '
            f'"patient": {patient}, "diagnoses": ["M62.81"], "lines": {lines}}}')


# ---------------------------------------------------------------------------- the program


def test_help_lists_every_subcommand() -> None:
    ran = run("--help")
    assert ran.code == 0
    commands = [line.split()[0] for line in ran.out.split("Commands:")[1].splitlines()
                if line.strip()]
    assert commands == ["check", "compile", "diff", "eval", "explain", "fix", "fmt", "packs",
                        "test"]


def test_every_subcommand_has_help() -> None:
    for command in ("check", "compile", "diff", "eval", "explain", "fix", "fmt", "packs",
                    "test"):
        ran = run(command, "--help")
        assert ran.code == 0, command
        assert ran.out.startswith(f"Usage: otrules {command} "), command


def test_version() -> None:
    ran = run("--version")
    assert (ran.code, ran.out) == (0, "otrules, version 0.1.0\n")


def test_an_unknown_option_is_a_usage_error_with_status_2() -> None:
    ran = run("eval", "--frobnicate")
    assert ran.code == 2
    assert ran.err.startswith("Usage: otrules eval [OPTIONS] [VISITS]\n")
    assert "--frobnicate" in ran.err.splitlines()[-1]


def test_output_is_plain_when_piped_and_colored_when_asked() -> None:
    plain = run("check", "medicare-ot")
    assert (plain.code, plain.out) == (0, "medicare-ot: ok\n")
    colored = run("--color", "always", "check", "medicare-ot")
    assert colored.out == "medicare-ot: \x1b[32mok\x1b[0m\n"
    # NO_COLOR only matters for auto: an explicit --color always wins.
    no_color = run("check", "medicare-ot", env={"NO_COLOR": "1"})
    assert no_color.out == "medicare-ot: ok\n"


def test_a_bug_is_one_line_and_status_3(tmp_path: Path) -> None:
    # A sitecustomize that breaks evaluation stands in for a bug in the engine.
    (tmp_path / "sitecustomize.py").write_text(
        "import otrules.eval.engine as e\n"
        "def broken(self, visit, *, trace=False):\n"
        "    raise ZeroDivisionError('boom')\n"
        "e.Pack.evaluate = broken\n", encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src")])}
    ran = run("eval", str(EXAMPLE_VISITS), env=env)
    assert ran.code == 3
    assert ran.err.splitlines() == [
        "otrules: internal error (ZeroDivisionError): boom",
        "This is a bug in otrules, not in your input; please report it (run again with "
        "OTRULES_DEBUG=1 for the details).",
    ]
    assert ran.out == ""


def test_importing_otrules_does_not_import_click() -> None:
    code = ("import sys, otrules, otrules.suite, otrules.impact, otrules.eval, "
            "otrules.lang.loader; print('click' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "False\n"


def test_python_dash_m_otrules_cli_is_the_console_script_entry_point() -> None:
    from otrules.cli import cli, main

    assert callable(main)
    assert sorted(cli.commands) == ["check", "compile", "diff", "eval", "explain", "fix", "fmt",
                                    "packs", "test"]
