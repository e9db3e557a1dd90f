"""otrules.visit_json: loading with every problem reported, dumping, and JSON Lines streams.

Expected problem texts are written out by hand from the contract in docs/visits.md; JSON
syntax messages are the standard library's, with positions counted by hand.
"""

from __future__ import annotations

import copy
import datetime
import io
import itertools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from otrules import visit_json
from otrules.errors import VisitError
from otrules.model import Authorization, Line, Patient, Visit
from otrules.resources import package_data_dir
from otrules.testing import visit_dicts, visits
from otrules.visit_json import (
    VisitRecord,
    dump_visit,
    dumps_visit,
    load_visit,
    read_visits,
    write_visits,
)

EXAMPLE: dict[str, Any] = {
    "id": "V-1001",
    "date_of_service": "2026-03-02",
    "payer": "medicare",
    "claim_type": "professional",
    "place_of_service": "11",
    "telehealth": False,
    "claim_submitted_on": "2026-03-09",
    "patient": {"id": "P-77", "birth_date": "2016-05-09", "ytd_ot_allowed": "1830.00",
                "visits_this_year": 14, "treatment_days_since_progress_report": 4,
                "plan_of_care_certified_on": "2026-01-12"},
    "authorization": {"number": "A-5521", "visits_authorized": 20, "visits_used": 9,
                      "valid_from": "2026-01-10", "valid_to": "2026-06-30"},
    "diagnoses": ["F90.2", "R27.8"],
    "lines": [
        {"code": "97530", "minutes": 23, "modifiers": ["GO"], "performed_by": "OT",
         "assistant_minutes": 0, "charge": "120.00", "diagnosis_pointers": [1]},
        {"code": "97166", "modifiers": ["GO"], "performed_by": "OT", "charge": "180.00",
         "diagnosis_pointers": [1, 2]},
        {"code": "97110", "minutes": 20, "units": 1, "modifiers": ["GO", "KX"],
         "charge": "60.00"},
    ],
}

MINIMAL: dict[str, Any] = {
    "id": "V-1", "date_of_service": "2026-01-05", "payer": "aetna", "patient": {"id": "P-1"},
    "diagnoses": [], "lines": [{"code": "97110"}],
}
MINIMAL_TEXT = ('{"id":"V-1","date_of_service":"2026-01-05","payer":"aetna",'
                '"patient":{"id":"P-1"},"diagnoses":[],"lines":[{"code":"97110"}]}')


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


def problems(data: Any) -> list[str]:
    with pytest.raises(VisitError) as caught:
        load_visit(data)
    return [str(p) for p in caught.value.problems]


def minimal_text(visit_id: str) -> str:
    return MINIMAL_TEXT.replace('"V-1"', json.dumps(visit_id))


# ---- loading a valid visit ---------------------------------------------------------------


def test_example_loads_into_the_expected_model() -> None:
    d = Decimal
    expected = Visit(
        id="V-1001",
        date_of_service=datetime.date(2026, 3, 2),
        payer="medicare",
        claim_type="professional",
        place_of_service="11",
        telehealth=False,
        claim_submitted_on=datetime.date(2026, 3, 9),
        patient=Patient(id="P-77", birth_date=datetime.date(2016, 5, 9),
                        ytd_ot_allowed=d("1830.00"), visits_this_year=14,
                        treatment_days_since_progress_report=4,
                        plan_of_care_certified_on=datetime.date(2026, 1, 12)),
        authorization=Authorization(number="A-5521", visits_authorized=20, visits_used=9,
                                    valid_from=datetime.date(2026, 1, 10),
                                    valid_to=datetime.date(2026, 6, 30)),
        diagnoses=("F90.2", "R27.8"),
        lines=(
            Line(code="97530", minutes=23, modifiers=("GO",), performed_by="OT",
                 assistant_minutes=0, charge=d("120.00"), diagnosis_pointers=(1,)),
            Line(code="97166", modifiers=("GO",), performed_by="OT", charge=d("180.00"),
                 diagnosis_pointers=(1, 2)),
            Line(code="97110", minutes=20, units=1, modifiers=("GO", "KX"), charge=d("60.00")),
        ),
    )
    assert load_visit(EXAMPLE) == expected
    assert load_visit(json.dumps(EXAMPLE)) == expected
    assert load_visit(json.dumps(EXAMPLE).encode()) == expected


