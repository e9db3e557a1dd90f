"""Each construct of the language, evaluated by the reference interpreter on small packs.

A probe rule binds the expression to a let and prints it with ``say "{v}"``, so each test
sees the value exactly as a message shows it (money ``2,685.50``, flags yes/no, missing
``(missing)``). Expected values are worked out by hand from the visit below.
"""

from __future__ import annotations

import pytest

from otrules.eval.interpreter import HANDLERS
from otrules.eval.sourcetext import EXPR_PRINTERS, source_text
from otrules.eval.typeinfo import EXPR_TYPERS
from otrules.lang import ast as A
from otrules.lang.parser import parse_expression
from test_eval_support import build_pack, findings, make_visit

# Dated 2026-03-02 (kx_threshold $2,480.00). Charges 120.00 + 80.50 + 185.00 = 385.50.
VISIT = make_visit(
    [
        {"code": "97110", "minutes": 20, "charge": "120.00", "modifiers": ["GO", "KX"],
         "performed_by": "OT", "diagnosis_pointers": [1]},
        {"code": "97140", "minutes": 10, "charge": "80.50", "modifiers": ["GO", "59"],
         "performed_by": "OTA", "assistant_minutes": 10},
        {"code": "97165", "charge": "185.00"},
    ],
    patient={"ytd_ot_allowed": "2300.00", "plan_of_care_certified_on": "2025-12-01"},
    diagnoses=["F90.2", "F84.0", "M17.11"],
)


def visit_value(expr: str, visit: object = VISIT) -> str:
    rules = f'rule probe : info\n  let v = {expr}\n  when yes\n  say "{{v}}"\n  source "t"\n'
    [(_, _, message)] = findings(build_pack(rules), visit)  # type: ignore[arg-type]
    return message


def element_values(expr: str, each: str = "line") -> list[str]:
    rules = (f'rule probe : info\n  for each {each}\n  let v = {expr}\n  when yes\n'
             f'  say "{{v}}"\n  source "t"\n')
    return [message for _, _, message in findings(build_pack(rules), VISIT)]


# ---------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("table", [HANDLERS, EXPR_TYPERS, EXPR_PRINTERS],
                         ids=["interpreter", "types", "source-text"])
def test_every_expression_node_has_a_handler(table: dict[type, object]) -> None:
    assert set(table) == set(A.EXPR_NODES)


# ---------------------------------------------------------------------------- literals and names


