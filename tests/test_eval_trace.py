"""Traces: per rule and element, whether it fired and the values that decided it."""

from __future__ import annotations

import json

from otrules.eval import TraceEntry
from test_eval_support import build_pack, make_visit

KX_RULE = """
rule kx-required : error
  for each line where line.code in codes
  when patient.ytd_ot_allowed + sum of line.charge over lines > kx_threshold and line lacks KX
  say "OT this year is over the {kx_threshold} threshold: add KX to {line.code}."
  fix add modifier KX
  source "BBA 2018 §50202"
"""

KX_VISIT = make_visit(
    [{"code": "97110", "minutes": 20, "charge": "120.00", "modifiers": ["GO"]},
     {"code": "97140", "minutes": 15, "charge": "120.00", "modifiers": ["GO", "KX"]}],
    patient={"ytd_ot_allowed": "2300.00"})


def trace_text(rules: str, visit: object = KX_VISIT) -> str:
    return build_pack(rules).evaluate(visit, trace=True).trace_text()  # type: ignore[arg-type]


def test_kx_trace_reads_like_a_biller_would_explain_it() -> None:
    assert trace_text(KX_RULE) == """\
kx-required, line 1 (97110): fired (condition is true)
  where: line.code 97110 in codes → yes
  when: patient.ytd_ot_allowed 2,300.00 + sum of line.charge over lines 240.00 = 2,540.00 \
> kx_threshold 2,480.00 → yes
  when: line lacks KX → yes
  say: OT this year is over the 2,480.00 threshold: add KX to 97110.
  fix: add modifier KX to line 1
kx-required, line 2 (97140): not fired (condition is false)
  where: line.code 97140 in codes → yes
  when: patient.ytd_ot_allowed 2,300.00 + sum of line.charge over lines 240.00 = 2,540.00 \
> kx_threshold 2,480.00 → yes
  when: line lacks KX → no"""


def test_lets_lookups_and_short_circuit() -> None:
    text = trace_text("""
rule r : warning
  let year_total = patient.ytd_ot_allowed + sum of line.charge over lines
  for each line where codes[line.code].timed
  let left = kx_threshold - year_total
  when line has CO and left < $0 or year_total > kx_threshold
  say "{year_total}"
  source "s"
""")
    assert text == """\
r, line 1 (97110): fired (condition is true)
  let year_total = patient.ytd_ot_allowed 2,300.00 + sum of line.charge over lines 240.00 \
= 2,540.00
  where: codes[line.code 97110] → found
  where: codes[line.code].timed → yes
  let left = kx_threshold 2,480.00 - year_total 2,540.00 = -60.00
  when: line has CO → no
  when: year_total 2,540.00 > kx_threshold 2,480.00 → yes
  say: 2,540.00
r, line 2 (97140): fired (condition is true)
  let year_total = patient.ytd_ot_allowed 2,300.00 + sum of line.charge over lines 240.00 \
= 2,540.00
  where: codes[line.code 97140] → found
  where: codes[line.code].timed → yes
  let left = kx_threshold 2,480.00 - year_total 2,540.00 = -60.00
  when: line has CO → no
  when: year_total 2,540.00 > kx_threshold 2,480.00 → yes
  say: 2,540.00"""


def test_rules_that_did_not_fire_say_why() -> None:
    text = trace_text("""
rule dated : error
  effective 2025-01-01 to 2025-12-31
  when yes
  say "x"
  source "s"

rule no-match : error
  for each line where line.code = 97165
  when yes
  say "x"
  source "s"

rule missing : info
  when authorization.visits_used > 3
  say "x"
  source "s"
""")
    assert text == """\
dated, visit: skipped (not effective on 2026-03-02: the rule covers 2025-01-01 to 2025-12-31)
no-match, line 1 (97110): skipped (where is false)
  where: line.code 97110 = 97165 → no
no-match, line 2 (97140): skipped (where is false)
  where: line.code 97140 = 97165 → no
no-match, visit: skipped (no line matched where)
missing, visit: not fired (condition is missing)
  when: authorization.visits_used (missing) > 3 → (missing)"""


def test_if_conditions_and_membership_lists_are_traced() -> None:
    visit = make_visit([{"code": "97110", "minutes": 10, "performed_by": "OTA",
                         "assistant_minutes": 10}])
    text = trace_text("""
rule r : info
  for each line
  when (if line.performed_by = "OTA" then line.assistant_minutes else 0 minutes) \
>= 8 minutes and line.code not in (97165, 97166)
  say "x"
  source "s"
""", visit)
    assert text == """\
r, line 1 (97110): fired (condition is true)
  when: line.performed_by OTA = "OTA" → yes
  when: (if line.performed_by = "OTA" then line.assistant_minutes else 0 minutes) 10 \
>= 8 minutes → yes
  when: line.code 97110 not in (97165, 97166) → yes
  say: x"""


