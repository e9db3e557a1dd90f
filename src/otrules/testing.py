"""Hypothesis strategies for visits, for otrules' own tests and for anyone testing rule packs.

Requires Hypothesis, which is a *test* extra (``pip install otrules[test]``); importing this
module without it raises ImportError. The core package never imports it.

* :func:`visits` - valid :class:`~otrules.model.Visit` objects;
* :func:`visit_dicts` - the same as canonical JSON-shaped dicts, so that
  ``dump_visit(load_visit(d)) == d`` holds for every one of them;
* :func:`lines`, :func:`patients`, :func:`authorizations` - the building blocks;
* :func:`pack_sources`, :func:`pack_asts` - random valid rule packs (source text or AST), and
  :func:`mutated_pack_sources` - damaged packs for fuzzing the front end.

Values are mostly realistic (real OT codes and modifiers, plausible minutes and charges) with
an occasional random but well-formed code or modifier, so that packs also meet codes they do
not know. Every generated visit passes :func:`~otrules.visit_json.load_visit`.
"""

from __future__ import annotations

import datetime
import string
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from otrules._pack_strategies import mutated_pack_sources, pack_asts, pack_sources
from otrules.model import (
    CLAIM_TYPES,
    MAX_COUNT,
    MAX_LINES,
    MAX_MINUTES,
    MAX_MODIFIERS,
    MAX_MONEY,
    MAX_POINTERS,
    MAX_UNITS,
    PERFORMERS,
    Authorization,
    Line,
    Patient,
    Visit,
)
from otrules.visit_json import dump_visit

__all__ = ["OT_CODES", "OT_MODIFIERS", "authorizations", "lines", "money",
           "mutated_pack_sources", "pack_asts", "pack_sources", "patients", "visit_dicts",
           "visits"]

OT_CODES = ("97110", "97112", "97116", "97140", "97150", "97165", "97166", "97167", "97168",
            "97530", "97535", "97129", "97130", "97760", "97763", "G0283")
OT_MODIFIERS = ("GO", "GP", "GN", "KX", "CO", "CQ", "59", "XE", "XS", "XP", "XU", "95")
PAYERS = ("medicare", "medicaid", "aetna", "bcbs", "cigna", "uhc", "tricare", "Humana Gold")
DIAGNOSES = ("F82", "F84.0", "F90.2", "G35", "I63.512", "I69.351", "M17.11", "M25.631",
             "M62.81", "R26.89", "R27.8", "R41.841", "R62.50", "S62.101D", "Z96.651")

_ALNUM = string.ascii_uppercase + string.digits
_SERVICE_DATES = st.dates(datetime.date(2023, 1, 1), datetime.date(2027, 12, 31))
_BIRTH_DATES = st.dates(datetime.date(1920, 1, 1), datetime.date(2027, 12, 31))
_COUNTS = st.integers(0, MAX_COUNT) | st.integers(0, 60)  # small counts are the usual ones


