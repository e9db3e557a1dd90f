"""The exception hierarchy: every error otrules raises derives from :class:`OtrulesError`.

Errors carry their details as data (problems, diagnostics, ids) as well as text, and every
class is picklable, because compiled packs and their errors cross process boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from otrules.diagnostics import Diagnostic


class OtrulesError(Exception):
    """Root of every error otrules raises."""


@attrs.frozen
class Problem:
    """One thing wrong with a visit: where (a JSON path such as ``lines[2].minutes``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class VisitError(OtrulesError):
    """A visit failed validation. ``problems`` lists every problem found, each with its path.

    ``record`` is the 1-based line number in a JSON Lines stream (``None`` for a single visit),
    and ``visit_id`` the visit's id when it could be read.
    """

    def __init__(
        self,
        problems: Sequence[Problem],
        *,
        record: int | None = None,
        visit_id: str | None = None,
    ) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.record = record
        self.visit_id = visit_id
        super().__init__(self._text())

    def _text(self) -> str:
        where = []
        if self.record is not None:
            where.append(f"line {self.record}")
        if self.visit_id is not None:
            where.append(f"visit {self.visit_id}")
        head = "invalid visit" + (f" ({', '.join(where)})" if where else "")
        count = len(self.problems)
        head += f": {count} problem{'s' if count != 1 else ''}"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_visit_error, (self.problems, self.record, self.visit_id))


def _rebuild_visit_error(
    problems: tuple[Problem, ...], record: int | None, visit_id: str | None
) -> VisitError:
    return VisitError(problems, record=record, visit_id=visit_id)


class PackError(OtrulesError):
    """A rule pack (or one of its tables) has errors. ``diagnostics`` holds them all as data."""

    def __init__(self, diagnostics: Sequence[Diagnostic], rendered: str | None = None) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        self.rendered = rendered
        super().__init__(rendered if rendered is not None else self._text())

    def _text(self) -> str:
        return "\n".join(d.headline() for d in self.diagnostics) or "invalid rule pack"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (PackError, (self.diagnostics, self.rendered))


class LimitError(OtrulesError):
    """An input exceeded a configured resource limit (size, depth, rows, lines per visit)."""


class EvaluationError(OtrulesError):
    """Evaluation of a visit failed inside the engine: an internal error, reported as a bug.

    Carries the pack, the rule id and the visit id so that it can be traced without any
    patient data.
    """

    def __init__(
        self, message: str, *, pack: str | None = None, rule: str | None = None,
        visit_id: str | None = None,
    ) -> None:
        self.pack = pack
        self.rule = rule
        self.visit_id = visit_id
        self.detail = message
        parts = [f"pack {pack}" if pack else None, f"rule {rule}" if rule else None,
                 f"visit {visit_id}" if visit_id else None]
        where = ", ".join(p for p in parts if p)
        super().__init__(f"internal error ({where}): {message}" if where else message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_evaluation_error, (self.detail, self.pack, self.rule, self.visit_id))


def _rebuild_evaluation_error(
    message: str, pack: str | None, rule: str | None, visit_id: str | None
) -> EvaluationError:
    return EvaluationError(message, pack=pack, rule=rule, visit_id=visit_id)


class InternalError(OtrulesError):
    """A bug in otrules itself. Raised instead of letting a raw Python exception escape."""
