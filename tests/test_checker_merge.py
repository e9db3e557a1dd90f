"""Pack composition: extends, override and disable (E015–E018), checked as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker_support import write_pack
from otrules.errors import PackError
from otrules.lang.loader import check_pack, check_source, load_checked_pack

BASE = """\
pack base
  effective 2026-01-01 to 2026-12-31

table codes
  key code : code
  column timed : flag
  row 97110, yes

table mods
  key modifier : modifier
  row GO

parameter limit : minutes = 8 minutes

rule a : error
  for each line where line.code in codes
  when line.minutes < limit
  say "a"
  source "s"

rule b : error
  for each line
  when codes[line.code].timed and line lacks GO
  say "b"
  source "s"

rule c : warning
  when claim_type = "x"
  say "c"
  source "s"
"""


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    write_pack(tmp_path / "base", {"pack.otr": BASE})
    return tmp_path


def ext(packs: Path, text: str) -> Path:
    return write_pack(packs / "ext", {"pack.otr": "pack ext\n  extends base\n\n" + text})


def test_overrides_keep_their_place_disabled_rules_go_new_rules_follow(packs: Path) -> None:
    folder = ext(packs, """\
rule d : info
  when claim_type = "d"
  say "d"
  source "s"

override rule b : warning
  for each line
  when line lacks GO
  say "b2"
  source "s"

disable rule a because "not needed"
disable parameter limit because "only rule a used it"

rule e : info
  when claim_type = "e"
  say "e"
  source "s"
""")
    pack = load_checked_pack(folder)
    assert [(r.rule.id, r.rule.severity, r.pack) for r in pack.rules] == [
        ("b", "warning", "ext"), ("c", "warning", "base"), ("d", "info", "ext"),
        ("e", "info", "ext")]
    assert pack.rules[0].file == str(folder / "pack.otr")
    assert pack.rules[1].file == str(packs / "base" / "pack.otr")
    assert list(pack.parameters) == []
    assert list(pack.tables) == ["codes", "mods"]
    assert pack.lineage == ("base", "ext")
    assert (pack.name, str(pack.effective.start), str(pack.effective.end)) == (
        "ext", "2026-01-01", "2026-12-31")
    assert pack.diagnostics == ()


def test_composition_errors(packs: Path) -> None:
    folder = ext(packs, """\
rule a : error
  when claim_type = "a"
  say "a"
  source "s"

override rule zz : error
  when claim_type = "z"
  say "z"
  source "s"

disable rule q because "x"
disable parameter limt because "x"
override parameter cap : number = 1
parameter limit : minutes = 9 minutes
parameter codes : number = 2
""")
    found = [(d.code, d.message, d.span.line, d.span.column, d.help)
             for d in check_pack(folder) if d.severity == "error"]
    assert found == [
        ("E017", "rule 'a' is already declared in base pack 'base'", 4, 6,
         "write `override rule a` to replace it, or choose another id"),
        ("E016", "override rule 'zz': the base pack has no rule 'zz'", 9, 15, None),
        ("E018", "disable rule 'q': the base pack has no rule 'q'", 14, 14, None),
        ("E018", "disable parameter 'limt': the base pack has no parameter 'limt'", 15, 19,
         "did you mean 'limit'?"),
        ("E016", "override parameter 'cap': the base pack has no parameter 'cap'", 16, 20,
         None),
        ("E017", "parameter 'limit' is already declared in base pack 'base'", 17, 11,
         "write `override parameter limit` to replace it, or choose another name"),
        ("E017", "parameter 'codes' has the name of table 'codes' of the base pack", 18, 11,
         "choose another name"),
    ]
    assert {d.span.file for d in check_pack(folder)} == {str(folder / "pack.otr")}


def test_override_table_that_drops_a_column_is_reported_at_the_base_rule(packs: Path) -> None:
    folder = ext(packs, "override table codes\n  key code : code\n  row 97110\n")
    (d,) = check_pack(folder)
    assert (d.code, d.message, d.help) == ("E021", "table 'codes' has no column 'timed'",
                                      "valid columns: code")
    assert (d.span.file, d.span.line, d.span.column) == (str(packs / "base" / "pack.otr"), 23, 8)


def test_disabled_parameter_still_used_by_a_base_rule(packs: Path) -> None:
    folder = ext(packs, 'disable parameter limit because "x"\n')
    (d,) = check_pack(folder)
    assert (d.code, d.message, d.span.file, d.span.line, d.span.column) == (
        "E020", "unknown name 'limit'", str(packs / "base" / "pack.otr"), 17, 23)


def test_override_parameter_changes_the_value_and_units_replace_the_method(packs: Path
                                                                           ) -> None:
    folder = ext(packs, "units ama\noverride parameter limit : minutes = 10 minutes\n")
    pack = load_checked_pack(folder)
    assert (pack.unit_method, pack.timed_by, pack.parameters["limit"].constant) == (
        "ama", None, 10)


def test_duplicates_across_the_files_of_one_pack(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "p", {
        "a.otr": 'pack p\n  effective 2026-01-01 to 2026-12-31\n\nrule x : info\n'
                 '  when claim_type = "x"\n  say "x"\n  source "s"\n',
        "b.otr": 'rule x : info\n  when claim_type = "y"\n  say "y"\n  source "s"\n\n'
                 'parameter n : number = 1\ntable n\n  key k : text\n  row "a"\n',
    })
    found = [(d.code, d.message, d.span.file, d.span.line, d.span.column, d.help)
             for d in check_pack(folder) if d.severity == "error"]
    assert found == [
        ("E015", "rule 'x' is declared twice", str(folder / "b.otr"), 1, 6,
         f"the first is at {folder / 'a.otr'}:4:6"),
        ("E015", "table 'n' has the same name as parameter 'n'", str(folder / "b.otr"), 7, 7,
         f"the first is at {folder / 'b.otr'}:6:11"),
    ]


def test_override_and_disable_without_extends() -> None:
    diags = check_source('pack t\n  effective 2026-01-01 to 2026-12-31\n\n'
                         'override rule x : info\n  when claim_type = "x"\n  say "x"\n'
                         '  source "s"\n'
                         'disable parameter p because "x"\n', "t.otr")
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E016", "override rule 'x': pack 't' extends no pack", 4, 15,
         "remove `override`, or add `extends BASE` to the pack header"),
        ("E018", "disable parameter 'p': pack 't' extends no pack", 8, 19,
         "remove `disable`, or add `extends BASE` to the pack header"),
    ]


def test_load_checked_pack_raises_with_every_diagnostic_rendered(packs: Path) -> None:
    folder = ext(packs, 'disable rule q because "x"\n')
    with pytest.raises(PackError) as caught:
        load_checked_pack(folder)
    assert [d.code for d in caught.value.diagnostics] == ["E018"]
    shown = str(folder / "pack.otr")
    assert caught.value.rendered == (
        f"{shown}:4:14: error[E018]: disable rule 'q': the base pack has no rule 'q'\n"
        "4 | disable rule q because \"x\"\n"
        "                 ^")
    assert str(caught.value) == caught.value.rendered
