"""Bridges to other systems. Each submodule needs its own optional extra and is imported
only on request: ``otrules.integrations.dask`` needs ``pip install otrules[dask]``.

Shared here: the JSON shape of one outcome, so every bridge writes the same thing. A visit
that evaluated gives ``Result.to_json()``; one that failed validation gives
``{"visit_id": …, "status": "invalid", "record": …, "problems": [{"path": …, "message": …}]}``.
"""

from __future__ import annotations

from typing import Any

from otrules.errors import VisitError
from otrules.eval.result import Result

__all__ = ["outcome_json"]


def outcome_json(outcome: Result | VisitError) -> dict[str, Any]:
    """The JSON-shaped dict of a Result, or of a VisitError in the same family of shapes."""
    if isinstance(outcome, Result):
        return outcome.to_json()
    record = outcome.record or None  # 0: a position the caller does not know
    return {"visit_id": outcome.visit_id, "status": "invalid", "record": record,
            "problems": [{"path": p.path, "message": p.message} for p in outcome.problems]}