def test_pack_not_effective_trace() -> None:
    visit = make_visit([{"code": "97110"}], date_of_service="2027-02-01")
    result = build_pack(KX_RULE).evaluate(visit, trace=True)
    assert result.trace == (TraceEntry("pack-not-effective", "visit", None, "fired",
                                       "the visit is outside the pack's dates"),)


SECRETS_VISIT = make_visit([{"code": "97110"}], payer="Acme Health Plan",
                           authorization={"number": "AUTH-55501"},
                           patient={"id": "P-31337", "birth_date": "1950-06-15"})


def test_trace_never_shows_the_birth_date_identifiers_or_free_text() -> None:
    result = build_pack("""
rule r : info
  let born = patient.birth_date
  when date_of_service - born > 365 days and payer != "medicare"
    and authorization.number is present and authorization.number != "Y"
  say "fired"
  source "s"
""").evaluate(SECRETS_VISIT, trace=True)
    assert result.trace_text() == """\
r, visit: fired (condition is true)
  let born = patient.birth_date → (withheld)
  when: date_of_service 2026-03-02 - born (withheld) = (withheld) > 365 days → (withheld)
  when: payer (withheld) != "medicare" → yes
  when: authorization.number (withheld) is present → yes
  when: authorization.number (withheld) != "Y" → (withheld)
  say: fired"""
    shown = result.to_json_text()
    for secret in ("31337", "1950", "AUTH-55501", "Acme"):
        assert secret not in shown


def test_trace_withholds_patient_id_even_if_a_rule_reads_it() -> None:
    # The checker refuses patient.id (E021); evaluation withholds it regardless.
    pack = build_pack('rule r : info\n  when patient.id != "X"\n  say "x"\n  source "s"\n',
                      checker=False)
    trace = pack.evaluate(SECRETS_VISIT, trace=True).trace_text()
    assert trace.splitlines()[1] == '  when: patient.id (withheld) != "X" → (withheld)'
    assert "31337" not in trace


def test_trace_is_absent_unless_asked_for() -> None:
    result = build_pack(KX_RULE).evaluate(KX_VISIT)
    assert result.trace is None
    assert "trace" not in result.to_json()
    assert result.trace_text() == ""


def test_trace_json() -> None:
    result = build_pack(KX_RULE).evaluate(KX_VISIT, trace=True)
    data = json.loads(result.to_json_text())
    assert data["trace"][1] == {
        "rule": "kx-required", "element": "line 2 (97140)", "line": 1, "outcome": "not fired",
        "reason": "condition is false",
        "steps": [
            "where: line.code 97140 in codes → yes",
            "when: patient.ytd_ot_allowed 2,300.00 + sum of line.charge over lines 240.00 = "
            "2,540.00 > kx_threshold 2,480.00 → yes",
            "when: line lacks KX → no",
        ],
    }
    # Findings are the same with or without a trace.
    assert result.findings == build_pack(KX_RULE).evaluate(KX_VISIT).findings


def test_let_steps_show_what_went_into_each_let() -> None:
    visit = make_visit([{"code": "97110", "minutes": 20, "modifiers": ["GO"]}])
    text = trace_text("""
rule r : info
  for each line
  let t = -line.minutes
  let u = if line.minutes > 10 minutes then codes[line.code].timed else no
  let w = line.minutes > 5 minutes and line has GO
  let z = codes[line.code].timed
  let a = line.minutes + sum of l.minutes over lines as l where codes[l.code].timed
  let n = 3
  when yes
  say "x"
  source "s"
""", visit)
    assert text == """\
r, line 1 (97110): fired (condition is true)
  let t = -line.minutes → -20
  let u: line.minutes 20 > 10 minutes → yes
  let u: codes[line.code 97110] → found
  let u: codes[line.code].timed → yes
  let u = if line.minutes > 10 minutes then codes[line.code].timed else no → yes
  let w: line.minutes 20 > 5 minutes → yes
  let w: line has GO → yes
  let w = line.minutes > 5 minutes and line has GO → yes
  let z: codes[line.code 97110] → found
  let z = codes[line.code].timed → yes
  let a = line.minutes 20 + sum of l.minutes over lines as l where codes[l.code].timed 20 = 40
  let n = 3
  when: yes → yes
  say: x"""
