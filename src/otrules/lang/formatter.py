"""The canonical layout of rule-pack source: what ``otrules fmt`` writes.

``format_source`` parses the text, prints every declaration from its AST through one printer
(a dispatch table keyed by node type, ``EXPR_PRINTERS`` and ``DECL_PRINTERS``) and puts every
comment back next to the declaration or clause it was written beside. The layout rules are
documented for pack authors in ``docs/language/formatting.md``.

Two guarantees, both checked on every call unless ``verify=False``:

* the formatted text parses to the same AST as the input (spans aside), and
* it holds the same comments; nothing the author wrote is dropped.

The AST alone cannot say where each clause was written, so the formatter also reads the
concrete parse tree (same grammar, same Lark settings as the parser) for the line range of
every clause. That is also how clauses given twice survive: the AST keeps one of them, the
formatter prints every one, in source order, at the clause's canonical place.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import lark

from otrules.diagnostics import Diagnostic, Span, render_all
from otrules.errors import InternalError, PackError
from otrules.lang import ast as A
from otrules.lang import errorcodes as EC
from otrules.lang.parser import parse_source
from otrules.resources import grammar_dir

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
class _Clause:
    """Where one clause (or a declaration's head) was written: 1-based lines, char offsets."""

    first: int
    last: int
    start: int
    end: int


@attrs.frozen
class _Item:
    """One printed declaration head or clause, with the source lines it came from."""

    lines: tuple[str, ...]
    indent: str
    where: _Clause


_HEAD_TREES = frozenset({"type_name", "param_constant", "severity", "table_from"})
_CLAUSE_KIND = {"key_clause": "column", "column_clause": "column", "for_each": "for each"}
_DUMMY_HEAD = {A.PackHeader: "pack x\n", A.Table: "table x\n", A.Rule: "rule x : info\n"}


@functools.cache
def _cst_parser() -> lark.Lark:
    # The parser's own settings: the two must agree on every tree shape and position. This is
    # the one place outside the parser that reads Lark trees, because the AST has no span for
    # some clauses (about, source, version, payer); it can go once every clause has a span.
    return lark.Lark((grammar_dir() / "otrules.lark").read_text(encoding="utf-8"),
                     parser="lalr", lexer="contextual", propagate_positions=True,
                     maybe_placeholders=False)


def _where(node: Any) -> _Clause:
    if isinstance(node, lark.Token):
        return _Clause(node.line or 0, node.end_line or 0, node.start_pos or 0,
                       node.end_pos or 0)
    m = node.meta
    return _Clause(m.line, m.end_line, m.start_pos, m.end_pos)


class _DeclSource:
    """The concrete clauses of one declaration, handed out to its printer in order. Every
    clause must be claimed exactly once; ``check_all_used`` makes sure nothing was lost."""

    def __init__(self, tree: lark.Tree, text: str) -> None:  # type: ignore[type-arg]
        self.text = text
        whole = _where(tree)
        head_last = whole.first
        self.clauses: dict[str, list[_Clause]] = {}
        self.used: Counter[str] = Counter()
        for child in tree.children:
            place = _where(child)
            name = getattr(child, "data", None)
            if name is None or str(name) in _HEAD_TREES or tree.data in ("units_decl", "disable"):
                head_last = max(head_last, place.last)
                continue
            kind = _CLAUSE_KIND.get(str(name), str(name).removesuffix("_clause"))
            self.clauses.setdefault(kind, []).append(place)
        if tree.data in ("units_decl", "disable"):
            head_last = whole.last
        self.head = _Clause(whole.first, head_last, whole.start, whole.end)

    def head_item(self, text: str) -> _Item:
        return _Item((text,), "", self.head)

    def each(self, kind: str, lines_per_element: Sequence[list[str]]) -> list[_Item]:
        """List clauses (let, period, key/column, row): the n-th element printed is the n-th
        clause of that kind in the source."""
        found = self.clauses.get(kind, [])
        start = self.used[kind]
        if start + len(lines_per_element) > len(found):
            raise InternalError(f"formatter: more '{kind}' clauses in the AST than the source")
        self.used[kind] += len(lines_per_element)
        return [_Item(tuple(lines), INDENT, c)
                for lines, c in zip(lines_per_element, found[start:], strict=False)]

    def single(self, kind: str, decl: Any, printer: Callable[[Any], list[str]]) -> list[_Item]:
        """A clause given at most once. Given several times, each is printed, in source order:
        the AST holds only one of them (the first for a rule, the last elsewhere)."""
        found = self.clauses.get(kind, [])
        self.used[kind] += len(found)
        if len(found) <= 1:
            lines = printer(decl)
            if not lines:
                return []
            if not found:
                raise InternalError(f"formatter: no '{kind}' clause in the source")
            return [_Item(tuple(lines), INDENT, found[0])]
        return [_Item(tuple(printer(self._reparse(type(decl), c))), INDENT, c)
                for c in found]

    def _reparse(self, decl_type: type, clause: _Clause) -> Any:
        """A repeated clause on its own, as the one clause of a minimal declaration."""
        pack, diags = parse_source(_DUMMY_HEAD[decl_type] + self.text[clause.start:clause.end])
        if diags or len(pack.decls) != 1:
            raise InternalError("formatter: a repeated clause does not parse on its own")
        return pack.decls[0]

    def check_all_used(self) -> None:
        for kind, found in self.clauses.items():
            if self.used[kind] != len(found):
                raise InternalError(f"formatter: a '{kind}' clause would be lost")


# ============================================================================ declarations


def _header(h: A.PackHeader, src: _DeclSource) -> list[_Item]:
    title = "" if h.title is None else " " + _quote(h.title)
    return [
        src.head_item(f"pack {h.name}{title}"),
        *src.single("version", h, lambda d: [] if d.version is None
                    else [f"version {_version(d.version)}"]),
        *src.single("payer", h, lambda d: [f"payer {', '.join(d.payers)}"] if d.payers else []),
        *src.single("effective", h, lambda d: [] if d.effective is None
                    else [f"effective {_range(d.effective)}"]),
        *src.single("extends", h, lambda d: [] if d.extends is None
                    else [f"extends {d.extends}"]),
        *src.single("about", h, _about),
    ]


def _about(d: Any) -> list[str]:
    return [] if d.about is None else [f"about {_quote(d.about)}"]


def _source(d: Any) -> list[str]:
    return [] if d.source is None else [f"source {_quote(d.source)}"]


def _units(u: A.UnitsDecl, src: _DeclSource) -> list[_Item]:
    timed = "" if u.timed_table is None else f" timed by {u.timed_table}.{u.timed_column}"
    return [src.head_item(f"units {u.method}{timed}")]


def _override(decl: A.Parameter | A.Table | A.Rule) -> str:
    return "override " if decl.override else ""


def _parameter(p: A.Parameter, src: _DeclSource) -> list[_Item]:
    head = f"{_override(p)}parameter {p.name} : {p.type.name}"
    if p.constant is not None:
        head += f" = {p.constant.text}"
    periods = [[f"from {per.start.isoformat()} to {per.end.isoformat()} = {per.value.text}"]
               for per in p.periods]
    return [src.head_item(head), *src.each("period", periods),
            *src.single("about", p, _about), *src.single("source", p, _source)]


def _column(c: A.Column) -> list[str]:
    keyword = "key" if c.is_key else "column"
    return [f"{keyword} {c.name} : {'optional ' if c.optional else ''}{c.type.name}"]


def _table(t: A.Table, src: _DeclSource) -> list[_Item]:
    head = f"{_override(t)}table {t.name}"
    if t.title is not None:
        head += " " + _quote(t.title)
    if t.file is not None:
        head += f" from {_quote(t.file)}" + ("" if t.layout is None else f" as {t.layout}")
    # Key and column clauses keep their order: row values are positional.
    return [
        src.head_item(head),
        *src.each("column", [_column(c) for c in t.columns]),
        *src.single("valid", t, lambda d: [] if d.valid_from is None
                    else [f"valid from {d.valid_from} until {d.valid_until}"]),
        *src.each("row", [["row " + ", ".join(v.text for v in r.values)] for r in t.rows]),
        *src.single("source", t, _source),
    ]


def _for_each(r: A.Rule) -> list[str]:
    it = r.iteration
    if it is None:
        return []
    if it.kind == "pair":
        text = f"for each pair {it.names[0]}, {it.names[1]}"
        text += "" if it.table is None else f" in {it.table}"
    else:
        text = f"for each {it.kind}" + ("" if it.names[0] == it.kind else f" as {it.names[0]}")
    return [text] if it.where is None else _expr_clause(text + " where ", it.where)


def _fix(r: A.Rule) -> list[str]:
    fix = r.fix
    if fix is None:
        return []
    if fix.kind == "add_modifier":
        return [f"fix add modifier {fix.modifier}"]
    assert fix.value is not None
    return _expr_clause("fix set units to ", fix.value)


def _rule(r: A.Rule, src: _DeclSource) -> list[_Item]:
    def lets(group: tuple[A.Let, ...]) -> list[_Item]:
        return src.each("let", [_expr_clause(f"let {x.name} = ", x.value) for x in group])

    return [
        src.head_item(f"{_override(r)}rule {r.id} : {r.severity}"),
        *src.single("about", r, _about),
        *src.single("effective", r, lambda d: [] if d.effective is None
                    else [f"effective {_range(d.effective)}"]),
        *lets(r.lets_before),
        *src.single("for each", r, _for_each),
        *lets(r.lets_after),
        *src.single("when", r, lambda d: [] if d.when is None else _expr_clause("when ", d.when)),
        *src.single("say", r, lambda d: [] if d.say is None else [f"say {_template(d.say)}"]),
        *src.single("fix", r, _fix),
        *src.single("source", r, _source),
    ]


def _disable(d: A.Disable, src: _DeclSource) -> list[_Item]:
    return [src.head_item(f"disable {d.kind} {d.target} because {_quote(d.reason)}")]


DECL_PRINTERS: dict[type, Callable[[Any, _DeclSource], list[_Item]]] = {
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
    try:
        tree = _cst_parser().parse(text)
    except lark.exceptions.LarkError as exc:  # the parser accepted it: this is our bug
        raise InternalError(f"formatter: the text parses for the parser only: {exc}") from None
    trees = [t for t in tree.children if isinstance(t, lark.Tree)]
    if len(trees) != len(tree.children) or len(trees) != len(pack.decls):
        raise InternalError("formatter: declarations do not match the parse tree")
    printed = []
    for decl, decl_tree in zip(pack.decls, trees, strict=True):
        src = _DeclSource(decl_tree, text)
        printed.append(DECL_PRINTERS[type(decl)](decl, src))
        src.check_all_used()
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
