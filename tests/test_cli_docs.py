"""docs/cli.md: every example runs, in the page's order, and prints what the page shows.

The page marks a file with ``<!-- file: PATH -->`` before a fenced block (written into a fresh
folder as it is met) and an example with ``<!-- example -->`` or ``<!-- example: exit N -->``
before a ``console`` block whose first line is ``$ otrules ...`` and whose other lines are the
output, stdout and stderr together; a line holding only ``…`` stands for any lines.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs

from test_cli_main import REPO

DOC = REPO / "docs" / "cli.md"
_BLOCK = re.compile(r"<!-- (?:file: (?P<file>\S+)|example(?::\s*exit (?P<exit>\d+))?) -->\n"
                    r"```[a-z]*\n(?P<body>.*?)```", re.DOTALL)
COMMANDS = ("packs", "check", "fmt", "eval", "explain", "fix", "test", "diff", "compile")


@attrs.frozen
class Step:
    line: int  # in docs/cli.md
    file: str | None = None
    body: str = ""
    exit: int = 0


def steps() -> list[Step]:
    text = DOC.read_text(encoding="utf-8")
    return [Step(text.count("\n", 0, m.start()) + 1, m["file"], m["body"], int(m["exit"] or 0))
            for m in _BLOCK.finditer(text)]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; an expected ``…`` line matches any number of actual lines."""
    if not expected:
        return not actual
    head, *rest = expected
    if head == "…":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and head == actual[0] and matches(rest, actual[1:])


def test_matching_with_ellipses() -> None:
    assert matches(["a", "…", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "…"], ["a"])
    assert not matches(["a", "…", "d"], ["a", "b"])
    assert not matches(["a"], ["a", "b"])


def test_the_page_has_an_example_for_every_command() -> None:
    shown = {shlex.split(s.body.splitlines()[0])[2] for s in steps() if s.file is None}
    assert shown == set(COMMANDS)
    text = DOC.read_text(encoding="utf-8")
    assert all(f"## `otrules {command}`" in text for command in COMMANDS)


def test_every_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"COLUMNS": "80"}
    ran = 0
    for step in steps():
        if step.file is not None:
            target = tmp_path / step.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.body, encoding="utf-8")
            continue
        command, *expected = step.body.rstrip("\n").split("\n")
        assert command.startswith("$ otrules "), f"docs/cli.md:{step.line}"
        done = subprocess.run([sys.executable, "-m", "otrules.cli", *shlex.split(command)[2:]],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False, timeout=300)
        actual = [line.rstrip() for line in done.stdout.decode("utf-8").splitlines()]
        where = f"docs/cli.md:{step.line}: {command}"
        assert matches(expected, actual), where + "\n" + "\n".join(actual)
        assert done.returncode == step.exit, where
        ran += 1
    assert ran >= len(COMMANDS)
