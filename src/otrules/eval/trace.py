"""Trace steps: the values that decided a rule, written for a biller.

While tracing, the interpreter records the value of every expression node it evaluates (by
node identity; aggregates' insides excluded). Right after a clause is evaluated, a
:class:`StepRenderer` turns that record into lines such as::

    when: year_total 2,540.00 > kx_threshold 2,480.00 → yes

Each decision (comparison, membership, has/lacks, matches, is missing/present, or a yes/no
value standing alone under and/or/not) gets one line ending in its verdict; each operand shows
its source text and value; arithmetic shows its result after ``=``; table lookups get a line
of their own (``found`` or ``(missing)``). Nodes skipped by short-circuit evaluation do not
appear. Values of sensitive nodes print as ``(withheld)`` (see :mod:`typeinfo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from otrules.eval.context import RowValue
from otrules.eval.runtime import WITHHELD
from otrules.eval.sourcetext import source_text
from otrules.eval.typeinfo import RuleTypes
from otrules.eval.values import ARITHMETIC_OPS, MISSING_TEXT, format_value
from otrules.lang import ast as A

__all__ = ["StepRenderer"]

_LEAVES: Final = (A.Name, A.Attribute, A.Lookup, A.Call, A.Aggregate, A.Literal)


def _is_arithmetic(node: A.Expr) -> bool:
    return isinstance(node, A.Binary) and node.op in ARITHMETIC_OPS


class StepRenderer:
    """Renders one clause's evaluation, given the values recorded for its nodes."""

    def __init__(self, types: RuleTypes, memo: Mapping[int, Any]) -> None:
        self.types = types
        self.memo = memo

    # ------------------------------------------------------------------ clauses

    def condition(self, prefix: str, node: A.Expr) -> list[str]:
        """Steps of a yes/no clause (``where``, ``when``), each prefixed (``when: ``)."""
        out: list[str] = []
        self._decisions(node, out)
        return [f"{prefix}{step}" for step in out]

    def let(self, let: A.Let) -> list[str]:
        """``let year_total = a 1.00 + b 2.00 = 3.00``, after the lookups and conditions that
        went into it (each ``let year_total: …``)."""
        node = let.value
        if isinstance(node, A.Literal):
            return [f"let {let.name} = {node.text}"]
        out: list[str] = []
        if isinstance(node, A.IfElse) or (
                self.types.of(node) == "flag" and not isinstance(node, _LEAVES)):
            self._decisions(node, out)
        else:
            self._nested(node, out)
        steps = [f"let {let.name}: {step}" for step in out]
        if _is_arithmetic(node):
            return [*steps, f"let {let.name} = {self._operand(node)}"]
        return [*steps, f"let {let.name} = {source_text(node)} → {self._value(node)}"]

    # ------------------------------------------------------------------ decisions

    def _decisions(self, node: A.Expr, out: list[str]) -> None:
        if id(node) not in self.memo:
            return  # not evaluated: short-circuited away
        if isinstance(node, A.Binary) and node.op in ("and", "or"):
            self._decisions(node.left, out)
            self._decisions(node.right, out)
        elif isinstance(node, A.Unary) and node.op == "not":
            self._decisions(node.operand, out)
        elif isinstance(node, A.IfElse):
            self._decisions(node.condition, out)
            for branch in (node.then, node.otherwise):
                if self.types.of(node) == "flag":  # a yes/no branch is a decision itself
                    self._decisions(branch, out)
                elif id(branch) in self.memo:
                    self._nested(branch, out)
        else:
            self._nested(node, out)
            out.append(f"{self._decision_text(node)} → {self._value(node)}")

    def _decision_text(self, node: A.Expr) -> str:
        if isinstance(node, A.Binary):
            return f"{self._operand(node.left)} {node.op} {self._operand(node.right)}"
        if isinstance(node, A.InTable):
            return f"{self._operand(node.subject)} {'not in' if node.negated else 'in'} " \
                   f"{node.table}"
        if isinstance(node, A.InList):
            items = ", ".join(self._operand(i) for i in node.items)
            return f"{self._operand(node.subject)} {'not in' if node.negated else 'in'} ({items})"
        if isinstance(node, A.Matches):
            return f"{self._operand(node.subject)} matches {', '.join(node.patterns)}"
        if isinstance(node, A.IsMissing):
            return f"{self._operand(node.subject)} is {'present' if node.negated else 'missing'}"
        return source_text(node)  # has/lacks (the subject is a line), or a yes/no value alone

    # ------------------------------------------------------------------ operands

    def _operand(self, node: A.Expr) -> str:
        if isinstance(node, A.Literal) or id(node) not in self.memo:
            return source_text(node)
        if _is_arithmetic(node):
            assert isinstance(node, A.Binary)
            left, right = (self._operand(n) for n in (node.left, node.right))
            left = f"({left})" if _is_arithmetic(node.left) else left
            right = f"({right})" if _is_arithmetic(node.right) else right
            return f"{left} {node.op} {right} = {self._value(node)}"
        text = source_text(node)
        if not isinstance(node, (*_LEAVES, A.Unary)):
            text = f"({text})"
        return f"{text} {self._value(node)}"

    def _nested(self, node: A.Expr, out: list[str]) -> None:
        """Steps for lookups and if-conditions inside a decision's operands, innermost first."""
        for child in _children(node):
            if id(child) not in self.memo or isinstance(child, A.Aggregate):
                continue
            if isinstance(child, A.IfElse):
                self._decisions(child.condition, out)
                for branch in (child.then, child.otherwise):
                    self._nested(branch, out)
                continue
            self._nested(child, out)
            if isinstance(child, A.Lookup):
                keys = ", ".join(self._operand(k) for k in child.keys)
                out.append(f"{child.table}[{keys}] → {self._value(child)}")

    def _value(self, node: A.Expr) -> str:
        if self.types.withheld(node):
            return WITHHELD
        value = self.memo.get(id(node))
        if isinstance(value, RowValue):
            return "found"
        if value is None:
            return MISSING_TEXT
        return format_value(value, self.types.of(node))


def _children(node: A.Expr) -> list[A.Expr]:
    """Direct sub-expressions in evaluation order (not looking inside aggregates)."""
    if isinstance(node, A.Binary):
        return [node.left, node.right]
    if isinstance(node, A.Unary):
        return [node.operand]
    if isinstance(node, A.Attribute):
        return [node.obj]
    if isinstance(node, A.Lookup | A.Call):
        return list(node.keys if isinstance(node, A.Lookup) else node.args)
    if isinstance(node, A.InTable | A.Has | A.Matches | A.IsMissing):
        return [node.subject]
    if isinstance(node, A.InList):
        return [node.subject, *node.items]
    if isinstance(node, A.IfElse):
        return [node.condition, node.then, node.otherwise]
    return []
