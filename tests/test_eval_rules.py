"""Rules: pack and rule dates, iteration, where/when, lets, messages, findings and status."""

from __future__ import annotations

import pytest

from otrules.eval import Finding
from test_eval_support import build_pack, findings, make_visit

LINES = [
    {"code": "97110", "minutes": 20, "modifiers": ["GO"]},
    {"code": "97140", "minutes": 10},
    {"code": "97165"},
]

PTP = """
table ptp
  key column1 : code
  key column2 : code
  column modifier : number
  column starts : date
  column ends : optional date
  valid from starts until ends
  row 97140, 97110, 1, 2024-01-01, none
  row 97110, 97165, 0, 2024-01-01, 2026-01-01
  row 97165, 97110, 1, 2026-01-01, none
"""


def rule(body: str, rule_id: str = "r", severity: str = "error") -> str:
    return f'rule {rule_id} : {severity}\n{body}\n  source "test source"\n'


# ---------------------------------------------------------------------------- dates


@pytest.mark.parametrize("day", ["2023-12-31", "2027-01-01"])
def test_visit_outside_the_pack_range_gets_one_finding_and_no_rule_runs(day: str) -> None:
    pack = build_pack(rule('  for each line\n  when yes\n  say "fires"'))
    result = pack.evaluate(make_visit(LINES, date_of_service=day))
    assert result.status == "fail"
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert (finding.rule, finding.severity, finding.line, finding.fix) == \
        ("pack-not-effective", "error", None, None)
    assert day in finding.message
    assert "2024-01-01 to 2026-12-31" in finding.message


@pytest.mark.parametrize("day", ["2024-01-01", "2026-12-31"])
def test_pack_range_includes_both_ends(day: str) -> None:
    pack = build_pack(rule('  when yes\n  say "fires"'))
    assert findings(pack, make_visit(LINES, date_of_service=day)) == [("r", None, "fires")]


@pytest.mark.parametrize(("day", "fires"), [
    ("2024-12-31", False), ("2025-01-01", True), ("2025-06-30", True), ("2025-07-01", False),
])
def test_rule_effective_range(day: str, fires: bool) -> None:
    pack = build_pack(rule('  effective 2025-01-01 to 2025-06-30\n  when yes\n  say "x"'))
    assert bool(findings(pack, make_visit(LINES, date_of_service=day))) is fires


@pytest.mark.parametrize(("day", "threshold"), [
    ("2024-05-01", "2,330.00"), ("2025-12-31", "2,410.00"), ("2026-01-01", "2,480.00"),
])
def test_parameters_take_the_value_of_the_date_of_service(day: str, threshold: str) -> None:
    pack = build_pack(rule('  when yes\n  say "{kx_threshold}"'))
    assert findings(pack, make_visit(LINES, date_of_service=day)) == [("r", None, threshold)]


@pytest.mark.parametrize(("day", "expected"), [
    # 97110 then 97165: the 0-indicator row is in force until 2026-01-01 (exclusive) ...
    ("2025-12-31", [("r", 2, "97110 then 97165: 0")]),
    # ... and from then on the reversed pair is in force instead.
    ("2026-01-01", [("r", 0, "97165 then 97110: 1")]),
])
def test_table_rows_in_force_on_the_date_of_service(day: str, expected: list[object]) -> None:
    pack = build_pack(PTP + rule(
        '  for each pair a, b in ptp\n  when a.code != 97140\n'
        '  say "{a.code} then {b.code}: {ptp.modifier}"'))
    assert findings(pack, make_visit(LINES, date_of_service=day)) == expected


# ---------------------------------------------------------------------------- iteration


def test_visit_rule_fires_once_without_a_line() -> None:
    pack = build_pack(rule('  when count of lines > 2\n  say "{visit.line_count} lines"'))
    assert findings(pack, make_visit(LINES)) == [("r", None, "3 lines")]


def test_for_each_line_in_order_with_where() -> None:
    pack = build_pack(rule('  for each line where line.timed\n  when line lacks KX\n'
                           '  say "{line.code} at {line.position}"'))
    assert findings(pack, make_visit(LINES)) == [("r", 0, "97110 at 1"), ("r", 1, "97140 at 2")]


def test_for_each_line_as_a_name() -> None:
    pack = build_pack(rule(
        '  for each line as this\n'
        '  when count of lines where line.code = this.code > 1\n  say "{this.code} twice"'))
    visit = make_visit([{"code": "97110", "minutes": 10}, {"code": "97140", "minutes": 10},
                        {"code": "97110", "minutes": 10}])
    assert findings(pack, visit) == [("r", 0, "97110 twice"), ("r", 2, "97110 twice")]


def test_for_each_diagnosis_has_no_line() -> None:
    pack = build_pack(rule('  for each diagnosis where not icd10_shape(diagnosis)\n'
                           '  when yes\n  say "{diagnosis} is not an ICD-10 code"'))
    visit = make_visit(LINES, diagnoses=["F90.2", "ABC", "M17.11", "9999"])
    assert findings(pack, visit) == [("r", None, "ABC is not an ICD-10 code"),
                                     ("r", None, "9999 is not an ICD-10 code")]


