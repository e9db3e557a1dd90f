"""``otrules test`` end to end: failures, selection, coverage, updates, bad case files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otrules.cases import case_files, load_cases
from otrules.resources import rulepacks_dir
from test_cli_main import run, write_pack

# Expected values by hand, from the tiny pack's rules (test_cli_main.TINY_PACK).
CASES = """\
shared:
  visit: &visit
    id: V-1
    date_of_service: 2026-03-02
    payer: medicare
    patient: {id: P-1}
    diagnoses: [M62.81]

cases:
  - name: quiet
    about: "38 minutes -> 3 units, as stated; GO is there; 38 is not over 60"
    visit:
      <<: *visit
      lines:
        - {code: "97530", minutes: 38, units: 3, modifiers: [GO]}
    expect:
      status: pass
      lines: [{code: "97530", units: 3}]
      findings: []

  - name: go-missing
    visit:
      <<: *visit
      lines:
        - {code: "97530", minutes: 38}
    expect:
      status: fail
      findings:
        - {rule: go-modifier-required, line: 0, message: "97530 needs GO."}

  # 70 minutes: (70 + 7) // 15 = 5 units, and over 60 minutes. Wrong on purpose below.
  - name: long-visit-wrong
    visit:
      <<: *visit
      lines:
        - {code: "97530", minutes: 70, modifiers: [GO]}
    expect:
      status: pass
      lines: [{code: "97530", units: 4}]
      findings: []
