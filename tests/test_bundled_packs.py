"""The bundled rule packs and their golden cases, and the case runner (otrules.cases) itself.

Every case file of every bundled pack runs here until the `otrules test` command and the
pytest plugin take over. Expected values in the case files were worked out by hand from the
rule text and the domain notes; nothing here was copied from the engine's output.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from otrules.cases import (
    ANY_LINE,
    CaseError,
    Expectation,
    ExpectedFinding,
    ExpectedLine,
    GotFinding,
    Outcome,
    case_files,
    compare,
    load_cases,
    run_case,
)
from otrules.eval.engine import Pack
from otrules.lang.loader import check_pack, render_diagnostics
from otrules.resources import rulepacks_dir

PACK_FOLDERS = sorted(p for p in rulepacks_dir().iterdir() if any(p.glob("*.otr")))
CASE_FILES = [(folder, path) for folder in PACK_FOLDERS for path in case_files(folder)]
# Packs with golden cases must check cleanly and make every rule fire somewhere; the three
# billing packs must also have a good number of cases. (Packs without cases, such as the
# language tour that the reference docs use, are tested by their own suites.)
TESTED_PACKS = sorted({folder for folder, _ in CASE_FILES})
BILLING_PACKS = ("medicare-ot", "medicaid-example", "commercial-example")
MIN_CASES_PER_PACK = 40

_packs: dict[Path, Pack] = {}


def _pack(folder: Path) -> Pack:
    if folder not in _packs:
        _packs[folder] = Pack.load(folder)
    return _packs[folder]


def _ids(items: list[Path]) -> list[str]:
    return [p.name for p in items]


# ---------------------------------------------------------------------------- the packs


@pytest.mark.parametrize("name", BILLING_PACKS)
def test_billing_pack_has_enough_golden_cases(name: str) -> None:
    folder = rulepacks_dir() / name
    assert folder in TESTED_PACKS
    count = sum(len(load_cases(path)) for path in case_files(folder))
    assert count >= MIN_CASES_PER_PACK


@pytest.mark.parametrize("folder", TESTED_PACKS, ids=_ids(TESTED_PACKS))
def test_pack_checks_without_any_diagnostic(folder: Path) -> None:
    diags = check_pack(folder)
    assert diags == [], render_diagnostics(diags)


@pytest.mark.parametrize(("folder", "path"), CASE_FILES,
                         ids=[f"{f.name}/{p.name}" for f, p in CASE_FILES])
def test_golden_cases(folder: Path, path: Path) -> None:
    pack = _pack(folder)
    results = [run_case(pack, case) for case in load_cases(path)]
    failed = [r.report() for r in results if not r.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("folder", TESTED_PACKS, ids=_ids(TESTED_PACKS))
def test_every_rule_fires_in_some_case_and_stays_quiet_in_another(folder: Path) -> None:
    cases = [case for path in case_files(folder) for case in load_cases(path)]
    expected = [case.expect.findings for case in cases if case.expect.findings is not None]
    fired = {f.rule for findings in expected for f in findings}
    # An exhaustive list without the rule shows a visit on which it stayed quiet.
    quiet_somewhere = {rule for rule in fired
                       if any(rule not in {f.rule for f in findings} for findings in expected)}
    rules = {rule.id for rule in _pack(folder).rules}
    assert rules - fired == set(), "rules no case makes fire"
    assert rules - quiet_somewhere == set(), "rules that fire in every case"


def test_medicaid_example_overrides_what_it_says() -> None:
    medicare = {r.id for r in _pack(rulepacks_dir() / "medicare-ot").rules}
    medicaid = {r.id: r for r in _pack(rulepacks_dir() / "medicaid-example").rules}
    disabled = {"kx-modifier-required", "assistant-modifier-required", "timely-filing"}
    added = {"prior-authorization-required", "authorization-expired", "authorization-exhausted"}
    assert set(medicaid) == (medicare - disabled) | added
    assert all(medicaid[rule].pack == "medicaid-example" for rule in added)


def test_medicare_rules_are_the_published_ids_and_severities_in_order() -> None:
    rules = [(r.id, r.severity) for r in _pack(rulepacks_dir() / "medicare-ot").rules]
    errors = ["units-mismatch", "go-modifier-required", "therapy-modifier-conflict",
              "kx-modifier-required", "assistant-modifier-required", "ncci-pair-conflict",
              "mue-exceeded", "telehealth-modifier-required", "telehealth-place-of-service",
              "diagnosis-missing", "diagnosis-invalid", "code-not-covered", "timely-filing"]
    warnings = ["progress-report-due", "recertification-due"]
    assert rules == [(r, "error") for r in errors] + [(r, "warning") for r in warnings]


# ---------------------------------------------------------------------------- fixture data
# Rule logic the shipped tables cannot show, because no sourced row has it: NCCI modifier
# indicators 0 and 9, an edit's effective and deletion dates inside the pack's range, and a
# claim-line MUE (MAI 1). The rows below are synthetic test data, not CMS edits.

_FIXTURE_PACK = """\
pack ncci-fixture "medicare-ot with synthetic NCCI tables, for tests only"
  version 1
  payer medicare
  effective 2024-01-01 to 2026-12-31
  extends medicare-ot

