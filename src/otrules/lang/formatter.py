"""The canonical layout of rule-pack source: what ``otrules fmt`` writes.

``format_source`` parses the text, prints every declaration from its AST through one printer
(a dispatch table keyed by node type, ``EXPR_PRINTERS`` and ``DECL_PRINTERS``) and puts every
comment back next to the declaration or clause it was written beside. The layout rules are
documented for pack authors in ``docs/language/formatting.md``.

Two guarantees, both checked on every call unless ``verify=False``:

* the formatted text parses to the same AST as the input (spans aside), and
* it holds the same comments; nothing the author wrote is dropped.

The formatter works from the AST alone: every declaration head and clause has a span, which
says where it was written (and so which comments go with it). Clauses given twice survive too:
the AST keeps the first in the declaration's field and each later one in ``repeated``, and the
formatter prints every one, in source order, at the clause's canonical place.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from otrules.diagnostics import Diagnostic, Span, render_all
from otrules.errors import InternalError, PackError
from otrules.lang import ast as A
from otrules.lang import errorcodes as EC
from otrules.lang.parser import parse_source

__all__ = ["DECL_PRINTERS", "EXPR_PRINTERS", "MAX_WIDTH", "format_expression", "format_file",
           "format_source"]

INDENT = "  "  # clauses, and comments written before a clause
CONTINUATION = "    "  # continuation lines of a long expression (column 5)
MAX_WIDTH = 90  # an expression clause longer than this is broken before its top and/or

# ============================================================================ expressions
# Precedence levels, loosest first; they mirror the grammar's expression rules exactly.
_IF, _OR, _AND, _NOT, _PREDICATE, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(10)
_BINARY_LEVEL = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT,
                 "//": _PRODUCT, "%": _PRODUCT,
                 **dict.fromkeys(("=", "!=", "<", "<=", ">", ">="), _PREDICATE)}
_NODE_LEVEL: dict[type, int] = {
    A.IfElse: _IF, A.InTable: _PREDICATE, A.InList: _PREDICATE, A.Has: _PREDICATE,
    A.Matches: _PREDICATE, A.IsMissing: _PREDICATE, A.Attribute: _POSTFIX, A.Lookup: _POSTFIX,
    A.Literal: _ATOM, A.Name: _ATOM, A.Call: _ATOM, A.Aggregate: _ATOM,
}
_HAS_MODE = {"one": "", "any": "any of ", "all": "all of ", "many": "more than one of "}
_ELEMENT = {"lines": "line", "diagnoses": "diagnosis"}


def _level(node: A.Expr) -> int:
    if isinstance(node, A.Binary):
        return _BINARY_LEVEL[node.op]
    if isinstance(node, A.Unary):
        return _NOT if node.op == "not" else _UNARY
    return _NODE_LEVEL[type(node)]


def _open_ended(node: A.Expr) -> bool:
    # An aggregate ending in `where …` (or a pattern list) would swallow an operator or a
    # comma written after it, so it is parenthesized unless nothing can follow it.
    return isinstance(node, A.Aggregate) and node.where is not None


def _expr(node: A.Expr, min_level: int = _IF, tail_free: bool = True) -> str:
    """Print ``node`` where the grammar accepts ``min_level`` or tighter; ``tail_free`` says
    that no operator or comma follows it. Parenthesizes only when one of the two demands it."""
    wrap = _level(node) < min_level or (not tail_free and _open_ended(node))
    text = EXPR_PRINTERS[type(node)](node, tail_free or wrap)
    return f"({text})" if wrap else text


def _items(nodes: Sequence[A.Expr]) -> str:
    """Comma-separated operands of the `sum` level (list items, call arguments, keys)."""
    last = len(nodes) - 1
    return ", ".join(_expr(n, _SUM, i == last) for i, n in enumerate(nodes))


def _binary(node: A.Binary, tail: bool) -> str:
    level = _BINARY_LEVEL[node.op]
    # Comparisons do not chain: both sides are sums. The others are left-associative.
    left = level + 1 if level == _PREDICATE else level
    return f"{_expr(node.left, left, False)} {node.op} {_expr(node.right, level + 1, tail)}"


def _unary(node: A.Unary, tail: bool) -> str:
    if node.op == "not":
        return f"not {_expr(node.operand, _NOT, tail)}"
    return f"-{_expr(node.operand, _UNARY, tail)}"


def _is_matches_shorthand(node: A.Aggregate) -> bool:
    """``any diagnosis matches P`` is shorthand for ``any diagnosis where diagnosis matches P``
    (the same AST); the shorthand is the canonical spelling."""
    where = node.where
    return (node.kind == "any" and node.collection == "diagnoses" and node.var == "diagnosis"
            and isinstance(where, A.Matches) and where.subject == A.Name("diagnosis"))


def _aggregate(node: A.Aggregate, tail: bool) -> str:
    if _is_matches_shorthand(node):
        assert isinstance(node.where, A.Matches)
        return f"any diagnosis matches {', '.join(node.where.patterns)}"
    element = _ELEMENT[node.collection]
    if node.kind == "count":
        text = f"count of {node.collection}"
    elif node.kind == "sum":
        assert node.value is not None
        text = f"sum of {_expr(node.value, _PRODUCT, True)} over {node.collection}"
    else:
        text = f"{node.kind} {element}"
    if node.var != element:
        text += f" as {node.var}"
    if node.where is not None:
        text += f" where {_expr(node.where, _OR, True)}"
    return text


def _has(node: A.Has, tail: bool) -> str:
    verb = "lacks" if node.negated else "has"
    mods = ", ".join(node.modifiers)
    spec = mods if node.mode == "one" else f"{_HAS_MODE[node.mode]}({mods})"
    return f"{_expr(node.subject, _SUM, False)} {verb} {spec}"


def _in_list(node: A.InList, tail: bool) -> str:
    op = "not in" if node.negated else "in"
    return f"{_expr(node.subject, _SUM, False)} {op} ({_items(node.items)})"


def _in_table(node: A.InTable, tail: bool) -> str:
    op = "not in" if node.negated else "in"
    return f"{_expr(node.subject, _SUM, False)} {op} {node.table}"


def _if_else(node: A.IfElse, tail: bool) -> str:
    return (f"if {_expr(node.condition, _OR)} then {_expr(node.then, _OR)} "
            f"else {_expr(node.otherwise, _IF, tail)}")


EXPR_PRINTERS: dict[type, Callable[[Any, bool], str]] = {
    A.Literal: lambda n, t: n.text,  # as written: the text is part of the AST's identity
    A.Name: lambda n, t: n.name,
    A.Attribute: lambda n, t: f"{_expr(n.obj, _POSTFIX, False)}.{n.name}",
    A.Lookup: lambda n, t: f"{n.table}[{_items(n.keys)}]",
    A.Binary: _binary,
    A.Unary: _unary,
    A.InTable: _in_table,
    A.InList: _in_list,
    A.Has: _has,
    A.Matches: lambda n, t: f"{_expr(n.subject, _SUM, False)} matches {', '.join(n.patterns)}",
    A.IsMissing: lambda n, t: (f"{_expr(n.subject, _SUM, False)} is "
                               f"{'present' if n.negated else 'missing'}"),
    A.IfElse: _if_else,
    A.Call: lambda n, t: f"{n.function}({_items(n.args)})",
    A.Aggregate: _aggregate,
}


def format_expression(node: A.Expr) -> str:
    """One expression in canonical form, on one line, with minimal parentheses."""
    return _expr(node)


def _segments(node: A.Expr) -> list[str]:
    """The expression cut before each operator of its top-level and/or chain (one piece when
    the top is not and/or). Joined with spaces, the pieces are exactly ``_expr(node)``."""
    if not (isinstance(node, A.Binary) and node.op in ("and", "or")):
        return [_expr(node)]
    op, level = node.op, _BINARY_LEVEL[node.op]
    rights: list[A.Expr] = []
    cur: A.Expr = node
    while isinstance(cur, A.Binary) and cur.op == op:
        rights.append(cur.right)
        cur = cur.left
    rights.reverse()
    last = len(rights) - 1
    return [_expr(cur, level, False),
            *(f"{op} {_expr(r, level + 1, i == last)}" for i, r in enumerate(rights))]


def _expr_clause(prefix: str, node: A.Expr) -> list[str]:
    """``prefix`` + expression; broken before each top-level and/or when too long."""
    pieces = _segments(node)
    one_line = prefix + " ".join(pieces)
    if len(INDENT) + len(one_line) <= MAX_WIDTH or len(pieces) == 1:
        return [one_line]
    extra = CONTINUATION[len(INDENT):]  # clause lines are indented again by the layout
    return [prefix + pieces[0], *(extra + p for p in pieces[1:])]


# ============================================================================ text values
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}
_TEMPLATE_ESCAPES = {**_ESCAPES, "{": "\\{", "}": "\\}"}
_BARE_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*")


def _quote(value: str, escapes: dict[str, str] = _ESCAPES) -> str:
    return '"' + "".join(escapes.get(ch, ch) for ch in value) + '"'


def _template(t: A.Template) -> str:
    parts = (_quote(p, _TEMPLATE_ESCAPES)[1:-1] if isinstance(p, str) else "{" + p.text + "}"
             for p in t.parts)
    return '"' + "".join(parts) + '"'


def _version(value: str) -> str:
    # `version 2026.1` and `version "2026.1"` mean the same; bare is canonical when possible.
    return value if _BARE_VERSION.fullmatch(value) else _quote(value)


def _range(r: A.DateRange) -> str:
    return f"{r.start.isoformat()} to {r.end.isoformat()}"


# ============================================================================ source clauses


@attrs.frozen
class _Where:
    """Where a clause (or a declaration's head) was written: its first and last lines, and its
    start as (line, column), by which items are put back in source order."""

    first: int
    last: int
    start: tuple[int, int]


@attrs.frozen
class _Item:
    """One printed declaration head or clause, with the source lines it came from."""

    lines: tuple[str, ...]
    indent: str
    where: _Where


def _where(span: Span | None) -> _Where:
    if span is None:  # the parser gives every clause a span
        raise InternalError("formatter: a clause has no span")
    return _Where(span.line, span.end_line, (span.line, span.column))


def _head(text: str, span: Span | None) -> list[_Item]:
    return [_Item((text,), "", _where(span))]


def _each(lines_and_spans: Sequence[tuple[list[str], Span | None]]) -> list[_Item]:
    return [_Item(tuple(lines), INDENT, _where(span)) for lines, span in lines_and_spans]


def _once(decl: A.PackHeader | A.Parameter | A.Table | A.Rule, keyword: str, value: Any,
          span: Span | None, printer: Callable[[Any], list[str]]) -> list[_Item]:
    """A clause taken at most once: the first (``value`` at ``span``, None when absent), then
    each repeat of it, in the order written, so that no text is ever lost."""
    found = [] if value is None else [(value, span)]
    found += [(r.value, r.span) for r in decl.repeated if r.keyword == keyword]
    return _each([(printer(v), s) for v, s in found])


# ============================================================================ declarations


def _header(h: A.PackHeader) -> list[_Item]:
    title = "" if h.title is None else " " + _quote(h.title)
    return [
        *_head(f"pack {h.name}{title}", h.head_span),
        *_once(h, "version", h.version, h.version_span, lambda v: [f"version {_version(v)}"]),
        *_once(h, "payer", h.payers or None, h.payer_span,
               lambda v: [f"payer {', '.join(v)}"]),
        *_once(h, "effective", h.effective, h.effective and h.effective.span,
               lambda v: [f"effective {_range(v)}"]),
        *_once(h, "extends", h.extends, h.extends_clause_span, lambda v: [f"extends {v}"]),
        *_once(h, "about", h.about, h.about_span, _about),
    ]


def _about(value: str) -> list[str]:
    return [f"about {_quote(value)}"]


def _source(value: str) -> list[str]:
    return [f"source {_quote(value)}"]


def _units(u: A.UnitsDecl) -> list[_Item]:
    timed = "" if u.timed_table is None else f" timed by {u.timed_table}.{u.timed_column}"
    return _head(f"units {u.method}{timed}", u.span)


def _override(decl: A.Parameter | A.Table | A.Rule) -> str:
    return "override " if decl.override else ""


def _parameter(p: A.Parameter) -> list[_Item]:
    head = f"{_override(p)}parameter {p.name} : {p.type.name}"
    if p.constant is not None:
        head += f" = {p.constant.text}"
    periods = [([f"from {per.start.isoformat()} to {per.end.isoformat()} = {per.value.text}"],
                per.span) for per in p.periods]
    return [*_head(head, p.head_span), *_each(periods),
            *_once(p, "about", p.about, p.about_span, _about),
            *_once(p, "source", p.source, p.source_span, _source)]


def _column(c: A.Column) -> list[str]:
    keyword = "key" if c.is_key else "column"
    return [f"{keyword} {c.name} : {'optional ' if c.optional else ''}{c.type.name}"]


def _table(t: A.Table) -> list[_Item]:
    head = f"{_override(t)}table {t.name}"
    if t.title is not None:
        head += " " + _quote(t.title)
    if t.file is not None:
        head += f" from {_quote(t.file)}" + ("" if t.layout is None else f" as {t.layout}")
    valid = None if t.valid_from is None else (t.valid_from, t.valid_until)
    # Key and column clauses keep their order: row values are positional.
    return [
        *_head(head, t.head_span),
        *_each([(_column(c), c.span) for c in t.columns]),
        *_once(t, "valid", valid, t.valid_span, lambda v: [f"valid from {v[0]} until {v[1]}"]),
        *_each([(["row " + ", ".join(v.text for v in r.values)], r.span) for r in t.rows]),
        *_once(t, "source", t.source, t.source_span, _source),
    ]


def _for_each(it: A.ForEach) -> list[str]:
    if it.kind == "pair":
        text = f"for each pair {it.names[0]}, {it.names[1]}"
        text += "" if it.table is None else f" in {it.table}"
    else:
        text = f"for each {it.kind}" + ("" if it.names[0] == it.kind else f" as {it.names[0]}")
    return [text] if it.where is None else _expr_clause(text + " where ", it.where)


def _fix(fix: A.Fix) -> list[str]:
    if fix.kind == "add_modifier":
        return [f"fix add modifier {fix.modifier}"]
    assert fix.value is not None
    return _expr_clause("fix set units to ", fix.value)


def _rule(r: A.Rule) -> list[_Item]:
    def lets(group: tuple[A.Let, ...]) -> list[_Item]:
        return _each([(_expr_clause(f"let {x.name} = ", x.value), x.span) for x in group])

    return [
        *_head(f"{_override(r)}rule {r.id} : {r.severity}", r.head_span),
        *_once(r, "about", r.about, r.about_span, _about),
        *_once(r, "effective", r.effective, r.effective and r.effective.span,
               lambda v: [f"effective {_range(v)}"]),
        *lets(r.lets_before),
        *_once(r, "for each", r.iteration, r.iteration and r.iteration.span, _for_each),
        *lets(r.lets_after),
        *_once(r, "when", r.when, r.when_span, lambda v: _expr_clause("when ", v)),
        *_once(r, "say", r.say, r.say_span, lambda v: [f"say {_template(v)}"]),
        *_once(r, "fix", r.fix, r.fix and r.fix.span, _fix),
        *_once(r, "source", r.source, r.source_span, _source),
    ]


def _disable(d: A.Disable) -> list[_Item]:
    return _head(f"disable {d.kind} {d.target} because {_quote(d.reason)}", d.span)


DECL_PRINTERS: dict[type, Callable[[Any], list[_Item]]] = {
    A.PackHeader: _header,
    A.UnitsDecl: _units,
    A.Parameter: _parameter,
    A.Table: _table,
    A.Rule: _rule,
    A.Disable: _disable,
}


# ============================================================================ comments


@attrs.frozen
class _Placed:
    """The comments that go with one item: own-line ones before it, and at most one at the
    end of its last line."""

    before: tuple[A.Comment, ...] = ()
    trailing: A.Comment | None = None


def _place_comments(
    items: list[_Item], comments: Sequence[A.Comment]
) -> tuple[list[_Placed], list[A.Comment]]:
    """A comment on a line of an item belongs to that item (to the last one, when several
    share the line); any other comment belongs to the next item, or to the end of the file.
    Of an item's comments, the last goes at the end of its line when it was written at the end
    of a line; the others go on their own lines before the item, in order."""
    # Items are printed in canonical order; comments are matched in source order.
    order = sorted(range(len(items)), key=lambda i: items[i].where.start)
    firsts = [items[i].where.first for i in order]
    groups: list[list[A.Comment]] = [[] for _ in items]
    tail: list[A.Comment] = []
    for c in comments:
        k = bisect.bisect_right(firsts, c.line) - 1
        if k < 0 or items[order[k]].where.last < c.line:
            k += 1  # no item spans the comment's line: it goes with the next one
        if k < len(items):
            groups[order[k]].append(c)
        else:
            tail.append(c)
    placed = []
    for group in groups:
        if group and not group[-1].own_line:
            placed.append(_Placed(tuple(group[:-1]), group[-1]))
        else:
            placed.append(_Placed(tuple(group)))
    return placed, tail


def _comment_block(
    comments: Sequence[A.Comment], indent: str, blank: Callable[[int, int], bool],
    next_line: int | None,
) -> list[str]:
    """Own-line comments; at the top level a blank line between two comments (or between the
    last comment and the declaration) is kept, so that separate paragraphs stay separate."""
    out: list[str] = []
    for i, c in enumerate(comments):
        if indent == "" and i > 0 and blank(comments[i - 1].line, c.line):
            out.append("")
        out.append(indent + c.text)
    if (indent == "" and comments and next_line is not None
            and comments[-1].line < next_line and blank(comments[-1].line, next_line)):
        out.append("")
    return out


def _layout(decls: list[list[_Item]], comments: Sequence[A.Comment], source: str) -> str:
    source_lines = source.split("\n")

    def blank(a: int, b: int) -> bool:  # a blank line strictly between lines a and b?
        return any(not source_lines[n - 1].strip() for n in range(a + 1, b))

    flat = [it for items in decls for it in items]
    placed, tail = _place_comments(flat, comments)
    out: list[str] = []
    k = 0
    for d, items in enumerate(decls):
        if d:
            out.append("")
        for it in items:
            p = placed[k]
            k += 1
            out.extend(_comment_block(p.before, it.indent, blank, it.where.first))
            lines = [it.indent + ln for ln in it.lines]
            if p.trailing is not None:
                lines[-1] += "  " + p.trailing.text
            out.extend(lines)
    if tail:
        if out:
            out.append("")
        out.extend(_comment_block(tail, "", blank, None))
    return "\n".join(out) + "\n" if out else ""


# ============================================================================ entry points


def format_source(text: str, path: str = "<pack>", *, verify: bool = True) -> str:
    """The canonical layout of one pack source file.

    Raises :class:`PackError` (with the parser's diagnostics) when the text does not parse:
    a file that cannot be read is never rewritten. With ``verify`` (the default) the result is
    parsed again and compared with the input, AST and comments, and :class:`InternalError` is
    raised rather than returning text that lost or changed anything.
    """
    pack, diags = parse_source(text, path)
    if diags:
        raise PackError(diags, render_all(diags, {path: text}))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    printed = [DECL_PRINTERS[type(decl)](decl) for decl in pack.decls]
    result = _layout(printed, pack.comments, text)
    if verify:
        _verify(pack, result, path)
    return result


def _verify(pack: A.PackFile, result: str, path: str) -> None:
    again, diags = parse_source(result, path)
    if diags or again != pack:
        raise InternalError("formatter: the formatted text does not mean what the input meant")
    if Counter(c.text for c in again.comments) != Counter(c.text for c in pack.comments):
        raise InternalError("formatter: the formatted text lost or changed a comment")


def format_file(path: str | Path) -> tuple[str, bool]:
    """Format the file at ``path``: (canonical text, whether it differs from the file).
    Does not write. Raises PackError for text that does not parse or is not UTF-8, and
    OSError when the file cannot be read."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError([_not_utf8(str(path), data, exc.start)]) from None
    new = format_source(text, str(path))
    return new, new != text


def _not_utf8(path: str, data: bytes, offset: int) -> Diagnostic:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = len(before.split(b"\n")[-1].decode("utf-8", "replace")) + 1
    return Diagnostic(EC.BAD_CHARACTER, "error",
                      f"the file is not UTF-8 text (byte 0x{data[offset]:02x})",
                      Span.point(path, line, column), "save the file as UTF-8")
