"""``otrules.suite``: discovery, selection, running with coverage, and golden updates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from otrules.suite import (
    SuiteError,
    discover,
    is_case_file,
    keyword_matcher,
    run_suite,
    update_case_file,
    update_matcher,
)
from test_cli_main import write_pack
from test_cli_test import CASES


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_pack(Path("tiny"), files={"tests/cases.yaml": CASES})


# ---------------------------------------------------------------------------- discovery


def test_the_collection_rule(tiny: Path) -> None:
    assert is_case_file(tiny / "tests" / "cases.yaml")
    (tiny / "tests" / "notes.yaml").write_text("owner: x\n")
    assert not is_case_file(tiny / "tests" / "notes.yaml")  # no top-level `cases:`
    (tiny / "tests" / "cases.txt").write_text(CASES)
    assert not is_case_file(tiny / "tests" / "cases.txt")  # not YAML
    other = Path("loose") / "tests"
    other.mkdir(parents=True)
    (other / "cases.yaml").write_text(CASES)
    assert not is_case_file(other / "cases.yaml")  # `loose` holds no .otr file


def test_discover_from_every_kind_of_path(tiny: Path) -> None:
    (tiny / "tests" / "notes.yml").write_text("owner: x\n")
    expected = [(Path("tiny/tests/cases.yaml"), Path("tiny"))]
    for target in ("tiny", "tiny/tests", "tiny/tests/cases.yaml", "."):
        found = discover([target])
        assert [(f.path, f.pack_folder) for f in found.files] == expected, target
    assert discover(["tiny"]).skipped == (Path("tiny/tests/notes.yml"),)
    # The same file named twice is run once.
    assert len(discover(["tiny", "tiny/tests/cases.yaml"]).files) == 1


def test_discover_bundled_packs_by_name_and_by_default() -> None:
    by_name = discover(["medicare-ot"])
    assert {f.pack_folder.name for f in by_name.files} == {"medicare-ot"}
    assert {f.path.name for f in by_name.files} >= {"units.yaml", "claim.yaml"}
    everything = discover()
    assert {f.pack_folder.name for f in everything.files} == {
        "medicare-ot", "medicaid-example", "commercial-example"}


def test_discover_errors(tiny: Path) -> None:
    with pytest.raises(SuiteError, match="no such file or folder: nowhere"):
        discover(["nowhere"])
    Path("stray.yaml").write_text(CASES)
    with pytest.raises(SuiteError, match=r"stray\.yaml is not a case file"):
        discover(["stray.yaml"])


# ---------------------------------------------------------------------------- selection


@pytest.mark.parametrize(("expression", "matches"), [
    ("kx", {"a.yaml::kx-over", "b.yaml::KX-under"}),
    ("kx and not under", {"a.yaml::kx-over"}),
    ("go or under", {"a.yaml::go-missing", "b.yaml::KX-under"}),
    ("(kx or go) and a.yaml", {"a.yaml::kx-over", "a.yaml::go-missing"}),
    ("not (kx or go)", set()),
])
def test_keyword_expressions(expression: str, matches: set[str]) -> None:
    ids = {"a.yaml::kx-over", "a.yaml::go-missing", "b.yaml::KX-under"}
    match = keyword_matcher(expression)
    assert {i for i in ids if match(i)} == matches


@pytest.mark.parametrize(("expression", "message"), [
    ("", "empty -k expression"),
    ("a and", "a word is missing"),
    ("(a or b", "')' is missing"),
    ("a b", "unexpected 'b'"),
])
def test_bad_keyword_expressions(expression: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        keyword_matcher(expression)


def test_update_patterns(tiny: Path) -> None:
    cases = [run.result.case for run in run_suite(discover(["tiny"])).runs]
    names = [c.name for c in cases]
    assert names == ["quiet", "go-missing", "long-visit-wrong"]

    def chosen(pattern: str) -> list[str]:
        match = update_matcher(pattern)
        return [c.name for c in cases if match(c)]

    assert chosen("tiny/tests/cases.yaml::quiet") == ["quiet"]
    assert chosen("cases.yaml::*-*") == ["go-missing", "long-visit-wrong"]
    assert chosen(f"{os.getcwd()}/tiny/tests/cases.yaml::go-missing") == ["go-missing"]
    assert chosen("other.yaml::quiet") == []
    assert chosen("long or quiet") == ["quiet", "long-visit-wrong"]


# ---------------------------------------------------------------------------- running


def test_run_suite_with_coverage(tiny: Path) -> None:
    seen: list[str] = []
    report = run_suite(discover(["tiny"]), coverage=True, on_run=lambda r: seen.append(r.id))
    assert seen == ["tiny/tests/cases.yaml::quiet", "tiny/tests/cases.yaml::go-missing",
                    "tiny/tests/cases.yaml::long-visit-wrong"]
    assert (report.passed, [r.id for r in report.failed], report.ok) == (
        2, ["tiny/tests/cases.yaml::long-visit-wrong"], False)
    [pack] = report.coverage
    # Per rule, over the three cases (see test_cli_test.test_coverage):
    #   units-mismatch: false once (quiet), skipped twice (no units stated) plus the visit
    #   entry saying no line matched; go-modifier-required: fired once, false twice;
    #   long-visit: fired once, false twice.
    assert [(r.rule, r.fired, r.false, r.missing, r.skipped) for r in pack.rules] == [
        ("units-mismatch", 0, 1, 0, 4), ("go-modifier-required", 1, 2, 0, 0),
        ("long-visit", 1, 2, 0, 0)]
    assert (pack.pack, pack.folder, pack.cases) == ("tiny", Path("tiny"), 3)
    assert round(pack.percent, 1) == 66.7
    assert (pack.never_fired, pack.never_false, pack.never_reached) == (
        ("units-mismatch",), (), ())


def test_selection_and_errors_in_a_suite(tiny: Path) -> None:
    report = run_suite(discover(["tiny"]), select=keyword_matcher("quiet"))
    assert [r.id for r in report.runs] == ["tiny/tests/cases.yaml::quiet"]
    assert report.coverage == ()
    (tiny / "tests" / "broken.yaml").write_text("cases: 3\n")
    broken = run_suite(discover(["tiny"]))
    assert broken.errors == (("tiny/tests/broken.yaml",
                              "tiny/tests/broken.yaml:1: cases must be a list"),)
    assert len(broken.runs) == 3


# ---------------------------------------------------------------------------- updating


def _failing(path: str = "tiny"):  # type: ignore[no-untyped-def]
    return run_suite(discover([path])).failed


def test_update_rewrites_only_the_expect_section(tiny: Path) -> None:
    path = tiny / "tests" / "cases.yaml"
    result = update_case_file(path, _failing())
    assert result.refused == ()
    assert [case for case, _ in result.updated] == ["tiny/tests/cases.yaml::long-visit-wrong"]
    old = ('      status: pass\n      lines: [{code: "97530", units: 4}]\n'
           "      findings: []\n")
    new = ('      status: warn\n      lines: [{code: "97530", units: 5}]\n'
           "      findings:\n        - {rule: long-visit, line: null, severity: warning}\n")
    assert path.read_text() == CASES.replace(old, new)
    assert _failing() == ()


def test_update_keeps_messages_that_were_checked_and_crlf_line_ends(tiny: Path) -> None:
    path = tiny / "tests" / "cases.yaml"
    text = CASES.replace('message: "97530 needs GO."', 'message: "97530 lacks GO."')
    path.write_bytes(text.replace("\n", "\r\n").encode())
    update_case_file(path, _failing())
    after = path.read_bytes().decode()
    assert "\n" not in after.replace("\r\n", "")  # every line still ends in CRLF
    assert ("      findings:\r\n        - {rule: go-modifier-required, line: 0, severity: "
            'error, message: "97530 needs GO."}\r\n') in after
    assert _failing() == ()


def test_update_handles_flow_expectations_absent_and_partial(tiny: Path) -> None:
    path = tiny / "tests" / "cases.yaml"
    flow = CASES.replace(
        '    expect:\n      status: pass\n      lines: [{code: "97530", units: 4}]\n'
        "      findings: []\n",
        "    expect: {findings: [], partial: true, absent: [{rule: units-mismatch}, "
        "{rule: long-visit}]}   # trailing comment\n")
    path.write_text(flow)
    [(_, changes)] = update_case_file(path, _failing()).updated
    assert changes[-2:] == (
        "removed from absent (the finding is now given): long-visit",
        "partial: true removed (the findings list is now exhaustive)")
    assert path.read_text().endswith(
        "    expect:\n      status: warn\n"
        '      lines: [{code: "97530", units: 5}]\n'
        "      findings:\n        - {rule: long-visit, line: null, severity: warning}\n"
        "      absent:\n        - {rule: units-mismatch}\n")


def test_update_refuses_an_expectation_written_elsewhere(tiny: Path) -> None:
    path = tiny / "tests" / "cases.yaml"
    aliased = CASES.replace("    expect:\n      status: pass\n      lines: [{code: \"97530\", "
                            "units: 4}]\n      findings: []\n", "    expect: *quiet\n")
    aliased = aliased.replace("  - name: quiet\n", "  - name: quiet\n", 1).replace(
        "    expect:\n      status: pass\n      lines: [{code: \"97530\", units: 3}]",
        "    expect: &quiet\n      status: pass\n      lines: [{code: \"97530\", units: 3}]")
    path.write_text(aliased)
    result = update_case_file(path, _failing())
    assert result.updated == ()
    assert result.refused == (("tiny/tests/cases.yaml::long-visit-wrong",
                               "its `expect` is not written out in the case (a YAML alias or "
                               "merge); update it by hand"),)
    assert path.read_text() == aliased


def test_as_of_reaches_the_engine(tiny: Path) -> None:
    # Dated before the pack's range (2026-01-01 on): without as_of the only finding would be
    # pack-not-effective; as of 2026-01-02 the rules run, and 38 minutes with GO pass.
    (tiny / "tests" / "cases.yaml").write_text(
        "cases:\n"
        "  - name: pinned\n"
        "    as_of: 2026-01-02\n"
        "    visit: {id: V-1, date_of_service: 2025-12-31, payer: medicare, patient: {id: P-1},"
        " diagnoses: [M62.81], lines: [{code: '97530', minutes: 38, modifiers: [GO]}]}\n"
        "    expect: {status: pass, findings: []}\n")
    report = run_suite(discover(["tiny"]), coverage=True)
    assert (report.passed, report.failed) == (1, ())
