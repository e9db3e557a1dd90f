"""One pass over a visit before it is evaluated: is it within the default visit limits, and
are its lines plain (what the unit computation accepts without error)?

A visit from :func:`otrules.visit_json.load_visit` has passed both checks already, but a
``Visit`` built in code has not, so every evaluation scans once. :func:`plain_codes` is that
pass, and also collects the visit's codes (the compiled back end's fast path skips a rule
when none of its codes is billed); :func:`quick_scan`, for the general path, tells the other
visits apart with the full checks.
``tests/test_compiler.py`` holds both to :func:`otrules.limits.visit_limit_problems` and
:func:`otrules.eval.context.plain_lines`.
"""

from __future__ import annotations

from typing import Final

from otrules.eval.context import plain_lines
from otrules.limits import DEFAULT_VISIT_LIMITS, visit_limit_problems
from otrules.model import Visit

__all__ = ["plain_codes", "quick_scan"]

# check_visit's default limits (a frozen record), read once
_MAX_LINES: Final = DEFAULT_VISIT_LIMITS.max_lines
_MAX_DIAGNOSES: Final = DEFAULT_VISIT_LIMITS.max_diagnoses
_MAX_MODIFIERS: Final = DEFAULT_VISIT_LIMITS.max_modifiers
_MAX_POINTERS: Final = DEFAULT_VISIT_LIMITS.max_pointers


def quick_scan(visit: Visit) -> bool | None:
    """None when the visit is over the default visit limits (then
    :func:`otrules.limits.check_visit` reports them); otherwise whether its lines are plain,
    as :func:`otrules.eval.context.plain_lines` decides (given to the context)."""
    if plain_codes(visit) is not None:  # the common visit: one pass
        return True
    if visit_limit_problems(visit):
        return None
    return plain_lines(visit.lines)


def plain_codes(visit: Visit) -> set[str] | None:
    """The set of the visit's codes when the visit is within the default limits and every
    line is plain; None otherwise (then the caller takes the general path)."""
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
