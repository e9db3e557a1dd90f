"""docs/tutorial.md, performed step by step in a fresh folder: every command prints exactly
what the page shows.

The folder stands for a fresh clone: it holds a copy of ``rulepacks/``. Files are written,
appended to and edited as the page's markers say (see test_docs_support), ``$ otrules …``
runs the real command line in a subprocess, and ``$ cp -r A B`` copies a folder.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from test_docs_support import DOCS, REPO, Block, apply_edit, blocks, commands, matches

PAGE = DOCS / "tutorial.md"


def _run(command: str, cwd: Path) -> tuple[int, list[str]]:
    words = shlex.split(command)
    if words[:2] == ["cp", "-r"] and len(words) == 4:
        shutil.copytree(cwd / words[2], cwd / words[3])
        return 0, []
    assert words[0] == "otrules", f"the tutorial may only run otrules and cp -r: {command}"
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "OTRULES_DEBUG")}
    done = subprocess.run([sys.executable, "-m", "otrules.cli", *words[1:]], cwd=cwd,
                          env=env | {"COLUMNS": "80"}, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False, timeout=300)
    return done.returncode, [line.rstrip() for line in done.stdout.decode().splitlines()]


def _perform(block: Block, folder: Path) -> int:
    """Do what one marked block says; the number of commands it ran."""
    where = f"docs/tutorial.md:{block.line}"
    target = folder / (block.arg or "").strip()
    if block.kind == "file":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.body, encoding="utf-8")
    elif block.kind == "append":
        with target.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(block.body)
    elif block.kind == "edit":
        text = target.read_text(encoding="utf-8")
        target.write_text(apply_edit(text, block.body), encoding="utf-8")
    elif block.kind == "run":
        ran = commands(block.body)
        for i, (command, expected) in enumerate(ran):
            status, actual = _run(command, folder)
            shown = "\n".join(actual)
            assert matches(expected, actual), f"{where}: $ {command}\n{shown}"
            last = i == len(ran) - 1
            assert status == (block.exit if last else 0), f"{where}: $ {command}: {status}"
        return len(ran)
    return 0


def test_the_tutorial_runs_from_a_fresh_clone_to_a_changed_tested_pack(tmp_path: Path) -> None:
    shutil.copytree(REPO / "rulepacks", tmp_path / "rulepacks")
    ran = sum(_perform(block, tmp_path) for block in blocks(PAGE))
    assert ran >= 15
    # The end state the page promises: the copy has the 2027 value and the new edit.
    pack = (tmp_path / "my-medicare" / "pack.otr").read_text(encoding="utf-8")
    assert "from 2027-01-01 to 2027-12-31 = $2,550.00" in pack
    ptp = (tmp_path / "my-medicare" / "tables" / "practitioner-ptp.txt").read_text("utf-8")
    assert ptp.endswith("97110\t97168\t\t20260401\t*\t1\tMisuse of column two code with "
                        "column one code\n")


def test_the_tutorial_covers_each_step_the_brief_promises() -> None:
    shown = [c for b in blocks(PAGE) if b.kind == "run" for c, _ in commands(b.body)]
    for command in ("otrules check", "otrules test", "otrules diff", "otrules eval",
                    "cp -r rulepacks/medicare-ot"):
        assert any(c.startswith(command) for c in shown), command
    kinds = {b.kind for b in blocks(PAGE)}
    assert {"file", "append", "edit", "excerpt", "run"} <= kinds
    # A rendered diagnostic with its caret and help line is shown and explained.
    text = PAGE.read_text(encoding="utf-8")
    for shown in ("error[E037]", "\nhelp: ", "^^^"):
        assert shown in text
