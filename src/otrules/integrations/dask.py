"""Evaluating visits held in Dask collections (``pip install otrules[dask]``).

* :func:`evaluate_bag` - a Bag of visits (``Visit`` objects, JSON dicts or JSON text) → a Bag
  of JSON-shaped dicts (``Result.to_json()``, or the invalid-visit shape of
  :func:`otrules.integrations.outcome_json`), in the same order;
* :func:`evaluate_dataframe` - a DataFrame with one visit's JSON per row in ``column`` → a
  DataFrame with the same index and the columns ``visit_id``, ``status`` and ``result``
  (the outcome's JSON text).

With a ``distributed`` client (given, or the current default one) the pack is scattered to
every worker once, and tasks refer to it; each worker then unpickles it once (a compiled
pack regenerates its code then). Without one, the pack is a single node of the task graph.
An EvaluationError (a bug in otrules, never bad input) fails the computation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dask.bag as db
import dask.dataframe as dd
import pandas as pd
from dask.delayed import delayed

from otrules.errors import VisitError
from otrules.eval.engine import Pack
from otrules.integrations import outcome_json
from otrules.parallel import to_visit

__all__ = ["RESULT_COLUMNS", "evaluate_bag", "evaluate_dataframe"]

RESULT_COLUMNS = ("visit_id", "status", "result")


def evaluate_bag(pack: Pack, bag: db.Bag, *, client: Any = None) -> db.Bag:
    """A Bag of outcome dicts, one per visit of ``bag``, in order."""
    out: db.Bag = bag.map_partitions(_bag_partition, _shared(pack, client))  # type: ignore[no-untyped-call]
    return out


def evaluate_dataframe(pack: Pack, frame: dd.DataFrame, *, column: str = "visit",
                       client: Any = None) -> dd.DataFrame:
    """A DataFrame of outcomes, one row per row of ``frame`` (same index). ``column`` holds
    each visit as JSON text (or a decoded dict)."""
    if column not in frame.columns:
        raise KeyError(f"the DataFrame has no column {column!r}")
    meta = pd.DataFrame({name: pd.Series(dtype="object") for name in RESULT_COLUMNS},
                        index=frame._meta.index)
    out: dd.DataFrame = frame[column].map_partitions(_frame_partition, _shared(pack, client),
                                                     meta=meta)
    return out


def _shared(pack: Pack, client: Any) -> Any:
    """What tasks receive in place of the pack: one copy per worker, not one per task."""
    if client is None:
        client = _current_client()
    if client is not None:
        return client.scatter(pack, broadcast=True, hash=False)
    return delayed(pack, pure=True)


def _current_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()  # type: ignore[no-untyped-call]
    except ValueError:  # no client has been started in this process
        return None


# ---------------------------------------------------------------------------- tasks


def _outcome(pack: Pack, item: Any) -> dict[str, Any]:
    visit = to_visit(item, 0)  # also refuses records and visits over the limits
    if isinstance(visit, VisitError):
        return outcome_json(visit)
    return pack.evaluate(visit).to_json()


def _bag_partition(items: Iterable[Any], pack: Pack) -> list[dict[str, Any]]:
    return [_outcome(pack, item) for item in items]


def _frame_partition(visits: pd.Series, pack: Pack) -> pd.DataFrame:
    rows = []
    for item in visits:
        outcome = _outcome(pack, item if isinstance(item, Mapping | str | bytes) else str(item))
        rows.append((outcome.get("visit_id"), outcome["status"],
                     json.dumps(outcome, ensure_ascii=False, separators=(",", ":"))))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS), index=visits.index, dtype="object")
