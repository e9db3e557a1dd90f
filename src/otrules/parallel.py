"""Evaluating a stream of visits on several processes, in input order, in constant memory.

:func:`evaluate_many_parallel` is ``Pack.evaluate_many`` spread over a process pool:

* the pack is pickled once and handed to each worker by the pool's initializer (a compiled
  pack pickles as its checked pack; each worker regenerates the code once), never per visit;
* visits travel in chunks; at most ``max_in_flight`` chunks are out at a time, so memory
  stays flat however long the stream, and results come back in input order;
* items may be :class:`~otrules.model.Visit` objects, :class:`~otrules.visit_json.VisitRecord`
  s from ``read_visits``, or visits still as JSON (text, bytes or a decoded dict), which the
  workers validate, so that validation is spread too;
* a bad visit comes out as its :class:`~otrules.errors.VisitError`, in its place; an
  :class:`~otrules.errors.EvaluationError` (a bug, never bad input) is raised after every
  result before it has been yielded, and the pool is shut down.
"""

from __future__ import annotations

import copyreg
import io
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, Final

import attrs

from otrules.errors import EvaluationError, OtrulesError, Problem, VisitError
from otrules.eval.engine import Pack
from otrules.eval.result import BillableLine, Finding, FixSuggestion, Result, TraceEntry
from otrules.limits import DEFAULT_VISIT_LIMITS, VisitLimits, visit_limit_problems
from otrules.model import Visit
from otrules.visit_json import VisitRecord, load_visit

__all__ = ["DEFAULT_CHUNK_SIZE", "evaluate_many_parallel", "to_visit"]

DEFAULT_CHUNK_SIZE: Final = 500  # visits per task: big enough to hide the pickling overhead
Item = Visit | VisitRecord | str | bytes | Mapping[str, Any]


@attrs.frozen
class _Failed:
    """An EvaluationError, carried back in its place so that earlier results still count."""

    error: EvaluationError


Outcome = Result | str | VisitError | _Failed


# Set in each worker by the pool initializer.
_worker_pack: Pack | None = None
_worker_limits: VisitLimits = DEFAULT_VISIT_LIMITS


def evaluate_many_parallel(
    pack: Pack,
    visits: Iterable[Item],
    *,
    workers: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_in_flight: int | None = None,
    trace: bool = False,
    limits: VisitLimits = DEFAULT_VISIT_LIMITS,
    start_method: str | None = None,
    json_text: bool = False,
) -> Iterator[Result | str | VisitError]:
    """Evaluate ``visits`` on ``workers`` processes (default: one per CPU); yield each
    visit's Result or VisitError in input order.

    ``max_in_flight`` chunks (default ``2 * workers``) are queued at once. An item given as
    JSON that fails validation yields a VisitError whose ``record`` is its 1-based position
    in ``visits``. A visit larger than ``limits`` yields a VisitError too. With ``workers``
    of 1 everything runs in this process (no pool). ``start_method`` picks the
    multiprocessing context (default: the platform's). With ``json_text`` each Result comes
    out as its ``to_json_text()``, made in the worker: the fastest way to JSON Lines output.
    """
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 1 or chunk_size < 1:
        raise ValueError("workers and chunk_size must be at least 1")
    if count == 1:
        return _serial(pack, visits, trace, limits, json_text)
    in_flight = max_in_flight if max_in_flight is not None else 2 * count
    return _parallel(pack, visits, count, chunk_size, max(in_flight, 1), trace, limits,
                     start_method, json_text)


def _serial(pack: Pack, visits: Iterable[Item], trace: bool, limits: VisitLimits,
            json_text: bool) -> Iterator[Result | str | VisitError]:
    for position, item in enumerate(visits, start=1):
        outcome = _evaluate(pack, item, position, trace, limits)
        if isinstance(outcome, _Failed):
            raise outcome.error
        yield outcome.to_json_text() if json_text and isinstance(outcome, Result) else outcome


