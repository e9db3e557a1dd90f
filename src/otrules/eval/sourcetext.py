"""Expressions back to pack text, for traces and error messages.

The text is rebuilt from the AST (one line, canonical spacing, parentheses only where the
grammar needs them), so it reads the same however the author laid the rule out, and it
parses back to an equal AST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from otrules.lang import ast as A

__all__ = ["EXPR_PRINTERS", "source_text"]

# Binding strength, loosest first, mirroring the grammar's expression levels.
CONDITIONAL, OR, AND, NOT, PREDICATE, SUM, PRODUCT, UNARY, ATOM = range(9)

_BINARY_LEVELS: Final[dict[str, int]] = {
    "or": OR, "and": AND,
    "=": PREDICATE, "!=": PREDICATE, "<": PREDICATE, "<=": PREDICATE, ">": PREDICATE,
    ">=": PREDICATE,
    "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT,
}
_DEFAULT_VAR: Final = {"lines": "line", "diagnoses": "diagnosis"}

Printer = Callable[[Any], tuple[str, int]]


def source_text(node: A.Expr) -> str:
    return _print(node)[0]


def _print(node: A.Expr) -> tuple[str, int]:
    return EXPR_PRINTERS[type(node)](node)


def _at(node: A.Expr, level: int) -> str:
    """The node's text, in parentheses if it binds more loosely than ``level`` allows."""
    text, own = _print(node)
    return f"({text})" if own < level else text


def _p_literal(node: A.Literal) -> tuple[str, int]:
    return node.text, ATOM


def _p_name(node: A.Name) -> tuple[str, int]:
    return node.name, ATOM


def _p_attribute(node: A.Attribute) -> tuple[str, int]:
    return f"{_at(node.obj, ATOM)}.{node.name}", ATOM


def _p_lookup(node: A.Lookup) -> tuple[str, int]:
    return f"{node.table}[{', '.join(_at(k, SUM) for k in node.keys)}]", ATOM


def _p_binary(node: A.Binary) -> tuple[str, int]:
    level = _BINARY_LEVELS[node.op]
    if level == PREDICATE:  # comparisons do not chain: both sides are sums
        return f"{_at(node.left, SUM)} {node.op} {_at(node.right, SUM)}", level
    return f"{_at(node.left, level)} {node.op} {_at(node.right, level + 1)}", level


def _p_unary(node: A.Unary) -> tuple[str, int]:
    if node.op == "not":
        return f"not {_at(node.operand, NOT)}", NOT
    return f"-{_at(node.operand, UNARY)}", UNARY


def _p_in_table(node: A.InTable) -> tuple[str, int]:
    op = "not in" if node.negated else "in"
    return f"{_at(node.subject, SUM)} {op} {node.table}", PREDICATE


def _p_in_list(node: A.InList) -> tuple[str, int]:
    op = "not in" if node.negated else "in"
    items = ", ".join(_at(i, SUM) for i in node.items)
    return f"{_at(node.subject, SUM)} {op} ({items})", PREDICATE


def _modifier_spec(mode: str, modifiers: tuple[str, ...]) -> str:
    listed = ", ".join(modifiers)
    return {"one": modifiers[0] if modifiers else "", "any": f"any of ({listed})",
            "all": f"all of ({listed})", "many": f"more than one of ({listed})"}[mode]


def _p_has(node: A.Has) -> tuple[str, int]:
    verb = "lacks" if node.negated else "has"
    return f"{_at(node.subject, SUM)} {verb} {_modifier_spec(node.mode, node.modifiers)}", \
        PREDICATE


def _p_matches(node: A.Matches) -> tuple[str, int]:
    return f"{_at(node.subject, SUM)} matches {', '.join(node.patterns)}", PREDICATE


def _p_is_missing(node: A.IsMissing) -> tuple[str, int]:
    word = "present" if node.negated else "missing"
    return f"{_at(node.subject, SUM)} is {word}", PREDICATE


def _p_if(node: A.IfElse) -> tuple[str, int]:
    return (f"if {_at(node.condition, OR)} then {_at(node.then, OR)} "
            f"else {_at(node.otherwise, CONDITIONAL)}"), CONDITIONAL


def _p_call(node: A.Call) -> tuple[str, int]:
    return f"{node.function}({', '.join(_at(a, SUM) for a in node.args)})", ATOM


def _p_aggregate(node: A.Aggregate) -> tuple[str, int]:
    named = "" if node.var == _DEFAULT_VAR[node.collection] else f" as {node.var}"
    where = "" if node.where is None else f" where {_at(node.where, OR)}"
    element = "line" if node.collection == "lines" else "diagnosis"
    if node.kind == "count":
        return f"count of {node.collection}{named}{where}", ATOM
    if node.kind == "sum":
        assert node.value is not None
        return f"sum of {_at(node.value, PRODUCT)} over {node.collection}{named}{where}", ATOM
    short = node.where
    if (node.kind == "any" and not named and isinstance(short, A.Matches)
            and isinstance(short.subject, A.Name) and short.subject.name == node.var == element):
        return f"any diagnosis matches {', '.join(short.patterns)}", ATOM
    return f"{node.kind} {element}{named}{where}", ATOM


EXPR_PRINTERS: Final[dict[type, Printer]] = {
    A.Literal: _p_literal, A.Name: _p_name, A.Attribute: _p_attribute, A.Lookup: _p_lookup,
    A.Binary: _p_binary, A.Unary: _p_unary, A.InTable: _p_in_table, A.InList: _p_in_list,
    A.Has: _p_has, A.Matches: _p_matches, A.IsMissing: _p_is_missing, A.IfElse: _p_if,
    A.Call: _p_call, A.Aggregate: _p_aggregate,
}