def test_pairs_are_every_ordered_pair_in_loop_order_naming_line_b() -> None:
    pack = build_pack(rule('  for each pair a, b\n  when yes\n'
                           '  say "{a.position}-{b.position}"'))
    got = findings(pack, make_visit(LINES))
    assert [(line, message) for _, line, message in got] == [
        (1, "1-2"), (2, "1-3"), (0, "2-1"), (2, "2-3"), (0, "3-1"), (1, "3-2")]


def test_pairs_in_a_table_bind_the_row() -> None:
    pack = build_pack(PTP + rule(
        '  for each pair first, second in ptp\n'
        '  when ptp.modifier = 0 or second lacks any of (59, XE, XS)\n'
        '  say "{second.code} is bundled into {first.code} ({ptp.modifier})"'))
    visit = make_visit(LINES, date_of_service="2025-06-01")
    # In force on 2025-06-01: (97140, 97110) indicator 1 and (97110, 97165) indicator 0.
    assert findings(pack, visit) == [
        ("r", 2, "97165 is bundled into 97110 (0)"),
        ("r", 0, "97110 is bundled into 97140 (1)"),
    ]
    with_59 = make_visit([LINES[0] | {"modifiers": ["GO", "59"]}, *LINES[1:]],
                         date_of_service="2025-06-01")
    assert findings(pack, with_59) == [("r", 2, "97165 is bundled into 97110 (0)")]


def test_lets_before_are_per_visit_and_lets_after_per_element() -> None:
    pack = build_pack(rule(
        '  let total = sum of line.minutes over lines\n'
        '  for each line where line.minutes is present\n'
        '  let rest = total - line.minutes\n'
        '  when rest > 0 minutes\n'
        '  say "{line.code}: {rest} of {total} minutes on other lines"'))
    assert findings(pack, make_visit(LINES)) == [
        ("r", 0, "97110: 10 of 30 minutes on other lines"),
        ("r", 1, "97140: 20 of 30 minutes on other lines"),
    ]


def test_missing_condition_never_fires() -> None:
    pack = build_pack(rule('  for each line\n  when line.minutes < 15 minutes\n'
                           '  say "{line.code}"'))
    # Line 3 has no minutes: its condition is missing, so it does not fire.
    assert findings(pack, make_visit(LINES)) == [("r", 1, "97140")]


def test_missing_where_skips_the_element() -> None:
    pack = build_pack(rule('  for each line where line.minutes >= 0 minutes\n  when yes\n'
                           '  say "{line.code}"'))
    assert [line for _, line, _ in findings(pack, make_visit(LINES))] == [0, 1]


def test_findings_come_in_rule_order_then_element_order() -> None:
    pack = build_pack(
        rule('  for each line\n  when yes\n  say "b{line.position}"', "b-rule")
        + rule('  when yes\n  say "a"', "a-rule", "warning")
        + rule('  for each diagnosis\n  when yes\n  say "{diagnosis}"', "c-rule", "info"))
    got = pack.evaluate(make_visit(LINES, diagnoses=["F90.2", "M17.11"])).findings
    assert [(f.rule, f.message) for f in got] == [
        ("b-rule", "b1"), ("b-rule", "b2"), ("b-rule", "b3"), ("a-rule", "a"),
        ("c-rule", "F90.2"), ("c-rule", "M17.11")]


# ---------------------------------------------------------------------------- messages


def test_message_formats() -> None:
    pack = build_pack(
        "parameter limit : months = 12 months\n"
        + rule('  let total = patient.ytd_ot_allowed + sum of line.charge over lines\n'
               '  when yes\n'
               '  say "{total} by {date_of_service}; telehealth {telehealth}; '
               '{limit}; auth {authorization.number}; \\{literal\\}"'))
    visit = make_visit([{"code": "97110", "charge": "240.00"}],
                       patient={"ytd_ot_allowed": "2300.00"})
    assert findings(pack, visit) == [
        ("r", None, "2,540.00 by 2026-03-02; telehealth no; 12 months; auth (missing); "
                    "{literal}")]


def test_message_never_shows_patient_identifiers() -> None:
    # The checker rejects these placeholders (E041); evaluation withholds them regardless.
    pack = build_pack(rule('  let born = patient.birth_date\n  when yes\n'
                           '  say "{patient.id} {visit.patient.birth_date} {born} ok"'),
                      checker=False)
    [(_, _, message)] = findings(pack, make_visit(LINES))
    assert message == "(withheld) (withheld) (withheld) ok"
    assert "P-1" not in message
    assert "1950" not in message


# ---------------------------------------------------------------------------- findings and status


@pytest.mark.parametrize(("severities", "status"), [
    ((), "pass"), (("info",), "pass"), (("info", "warning"), "warn"),
    (("warning", "error", "info"), "fail"), (("error",), "fail"),
])
def test_status(severities: tuple[str, ...], status: str) -> None:
    text = "".join(rule('  when yes\n  say "x"', f"r{i}", s) for i, s in enumerate(severities))
    result = build_pack(text).evaluate(make_visit(LINES))
    assert result.status == status
    assert [f.severity for f in result.findings] == list(severities)


def test_finding_carries_severity_line_and_source() -> None:
    pack = build_pack(rule('  for each line where line.code = 97140\n  when yes\n  say "m"',
                           "rid", "warning"))
    [finding] = pack.evaluate(make_visit(LINES)).findings
    assert finding == Finding("rid", "warning", 1, "m", None, "test source")
