"""Properties of evaluation over any valid visit (otrules.testing strategies)."""

from __future__ import annotations

import json
import pickle

from hypothesis import given

from otrules.eval import Pack
from otrules.model import MAX_MODIFIERS, Visit
from otrules.testing import visits
from otrules.units import total_units
from otrules.visit_json import dump_visit, load_visit
from test_eval_support import build_pack

# Every construct of the language at least once, over fields any visit may lack.
RULES = """
rule kx : error
  let year_total = patient.ytd_ot_allowed + sum of line.charge over lines
  for each line where line.code in codes and codes[line.code].timed
  let share_of_units = line.computed_units / max(1, units_for(visit.timed_minutes))
  when year_total > kx_threshold and line lacks KX and share_of_units >= 0
  say "{line.code}: {year_total} over {kx_threshold}"
  fix add modifier KX
  source "s"

rule go : error
  for each line as this
  when this lacks GO and not this has more than one of (GP, GN)
    or count of lines where line.code = this.code > 1 and this has all of (59, XE)
  say "{this.code} needs GO"
  fix add modifier GO
  source "s"

rule units : warning
  for each line where line.units is present and line.timed
  when not visit.stated_units_valid and line.units != line.computed_units
  say "{line.code}: {line.units} stated, {line.computed_units} computed"
  fix set units to line.computed_units
  source "s"

rule dates : info
  let due = date_of_service + 12 months
  when claim_submitted_on > due or date_of_service - patient.plan_of_care_certified_on > 90 days
    or year(date_of_service) != month(date_of_service) and patient.age is missing
  say "{due}"
  source "s"

rule pairs : info
  for each pair a, b
  when a.code = b.code and (if a.minutes is present then a.minutes else 0 minutes)
    // 15 minutes % 2 = -1 * -1 or abs(a.assistant_minutes - b.assistant_minutes) > 30 minutes
  say "{a.code} {b.code}"
  source "s"

rule dx : info
  for each diagnosis where not icd10_shape(diagnosis) or diagnosis matches F90.*, F84.0
  when any diagnosis matches G35 or no line where line.pointer_count > 0 or yes
  say "{diagnosis}"
  source "s"

rule place : info
  when place_of_service not in ("11", "22") and telehealth
    or authorization.visits_used >= authorization.visits_authorized
    or payer = "medicare" and claim_type = "institutional"
  say "{place_of_service} {authorization.visits_used}"
  source "s"
"""

PACK = build_pack(RULES)
PICKLED: Pack = pickle.loads(pickle.dumps(PACK))


@given(visits())
def test_evaluation_is_total_consistent_and_fixable(visit: Visit) -> None:
    result = PACK.evaluate(visit)
    assert json.loads(result.to_json_text()) == result.to_json()
    severities = {f.severity for f in result.findings}
    expected = "fail" if "error" in severities else "warn" if "warning" in severities else "pass"
    assert result.status == expected
    assert [line.code for line in result.lines] == [line.code for line in visit.lines]
    # A trace changes nothing else, and a pickled pack gives the very same result.
    traced = PACK.evaluate(visit, trace=True)
    assert traced.findings == result.findings
    assert traced.trace
    assert PICKLED.evaluate(visit, trace=True) == traced
    # Fixes keep the visit valid and never remove anything.
    fixed, applied = PACK.fix(visit)
    assert load_visit(dump_visit(fixed)) == fixed
    assert fixed.diagnoses == visit.diagnoses
    assert len(fixed.lines) == len(visit.lines)
    for before, after in zip(visit.lines, fixed.lines, strict=True):
        assert after.code == before.code
        assert after.modifiers[:len(before.modifiers)] == before.modifiers
        assert len(after.modifiers) <= MAX_MODIFIERS
    assert len(applied) <= sum(1 for f in result.findings if f.fix is not None)


@given(visits())
def test_computed_units_of_timed_lines_add_up_to_the_unit_method_total(visit: Visit) -> None:
    codes = PACK.checked.tables["codes"]
    minutes: dict[str, int] = {}
    for line in visit.lines:
        row = codes.find(line.code, visit.date_of_service)
        if row is not None and row[codes.column_index("timed")]:
            minutes[line.code] = minutes.get(line.code, 0) + line.minutes_or_zero
    result = PACK.evaluate(visit)
    timed_units = sum(b.units for b, line in zip(result.lines, visit.lines, strict=True)
                      if line.code in minutes)
    assert timed_units == total_units(minutes, "cms")
