"""``Pack``: what applications call to check visits against a rule pack.

A Pack wraps a checked pack and a back end. The back end is anything with
``run(ctx) -> list[Finding]`` and a ``supports_trace`` flag: the reference
:class:`InterpreterBackend` today, a compiled one later. Traced evaluation always uses a back
end that supports tracing (falling back to the interpreter), so a compiled back end never
needs to produce traces. Everything around the back end — the context, billable lines,
status, fixes, streaming, error wrapping — lives here, shared by all back ends.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import attrs

from otrules.errors import EvaluationError, Problem, VisitError
from otrules.eval.context import EvalContext
from otrules.eval.interpreter import InterpreterBackend
from otrules.eval.result import (
    AppliedFix,
    Finding,
    FixSuggestion,
    Result,
    TraceEntry,
    result_with_pending_lines,
    status_of,
)
from otrules.eval.runtime import evaluation_error
from otrules.eval.scan import quick_scan
from otrules.lang.checked import CheckedPack
from otrules.limits import check_visit
from otrules.model import MAX_MODIFIERS, Line, Visit
from otrules.visit_json import VisitRecord, dump_visit, load_visit

__all__ = ["Backend", "Pack", "RuleSummary"]


class Backend(Protocol):
    """What a back end provides. ``run`` appends to ``ctx.trace`` when it is a list and
    ``supports_trace`` is true.

    A back end may also have ``evaluate_plain(visit) -> Result | None``: the whole of
    ``evaluate(visit)`` without options, done its own faster way, or None to leave the visit
    to the general path (the compiled back end has one; see :mod:`otrules.eval.compiler`).
    """

    @property
    def supports_trace(self) -> bool: ...

    def run(self, ctx: EvalContext) -> list[Finding]: ...


@attrs.frozen
class RuleSummary:
    """A rule of the merged pack as the catalogue shows it."""

    id: str
    severity: str
    source: str | None
    about: str | None
    pack: str  # the pack whose source declares it


def _default_backend(pack: Pack) -> Backend:
    return InterpreterBackend(pack.checked)


@attrs.frozen
class Pack:
    """A loaded rule pack, ready to evaluate visits. Immutable, thread-safe and picklable."""

    checked: CheckedPack
    backend: Backend = attrs.field(
        default=attrs.Factory(_default_backend, takes_self=True), eq=False, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pack:
        """Load, merge and check the pack in folder ``path``; raises PackError on errors."""
        from otrules.lang.loader import load_checked_pack  # the language front end

        return cls(load_checked_pack(path))

    # ------------------------------------------------------------------ catalogue

    @property
    def name(self) -> str:
        return self.checked.name

    @property
    def version(self) -> str | None:
        return self.checked.version

    @property
    def effective(self) -> tuple[dt.date, dt.date]:
        """The first and last dates of service the pack covers (both included)."""
        return (self.checked.effective.start, self.checked.effective.end)

    @property
    def rules(self) -> tuple[RuleSummary, ...]:
        return tuple(RuleSummary(i.rule.id, i.rule.severity, i.rule.source, i.rule.about, i.pack)
                     for i in self.checked.rules)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, visit: Visit, *, trace: bool = False,
                 as_of: dt.date | None = None) -> Result:
        """Check one visit. Raises EvaluationError (a bug, never bad input) if a rule fails.

        ``as_of`` evaluates the pack as of another day than the date of service: the pack's
        range, rule dates, parameter values and table rows are taken for that day (the
        visit's own ``date_of_service`` is unchanged). Golden cases use it to pin a date.
        """
        if type(visit) is Visit:
            if not trace and as_of is None:
                fast = getattr(self.backend, "evaluate_plain", None)
                if fast is not None:  # the compiled back end's path for the common call
                    result = fast(visit)
                    if result is not None:
                        return result
        else:
            _require_visit(visit)
        plain = quick_scan(visit)
        if plain is None:
            check_visit(visit)  # a Visit built in code skips load_visit's limits: check here
        backend = self.backend
        if trace and not backend.supports_trace:
            backend = InterpreterBackend(self.checked)
        ctx: EvalContext | None = None
        try:
            ctx = EvalContext(self.checked, visit, trace=trace, as_of=as_of,
                              timed_index=getattr(backend, "timed_index", None), plain=plain)
            findings = tuple(backend.run(ctx))
        except EvaluationError:
            raise
        except Exception as exc:  # a bug: never let a raw exception reach the caller
            raise self._failure(exc, visit, ctx) from exc
        traced: tuple[TraceEntry, ...] | None = None if ctx.trace is None else tuple(ctx.trace)
        # The billable lines are built when first read (see otrules.eval.result).
        checked = self.checked
        return result_with_pending_lines(visit.id, checked.name, checked.version,
                                         status_of(findings), ctx, findings, traced)

    def _failure(self, exc: BaseException, visit: Visit, ctx: EvalContext | None) -> Exception:
        if ctx is not None:
            return evaluation_error(exc, ctx, None)
        return EvaluationError(f"{type(exc).__name__} while preparing the visit",
                               pack=self.name, visit_id=visit.id)

    def evaluate_many(
        self, visits: Iterable[Visit | VisitRecord], *, trace: bool = False,
        workers: int | None = None,
    ) -> Iterator[Result | VisitError]:
        """Stream results as visits come in (a generator: nothing is read ahead or held).

        A :class:`VisitRecord` from :func:`otrules.visit_json.read_visits` that failed
        validation comes out as its VisitError, in its place, and evaluation carries on. An
        EvaluationError is raised, not yielded: it is a bug, not a bad record.

        ``workers`` > 1 spreads the work over that many processes (the pack is sent once to
        each), keeping input order and streaming; see :mod:`otrules.parallel`.
        """
        if workers is not None and workers > 1:
            from otrules.parallel import evaluate_many_parallel  # processes: only when asked

            yield from evaluate_many_parallel(  # type: ignore[misc]
                self, visits, workers=workers, trace=trace)
            return
        for item in visits:
            if isinstance(item, VisitRecord):
                if item.error is not None:
                    yield item.error
                    continue
                assert item.visit is not None
                item = item.visit
            yield self.evaluate(item, trace=trace)

    # ------------------------------------------------------------------ fixes

    def fix(self, visit: Visit) -> tuple[Visit, tuple[AppliedFix, ...]]:
        """Apply the findings' safe fixes; return the corrected visit and what was applied.

        Fixes are applied in finding order to a copy: a modifier is added only if the line
        still lacks it and has a free slot; units are set once per line (the first rule to set
        them wins). No line, code, diagnosis or other modifier is ever removed.
        """
        result = self.evaluate(visit)
        lines = list(visit.lines)
        units_set: set[int] = set()
        applied: list[AppliedFix] = []
        for finding in result.findings:
            fix = finding.fix
            if fix is None:
                continue
            done, previous = _apply(lines, fix, units_set)
            if done:
                applied.append(AppliedFix(finding.rule, fix, previous))
        # The model's `converter=tuple` fields confuse mypy's attrs plugin, hence the ignores.
        fixed = attrs.evolve(visit, lines=tuple(lines))  # type: ignore[arg-type]
        self._validate_fixed(fixed)
        return fixed, tuple(applied)

    def _validate_fixed(self, fixed: Visit) -> None:
        try:
            load_visit(dump_visit(fixed))
        except VisitError as exc:  # only paths: problem texts may echo visit values
            paths = ", ".join(p.path for p in exc.problems)
            raise EvaluationError(f"the fixed visit does not validate ({paths})",
                                  pack=self.name, visit_id=fixed.id) from None


def _apply(lines: list[Line], fix: FixSuggestion, units_set: set[int]) -> tuple[bool, int | None]:
    """Apply one fix to ``lines`` in place: (whether it applied, the units stated before)."""
    line = lines[fix.line]
    if fix.kind == "add_modifier":
        assert fix.modifier is not None
        if fix.modifier in line.modifiers or len(line.modifiers) >= MAX_MODIFIERS:
            return False, None
        modifiers = (*line.modifiers, fix.modifier)
        lines[fix.line] = attrs.evolve(line, modifiers=modifiers)  # type: ignore[arg-type]
        return True, None
    if fix.line in units_set or fix.value == line.units:
        return False, None
    units_set.add(fix.line)
    lines[fix.line] = attrs.evolve(line, units=fix.value)
    return True, line.units


def _require_visit(visit: Any) -> None:
    if not isinstance(visit, Visit):
        message = (f"expected an otrules.model.Visit, got {type(visit).__name__}; "
                   "load JSON with otrules.visit_json.load_visit")
        raise VisitError([Problem("", message)])
