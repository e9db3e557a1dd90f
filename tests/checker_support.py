"""Helpers shared by the checker's tests (tests/test_checker_*.py, tests/test_loader.py)."""

from __future__ import annotations

from pathlib import Path

from otrules.diagnostics import Diagnostic
from otrules.lang.loader import check_source

# A pack header and the tables most tests need: codes, modifiers and a two-key pair table.
# Rules written after it start on line RULES_LINE.
PRELUDE = """\
pack t
  effective 2026-01-01 to 2026-12-31

table codes
  key code : code
  column timed : flag
  row 97110, yes
  row 97140, yes
  row 97530, yes
  row 97165, no

table mods
  key modifier : modifier
  row GO
  row GP
  row KX
  row 59
  row XE

table ptp
  key first : code
  key second : code
  column modifier : number
  row 97140, 97530, 1

"""
RULES_LINE = 26


def check(rules: str, prelude: str = PRELUDE) -> list[Diagnostic]:
    """Diagnostics of the prelude followed by ``rules`` (a one-file pack named t.otr)."""
    return check_source(prelude + rules, "t.otr")


def brief(diags: list[Diagnostic]) -> list[tuple[str, str, int, int]]:
    """(code, message, line, column) of each diagnostic, for exact assertions."""
    return [(d.code, d.message, d.span.line if d.span else 0, d.span.column if d.span else 0)
            for d in diags]


def one(diags: list[Diagnostic], code: str) -> Diagnostic:
    """The only diagnostic with ``code``; fails showing all of them otherwise."""
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, brief(diags)
    return found[0]


def write_pack(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path → text) under ``folder``; return the folder."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def rule(body: str, rule_id: str = "r", severity: str = "error") -> str:
    """A rule with the given clauses (indented by two spaces)."""
    lines = "".join(f"  {line}\n" for line in body.strip("\n").split("\n"))
    return f"rule {rule_id} : {severity}\n{lines}"
