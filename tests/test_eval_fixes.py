"""Fix suggestions on findings, and Pack.fix applying them."""

from __future__ import annotations

from otrules.eval import AppliedFix, FixSuggestion
from otrules.visit_json import dump_visit, load_visit
from test_eval_support import build_pack, make_visit

GO_RULE = """
rule go-required : error
  for each line
  when line lacks GO
  say "{line.code} needs GO"
  fix add modifier GO
  source "CMS Pub 100-04 ch. 5 §20.1"
"""

UNITS_RULE = """
rule units-differ : error
  for each line where line.units is present and line.timed
  when line.units != line.computed_units
  say "{line.code} states {line.units} units; the minutes support {line.computed_units}"
  fix set units to line.computed_units
  source "CMS Pub 100-04 ch. 5 §20.2"
"""


def test_add_modifier_suggestion_names_the_line() -> None:
    pack = build_pack(GO_RULE)
    visit = make_visit([{"code": "97110", "modifiers": ["GO"]}, {"code": "97140"}])
    [finding] = pack.evaluate(visit).findings
    assert finding.fix == FixSuggestion("add_modifier", 1, modifier="GO")
    assert finding.fix.to_json() == {"kind": "add_modifier", "line": 1, "modifier": "GO",
                                     "value": None}


def test_no_add_modifier_suggestion_when_the_line_has_four_modifiers() -> None:
    pack = build_pack(GO_RULE)
    visit = make_visit([{"code": "97110", "modifiers": ["KX", "59", "XE", "CO"]}])
    [finding] = pack.evaluate(visit).findings
    assert finding.fix is None
    fixed, applied = pack.fix(visit)
    assert applied == ()
    assert fixed == visit


def test_set_units_suggestion() -> None:
    pack = build_pack(UNITS_RULE)
    # CMS example 1: 97112 24 min and 97110 23 min give 2 and 1 units.
    visit = make_visit([{"code": "97112", "minutes": 24, "units": 1},
                        {"code": "97110", "minutes": 23, "units": 1}])
    [finding] = pack.evaluate(visit).findings
    assert finding.line == 0
    assert finding.fix == FixSuggestion("set_units", 0, value=2)


def test_set_units_to_missing_suggests_nothing() -> None:
    pack = build_pack(UNITS_RULE.replace("line.computed_units\n  source",
                                         "line.units * 0.5\n  source"))
    visit = make_visit([{"code": "97110", "minutes": 23, "units": 3}])
    [finding] = pack.evaluate(visit).findings
    assert finding.fix is None  # 1.5 units is no whole number


def test_pack_fix_applies_every_fix_and_keeps_everything_else() -> None:
    pack = build_pack(GO_RULE + UNITS_RULE)
    visit = make_visit(
        [{"code": "97112", "minutes": 24, "units": 1, "modifiers": ["KX"], "charge": "60.00",
          "diagnosis_pointers": [1, 2]},
         {"code": "97110", "minutes": 23, "units": 1, "modifiers": ["GO"]},
         {"code": "97165", "modifiers": ["GO"]}],
        diagnoses=["I69.351", "R26.89"])
    fixed, applied = pack.fix(visit)
    assert [line.modifiers for line in fixed.lines] == [("KX", "GO"), ("GO",), ("GO",)]
    assert [line.units for line in fixed.lines] == [2, 1, None]
    assert [line.code for line in fixed.lines] == ["97112", "97110", "97165"]
    assert fixed.diagnoses == visit.diagnoses
    assert fixed.lines[0].charge == visit.lines[0].charge
    assert fixed.lines[0].diagnosis_pointers == (1, 2)
    assert applied == (
        AppliedFix("go-required", FixSuggestion("add_modifier", 0, modifier="GO")),
        AppliedFix("units-differ", FixSuggestion("set_units", 0, value=2), previous_units=1),
    )
    assert load_visit(dump_visit(fixed)) == fixed
    # The fixed visit no longer has findings.
    assert pack.evaluate(fixed).findings == ()


def test_the_same_modifier_from_two_rules_is_added_once() -> None:
    pack = build_pack(GO_RULE + GO_RULE.replace("go-required", "go-again"))
    visit = make_visit([{"code": "97110"}])
    fixed, applied = pack.fix(visit)
    assert fixed.lines[0].modifiers == ("GO",)
    assert [a.rule for a in applied] == ["go-required"]


def test_fixes_stop_at_four_modifiers() -> None:
    rules = "".join(GO_RULE.replace("go-required", f"add-{m.lower()}").replace("GO", m)
                    for m in ("GO", "KX", "CO"))
    visit = make_visit([{"code": "97110", "modifiers": ["59", "XE"]}])
    fixed, applied = build_pack(rules).fix(visit)
    assert fixed.lines[0].modifiers == ("59", "XE", "GO", "KX")
    assert [a.rule for a in applied] == ["add-go", "add-kx"]
    assert load_visit(dump_visit(fixed)) == fixed


def test_first_rule_to_set_units_wins() -> None:
    other = UNITS_RULE.replace("units-differ", "units-other").replace(
        "fix set units to line.computed_units", "fix set units to line.computed_units + 5")
    visit = make_visit([{"code": "97110", "minutes": 23, "units": 1}])
    fixed, applied = build_pack(UNITS_RULE + other).fix(visit)
    assert fixed.lines[0].units == 2
    assert [a.rule for a in applied] == ["units-differ"]


def test_fix_of_a_pair_rule_applies_to_line_b() -> None:
    pack = build_pack("""
rule bundled : error
  for each pair first, second
  when first.code = 97110 and second lacks 59
  say "{second.code} needs 59"
  fix add modifier 59
  source "NCCI"
""")
    visit = make_visit([{"code": "97110"}, {"code": "97140"}])
    fixed, applied = pack.fix(visit)
    assert [line.modifiers for line in fixed.lines] == [(), ("59",)]
    assert applied[0].describe() == "bundled: add modifier 59 to line 2"


def test_visit_without_findings_comes_back_equal() -> None:
    pack = build_pack(GO_RULE)
    visit = make_visit([{"code": "97110", "modifiers": ["GO"]}])
    assert pack.fix(visit) == (visit, ())
