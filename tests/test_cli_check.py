"""``otrules check`` and ``otrules packs`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_main import run, write_pack

BROKEN = """\
pack broken
  effective 2026-01-01 to 2026-12-31

rule go-modifier-required : eror
  for each line
  when line lacks GO
  say "{line.code} needs GO."
"""
# One unused parameter: warning W003 at its name (line 4, columns 11-15).
WARNS = """\
pack warns
  effective 2026-01-01 to 2026-12-31

parameter spare : number = 3
  source "s"

rule medicare : info
  when visit.payer = "medicare"
  say "Medicare."
  source "s"
"""


def test_a_clean_pack_and_a_broken_one(tmp_path: Path) -> None:
    write_pack(tmp_path / "broken", BROKEN)
    ran = run("check", "medicare-ot", "./broken", cwd=tmp_path)
    assert ran.code == 1
    # `eror` starts in column 29 of line 4 and is 4 characters long.
    assert ran.out == (
        "medicare-ot: ok\n"
        "broken/pack.otr:4:29: error[E001]: unexpected 'eror'\n"
        "4 | rule go-modifier-required : eror\n"
        "                                ^^^^\n"
        "help: did you mean 'error'?\n"
        "\n"
        "./broken: 1 error, 0 warnings\n")


def test_warnings_are_printed_but_do_not_fail(tmp_path: Path) -> None:
    write_pack(tmp_path / "warns", WARNS)
    ran = run("check", "./warns", cwd=tmp_path)
    assert ran.code == 0
    assert ran.out == (
        "warns/pack.otr:4:11: warning[W003]: parameter 'spare' is never used\n"
        "4 | parameter spare : number = 3\n"
        "              ^^^^^\n"
        "help: remove it, or disable it in an extending pack\n"
        "\n"
        "./warns: ok, 1 warning\n")


def test_json_format(tmp_path: Path) -> None:
    write_pack(tmp_path / "broken", BROKEN)
    write_pack(tmp_path / "warns", WARNS)
    ran = run("check", "--format", "json", "./broken", "./warns", "medicare-ot", cwd=tmp_path)
    assert ran.code == 1
    assert json.loads(ran.out) == [
        {"code": "E001", "severity": "error", "message": "unexpected 'eror'",
         "help": "did you mean 'error'?", "pack": "./broken",
         "span": {"file": "broken/pack.otr", "line": 4, "column": 29, "end_line": 4,
                  "end_column": 33}},
        {"code": "W003", "severity": "warning", "message": "parameter 'spare' is never used",
         "help": "remove it, or disable it in an extending pack", "pack": "./warns",
         "span": {"file": "warns/pack.otr", "line": 4, "column": 11, "end_line": 4,
                  "end_column": 16}},
    ]
    clean = run("check", "--format", "json", "medicare-ot")
    assert (clean.code, json.loads(clean.out)) == (0, [])


def test_a_missing_pack_folder(tmp_path: Path) -> None:
    ran = run("check", "./nowhere", cwd=tmp_path)
    assert ran.code == 1
    assert ran.out.splitlines()[0] == ("nowhere:1:1: error[E010]: the pack folder 'nowhere' "
                                       "does not exist")
    assert ran.out.splitlines()[-1] == "./nowhere: 1 error, 0 warnings"


def test_check_needs_a_pack() -> None:
    ran = run("check")
    assert ran.code == 2
    assert "Missing argument 'PACK...'" in ran.err


def test_packs_lists_the_bundled_packs() -> None:
    ran = run("packs")
    assert ran.code == 0
    rows = {line.split()[0]: line.split() for line in ran.out.splitlines()[1:]}
    assert ran.out.splitlines()[0].split() == ["name", "version", "payers", "effective",
                                               "extends"]
    # medicare-ot 2026.1, payer medicare, 2024-01-01 to 2026-12-31 (rulepacks/medicare-ot).
    assert rows["medicare-ot"] == ["medicare-ot", "2026.1", "medicare", "2024-01-01", "to",
                                   "2026-12-31", "-"]
    assert rows["medicaid-example"][-1] == "medicare-ot"  # `extends medicare-ot`


def test_packs_as_json() -> None:
    ran = run("packs", "--format", "json")
    packs = {p["name"]: p for p in json.loads(ran.out)}
    assert packs["medicare-ot"] == {
        "name": "medicare-ot", "title": "Medicare Part B outpatient occupational therapy",
        "version": "2026.1", "payers": ["medicare"],
        "effective": {"from": "2024-01-01", "to": "2026-12-31"}, "extends": None,
        "problem": None}
    assert packs["language-tour-extended"]["extends"] == "language-tour"
