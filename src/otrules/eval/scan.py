"""One pass over a visit before it is evaluated: is it within the default visit limits, and
are its lines plain (what the unit computation accepts without error)?

A visit from :func:`otrules.visit_json.load_visit` has passed both checks already, but a
``Visit`` built in code has not, so every evaluation scans once. Two forms: :func:`quick_scan`
for the general path, and :func:`plain_codes` for the compiled back end's fast path, which
also collects the visit's codes (its rules are skipped when none of their codes is billed).
``tests/test_compiler.py`` holds both to :func:`otrules.limits.visit_limit_problems` and
:func:`otrules.eval.context.plain_lines`.
"""

from __future__ import annotations

from typing import Final

from otrules.limits import DEFAULT_VISIT_LIMITS
from otrules.model import Visit

__all__ = ["plain_codes", "quick_scan"]

# check_visit's default limits (a frozen record), read once
_MAX_LINES: Final = DEFAULT_VISIT_LIMITS.max_lines
_MAX_DIAGNOSES: Final = DEFAULT_VISIT_LIMITS.max_diagnoses
_MAX_MODIFIERS: Final = DEFAULT_VISIT_LIMITS.max_modifiers
_MAX_POINTERS: Final = DEFAULT_VISIT_LIMITS.max_pointers


def quick_scan(visit: Visit) -> bool | None:
    """None when the visit may be over the default visit limits (then
    :func:`otrules.limits.check_visit` decides and reports); otherwise whether its lines are
    plain, as :func:`otrules.eval.context.plain_lines` decides (given to the context)."""
    lines = visit.lines
    if len(lines) > _MAX_LINES or len(visit.diagnoses) > _MAX_DIAGNOSES:
        return None
    plain = True
    for line in lines:
        if len(line.modifiers) > _MAX_MODIFIERS or len(line.diagnosis_pointers) > _MAX_POINTERS:
            return None
        if plain:
            minutes, units = line.minutes, line.units
            plain = type(line.code) is str and (minutes is None or (
                type(minutes) is int and minutes >= 0)) and (
                units is None or type(units) is int)
    return plain


def plain_codes(visit: Visit) -> set[str] | None:
    """The set of the visit's codes when :func:`quick_scan` would say True (within the
    limits, every line plain); None otherwise, and the caller takes the general path."""
    lines = visit.lines
    if len(lines) > _MAX_LINES or len(visit.diagnoses) > _MAX_DIAGNOSES:
        return None
    codes = set()
    for line in lines:
        code, minutes, units = line.code, line.minutes, line.units
        if (len(line.modifiers) > _MAX_MODIFIERS or len(line.diagnosis_pointers) > _MAX_POINTERS
                or type(code) is not str
                or (minutes is not None and (type(minutes) is not int or minutes < 0))
                or (units is not None and type(units) is not int)):
            return None
        codes.add(code)
    return codes
