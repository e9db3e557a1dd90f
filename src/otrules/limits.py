"""Every configurable resource limit of otrules, in one place, with sane defaults.

The limits themselves live next to the code that enforces them; this module gathers them so
that an application can see and set all of them together:

* :class:`SourceLimits` (the parser's ``Limits``): bytes of one ``.otr`` file, expression depth;
* :class:`TableLimits`: rows, bytes and cell length of a table;
* :class:`PackLimits` (the loader's): the two above, plus the depth of an ``extends`` chain;
* :class:`VisitLimits`: lines per visit (an 837P claim's 50), modifiers per line (4),
  diagnosis pointers per line, diagnoses per visit and characters per streamed record.

Pack limits are reported as diagnostics (E006, E007, E069…). Visit limits: ``load_visit`` and
``read_visits`` enforce the visit contract's caps (the model's constants) as
:class:`~otrules.errors.VisitError` problems; :func:`check_visit` enforces a
:class:`VisitLimits` on a :class:`~otrules.model.Visit` built in code, which never passed through
that validation, and raises :class:`~otrules.errors.LimitError`.
"""

from __future__ import annotations

from typing import Final

import attrs

from otrules.errors import LimitError
from otrules.lang.loader import DEFAULT_PACK_LIMITS, PackLimits
from otrules.lang.parser import DEFAULT_LIMITS as DEFAULT_SOURCE_LIMITS
from otrules.lang.parser import Limits as SourceLimits
from otrules.lang.tables import DEFAULT_TABLE_LIMITS, TableLimits
from otrules.model import MAX_LINES, MAX_MODIFIERS, MAX_POINTERS, Visit
from otrules.visit_json import MAX_RECORD_CHARS

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PACK_LIMITS",
    "DEFAULT_SOURCE_LIMITS",
    "DEFAULT_TABLE_LIMITS",
    "DEFAULT_VISIT_LIMITS",
    "MAX_DIAGNOSES",
    "PackLimits",
    "ResourceLimits",
    "SourceLimits",
    "TableLimits",
    "VisitLimits",
    "check_visit",
    "visit_limit_problems",
]

# The visit contract caps lines, modifiers and pointers but not the diagnosis list (only the
# record size bounds it). Claim forms carry a dozen or two; this guard is far above any real
# claim and keeps a hostile visit from costing more than a normal one.
MAX_DIAGNOSES: Final = 100


def _positive(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class VisitLimits:
    """How large one visit may be. The defaults are the visit contract's own caps."""

    max_lines: int = attrs.field(default=MAX_LINES, validator=_positive)
    max_modifiers: int = attrs.field(default=MAX_MODIFIERS, validator=_positive)
    max_pointers: int = attrs.field(default=MAX_POINTERS, validator=_positive)
    max_diagnoses: int = attrs.field(default=MAX_DIAGNOSES, validator=_positive)
    max_record_chars: int = attrs.field(default=MAX_RECORD_CHARS, validator=_positive)


DEFAULT_VISIT_LIMITS: Final = VisitLimits()


@attrs.frozen
class ResourceLimits:
    """All limits together: what a pack may hold and what a visit may hold."""

    pack: PackLimits = DEFAULT_PACK_LIMITS
    visit: VisitLimits = DEFAULT_VISIT_LIMITS

    @property
    def source(self) -> SourceLimits:
        return self.pack.source

    @property
    def tables(self) -> TableLimits:
        return self.pack.tables if self.pack.tables is not None else DEFAULT_TABLE_LIMITS


DEFAULT_LIMITS: Final = ResourceLimits()


def check_visit(visit: Visit, limits: VisitLimits = DEFAULT_VISIT_LIMITS) -> None:
    """Raise :class:`LimitError` when ``visit`` is larger than ``limits`` allow.

    The message names the visit by its id and gives counts only, never field values.
    """
    problems = visit_limit_problems(visit, limits)
    if problems:
        raise LimitError(f"visit {visit.id}: " + "; ".join(problems))


def visit_limit_problems(visit: Visit, limits: VisitLimits = DEFAULT_VISIT_LIMITS
                         ) -> list[str]:
    """What in ``visit`` is over ``limits``, as counts (empty when nothing is)."""
    problems = []
    if len(visit.lines) > limits.max_lines:
        problems.append(f"{len(visit.lines)} service lines, over the limit of "
                        f"{limits.max_lines}")
    if len(visit.diagnoses) > limits.max_diagnoses:
        problems.append(f"{len(visit.diagnoses)} diagnoses, over the limit of "
                        f"{limits.max_diagnoses}")
    for index, line in enumerate(visit.lines[:limits.max_lines]):
        if len(line.modifiers) > limits.max_modifiers:
            problems.append(f"line {index} has {len(line.modifiers)} modifiers, over the limit "
                            f"of {limits.max_modifiers}")
        if len(line.diagnosis_pointers) > limits.max_pointers:
            problems.append(f"line {index} has {len(line.diagnosis_pointers)} diagnosis "
                            f"pointers, over the limit of {limits.max_pointers}")
    return problems
