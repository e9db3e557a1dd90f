"""otrules: outpatient occupational-therapy billing policy as readable, tested rule packs."""

from otrules.errors import (
    EvaluationError,
    InternalError,
    LimitError,
    OtrulesError,
    PackError,
    Problem,
    VisitError,
)

__version__ = "0.1.0"

__all__ = [
    "EvaluationError",
    "InternalError",
    "LimitError",
    "OtrulesError",
    "PackError",
    "Problem",
    "VisitError",
    "__version__",
]