"""
LONG_VISIT_LINE = 32  # where the case `long-visit-wrong` starts in CASES
FAILURE = [
    f"FAILED tiny/tests/cases.yaml::long-visit-wrong (line {LONG_VISIT_LINE})",
    "  ~ status: expected pass, got warn",
    "  ~ line 0 (97530): expected 4 unit(s), got 5",
    "  + unexpected finding: long-visit (visit) warning: 'The visit has 70 timed minutes.'",
]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "tiny", files={"tests/cases.yaml": CASES})


def test_the_layout_of_the_case_file() -> None:
    lines = CASES.splitlines()
    assert lines[LONG_VISIT_LINE - 1] == "  - name: long-visit-wrong"


def test_a_failing_case_prints_its_differences(tiny: Path) -> None:
    ran = run("test", "tiny", cwd=tiny.parent)
    assert ran.code == 1
    assert ran.out.splitlines() == [*FAILURE, "2 passed, 1 failed"]


def test_all_bundled_cases_pass_by_default() -> None:
    ran = run("test")
    total = sum(len(load_cases(path)) for folder in rulepacks_dir().iterdir()
                for path in case_files(folder))
    assert ran.code == 0
    assert ran.out.splitlines()[-1] == f"{total} passed, 0 failed"


def test_select_with_k_and_list_with_v(tiny: Path) -> None:
    ran = run("test", "tiny", "-k", "go or (quiet and not long)", "-v", cwd=tiny.parent)
    assert (ran.code, ran.out.splitlines()) == (0, [
        "ok tiny/tests/cases.yaml::quiet", "ok tiny/tests/cases.yaml::go-missing",
        "2 passed, 0 failed"])
    none = run("test", "tiny", "-k", "nothing-like-this", cwd=tiny.parent)
    assert (none.code, none.err) == (2, "error: no case ran (nothing matches -k)\n")
    bad = run("test", "tiny", "-k", "go and", cwd=tiny.parent)
    assert (bad.code, bad.err) == (2, "error: bad -k expression 'go and': a word is missing\n")


def test_coverage(tiny: Path) -> None:
    ran = run("test", "tiny", "--coverage", cwd=tiny.parent)
    # units-mismatch: only `quiet` states units, and they are right (false); the others are
    # skipped. go-modifier-required fires in go-missing and is false elsewhere; long-visit
    # fires in long-visit-wrong and is false elsewhere.
    assert ran.out.splitlines()[len(FAILURE):] == [
        "",
        "coverage of tiny (tiny), 3 cases: 2 of 3 rules fired (66.7%)",
        "  fired in some case: go-modifier-required, long-visit",
        "  never fired (condition never true): units-mismatch",
        "  condition never false: none",
        "  condition never reached (where never matched): none",
        "2 passed, 1 failed",
    ]
    assert ran.code == 1


def test_fail_under(tiny: Path) -> None:
    ran = run("test", "tiny", "-k", "quiet", "--fail-under", "50", cwd=tiny.parent)
    # One case: only go-modifier-required and long-visit are reached, and neither fires.
    assert ran.code == 1
    assert ran.out.splitlines()[1] == "coverage of tiny (tiny), 1 cases: 0 of 3 rules fired (0.0%)"
    assert ran.err == "error: the rule coverage of tiny is 0.0%, under --fail-under 50\n"
    enough = run("test", "tiny", "-k", "go", "--fail-under", "33", cwd=tiny.parent)
    assert enough.code == 0  # go-missing: 1 of 3 rules is 33.3%


def test_update_a_named_case(tiny: Path) -> None:
    ran = run("test", "tiny", "--update", "tiny/tests/cases.yaml::long-*", cwd=tiny.parent)
    assert ran.code == 0
    assert ran.out.splitlines() == [
        "updated tiny/tests/cases.yaml::long-visit-wrong, which had:", *FAILURE[1:],
        "2 passed, 0 failed, 1 updated"]
    new_expect = (
        "    expect:\n"
        "      status: warn\n"
        '      lines: [{code: "97530", units: 5}]\n'
        "      findings:\n"
        "        - {rule: long-visit, line: null, severity: warning}\n")
    old_expect = (
        "    expect:\n"
        "      status: pass\n"
        '      lines: [{code: "97530", units: 4}]\n'
        "      findings: []\n")
    assert (tiny / "tests" / "cases.yaml").read_text() == CASES.replace(old_expect, new_expect)
    assert run("test", "tiny", cwd=tiny.parent).out == "3 passed, 0 failed\n"


def test_update_by_keyword_and_update_all(tiny: Path) -> None:
    ran = run("test", "tiny", "--update", "long and wrong", cwd=tiny.parent)
    assert (ran.code, ran.out.splitlines()[-1]) == (0, "2 passed, 0 failed, 1 updated")
    (tiny / "tests" / "cases.yaml").write_text(CASES)
    every = run("test", "tiny", "--update-all", cwd=tiny.parent)
    assert (every.code, every.out.splitlines()[-1]) == (0, "2 passed, 0 failed, 1 updated")


def test_update_never_writes_for_a_pattern_that_matches_nothing(tiny: Path) -> None:
    ran = run("test", "tiny", "--update", "tiny/tests/cases.yaml::no-such-case",
              "--update", "long", cwd=tiny.parent)
    assert ran.code == 2
    assert ran.err == ("error: --update tiny/tests/cases.yaml::no-such-case: matches no case "
                       "that ran; nothing was updated\n")
    assert (tiny / "tests" / "cases.yaml").read_text() == CASES


def test_update_of_a_passing_case_leaves_it(tiny: Path) -> None:
    ran = run("test", "tiny", "--update", "quiet", cwd=tiny.parent)
    assert ran.code == 1  # long-visit-wrong still fails
    assert ran.err == "note: tiny/tests/cases.yaml::quiet already passes; left as it is\n"
    assert (tiny / "tests" / "cases.yaml").read_text() == CASES


def test_a_malformed_case_file(tiny: Path) -> None:
    (tiny / "tests" / "broken.yaml").write_text(
        "cases:\n  - name: x\n    visit: {id: V-1}\n    expect: {}\n    extra: 1\n")
    ran = run("test", "tiny", cwd=tiny.parent)
    assert ran.code == 2
    assert ran.err.splitlines() == [
        "tiny/tests/broken.yaml:5: a case: unknown key 'extra' (known: about, "
        "as_of, expect, name, visit, visit_file)",
        "error: tiny/tests/broken.yaml: could not be used",
    ]
    assert ran.out.splitlines()[-1] == "2 passed, 1 failed, 1 could not be used"


def test_a_pack_with_errors(tmp_path: Path) -> None:
    broken = "pack p\n  effective 2026-01-01 to 2026-12-31\n\nrule r : eror\n  say \"x\"\n"
    write_pack(tmp_path / "p", broken, files={"tests/c.yaml": CASES})
    ran = run("test", "p", cwd=tmp_path)
    assert ran.code == 2
    assert ran.err.splitlines()[:2] == ["the pack does not check:",
                                        "p/pack.otr:4:10: error[E001]: unexpected 'eror'"]
    assert ran.err.splitlines()[-1] == "error: p: could not be used"


def test_nothing_to_run_and_missing_paths(tmp_path: Path) -> None:
    write_pack(tmp_path / "untested")
    (tmp_path / "untested" / "tests").mkdir()
    (tmp_path / "untested" / "tests" / "notes.yaml").write_text("owner: someone\n")
    ran = run("test", "untested", cwd=tmp_path)
    assert ran.code == 2
    assert ran.err.splitlines() == [
        "note: untested/tests/notes.yaml has no top-level `cases:` key; it is not a case file",
        "error: no case ran: no case files found"]
    missing = run("test", "nowhere", cwd=tmp_path)
    assert (missing.code, missing.err) == (2, "error: no such file or folder: nowhere\n")


def test_paths_can_be_case_files_tests_folders_and_folders_of_packs(tiny: Path) -> None:
    root = tiny.parent
    for target in ("tiny/tests/cases.yaml", "tiny/tests", "."):
        ran = run("test", target, cwd=root)
        assert re.fullmatch(r"(?s).*2 passed, 1 failed\n", ran.out), target