def test_minimal_visit_leaves_every_optional_field_none() -> None:
    visit = load_visit(MINIMAL)
    assert visit.claim_type is None
    assert visit.telehealth is None
    assert visit.patient.birth_date is None
    assert visit.authorization is None
    assert visit.lines[0] == Line(code="97110")
    assert visit.effective_claim_type == "professional"
    assert visit.is_telehealth is False


def test_codes_modifiers_and_diagnoses_are_upper_cased() -> None:
    data = example(diagnoses=["f90.2", "r27.8"])
    data["lines"][2].update(code="g0283", modifiers=["go", "Kx"])
    visit = load_visit(data)
    assert visit.diagnoses == ("F90.2", "R27.8")
    assert (visit.lines[2].code, visit.lines[2].modifiers) == ("G0283", ("GO", "KX"))


def test_payer_is_stripped_but_not_lower_cased() -> None:
    assert load_visit(example(payer="  Humana Gold \t")).payer == "Humana Gold"


def test_null_optional_fields_count_as_absent() -> None:
    data = example(authorization=None, telehealth=None, claim_type=None)
    data["lines"][0].update(modifiers=None, charge=None, diagnosis_pointers=None)
    visit = load_visit(data)
    assert (visit.authorization, visit.telehealth, visit.claim_type) == (None, None, None)
    assert visit.lines[0].modifiers == ()
    assert visit.lines[0].diagnosis_pointers == ()
    assert "authorization" not in dump_visit(visit)


def test_whole_numbers_may_be_written_with_a_zero_fraction() -> None:
    # JSON Schema's "integer" accepts 20.0, so load_visit does too.
    data = example()
    data["lines"][0]["minutes"] = 23.0
    assert load_visit(data).lines[0].minutes == 23
    text = json.dumps(EXAMPLE).replace('"minutes": 23', '"minutes": 23.0')
    assert load_visit(text).lines[0].minutes == 23


@pytest.mark.parametrize(
    ("charge_json", "expected"),
    [
        ('"120.00"', "120.00"),  # a string keeps its scale
        ('"120"', "120"),
        ("120.5", "120.5"),  # a JSON number is read as Decimal, never float
        ("120", "120"),
        ("1.230", "1.23"),  # judged by value: whole cents, stored with 2 places
        ("0.1", "0.1"),
        ("-0.0", "0.0"),
    ],
)
def test_money_from_json_text(charge_json: str, expected: str) -> None:
    text = json.dumps(EXAMPLE).replace('"charge": "120.00"', f'"charge": {charge_json}')
    charge = load_visit(text).lines[0].charge
    assert isinstance(charge, Decimal)
    assert str(charge) == expected


def test_money_from_python_floats_goes_through_repr() -> None:
    data = example()
    data["lines"][0]["charge"] = 19.99  # Decimal(19.99) would be 19.989999999999998436805981327
    assert load_visit(data).lines[0].charge == Decimal("19.99")
    data["lines"][0]["charge"] = 0.1 + 0.2  # 0.30000000000000004: not whole cents
    assert problems(data) == [
        "lines[0].charge: must be an amount of money 0..99999999.99 with at most 2 decimal "
        "places, got 0.30000000000000004"
    ]


def test_leading_byte_order_mark_is_ignored() -> None:
    assert load_visit("\ufeff" + MINIMAL_TEXT).id == "V-1"
    assert load_visit(b"\xef\xbb\xbf" + MINIMAL_TEXT.encode()).id == "V-1"


# ---- every problem kind, with its exact path and message ------------------------------------

