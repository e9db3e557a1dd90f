"""otrules.model: frozen, hashable, picklable visit data and its derived properties."""

from __future__ import annotations

import datetime
import pickle
from decimal import Decimal

import attrs
import pytest
from hypothesis import given

from otrules.model import Authorization, Line, Patient, Visit
from otrules.testing import visits

D = datetime.date


def _visit(**changes: object) -> Visit:
    fields: dict[str, object] = {
        "id": "V-1001",
        "date_of_service": D(2026, 3, 2),
        "payer": "medicare",
        "patient": Patient(id="P-77", birth_date=D(2016, 5, 9)),
        "diagnoses": ["F90.2", "R27.8"],
        "lines": [
            Line(code="97530", minutes=23, modifiers=["GO"], diagnosis_pointers=[2, 1]),
            Line(code="97166", charge=Decimal("180.00")),
        ],
    }
    fields.update(changes)
    return Visit(**fields)  # type: ignore[arg-type]


# ---- data-class behaviour ----------------------------------------------------------------


def test_lists_become_tuples_so_the_visit_is_hashable() -> None:
    visit = _visit()
    assert visit.diagnoses == ("F90.2", "R27.8")
    assert visit.lines[0].modifiers == ("GO",)
    assert visit.lines[0].diagnosis_pointers == (2, 1)
    assert visit.lines[1].modifiers == ()
    assert len({visit, _visit()}) == 1  # equal visits hash alike


def test_optional_fields_default_to_none() -> None:
    line = Line(code="97110")
    assert (line.minutes, line.units, line.performed_by, line.assistant_minutes,
            line.charge) == (None, None, None, None, None)
    visit = _visit()
    assert (visit.claim_type, visit.place_of_service, visit.telehealth,
            visit.claim_submitted_on, visit.authorization) == (None, None, None, None, None)


def test_classes_are_frozen_and_slotted() -> None:
    visit = _visit()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        visit.payer = "medicaid"  # type: ignore[misc]
    for obj in (visit, visit.patient, visit.lines[0], Authorization(number="A-1")):
        assert not hasattr(obj, "__dict__")


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Line("97110")  # type: ignore[misc]


def test_pickle_round_trip() -> None:
    visit = _visit(authorization=Authorization(number="A-5521", visits_authorized=20))
    assert pickle.loads(pickle.dumps(visit)) == visit


@given(visits())
def test_generated_visits_hash_and_pickle(visit: Visit) -> None:
    copy = pickle.loads(pickle.dumps(visit))
    assert copy == visit
    assert hash(copy) == hash(visit)


# ---- derived properties ------------------------------------------------------------------


@pytest.mark.parametrize(("flag", "expected"), [(None, False), (False, False), (True, True)])
def test_is_telehealth_treats_absent_as_false(flag: bool | None, expected: bool) -> None:
    assert _visit(telehealth=flag).is_telehealth is expected


def test_is_telehealth_ignores_place_of_service() -> None:
    # POS 10 suggests telehealth, but deciding that is a pack's call, not the model's.
    assert _visit(place_of_service="10").is_telehealth is False


def test_effective_claim_type_defaults_to_professional() -> None:
    assert _visit().effective_claim_type == "professional"
    assert _visit(claim_type="institutional").effective_claim_type == "institutional"


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (D(2016, 5, 9), D(2026, 5, 8), 9),  # the day before the 10th birthday
        (D(2016, 5, 9), D(2026, 5, 9), 10),  # on the birthday
        (D(2016, 2, 29), D(2026, 2, 28), 9),  # leap-day child, non-leap year
        (D(2016, 2, 29), D(2026, 3, 1), 10),
        (D(1948, 9, 30), D(2026, 1, 12), 77),
    ],
)
def test_age_on(born: datetime.date, day: datetime.date, age: int) -> None:
    assert Patient(id="P-1", birth_date=born).age_on(day) == age


def test_patient_age_uses_the_date_of_service() -> None:
    assert _visit().patient_age == 9  # born 2016-05-09, seen 2026-03-02
    assert _visit(patient=Patient(id="P-2")).patient_age is None


def test_line_conveniences() -> None:
    line = Line(code="97530", minutes=23, assistant_minutes=8, performed_by="OTA",
                modifiers=["GO", "CO"])
    assert (line.minutes_or_zero, line.assistant_minutes_or_zero) == (23, 8)
    assert line.performed_by_assistant is True
    assert line.has_modifier("co") is True
    assert line.has_modifier("KX") is False
    bare = Line(code="97166")
    assert (bare.minutes_or_zero, bare.assistant_minutes_or_zero) == (0, 0)
    assert bare.performed_by_assistant is False
    assert Line(code="97166", performed_by="OT").performed_by_assistant is False


@pytest.mark.parametrize(
    ("authorized", "used", "remaining"),
    [(20, 9, 11), (12, 14, -2), (None, 3, None), (5, None, None)],
)
def test_visits_remaining(authorized: int | None, used: int | None, remaining: int | None) -> None:
    auth = Authorization(number="A-1", visits_authorized=authorized, visits_used=used)
    assert auth.visits_remaining == remaining


def test_authorization_covers_is_inclusive_and_open_when_a_bound_is_missing() -> None:
    auth = Authorization(number="A-1", valid_from=D(2026, 1, 10), valid_to=D(2026, 6, 30))
    assert [auth.covers(d) for d in (D(2026, 1, 9), D(2026, 1, 10), D(2026, 6, 30),
                                     D(2026, 7, 1))] == [False, True, True, False]
    assert Authorization(number="A-2", valid_to=D(2026, 6, 30)).covers(D(1999, 1, 1)) is True
    assert Authorization(number="A-3").covers(D(2026, 1, 1)) is True


def test_codes_and_diagnoses_for() -> None:
    visit = _visit()
    assert visit.codes == ("97530", "97166")
    assert visit.diagnoses_for(visit.lines[0]) == ("R27.8", "F90.2")  # pointer order, 1-based
    assert visit.diagnoses_for(visit.lines[1]) == ()