override table ptp from "tables/ptp.txt" as cms-ptp
override table mue from "tables/mue.csv" as cms-mue
"""
_FIXTURE_PTP = "\n".join("\t".join(row) for row in [
    ("Column 1", "Column 2", "* = In existence prior to 1996", "Effective Date",
     "Deletion Date *=no data", "Modifier 0=not allowed 1=allowed 9=not applicable",
     "PTP Edit Rationale"),
    ("97110", "97112", "", "20240101", "*", "0", "synthetic: modifier not allowed"),
    ("97110", "97116", "", "20240101", "*", "9", "synthetic: not applicable"),
    ("97530", "97535", "", "20240101", "20250701", "1", "synthetic: deleted 2025-07-01"),
    ("97533", "97530", "", "20260101", "*", "1", "synthetic: effective 2026-01-01"),
]) + "\n"
_FIXTURE_MUE = """\
HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
97110,4,1 Line Edit,synthetic
97112,2,2 Date of Service Edit: Policy,synthetic
"""
_FIXTURE_CASES = """\
shared:
  visit: &visit
    id: V-F
    date_of_service: 2025-03-03
    payer: medicare
    place_of_service: "11"
    claim_submitted_on: 2025-03-04
    patient: {id: P-F}
    diagnoses: [M62.81]

