"""Evaluation: visits checked against a rule pack.

``Pack`` is the front door (``Pack.evaluate``, ``Pack.fix``, ``Pack.evaluate_many``); results
are plain frozen records (``Result``, ``Finding``, …) with a documented JSON form
(``docs/results.md``). The modules, bottom up: ``values`` (what each operation means),
``context`` (one visit as rules see it), ``typeinfo`` and ``sourcetext`` (types and text of
expressions, for printing), ``runtime`` (rule-level behaviour shared by every back end),
``interpreter`` (the reference back end), ``trace``, ``result`` and ``engine``.
"""

from otrules.eval.engine import Backend, Pack, RuleSummary
from otrules.eval.interpreter import InterpreterBackend
from otrules.eval.result import (
    AppliedFix,
    BillableLine,
    Finding,
    FixSuggestion,
    Result,
    TraceEntry,
)

__all__ = [
    "AppliedFix",
    "Backend",
    "BillableLine",
    "Finding",
    "FixSuggestion",
    "InterpreterBackend",
    "Pack",
    "Result",
    "RuleSummary",
    "TraceEntry",
]