def _parallel(pack: Pack, visits: Iterable[Item], workers: int, chunk_size: int,
              in_flight: int, trace: bool, limits: VisitLimits, start_method: str | None,
              json_text: bool) -> Iterator[Result | str | VisitError]:
    context = multiprocessing.get_context(start_method)
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker,
        initargs=(pickle.dumps(pack, protocol=pickle.HIGHEST_PROTOCOL), limits))
    pending: deque[Future[bytes]] = deque()
    chunks = _chunks(visits, chunk_size)
    try:
        for start, chunk in islice(chunks, in_flight):
            pending.append(executor.submit(_run_chunk, chunk, start, trace, json_text))
        while pending:
            outcomes = _outcomes(pending.popleft(), pack)
            for start, chunk in islice(chunks, 1):  # refill before yielding: workers stay busy
                pending.append(executor.submit(_run_chunk, chunk, start, trace, json_text))
            for outcome in outcomes:
                if isinstance(outcome, _Failed):
                    raise outcome.error
                yield outcome
    finally:
        # Also runs when the caller stops early: queued chunks are dropped, not evaluated.
        executor.shutdown(wait=True, cancel_futures=True)


def _outcomes(future: Future[bytes], pack: Pack) -> list[Outcome]:
    try:
        return pickle.loads(future.result())  # type: ignore[no-any-return]
    except BrokenProcessPool as exc:  # killed (out of memory?) or crashed in native code
        raise EvaluationError(f"a worker process stopped unexpectedly ({exc})",
                              pack=pack.name) from exc


def _chunks(visits: Iterable[Item], size: int) -> Iterator[tuple[int, list[Item]]]:
    """(1-based position of the first item, items) for consecutive chunks."""
    iterator = iter(visits)
    position = 1
    while chunk := list(islice(iterator, size)):
        yield position, chunk
        position += len(chunk)


# ---------------------------------------------------------------------------- workers


def _init_worker(pack_bytes: bytes, limits: VisitLimits) -> None:
    global _worker_pack, _worker_limits
    _worker_pack = pickle.loads(pack_bytes)
    _worker_limits = limits


def _run_chunk(chunk: list[Item], start: int, trace: bool, json_text: bool) -> bytes:
    pack = _worker_pack
    if pack is None:  # the initializer did not run: a bug in this module
        raise EvaluationError("worker process has no pack")
    out: list[Outcome] = []
    for offset, item in enumerate(chunk):
        outcome = _evaluate(pack, item, start + offset, trace, _worker_limits)
        out.append(outcome.to_json_text() if json_text and isinstance(outcome, Result)
                   else outcome)
        if isinstance(outcome, _Failed):
            break  # the caller stops here: the rest of the chunk would be thrown away
    return _dumps(out)


def _by_fields(obj: Any) -> tuple[Any, ...]:
    cls = type(obj)
    return cls, tuple(getattr(obj, field.name) for field in attrs.fields(cls))


# Results go back through their constructors, field by field: half the parent's unpickling
# time of attrs' default state dicts, and the parent is the one process that cannot be
# multiplied.
_DISPATCH: Final = copyreg.dispatch_table.copy()
_DISPATCH.update(dict.fromkeys((Result, Finding, BillableLine, FixSuggestion, TraceEntry),
                               _by_fields))


def _dumps(outcomes: list[Outcome]) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(outcomes)
    return buffer.getvalue()


def _evaluate(pack: Pack, item: Item, position: int, trace: bool, limits: VisitLimits
              ) -> Result | VisitError | _Failed:
    try:
        visit = to_visit(item, position, limits)
        if isinstance(visit, VisitError):
            return visit
        return pack.evaluate(visit, trace=trace)
    except EvaluationError as exc:
        return _Failed(exc)
    except VisitError as exc:
        return exc
    except OtrulesError as exc:  # nothing else is raised for a visit; keep the promise anyway
        return _Failed(EvaluationError(f"{type(exc).__name__}: {exc}", pack=pack.name))


def to_visit(item: Item, position: int, limits: VisitLimits = DEFAULT_VISIT_LIMITS
             ) -> Visit | VisitError:
    """Any accepted item → its Visit, or the VisitError to report in its place (``record``
    is ``position`` unless the item is a VisitRecord with its own number)."""
    if isinstance(item, VisitRecord):
        if item.error is not None:
            return item.error
        assert item.visit is not None
        visit, record = item.visit, item.number
    elif isinstance(item, Visit):
        visit, record = item, position
    else:
        if isinstance(item, str | bytes) and len(item) > limits.max_record_chars:
            return VisitError([Problem("", f"record is longer than {limits.max_record_chars} "
                                           "characters; not read")], record=position)
        try:
            visit = load_visit(item)
        except VisitError as exc:
            return VisitError(exc.problems, record=position, visit_id=exc.visit_id)
        record = position
    over = visit_limit_problems(visit, limits)
    if over:
        return VisitError([Problem("", text) for text in over], record=record,
                          visit_id=visit.id)
    return visit
