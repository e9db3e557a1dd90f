"""otrules: outpatient occupational-therapy billing policy as readable, tested rule packs.

    >>> import otrules
    >>> pack = otrules.load_pack("medicare-ot")
    >>> result = pack.evaluate(otrules.load_visit(visit_json))      # doctest: +SKIP

The errors are imported at once; everything else is imported on first use, so that
``import otrules`` stays cheap for applications (and pytest runs) that only touch a part.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otrules.errors import (
    EvaluationError,
    InternalError,
    LimitError,
    OtrulesError,
    PackError,
    Problem,
    VisitError,
)

if TYPE_CHECKING:
    from otrules.api import check, load_pack
    from otrules.diagnostics import Diagnostic, Span
    from otrules.eval.engine import Pack
    from otrules.eval.result import (
        AppliedFix,
        BillableLine,
        Finding,
        FixSuggestion,
        Result,
        TraceEntry,
    )
    from otrules.visit_json import (
        VisitRecord,
        dump_visit,
        load_visit,
        read_visits,
        write_visits,
    )

__version__ = "0.1.0"

_LAZY = {
    "check": "otrules.api", "load_pack": "otrules.api",
    "Diagnostic": "otrules.diagnostics", "Span": "otrules.diagnostics",
    "Pack": "otrules.eval.engine",
    "AppliedFix": "otrules.eval.result", "BillableLine": "otrules.eval.result",
    "Finding": "otrules.eval.result", "FixSuggestion": "otrules.eval.result",
    "Result": "otrules.eval.result", "TraceEntry": "otrules.eval.result",
    "VisitRecord": "otrules.visit_json", "dump_visit": "otrules.visit_json",
    "load_visit": "otrules.visit_json", "read_visits": "otrules.visit_json",
    "write_visits": "otrules.visit_json",
}

__all__ = [
    "AppliedFix",
    "BillableLine",
    "Diagnostic",
    "EvaluationError",
    "Finding",
    "FixSuggestion",
    "InternalError",
    "LimitError",
    "OtrulesError",
    "Pack",
    "PackError",
    "Problem",
    "Result",
    "Span",
    "TraceEntry",
    "VisitError",
    "VisitRecord",
    "__version__",
    "check",
    "dump_visit",
    "load_pack",
    "load_visit",
    "read_visits",
    "write_visits",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otrules' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