MONEY = "must be an amount of money 0..99999999.99 with at most 2 decimal places"
DATE = "must be a calendar date written YYYY-MM-DD"
IDENT = "must be a non-empty string of at most 64 characters"
CODE = "must be a 5-character CPT/HCPCS code (letters and digits)"
MODIFIER = "must be a 2-character modifier (letters and digits)"
ICD = 'must be an ICD-10 code: 3 to 8 letters and digits with at most one "."'
MINUTES = "must be a whole number of minutes 0..1440"


def _drop(*keys: str | int) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return mutate


def _set(*keys: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        target: Any = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


PROBLEM_CASES = [
    # missing required fields
    ("missing id", _drop("id"), ["id: is required"]),
    ("missing date", _drop("date_of_service"), ["date_of_service: is required"]),
    ("missing patient id", _drop("patient", "id"), ["patient.id: is required"]),
    ("missing line code", _drop("lines", 1, "code"), ["lines[1].code: is required"]),
    ("missing diagnoses", _drop("diagnoses"), ["diagnoses: is required"]),
    ("missing auth number", _drop("authorization", "number"),
     ["authorization.number: is required"]),
    ("required null", _set("payer", value=None), [f"payer: {IDENT}, got null"]),
    # unknown fields
    ("unknown, close", _set("lines", 0, "minuts", value=5),
     ['lines[0].minuts: unknown field; did you mean "minutes"?']),
    ("unknown, close 2", _set("patient", "birthdate", value="2016-05-09"),
     ['patient.birthdate: unknown field; did you mean "birth_date"?']),
    ("unknown, far", _set("notes", value="Jane Roe, mother, 555-0100"),
     ["notes: unknown field"]),
    # wrong types
    ("telehealth string", _set("telehealth", value="yes"),
     ['telehealth: must be true or false, got "yes"']),
    ("patient list", _set("patient", value=[]), ["patient: must be an object, got a list"]),
    ("lines object", _set("lines", value={}), ["lines: must be a list, got an object"]),
    ("diagnoses string", _set("diagnoses", value="F90.2"),
     ['diagnoses: must be a list, got "F90.2"']),
    ("line not object", _set("lines", 2, value="97110"),
     ['lines[2]: must be an object, got "97110"']),
    ("id number", _set("id", value=1001), [f"id: {IDENT}, got 1001"]),
    ("id empty", _set("id", value=""), [f'id: {IDENT}, got ""']),
    ("payer blank", _set("payer", value="   "), [f'payer: {IDENT}, got "   "']),
    ("claim type", _set("claim_type", value="dental"),
     ['claim_type: must be "professional" or "institutional", got "dental"']),
    ("performed by", _set("lines", 0, "performed_by", value="PT"),
     ['lines[0].performed_by: must be "OT" or "OTA", got "PT"']),
    ("place of service", _set("place_of_service", value="1"),
     ['place_of_service: must be a 2-digit place of service such as "11", got "1"']),
    ("place of service int", _set("place_of_service", value=11),
     ['place_of_service: must be a 2-digit place of service such as "11", got 11']),
    # minutes, units and counters
    ("negative minutes", _set("lines", 2, "minutes", value=-5),
     [f"lines[2].minutes: {MINUTES}, got -5"]),
    ("absurd minutes", _set("lines", 2, "minutes", value=1441),
     [f"lines[2].minutes: {MINUTES}, got 1441"]),
    ("bool minutes", _set("lines", 2, "minutes", value=True),
     [f"lines[2].minutes: {MINUTES}, got true"]),
    ("string minutes", _set("lines", 2, "minutes", value="20"),
     [f'lines[2].minutes: {MINUTES}, got "20"']),
    ("fractional minutes", _set("lines", 2, "minutes", value=20.5),
     [f"lines[2].minutes: {MINUTES}, got 20.5"]),
    ("assistant above minutes", _set("lines", 0, "assistant_minutes", value=24),
     ["lines[0].assistant_minutes: must not exceed the line's minutes (23), got 24"]),
    ("units", _set("lines", 2, "units", value=1000),
     ["lines[2].units: must be a whole number of units 0..999, got 1000"]),
    ("negative counter", _set("patient", "visits_this_year", value=-1),
     ["patient.visits_this_year: must be a whole number 0..99999, got -1"]),
    # dates
    ("no such day", _set("date_of_service", value="2026-02-30"),
     [f'date_of_service: {DATE}, got "2026-02-30"']),
    ("US date", _set("patient", "birth_date", value="05/09/2016"),
     # a birth date is protected health information: the problem says what, not the value
     [f"patient.birth_date: {DATE}, got a text of 10 characters"]),
    ("basic ISO date", _set("claim_submitted_on", value="20260309"),
     [f'claim_submitted_on: {DATE}, got "20260309"']),
    ("reversed window", _set("authorization", "valid_to", value="2026-01-09"),
     ["authorization.valid_to: must not be before valid_from (2026-01-10), got 2026-01-09"]),
    # codes, modifiers, diagnoses
    ("code characters", _set("lines", 0, "code", value="97-10"),
     [f'lines[0].code: {CODE}, got "97-10"']),
    ("code length", _set("lines", 0, "code", value="9711"),
     [f'lines[0].code: {CODE}, got "9711"']),
    ("modifier characters", _set("lines", 0, "modifiers", value=["G*"]),
     [f'lines[0].modifiers[0]: {MODIFIER}, got "G*"']),
    ("duplicate modifier", _set("lines", 2, "modifiers", value=["GO", "go"]),
     ['lines[2].modifiers[1]: repeats modifier "GO" (already at index 0)']),
    ("five modifiers", _set("lines", 2, "modifiers", value=["GO", "KX", "59", "XU", "CO"]),
     ["lines[2].modifiers: must list at most 4 modifiers, got 5"]),
    ("diagnosis characters", _set("diagnoses", 0, value="F90-2"),
     [f'diagnoses[0]: {ICD}, got "F90-2"']),
    ("diagnosis two dots", _set("diagnoses", 1, value="R2.7.8"),
     [f'diagnoses[1]: {ICD}, got "R2.7.8"']),
    ("diagnosis short", _set("diagnoses", 1, value="R2"), [f'diagnoses[1]: {ICD}, got "R2"']),
    # diagnosis pointers
    ("pointer out of range", _set("lines", 1, "diagnosis_pointers", value=[1, 3]),
     ["lines[1].diagnosis_pointers[1]: must be a diagnosis pointer 1..2, got 3"]),
    ("pointer zero", _set("lines", 0, "diagnosis_pointers", value=[0]),
     ["lines[0].diagnosis_pointers[0]: must be a diagnosis pointer 1..2, got 0"]),
    ("duplicate pointer", _set("lines", 1, "diagnosis_pointers", value=[2, 2]),
     ["lines[1].diagnosis_pointers[1]: repeats diagnosis pointer 2 (already at index 0)"]),
    ("pointer without diagnoses", _set("diagnoses", value=[]),
     ["lines[0].diagnosis_pointers[0]: must point to a diagnosis, but the visit lists none, "
      "got 1",
      "lines[1].diagnosis_pointers[0]: must point to a diagnosis, but the visit lists none, "
      "got 1",
      "lines[1].diagnosis_pointers[1]: must point to a diagnosis, but the visit lists none, "
      "got 2"]),
    # money
    ("negative charge", _set("lines", 0, "charge", value="-5.00"),
     [f'lines[0].charge: {MONEY}, got "-5.00"']),
    ("three places", _set("lines", 0, "charge", value="1.234"),
     [f'lines[0].charge: {MONEY}, got "1.234"']),
    ("negative number", _set("patient", "ytd_ot_allowed", value=-5),
     [f"patient.ytd_ot_allowed: {MONEY}, got -5"]),
    ("dollar sign", _set("lines", 0, "charge", value="$120"),
     [f'lines[0].charge: {MONEY}, got "$120"']),
    # line count
    ("no lines", _set("lines", value=[]), ["lines: must list 1 to 50 service lines, got 0"]),
    ("51 lines", _set("lines", value=[{"code": "97110"}] * 51),
     ["lines: must list 1 to 50 service lines, got 51"]),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in PROBLEM_CASES],
                         ids=[c[0] for c in PROBLEM_CASES])
