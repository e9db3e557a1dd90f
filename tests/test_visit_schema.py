"""The shipped JSON Schema agrees with load_visit: valid visits pass both, and each problem
kind JSON Schema can express is rejected by both."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from jsonschema import Draft202012Validator

from otrules.errors import VisitError
from otrules.resources import package_data_dir
from otrules.testing import visit_dicts
from otrules.visit_json import load_visit

SCHEMA_PATH = package_data_dir() / "visit.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
# Without a format checker "format": "date" is only an annotation; with it, 2026-02-30 fails.
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

BASE: dict[str, Any] = {
    "id": "V-1001",
    "date_of_service": "2026-03-02",
    "payer": "medicare",
    "patient": {"id": "P-77", "birth_date": "2016-05-09", "ytd_ot_allowed": "1830.00",
                "visits_this_year": 14},
    "authorization": {"number": "A-5521", "visits_authorized": 20, "visits_used": 9},
    "diagnoses": ["F90.2", "R27.8"],
    "lines": [
        {"code": "97530", "minutes": 23, "modifiers": ["GO"], "performed_by": "OT",
         "assistant_minutes": 0, "charge": "120.00", "diagnosis_pointers": [1]},
        {"code": "97110", "minutes": 20, "units": 1, "modifiers": ["GO", "KX"]},
    ],
}


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_base_visit_is_valid_for_both() -> None:
    VALIDATOR.validate(BASE)
    load_visit(BASE)


def test_optional_nulls_are_valid_for_both() -> None:
    data = copy.deepcopy(BASE)
    data.update(authorization=None, telehealth=None, claim_type=None, place_of_service=None)
    data["lines"][0].update(modifiers=None, charge=None, performed_by=None)
    VALIDATOR.validate(data)
    load_visit(data)


@given(visit_dicts())
def test_every_generated_visit_is_valid(data: dict[str, Any]) -> None:
    VALIDATOR.validate(data)


def test_example_visits_are_valid() -> None:
    path = package_data_dir() / "example-visits.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        VALIDATOR.validate(json.loads(line))


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _line0(**fields: Any) -> Callable[[dict[str, Any]], object]:
    return lambda d: d["lines"][0].update(fields)


INVALID = [
    ("missing id", lambda d: d.pop("id"), "id"),
    ("missing patient id", lambda d: d["patient"].pop("id"), "patient.id"),
    ("missing code", lambda d: d["lines"][1].pop("code"), "lines[1].code"),
    ("unknown field", lambda d: d.update(dos="2026-03-02"), "dos"),
    ("unknown line field", _line0(minuts=5), "lines[0].minuts"),
    ("telehealth string", lambda d: d.update(telehealth="yes"), "telehealth"),
    ("patient list", lambda d: d.update(patient=[]), "patient"),
    ("required null", lambda d: d.update(payer=None), "payer"),
    ("empty id", lambda d: d.update(id=""), "id"),
    ("blank payer", lambda d: d.update(payer="  "), "payer"),
    ("negative minutes", _line0(minutes=-5), "lines[0].minutes"),
    ("absurd minutes", _line0(minutes=1441), "lines[0].minutes"),
    ("bool minutes", _line0(minutes=True), "lines[0].minutes"),
    ("fractional minutes", _line0(minutes=20.5), "lines[0].minutes"),
    ("units", _line0(units=1000), "lines[0].units"),
    ("negative counter", lambda d: d["patient"].update(visits_this_year=-1),
     "patient.visits_this_year"),
    ("no such day", lambda d: d.update(date_of_service="2026-02-30"), "date_of_service"),
    ("US date", lambda d: d.update(date_of_service="03/02/2026"), "date_of_service"),
    ("code characters", _line0(code="97-10"), "lines[0].code"),
    ("modifier characters", _line0(modifiers=["G*"]), "lines[0].modifiers[0]"),
    ("duplicate modifier", _line0(modifiers=["GO", "GO"]), "lines[0].modifiers[1]"),
    ("five modifiers", _line0(modifiers=["GO", "KX", "59", "XU", "CO"]), "lines[0].modifiers"),
    ("pointer zero", _line0(diagnosis_pointers=[0]), "lines[0].diagnosis_pointers[0]"),
    ("duplicate pointer", _line0(diagnosis_pointers=[1, 1]), "lines[0].diagnosis_pointers[1]"),
    ("diagnosis characters", lambda d: d["diagnoses"].append("F90-2"), "diagnoses[2]"),
    ("diagnosis too long", lambda d: d["diagnoses"].append("F90.2ABCD"), "diagnoses[2]"),
    ("place of service", lambda d: d.update(place_of_service="1"), "place_of_service"),
    ("claim type", lambda d: d.update(claim_type="dental"), "claim_type"),
    ("performed by", _line0(performed_by="PT"), "lines[0].performed_by"),
    ("negative charge", _line0(charge="-5.00"), "lines[0].charge"),
    ("three places", _line0(charge="1.234"), "lines[0].charge"),
    ("negative number charge", _line0(charge=-5), "lines[0].charge"),
    ("no lines", lambda d: d.update(lines=[]), "lines"),
    ("51 lines", lambda d: d.update(lines=[{"code": "97110"}] * 51), "lines"),
]


@pytest.mark.parametrize(("change", "path"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_visit_is_rejected_by_both(
    change: Callable[[dict[str, Any]], object], path: str
) -> None:
    data = _with(change)
    assert not VALIDATOR.is_valid(data)
    with pytest.raises(VisitError) as caught:
        load_visit(data)
    assert [p.path for p in caught.value.problems] == [path]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (_line0(assistant_minutes=24), "lines[0].assistant_minutes"),
        (_line0(diagnosis_pointers=[3]), "lines[0].diagnosis_pointers[0]"),
        (_line0(modifiers=["GO", "go"]), "lines[0].modifiers[1]"),
        (lambda d: d["authorization"].update(valid_from="2026-02-01", valid_to="2026-01-01"),
         "authorization.valid_to"),
        (_line0(charge=1.234), "lines[0].charge"),
    ],
    ids=["assistant above minutes", "pointer past diagnoses", "modifiers differing in case",
         "reversed window", "three places as a number"],
)
def test_checks_beyond_json_schema_are_made_by_load_visit_only(
    change: Callable[[dict[str, Any]], object], path: str
) -> None:
    # Documented in the schema's description: JSON Schema cannot express these.
    data = _with(change)
    assert VALIDATOR.is_valid(data)
    with pytest.raises(VisitError) as caught:
        load_visit(data)
    assert [p.path for p in caught.value.problems] == [path]
