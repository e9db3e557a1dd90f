"""The typed visit model: one outpatient occupational-therapy visit as frozen data.

These classes are pure data with a few derived properties. They know nothing about JSON
(see :mod:`otrules.visit_json`, which is also the validator) and nothing about rule packs.

Conventions a caller can rely on:

* An optional field that was absent is ``None``, so absence survives a round trip. The
  ``effective_*`` / ``*_or_zero`` properties give the value a rule should use instead.
* Repeated fields are tuples (``()`` when absent), so every object is hashable.
* Money is :class:`decimal.Decimal`, never float; dates are :class:`datetime.date`.
* Constructing these classes directly does not validate; :func:`otrules.visit_json.load_visit`
  does. The constants below are the limits it enforces.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Final, Literal

import attrs

Performer = Literal["OT", "OTA"]
ClaimType = Literal["professional", "institutional"]

PERFORMERS: Final[tuple[Performer, ...]] = ("OT", "OTA")
CLAIM_TYPES: Final[tuple[ClaimType, ...]] = ("professional", "institutional")
DEFAULT_CLAIM_TYPE: Final[ClaimType] = "professional"

MAX_LINES: Final = 50  # an 837P claim carries at most 50 service lines
MAX_MODIFIERS: Final = 4  # modifier slots per service line on an 837P / CMS-1500
MAX_POINTERS: Final = 4  # diagnosis pointers per service line on an 837P / CMS-1500
MAX_MINUTES: Final = 1440  # minutes in a day
MAX_UNITS: Final = 999
MAX_COUNT: Final = 99_999  # visit and day counters; anything larger is a data error
MAX_MONEY: Final = Decimal("99999999.99")
MAX_ID_LENGTH: Final = 64


@attrs.frozen(kw_only=True)
class Line:
    """One service line: a CPT/HCPCS code with its time, units, modifiers and charge."""

    code: str
    minutes: int | None = None
    units: int | None = None
    modifiers: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    performed_by: Performer | None = None
    assistant_minutes: int | None = None
    charge: Decimal | None = None
    diagnosis_pointers: tuple[int, ...] = attrs.field(default=(), converter=tuple)

    @property
    def minutes_or_zero(self) -> int:
        return self.minutes if self.minutes is not None else 0

    @property
    def assistant_minutes_or_zero(self) -> int:
        return self.assistant_minutes if self.assistant_minutes is not None else 0

    @property
    def performed_by_assistant(self) -> bool:
        """True when the line says an OT assistant (OTA) furnished it."""
        return self.performed_by == "OTA"

    def has_modifier(self, modifier: str) -> bool:
        return modifier.upper() in self.modifiers


@attrs.frozen(kw_only=True)
class Patient:
    """The patient, identified only by an opaque id, with optional year-to-date context."""

    id: str
    birth_date: datetime.date | None = None
    ytd_ot_allowed: Decimal | None = None
    visits_this_year: int | None = None
    treatment_days_since_progress_report: int | None = None
    plan_of_care_certified_on: datetime.date | None = None

    def age_on(self, day: datetime.date) -> int | None:
        """Age in completed years on ``day``; ``None`` when the birth date is unknown."""
        born = self.birth_date
        if born is None:
            return None
        had_birthday = (day.month, day.day) >= (born.month, born.day)
        return day.year - born.year - (0 if had_birthday else 1)


@attrs.frozen(kw_only=True)
class Authorization:
    """A payer's prior authorization: how many visits, for which dates."""

    number: str
    visits_authorized: int | None = None
    visits_used: int | None = None
    valid_from: datetime.date | None = None
    valid_to: datetime.date | None = None

    @property
    def visits_remaining(self) -> int | None:
        """Authorized minus used (negative when overused); ``None`` if either is unknown."""
        if self.visits_authorized is None or self.visits_used is None:
            return None
        return self.visits_authorized - self.visits_used

    def covers(self, day: datetime.date) -> bool:
        """True when ``day`` is inside the validity window; a missing bound is open."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to


@attrs.frozen(kw_only=True)
class Visit:
    """One visit (one claim's worth of service lines for one date of service)."""

    id: str
    date_of_service: datetime.date
    payer: str
    patient: Patient
    diagnoses: tuple[str, ...] = attrs.field(converter=tuple)
    lines: tuple[Line, ...] = attrs.field(converter=tuple)
    claim_type: ClaimType | None = None
    place_of_service: str | None = None
    telehealth: bool | None = None
    claim_submitted_on: datetime.date | None = None
    authorization: Authorization | None = None

    @property
    def is_telehealth(self) -> bool:
        """The ``telehealth`` flag, absent meaning false. Place of service is not consulted."""
        return self.telehealth is True

    @property
    def effective_claim_type(self) -> ClaimType:
        return self.claim_type if self.claim_type is not None else DEFAULT_CLAIM_TYPE

    @property
    def patient_age(self) -> int | None:
        """The patient's age in completed years on the date of service, if known."""
        return self.patient.age_on(self.date_of_service)

    @property
    def codes(self) -> tuple[str, ...]:
        """The line codes in line order (repeats kept)."""
        return tuple(line.code for line in self.lines)

    def diagnoses_for(self, line: Line) -> tuple[str, ...]:
        """The diagnosis codes a line points to, in pointer order (pointers are 1-based)."""
        return tuple(
            self.diagnoses[p - 1] for p in line.diagnosis_pointers if 1 <= p <= len(self.diagnoses)
        )