def test_problem_path_and_message(
    mutate: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    data = example()
    mutate(data)
    assert problems(data) == expected


def test_five_different_problems_are_all_reported_in_one_error() -> None:
    data = example(date_of_service="2026-02-30")
    data["patient"]["birthdate"] = data["patient"].pop("birth_date")
    data["lines"][0]["minutes"] = -5
    data["lines"][1]["diagnosis_pointers"] = [1, 3]
    data["lines"][2]["modifiers"] = ["GO", "GO"]
    with pytest.raises(VisitError) as caught:
        load_visit(data)
    error = caught.value
    assert [str(p) for p in error.problems] == [
        f'date_of_service: {DATE}, got "2026-02-30"',
        'patient.birthdate: unknown field; did you mean "birth_date"?',
        f"lines[0].minutes: {MINUTES}, got -5",
        "lines[1].diagnosis_pointers[1]: must be a diagnosis pointer 1..2, got 3",
        'lines[2].modifiers[1]: repeats modifier "GO" (already at index 0)',
    ]
    assert error.problems[2].path == "lines[0].minutes"
    assert error.visit_id == "V-1001"
    assert error.record is None
    assert str(error).startswith("invalid visit (visit V-1001): 5 problems\n")


def test_visit_id_is_none_when_the_id_is_unreadable() -> None:
    with pytest.raises(VisitError) as caught:
        load_visit(example(id=""))
    assert caught.value.visit_id is None


def test_top_level_must_be_an_object() -> None:
    assert problems("[1, 2]") == ["a visit must be a JSON object, got a list"]
    assert problems("42") == ["a visit must be a JSON object, got 42"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": "V-1",, }',
         "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 14"),
        ('{\n  "id": "V-1"\n  "payer": "x"\n}',
         "not valid JSON: Expecting ',' delimiter at line 3, column 3"),
        ("", "not valid JSON: Expecting value at line 1, column 1"),
        ('{"id": "V-1"} x', "not valid JSON: Extra data at line 1, column 15"),
        ('{"id": ' + "1" * 5000 + "}", "not valid JSON: a number has too many digits"),
        ("[" * 100_000, "not valid JSON: nested too deeply"),
    ],
)
def test_bad_json_text(text: str, message: str) -> None:
    assert problems(text) == [message]