cases:
  - name: indicator-0-fires-even-with-59
    visit:
      <<: *visit
      lines:
        - {code: "97110", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97112", minutes: 15, modifiers: [GO, 59], diagnosis_pointers: [1]}
    expect:
      findings: [{rule: ncci-pair-conflict, line: 1}]
  - name: indicator-9-never-fires
    visit:
      <<: *visit
      lines:
        - {code: "97110", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97116", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      findings: []
  - name: last-day-before-the-deletion
    visit:
      <<: *visit
      date_of_service: 2025-06-30
      claim_submitted_on: 2025-07-01
      lines:
        - {code: "97530", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97535", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      findings: [{rule: ncci-pair-conflict, line: 1}]
  - name: deleted-on-the-deletion-date
    visit:
      <<: *visit
      date_of_service: 2025-07-01
      claim_submitted_on: 2025-07-02
      lines:
        - {code: "97530", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97535", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      findings: []
  - name: day-before-the-effective-date
    visit:
      <<: *visit
      date_of_service: 2025-12-31
      claim_submitted_on: 2026-01-02
      lines:
        - {code: "97533", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97530", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      findings: []
  - name: on-the-effective-date
    visit:
      <<: *visit
      date_of_service: 2026-01-01
      claim_submitted_on: 2026-01-02
      lines:
        - {code: "97533", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97530", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      findings: [{rule: ncci-pair-conflict, line: 1}]
  - name: line-edit-counts-each-line-alone
    about: "97110 on two lines of 45 min: 90 min -> 6 units, 3 per line; each line is within 4."
    visit:
      <<: *visit
      lines:
        - {code: "97110", minutes: 45, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97110", minutes: 45, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      lines: [{units: 3}, {units: 3}]
      findings: []
  - name: line-edit-over-on-one-line
    visit:
      <<: *visit
      lines:
        - {code: "97110", minutes: 75, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      lines: [{units: 5}]
      findings: [{rule: mue-exceeded, line: 0}]
  - name: date-of-service-edit-counts-the-day
    about: "97112 30 + 15 min on two lines: 45 min -> 3 units (2 + 1), over 2 for the day."
    visit:
      <<: *visit
      lines:
        - {code: "97112", minutes: 30, modifiers: [GO], diagnosis_pointers: [1]}
        - {code: "97112", minutes: 15, modifiers: [GO], diagnosis_pointers: [1]}
    expect:
      lines: [{units: 2}, {units: 1}]
      findings: [{rule: mue-exceeded, line: 0}]
"""


def test_ncci_and_mue_logic_on_fixture_tables(tmp_path: Path) -> None:
    folder = tmp_path / "ncci-fixture"
    (folder / "tables").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pack.otr").write_text(_FIXTURE_PACK, encoding="utf-8")
    (folder / "tables" / "ptp.txt").write_text(_FIXTURE_PTP, encoding="utf-8")
    (folder / "tables" / "mue.csv").write_text(_FIXTURE_MUE, encoding="utf-8")
    (folder / "tests" / "ncci.yaml").write_text(_FIXTURE_CASES, encoding="utf-8")
    pack = Pack.load(folder)
    results = [run_case(pack, case) for case in load_cases(folder / "tests" / "ncci.yaml")]
    assert len(results) == 9
    assert [r.report() for r in results if not r.passed] == []


# ---------------------------------------------------------------------------- the case runner


def _write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


_MINIMAL = """\
cases:
  - name: one
    visit:
      id: V-1
      date_of_service: 2026-03-02
      payer: medicare
      place_of_service: 02
      patient: {id: P-1, visits_this_year: 3}
      diagnoses: [F82]
      lines:
        - {code: 97530, minutes: 23, modifiers: [GO, 59], charge: 60.50, diagnosis_pointers: [1]}
      telehealth: yes
    as_of: 2026-04-01
    expect:
      findings:
        - {rule: a, line: null}
        - {rule: b, line: 0, severity: warning, message: "text"}
        - {rule: c}
      absent: [{rule: d}]
"""


def test_scalars_are_typed_by_their_field_not_by_yaml(tmp_path: Path) -> None:
    (case,) = load_cases(_write(tmp_path, _MINIMAL))
    visit = case.visit
    assert visit.place_of_service == "02"  # plain YAML reads 02 as the number 2
    assert visit.telehealth is True
    line = visit.lines[0]
    assert (line.code, line.minutes, line.modifiers) == ("97530", 23, ("GO", "59"))
    assert str(line.charge) == "60.50"
    assert visit.patient.visits_this_year == 3
    assert case.as_of == dt.date(2026, 4, 1)
    assert case.expect.findings == (
        ExpectedFinding("a", None), ExpectedFinding("b", 0, "warning", "text"),
        ExpectedFinding("c", ANY_LINE))
    assert case.expect.absent == (ExpectedFinding("d"),)
    assert case.line == 2


def test_merge_keys_share_parts_and_own_keys_win(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        shared:
          base: &base {id: V-1, date_of_service: 2026-03-02, payer: medicare,
                       patient: {id: P-1}, diagnoses: [F82], lines: [{code: "97530"}]}
        cases:
          - name: merged
            visit: {<<: *base, payer: medicaid}
            expect: {findings: []}
        """)
    (case,) = load_cases(path)
    assert (case.visit.payer, case.visit.id) == ("medicaid", "V-1")


@pytest.mark.parametrize(("text", "words"), [
    ("cases: [", "not valid YAML"),
    ("other: 1\n", "unknown key 'other'"),
    ("shared: {}\n", "needs a top-level 'cases:' list"),
    ("cases:\n  - {visit: {}, expect: {}}\n", "a case needs a 'name'"),
    ("cases:\n  - {name: x, expect: {}}\n", "exactly one of 'visit' and 'visit_file'"),
    ("cases:\n  - {name: x, visit_file: v.json}\n", "needs an 'expect' section"),
    ("cases:\n  - {name: x, visit_file: nowhere.json, expect: {}}\n", "cannot read visit_file"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {findings: [{line: 0}]}}\n",
     "a finding needs a 'rule'"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {findings: [{rule: r, line: one}]}}\n",
     "line must be a whole number"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {findings: [{rule: r, severity: bad}]}}\n",
     "severity must be error, warning or info"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {partial: true}}\n",
     "'partial: true' needs a 'findings' list"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {lines: [{code: '97530', unit: 1}]}}\n",
     "unknown key 'unit'"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {}, as_of: 2026-02-30}\n",
     "as_of must be a date"),
    ("cases:\n  - {name: x, expect: {}, visit: {id: V-1, id: V-2}}\n",
     "the key 'id' appears twice"),
    ("cases:\n  - {name: x, visit_file: v.json, expect: {}}\n"
     "  - {name: x, visit_file: v.json, expect: {}}\n", "the name is used twice"),
])
def test_malformed_case_files_name_file_case_and_problem(tmp_path: Path, text: str,
                                                         words: str) -> None:
    (tmp_path / "v.json").write_text(
        '{"id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",'
        ' "patient": {"id": "P-1"}, "diagnoses": [], "lines": [{"code": "97530"}]}',
        encoding="utf-8")
    path = _write(tmp_path, text)
    with pytest.raises(CaseError) as caught:
        load_cases(path)
    assert words in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_an_invalid_visit_is_reported_with_its_case_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        cases:
          - name: first
            visit_file: v.json
            expect: {}
          - name: broken
            visit: {id: V-2, date_of_service: 2026-02-30, payer: medicare,
                    patient: {id: P-1}, diagnoses: [], lines: [{code: "97530", minuts: 3}]}
            expect: {}
        """)
    (tmp_path / "v.json").write_text(
        '{"id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",'
        ' "patient": {"id": "P-1"}, "diagnoses": [], "lines": [{"code": "97530"}]}',
        encoding="utf-8")
    with pytest.raises(CaseError) as caught:
        load_cases(path)
    error = caught.value
    assert (error.case, error.line) == ("broken", 6)
    assert "date_of_service: must be a calendar date" in str(error)
    assert 'lines[0].minuts: unknown field; did you mean "minutes"?' in str(error)


_GOT = Outcome(
    status="fail",
    lines=(("97530", 2), ("97535", 1)),
    findings=(
        GotFinding("go-modifier-required", 0, "error", "97530 needs GO."),
        GotFinding("go-modifier-required", 1, "error", "97535 needs GO."),
        GotFinding("progress-report-due", None, "warning", "due"),
    ),
)


def test_compare_agrees_on_a_matching_exhaustive_list() -> None:
    expect = Expectation(
        status="fail", lines=(ExpectedLine("97530", 2), ExpectedLine(None, 1)),
        findings=(ExpectedFinding("progress-report-due", None, "warning"),
                  ExpectedFinding("go-modifier-required"),  # loose: any line
                  ExpectedFinding("go-modifier-required", 0, message="97530 needs GO.")))
    assert compare(expect, _GOT) == []


def test_compare_lists_every_difference() -> None:
    expect = Expectation(
        status="pass", lines=(ExpectedLine("97530", 1), ExpectedLine("97110", 1)),
        findings=(ExpectedFinding("go-modifier-required", 0),
                  ExpectedFinding("kx-modifier-required", 1, "error")),
        absent=(ExpectedFinding("progress-report-due"),))
    assert compare(expect, _GOT) == [
        "status: expected pass, got fail",
        "line 0 (97530): expected 1 unit(s), got 2",
        "line 1: expected code 97110, got 97535",
        "missing finding: kx-modifier-required line 1 error",
        "unexpected finding: go-modifier-required line 1 error: '97535 needs GO.'",
        "unexpected finding: progress-report-due (visit) warning: 'due'",
        "finding that must be absent: progress-report-due (visit) warning: 'due'",
    ]


def test_compare_partial_ignores_extra_findings_and_counts_lines() -> None:
    expect = Expectation(lines=(ExpectedLine("97530", 2),), partial=True,
                         findings=(ExpectedFinding("go-modifier-required", 1),))
    assert compare(expect, _GOT) == ["lines: expected 1, got 2"]


def test_visit_level_expectation_does_not_match_a_line_finding() -> None:
    expect = Expectation(findings=(ExpectedFinding("go-modifier-required", None),),
                         partial=True)
    assert compare(expect, _GOT) == ["missing finding: go-modifier-required (visit)"]


class _Engine:
    """A stand-in engine: records what it was asked, returns a fixed JSON-shaped result."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def result(self) -> dict[str, object]:
        return {"status": "pass", "lines": [{"code": "97530", "units": 2}], "findings": []}


class _EngineWithAsOf(_Engine):
    def evaluate(self, visit: object, as_of: dt.date | None = None) -> dict[str, object]:
        self.calls.append({"visit": visit, "as_of": as_of})
        return self.result()


def test_as_of_is_passed_to_an_engine_that_takes_it(tmp_path: Path) -> None:
    (case,) = load_cases(_write(tmp_path, _MINIMAL))
    engine = _EngineWithAsOf()
    result = run_case(engine, case)
    assert engine.calls == [{"visit": case.visit, "as_of": dt.date(2026, 4, 1)}]
    assert result.outcome == Outcome("pass", (("97530", 2),), ())
    assert result.differences == (
        "missing finding: a (visit)", "missing finding: b line 0 warning: 'text'",
        "missing finding: c")