def _sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value or None (absent); the model keeps the two apart."""
    return st.none() | strategy


def _usually(real: tuple[str, ...], size: int) -> st.SearchStrategy[str]:
    random = st.text(_ALNUM, min_size=size, max_size=size)
    return st.one_of(st.sampled_from(real), st.sampled_from(real), random)


def _ids(prefix: str) -> st.SearchStrategy[str]:
    # Mostly "P-77" style; sometimes any non-blank text, to exercise escaping in the JSON.
    plain = st.integers(1, 999_999).map(lambda n: f"{prefix}-{n}")
    odd = st.text(min_size=1, max_size=20).filter(str.strip)
    return plain | plain | odd


@st.composite
def money(draw: st.DrawFn) -> Decimal:
    """Amounts 0..MAX_MONEY written with 0, 1 or 2 decimal places (the scale is kept)."""
    places = draw(st.sampled_from([2, 2, 0, 1]))
    most = int(MAX_MONEY.scaleb(places))
    return Decimal(draw(st.integers(0, 50_000) | st.integers(0, most))).scaleb(-places)


@st.composite
def lines(draw: st.DrawFn, diagnoses: int = 0) -> Line:
    """A valid service line whose diagnosis pointers fit a visit with ``diagnoses`` codes."""
    minutes = draw(_sometimes(st.integers(0, 90) | st.integers(0, MAX_MINUTES)))
    assistant_cap = MAX_MINUTES if minutes is None else minutes
    return Line(
        code=draw(_usually(OT_CODES, 5)),
        minutes=minutes,
        units=draw(_sometimes(st.integers(0, 8) | st.integers(0, MAX_UNITS))),
        modifiers=draw(st.lists(_usually(OT_MODIFIERS, 2), max_size=MAX_MODIFIERS, unique=True)),
        performed_by=draw(_sometimes(st.sampled_from(PERFORMERS))),
        assistant_minutes=draw(_sometimes(st.integers(0, assistant_cap))),
        charge=draw(_sometimes(money())),
        diagnosis_pointers=draw(st.lists(st.integers(1, diagnoses), unique=True,
                                         max_size=min(MAX_POINTERS, diagnoses)))
        if diagnoses else (),
    )


def patients() -> st.SearchStrategy[Patient]:
    return st.builds(
        Patient,
        id=_ids("P"),
        birth_date=_sometimes(_BIRTH_DATES),
        ytd_ot_allowed=_sometimes(money()),
        visits_this_year=_sometimes(_COUNTS),
        treatment_days_since_progress_report=_sometimes(_COUNTS),
        plan_of_care_certified_on=_sometimes(_SERVICE_DATES),
    )


@st.composite
def authorizations(draw: st.DrawFn) -> Authorization:
    valid_from, valid_to = draw(_sometimes(_SERVICE_DATES)), draw(_sometimes(_SERVICE_DATES))
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        valid_from, valid_to = valid_to, valid_from  # load_visit rejects a reversed window
    return Authorization(
        number=draw(_ids("A")),
        visits_authorized=draw(_sometimes(_COUNTS)),
        visits_used=draw(_sometimes(_COUNTS)),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _diagnosis_codes() -> st.SearchStrategy[str]:
    random = st.builds(lambda head, tail: f"{head}.{tail}" if tail else head,
                       st.text(_ALNUM, min_size=3, max_size=3),
                       st.text(_ALNUM, max_size=4))
    return st.sampled_from(DIAGNOSES) | random


@st.composite
def visits(draw: st.DrawFn, max_lines: int = 6) -> Visit:
    """A valid visit. ``max_lines`` (at most 50) bounds the service lines, to keep tests fast."""
    diagnoses = draw(st.lists(_diagnosis_codes(), max_size=6))
    payer = draw(st.sampled_from(PAYERS) | st.text(min_size=1, max_size=20).map(str.strip)
                 .filter(bool))
    return Visit(
        id=draw(_ids("V")),
        date_of_service=draw(_SERVICE_DATES),
        payer=payer,
        patient=draw(patients()),
        diagnoses=diagnoses,
        lines=draw(st.lists(lines(len(diagnoses)), min_size=1,
                            max_size=min(max_lines, MAX_LINES))),
        claim_type=draw(_sometimes(st.sampled_from(CLAIM_TYPES))),
        place_of_service=draw(_sometimes(st.sampled_from(["11", "10", "02", "22", "03", "12"])
                                         | st.text(string.digits, min_size=2, max_size=2))),
        telehealth=draw(_sometimes(st.booleans())),
        claim_submitted_on=draw(_sometimes(_SERVICE_DATES)),
        authorization=draw(_sometimes(authorizations())),
    )


def visit_dicts(max_lines: int = 6) -> st.SearchStrategy[dict[str, Any]]:
    """Valid visits as canonical JSON-shaped dicts (the form :func:`dump_visit` produces)."""
    return visits(max_lines).map(dump_visit)