def test_bad_utf8_names_the_byte() -> None:
    # b'{"id": "V-' is 10 bytes, so the bad byte is the 11th.
    assert problems(b'{"id": "V-\xff"}') == ["not valid UTF-8 text: invalid start byte at byte 11"]


def test_repeated_keys_in_json_text_are_reported() -> None:
    text = json.dumps(EXAMPLE).replace('"payer": "medicare"', '"payer": "medicare", "payer": "x"')
    assert problems(text) == ["payer: appears more than once in this object"]


def test_nan_money_is_reported_at_its_field() -> None:
    text = json.dumps(EXAMPLE).replace('"charge": "120.00"', '"charge": NaN')
    assert problems(text) == [f"lines[0].charge: {MONEY}, got NaN"]


def test_long_values_are_truncated_and_other_text_is_never_echoed() -> None:
    secret = "Jane Roe lives at 12 Elm Street and has ADHD " * 3
    data = example(notes=secret)
    data["lines"][0]["code"] = "X" * 100
    found = problems(data)
    assert found == [f'lines[0].code: {CODE}, got "{"X" * 40}…"', "notes: unknown field"]
    assert "Jane" not in " ".join(found)


def test_lines_beyond_the_fiftieth_are_not_checked_one_by_one() -> None:
    data = example(lines=[{"code": "97110"}] * 50 + [{"code": "bad"}] * 10)
    assert problems(data) == ["lines: must list 1 to 50 service lines, got 60"]


# ---- dumping and round trips -------------------------------------------------------------


def test_dump_reproduces_the_example_in_contract_order() -> None:
    dumped = dump_visit(load_visit(EXAMPLE))
    assert dumped == EXAMPLE
    assert list(dumped) == list(EXAMPLE)
    assert list(dumped["lines"][0]) == list(EXAMPLE["lines"][0])


