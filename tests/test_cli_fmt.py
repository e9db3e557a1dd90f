"""``otrules fmt`` end to end."""

from __future__ import annotations

from pathlib import Path

from test_cli_main import run, write_pack

MESSY = """\
pack messy
    effective 2026-01-01 to 2026-12-31
table modifiers
  key modifier : modifier
  row GO
rule go : error
    for each line
    when line lacks GO
    say "{line.code} needs GO."
"""
# The canonical layout: two-space clause indent, one blank line between declarations.
TIDY = """\
pack messy
  effective 2026-01-01 to 2026-12-31

table modifiers
  key modifier : modifier
  row GO

rule go : error
  for each line
  when line lacks GO
  say "{line.code} needs GO."
"""


def test_check_lists_what_would_change_and_writes_nothing(tmp_path: Path) -> None:
    write_pack(tmp_path / "messy", MESSY)
    write_pack(tmp_path / "tidy", TIDY)
    ran = run("fmt", "--check", "messy", "tidy", cwd=tmp_path)
    assert (ran.code, ran.out) == (1, "would reformat messy/pack.otr\n"
                                      "1 file would be reformatted, 1 unchanged\n")
    assert (tmp_path / "messy" / "pack.otr").read_text() == MESSY


def test_fmt_rewrites_in_place(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "messy", MESSY)
    ran = run("fmt", "messy/pack.otr", cwd=tmp_path)
    assert (ran.code, ran.out) == (0, "reformatted messy/pack.otr\n"
                                      "1 file reformatted, 0 unchanged\n")
    assert (folder / "pack.otr").read_text() == TIDY
    again = run("fmt", "--check", "messy", cwd=tmp_path)
    assert (again.code, again.out) == (0, "0 files would be reformatted, 1 unchanged\n")


def test_a_folder_of_packs(tmp_path: Path) -> None:
    write_pack(tmp_path / "packs" / "a", MESSY)
    write_pack(tmp_path / "packs" / "b", TIDY)
    ran = run("fmt", "--check", "packs", cwd=tmp_path)
    assert (ran.code, ran.out) == (1, "would reformat packs/a/pack.otr\n"
                                      "1 file would be reformatted, 1 unchanged\n")


def test_a_file_that_does_not_parse_is_left_alone(tmp_path: Path) -> None:
    broken = "pack p\n  effective 2026-01-01 to 2026-12-31\n\nrule r : eror\n  say \"x\"\n"
    folder = write_pack(tmp_path / "p", broken)
    ran = run("fmt", "p", cwd=tmp_path)
    assert ran.code == 2
    assert ran.err.splitlines()[0] == "p/pack.otr:4:10: error[E001]: unexpected 'eror'"
    assert ran.err.splitlines()[-1] == "error: p/pack.otr: not formatted: it does not parse"
    assert (folder / "pack.otr").read_text() == broken


def test_a_missing_target(tmp_path: Path) -> None:
    ran = run("fmt", "nowhere", cwd=tmp_path)
    assert (ran.code, ran.err) == (2, "error: no such file or folder: nowhere\n")
