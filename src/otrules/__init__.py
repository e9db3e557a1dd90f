"""otrules: outpatient occupational-therapy billing policy as readable, tested rule packs.

>>> import otrules
>>> pack = otrules.load_pack("medicare-ot")
>>> result = pack.evaluate(otrules.load_visit(visit_json))   # doctest: +SKIP
"""

from otrules.api import check, load_pack
from otrules.diagnostics import Diagnostic, Span
from otrules.errors import (
    EvaluationError,
    InternalError,
    LimitError,
    OtrulesError,
    PackError,
    Problem,
    VisitError,
)
from otrules.eval.engine import Pack
from otrules.eval.result import AppliedFix, BillableLine, Finding, FixSuggestion, Result, TraceEntry
from otrules.visit_json import VisitRecord, dump_visit, load_visit, read_visits, write_visits

__version__ = "0.1.0"

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