def test_dumps_is_compact_and_ascii() -> None:
    visit = load_visit(MINIMAL)
    assert dumps_visit(visit) == MINIMAL_TEXT
    odd = load_visit({**MINIMAL, "id": "V-é\u2028"})
    assert dumps_visit(odd).startswith('{"id":"V-\\u00e9\\u2028",')


def test_dump_omits_empty_modifiers_and_pointers_but_keeps_empty_diagnoses() -> None:
    dumped = dump_visit(load_visit({**MINIMAL, "lines": [{"code": "97110", "modifiers": []}]}))
    assert dumped["lines"] == [{"code": "97110"}]
    assert dumped["diagnoses"] == []


@given(visit_dicts())
def test_dump_of_load_is_identity_on_canonical_dicts(data: dict[str, Any]) -> None:
    assert dump_visit(load_visit(data)) == data


@given(visits())
def test_load_of_dump_is_identity_on_visits(visit: Visit) -> None:
    assert load_visit(dump_visit(visit)) == visit
    assert load_visit(dumps_visit(visit)) == visit  # through text, money as Decimal
    assert json.loads(dumps_visit(visit)) == dump_visit(visit)


# ---- streams -------------------------------------------------------------------------------


def summary(records: Iterator[VisitRecord]) -> list[tuple[int, str | None, list[str] | None]]:
    """(number, visit id, problems) per record, errors checked to carry their record number."""
    out = []
    for record in records:
        assert (record.visit is None) != (record.error is None)
        assert record.ok == (record.error is None)
        if record.error is not None:
            assert record.error.record == record.number
            out.append((record.number, None, [str(p) for p in record.error.problems]))
        else:
            assert record.visit is not None
            out.append((record.number, record.visit.id, None))
    return out


BAD_VISIT_TEXT = MINIMAL_TEXT.replace('{"code":"97110"}', '{"code":"97110","minutes":-1}')
JSONL = "\n".join([
    minimal_text("V-1"),
    "",
    '{"id": "V-3",',
    BAD_VISIT_TEXT.replace('"V-1"', '"V-4"'),
    minimal_text("V-5"),
]) + "\n"
JSONL_EXPECTED = [
    (1, "V-1", None),
    (3, None, ["not valid JSON: Expecting property name enclosed in double quotes "
               "at line 3, column 14"]),
    (4, None, [f"lines[0].minutes: {MINUTES}, got -1"]),
    (5, "V-5", None),
]


def test_json_lines_from_text_binary_and_path(tmp_path: Path) -> None:
    path = tmp_path / "visits.jsonl"
    path.write_text(JSONL, encoding="utf-8")
    assert summary(read_visits(io.StringIO(JSONL))) == JSONL_EXPECTED
    assert summary(read_visits(io.BytesIO(JSONL.encode()))) == JSONL_EXPECTED
    assert summary(read_visits(path)) == JSONL_EXPECTED
    assert summary(read_visits(str(path))) == JSONL_EXPECTED


def test_error_record_keeps_the_visit_id() -> None:
    record = list(read_visits(io.StringIO(JSONL)))[2]
    assert record.error is not None
    assert record.error.visit_id == "V-4"
    assert str(record.error).startswith("invalid visit (line 4, visit V-4): 1 problem\n")


def test_error_on_line_731_is_numbered_731_and_reading_continues() -> None:
    lines = [minimal_text(f"V-{n}") for n in range(1, 731)]
    lines += ["{not json", minimal_text("V-732")]
    records = list(read_visits(io.StringIO("\n".join(lines))))
    assert len(records) == 732
    bad = records[730]
    assert bad.number == 731
    assert bad.visit is None
    assert bad.error is not None
    assert bad.error.record == 731
    assert [str(p) for p in bad.error.problems] == [
        "not valid JSON: Expecting property name enclosed in double quotes at line 731, column 2"
    ]
    assert (records[731].number, records[731].visit.id) == (732, "V-732")  # type: ignore[union-attr]