@pytest.mark.parametrize(("expr", "shown"), [
    ("30", "30"), ("0.5", "0.5"), ("$1,000", "1,000.00"), ("$2480.5", "2,480.50"),
    ("8 minutes", "8"), ("90 days", "90"), ("12 months", "12 months"), ("1 month", "1 month"),
    ("2026-01-01", "2026-01-01"), ('"OTA"', "OTA"), ("97110", "97110"), ("G0283", "G0283"),
    ("yes", "yes"), ("no", "no"),
])
def test_literals(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


@pytest.mark.parametrize(("expr", "shown"), [
    ("kx_threshold", "2,480.00"),
    ("share", "0.10"),
    ("payer", "medicare"),
    ("visit.payer", "medicare"),
    ("date_of_service", "2026-03-02"),
    ("visit.line_count", "3"),
    ("visit.timed_minutes", "30"),
    ("place_of_service", "(missing)"),
    ("claim_type", "professional"),
    ("telehealth", "no"),
    ("patient.ytd_ot_allowed", "2,300.00"),
    ("patient.age", "75"),
    ("patient.visits_this_year", "(missing)"),
    ("authorization.visits_used", "(missing)"),
])
def test_names_and_fields(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


def test_let_sees_earlier_lets() -> None:
    rules = ('rule probe : info\n  let a = kx_threshold\n  let b = a - patient.ytd_ot_allowed\n'
             '  when yes\n  say "{b}"\n  source "t"\n')
    assert findings(build_pack(rules), VISIT) == [("probe", None, "180.00")]


# ---------------------------------------------------------------------------- operators


@pytest.mark.parametrize(("expr", "shown"), [
    ("patient.ytd_ot_allowed + sum of line.charge over lines", "2,685.50"),
    ("kx_threshold - patient.ytd_ot_allowed", "180.00"),
    ("kx_threshold * share", "248.00"),
    ("share * kx_threshold", "248.00"),
    ("kx_threshold / 3", "826.67"),
    ("kx_threshold / kx_threshold", "1"),
    ("7 / 2", "3.5"),
    ("7 // 2", "3"),
    ("45 minutes // 15 minutes", "3"),
    ("50 minutes % 15 minutes", "5"),
    ("7 / 0", "(missing)"),
    ("7 % 0", "(missing)"),
    ("-kx_threshold", "-2,480.00"),
    ("date_of_service - patient.plan_of_care_certified_on", "91"),
    ("date_of_service + 12 months", "2027-03-02"),
    ("date_of_service - 2 days", "2026-02-28"),
    ("patient.plan_of_care_certified_on + 90 days", "2026-03-01"),
    ("visit.timed_minutes * 2", "60"),
])
def test_arithmetic(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


@pytest.mark.parametrize(("expr", "shown"), [
    ("date_of_service - patient.plan_of_care_certified_on > 90 days", "yes"),
    ("patient.ytd_ot_allowed >= kx_threshold", "no"),
    ("payer = \"medicare\"", "yes"),
    ("payer != \"medicare\"", "no"),
    ("authorization.visits_used < 3", "(missing)"),
    ("not payer = \"medicare\"", "no"),
    ("not authorization.visits_used > 1", "(missing)"),
    ("authorization.visits_used > 1 and payer = \"aetna\"", "no"),
    ("authorization.visits_used > 1 and payer = \"medicare\"", "(missing)"),
    ("authorization.visits_used > 1 or payer = \"medicare\"", "yes"),
    ("authorization.visits_used > 1 or payer = \"aetna\"", "(missing)"),
    ("authorization is missing", "yes"),
    ("authorization is present", "no"),
    ("patient.ytd_ot_allowed is present", "yes"),
    ("place_of_service is missing", "yes"),
    ("97750 in codes", "no"),
    ("97750 not in codes", "yes"),
    ("97165 in codes", "yes"),
    ("place_of_service in (\"11\", \"02\")", "(missing)"),
    ("payer in (\"medicaid\", \"medicare\")", "yes"),
    ("payer not in (\"medicaid\", \"medicare\")", "no"),
    ("codes[97165].timed", "no"),
    ("codes[97750].timed", "(missing)"),
])
def test_comparisons_logic_membership_lookup(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


@pytest.mark.parametrize(("expr", "shown"), [
    ('if patient.ytd_ot_allowed > kx_threshold then "over" else "under"', "under"),
    ('if patient.ytd_ot_allowed < kx_threshold then "under" else "over"', "under"),
    ('if authorization.visits_used > 1 then "then" else "else"', "else"),  # missing → else
    ("if yes then kx_threshold else patient.ytd_ot_allowed", "2,480.00"),
])
def test_if_then_else(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


@pytest.mark.parametrize(("expr", "shown"), [
    ("year(date_of_service)", "2026"),
    ("month(date_of_service)", "3"),
    ("min(kx_threshold, patient.ytd_ot_allowed)", "2,300.00"),
    ("max(8 minutes, visit.timed_minutes)", "30"),
    ("abs(patient.ytd_ot_allowed - kx_threshold)", "180.00"),
    ("units_for(visit.timed_minutes)", "2"),
    ('icd10_shape("F90.2")', "yes"),
    ('icd10_shape("F9")', "no"),
    ("min(authorization.visits_used, 3)", "(missing)"),
])
def test_functions(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


# ---------------------------------------------------------------------------- aggregates


@pytest.mark.parametrize(("expr", "shown"), [
    ("count of lines", "3"),
    ("count of lines where line.timed", "2"),
    ("count of lines where line.minutes > 15 minutes", "1"),  # missing minutes do not count
    ("count of diagnoses", "3"),
    ("count of diagnoses where diagnosis matches F8*", "1"),
    ("sum of line.charge over lines", "385.50"),
    ("sum of line.minutes over lines", "30"),  # the missing minutes are skipped
    ("sum of line.charge over lines where line.code = 97165", "185.00"),
    ("sum of line.charge over lines where line.code = 97750", "0.00"),
    ("sum of l.minutes over lines as l where l has 59", "10"),
    ("any line where line has 59", "yes"),
    ("any line where line has CO", "no"),
    ("no line where line has CO", "yes"),
    ("no diagnosis where diagnosis matches G35", "yes"),
    ("any diagnosis matches F90.*", "yes"),
    ("any diagnosis matches F91.*, G35", "no"),
    ("any diagnosis as d where d matches M17.11", "yes"),
])
def test_aggregates(expr: str, shown: str) -> None:
    assert visit_value(expr) == shown


# ---------------------------------------------------------------------------- per element


@pytest.mark.parametrize(("expr", "shown"), [
    ("line has GO", ["yes", "yes", "no"]),
    ("line lacks KX", ["no", "yes", "yes"]),
    ("line has any of (59, XE)", ["no", "yes", "no"]),
    ("line lacks any of (59, XE)", ["yes", "no", "yes"]),
    ("line has all of (GO, KX)", ["yes", "no", "no"]),
    ("line lacks all of (GO, KX)", ["no", "yes", "yes"]),
    ("line has more than one of (GO, KX, 59)", ["yes", "yes", "no"]),
    ("line.minutes >= 8 minutes", ["yes", "yes", "(missing)"]),
    ("line.minutes - line.assistant_minutes", ["20", "0", "(missing)"]),
    ("-line.minutes", ["-20", "-10", "(missing)"]),
    ("line.charge * 2", ["240.00", "161.00", "370.00"]),
    ("line.performed_by = \"OTA\"", ["no", "yes", "(missing)"]),
    ("line.minutes > 15 minutes and line has KX", ["yes", "no", "no"]),
    ("line.minutes > 15 minutes or line has KX", ["yes", "no", "(missing)"]),
    ("line.code in codes and codes[line.code].timed", ["yes", "yes", "no"]),
    ("line.position", ["1", "2", "3"]),
    ("line.computed_units", ["1", "1", "1"]),
    ("sum of other.minutes over lines as other where other.code = line.code",
     ["20", "10", "0"]),
    ("count of lines as other where other.position < line.position", ["0", "1", "2"]),
    ("if line.performed_by = \"OTA\" then line.minutes else line.assistant_minutes",
     ["0", "10", "0"]),
])
def test_line_expressions(expr: str, shown: list[str]) -> None:
    assert element_values(expr) == shown


def test_diagnosis_expressions() -> None:
    assert element_values("diagnosis matches F90.*, F84.0", "diagnosis") == ["yes", "yes", "no"]
    assert element_values("icd10_shape(diagnosis)", "diagnosis") == ["yes", "yes", "yes"]


# ---------------------------------------------------------------------------- source text


@pytest.mark.parametrize("text", [
    "patient.ytd_ot_allowed + sum of line.charge over lines > kx_threshold",
    "a - (b - c)",
    "(a + b) * c",
    "-t // 15 minutes % 2 >= 1",
    "not (a and b)",
    "not a and b",
    "(a or b) and c",
    "line lacks GO and line has any of (59, XE) and not line has more than one of (GO, GP, GN)",
    "line.code in (97165, 97166) or line.code not in codes",
    "any diagnosis matches F90.*, F84.0",
    "count of lines as other where other.code = line.code and other.minutes is present",
    "sum of line.minutes over lines where line.timed",
    "no diagnosis where diagnosis matches G35",
    "any line as l where l has all of (GO, KX)",
    "(if line.performed_by = \"OTA\" then line.minutes else 0 minutes) >= 8 minutes",
    "ptp[first.code, second.code].modifier = 0",
    "max(a, b) + abs(c)",
    "x is missing or y is present",
    "date_of_service + 12 months > claim_submitted_on",
    "$2,480.00 - 12",
])
def test_source_text_is_canonical_and_parses_back(text: str) -> None:
    expr = parse_expression(text)
    assert source_text(expr) == text
    assert parse_expression(source_text(expr)) == expr


def test_source_text_drops_redundant_parentheses() -> None:
    assert source_text(parse_expression("((a) + (b * c))")) == "a + b * c"
    assert source_text(parse_expression("any diagnosis where diagnosis matches F90.*")) == \
        "any diagnosis matches F90.*"