def test_undecodable_bytes_spoil_only_their_line() -> None:
    data = (minimal_text("V-1") + '\n{"id": "V-\xff"}\n' + minimal_text("V-3")).encode("latin-1")
    assert summary(read_visits(io.BytesIO(data))) == [
        (1, "V-1", None),
        (2, None, ["not valid UTF-8 text: invalid start byte at byte 11"]),
        (3, "V-3", None),
    ]


def test_crlf_line_ends_and_a_byte_order_mark() -> None:
    data = b"\xef\xbb\xbf" + (minimal_text("V-1") + "\r\n\r\n" + minimal_text("V-3")).encode()
    assert summary(read_visits(io.BytesIO(data))) == [(1, "V-1", None), (3, "V-3", None)]


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_input_has_no_records(text: str) -> None:
    assert list(read_visits(io.StringIO(text))) == []


def test_a_single_pretty_printed_object_is_record_1() -> None:
    pretty = "\n\n" + json.dumps(EXAMPLE, indent=2)
    assert summary(read_visits(io.StringIO(pretty))) == [(1, "V-1001", None)]
    broken = json.dumps(example(payer=""), indent=2)
    assert summary(read_visits(io.StringIO(broken))) == [(1, None, [f'payer: {IDENT}, got ""'])]


def test_a_bad_first_line_does_not_turn_json_lines_into_one_object() -> None:
    text = '{"id": \n' + minimal_text("V-2") + "\n"
    assert summary(read_visits(io.StringIO(text))) == [
        (1, None, ["not valid JSON: Expecting value at line 1, column 8"]),
        (2, "V-2", None),
    ]


def test_json_array_is_numbered_by_element() -> None:
    text = "[\n  " + minimal_text("V-1") + ",\n  5,\n  " + minimal_text("V-3") + "\n]\n"
    assert summary(read_visits(io.StringIO(text))) == [
        (1, "V-1", None),
        (2, None, ["a visit must be a JSON object, got 5"]),
        (3, "V-3", None),
    ]
    assert list(read_visits(io.StringIO(" [ ] "))) == []


def test_json_array_syntax_error_ends_the_stream_with_its_position() -> None:
    text = "[\n  " + minimal_text("V-1") + ',\n  {"id": }\n]'
    assert summary(read_visits(io.StringIO(text))) == [
        (1, "V-1", None),
        (2, None, ["not valid JSON: Expecting value at line 3, column 10"]),
    ]


def test_json_array_separators() -> None:
    one = minimal_text("V-1")
    width = len(one)
    # "[" is column 1 and `one` columns 2..width+1, so what follows it starts at width+2.
    assert summary(read_visits(io.StringIO("[" + one + " " + one + "]")))[1] == (
        2, None, [f"not valid JSON: expected ',' or ']' at line 1, column {width + 3}"])
    assert summary(read_visits(io.StringIO("[" + one + ",]")))[1] == (
        2, None, [f"not valid JSON: Expecting value at line 1, column {width + 3}"])
    assert summary(read_visits(io.StringIO("[" + one + "] x"))) == [
        (1, "V-1", None), (2, None, [f"not valid JSON: extra data at line 1, column {width + 4}"])]


def test_json_array_with_bad_utf8_stops_with_an_error() -> None:
    data = b"[" + minimal_text("V-1").encode() + b',{"id": "\xff"}]'
    assert summary(read_visits(io.BytesIO(data))) == [
        (1, "V-1", None), (2, None, ["not valid UTF-8 text: invalid start byte"])]


def _array_text() -> str:
    # Numbers are the one JSON value that a chunk boundary can cut into a shorter valid one.
    elements = [minimal_text("V-1"), "12345", "-1.5e3", minimal_text("V-4")]
    return "\ufeff[\n" + ",\n".join(elements) + "]"


def test_array_elements_that_are_numbers() -> None:
    assert summary(read_visits(io.StringIO(_array_text()))) == [
        (1, "V-1", None),
        (2, None, ["a visit must be a JSON object, got 12345"]),
        (3, None, ["a visit must be a JSON object, got -1.5E+3"]),
        (4, "V-4", None),
    ]


@pytest.mark.parametrize("make", [lambda: JSONL, _array_text])
@pytest.mark.parametrize("binary", [False, True])
def test_tiny_read_chunks_give_the_same_records(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], str], binary: bool
) -> None:
    text = make()

    def source() -> io.IOBase:
        return io.BytesIO(text.encode()) if binary else io.StringIO(text)

    expected = summary(read_visits(source()))
    assert expected  # the input is not trivially empty
    for size in (1, 2, 3, 7):
        monkeypatch.setattr(visit_json, "_CHUNK_SIZE", size)
        assert summary(read_visits(source())) == expected


def test_an_overlong_line_is_skipped_without_being_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visit_json, "MAX_RECORD_CHARS", 200)
    monkeypatch.setattr(visit_json, "_CHUNK_SIZE", 16)
    text = "\n".join([minimal_text("V-1"), '{"id": "' + "x" * 500 + '"}', minimal_text("V-3")])
    assert summary(read_visits(io.StringIO(text))) == [
        (1, "V-1", None),
        (2, None, ["line is longer than 200 characters; not read"]),
        (3, "V-3", None),
    ]


class EndlessFile:
    """A text file that never ends: reading it whole would hang the test."""

    def __init__(self, head: str, body: str) -> None:
        self.pending = head
        self.body = body

    def read(self, size: int = -1) -> str:
        while len(self.pending) < size:
            self.pending += self.body
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


@pytest.mark.parametrize(("head", "body"), [("", MINIMAL_TEXT + "\n"),
                                            ("[", MINIMAL_TEXT + ",\n")])
def test_reading_streams(head: str, body: str) -> None:
    records = list(itertools.islice(read_visits(EndlessFile(head, body)), 3))  # type: ignore[arg-type]
    assert [r.visit.id for r in records] == ["V-1"] * 3  # type: ignore[union-attr]


def test_a_path_is_opened_only_when_iteration_starts(tmp_path: Path) -> None:
    records = read_visits(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError):
        next(records)


def test_write_visits_to_text_binary_and_path(tmp_path: Path) -> None:
    written = [load_visit(MINIMAL), load_visit(EXAMPLE)]
    expected = dumps_visit(written[0]) + "\n" + dumps_visit(written[1]) + "\n"
    text = io.StringIO()
    assert write_visits(written, text) == 2
    assert text.getvalue() == expected
    binary = io.BytesIO()
    assert write_visits(iter(written), binary) == 2
    assert binary.getvalue() == expected.encode()
    path = tmp_path / "out.jsonl"
    assert write_visits(written, path) == 2
    assert path.read_text(encoding="utf-8") == expected
    assert [r.visit for r in read_visits(path)] == written


# ---- the example visits shipped with the package --------------------------------------------


def test_example_visits_file_loads_cleanly_and_covers_the_cases() -> None:
    path = package_data_dir() / "example-visits.jsonl"
    records = list(read_visits(path))
    assert 8 <= len(records) <= 12
    assert all(r.ok for r in records), [str(r.error) for r in records if r.error]
    loaded = [r.visit for r in records if r.visit is not None]
    assert {"medicare", "medicaid"} <= {v.payer for v in loaded}
    assert any(v.payer not in ("medicare", "medicaid") for v in loaded)
    codes = {line.code for v in loaded for line in v.lines}
    assert {"97110", "97112", "97530", "97535", "97140", "97150"} <= codes
    assert any(code in codes for code in ("97165", "97166", "97167"))
    modifiers = {m for v in loaded for line in v.lines for m in line.modifiers}
    assert {"GO", "KX", "CO", "59"} <= modifiers
    assert any(v.is_telehealth and v.place_of_service == "10" for v in loaded)
    assert any(line.performed_by_assistant for v in loaded for line in v.lines)
    assert all(v.date_of_service.year == 2026 for v in loaded)
    # canonical and compact: the file is exactly what write_visits would produce
    assert path.read_text(encoding="utf-8") == "".join(dumps_visit(v) + "\n" for v in loaded)
