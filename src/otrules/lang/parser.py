"""Source text → AST. The one place where Lark trees and Lark exceptions become ours.

Valid text is parsed by a lean driver over Lark's own LALR tables (``lalr_driver``), which
calls the AST builder at each reduction; text the driver does not accept is parsed again by
Lark, whose exception becomes the diagnostic. Neither path recurses, however deep the input.
When a file has errors, each top-level declaration is parsed on its own so that independent
errors are all reported in one run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import itertools
import re
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import attrs
import lark
from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from otrules._slots import slots_constructor
from otrules.diagnostics import Diagnostic, Span
from otrules.lang import ast as A
from otrules.lang import collector, lalr_driver, prebuilt
from otrules.lang import errorcodes as EC
from otrules.resources import grammar_dir


@attrs.frozen
class Limits:
    """Resource limits of the front end; defaults suit any real pack."""

    # 2 MB: ten times a 2,000-rule pack; a larger file is refused before Lark spends a
    # minute on it.
    max_source_bytes: int = 2_000_000
    max_depth: int = 200


DEFAULT_LIMITS = Limits()

_DECL_START = re.compile(r"^(pack|units|parameter|table|rule|override|disable)\b", re.M)




def _meta(fn: Any) -> Any:
    """Mark a builder method that takes the node's span before its children."""
    fn._wants_meta = True
    return fn


class _Abort(Exception):
    """Raised inside the builder to abandon a declaration with one diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _TooDeep(Exception):
    def __init__(self, span: Span | None) -> None:
        super().__init__("too deep")
        self.span = span


# ---------------------------------------------------------------------------- grammar


@functools.cache
def _grammar_text() -> str:
    return (grammar_dir() / "otrules.lark").read_text(encoding="utf-8")


@functools.cache
def _terminal_words() -> dict[str, str]:
    """Terminal name → plain words for 'expected …' messages."""
    words = {
        "NAME": "a name", "SLUG": "an id such as go-modifier-required",
        "DATE": "a date such as 2026-01-01", "VERSION": "a version such as 2026.1",
        "CODE": "a procedure code such as 97110", "MODIFIER": "a modifier such as GO",
        "WORD": "a code or modifier", "PATTERN": "a diagnosis pattern such as F90.*",
        "MONEY": "an amount such as $2,480.00", "DECIMAL": "a decimal number",
        "INT": "a whole number", "STRING": 'a quoted text such as "…"',
        "OVERRIDE": "'override'", "OPTIONAL": "'optional'", "$END": "the end of the file",
    }
    parser = _base_parser()
    for term in parser.terminals:
        if term.name not in words and term.pattern.type == "str":
            words[term.name] = f"'{term.pattern.value}'"
    return words


# Words of the language that may still be names: the iteration elements, and `payer`, which
# is both a header clause and a visit field.
_ELEMENT_WORDS = frozenset({"line", "diagnosis", "lines", "diagnoses", "pair", "payer"})


@functools.cache
def _keywords() -> frozenset[str]:
    """Every word of the grammar (pack, rule, when, …), read from the grammar itself."""
    words = {t.pattern.value for t in _base_parser().terminals if t.pattern.type == "str"}
    return frozenset(w for w in words if re.fullmatch(r"[a-z_]+", w))


@functools.cache
def _reserved_words() -> frozenset[str]:
    return _keywords() - _ELEMENT_WORDS


@functools.cache
def _base_parser() -> lark.Lark:
    # Lark's analysis of the grammar, saved with the package when it fits (see prebuilt).
    grammar = _grammar_text()
    return prebuilt.load(grammar) or prebuilt.build(grammar)


# ---------------------------------------------------------------------------- public API


def parse_source(
    text: str, path: str = "<pack>", *, limits: Limits = DEFAULT_LIMITS
) -> tuple[A.PackFile, list[Diagnostic]]:
    """Parse one pack source file. Always returns a PackFile (holding every declaration that
    could be read) and the list of diagnostics; never raises for bad input."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_source_bytes:
        msg = (f"the pack source is {size:,} bytes, over the limit of "
               f"{limits.max_source_bytes:,} bytes")
        too_large = Diagnostic(EC.TOO_LARGE, "error", msg, Span.point(path, 1, 1))
        return A.PackFile(path, ()), [too_large]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    with collector.paused():
        return _parse_text(text, path, limits)


def _parse_text(text: str, path: str, limits: Limits) -> tuple[A.PackFile, list[Diagnostic]]:
    comments = _collect_comments(text)
    try:
        decls = _parse_chunk(text, path, 0, limits, explain=False)
        return A.PackFile(path, tuple(decls), comments), []
    except (lalr_driver.DriverFailed, UnexpectedInput, _Abort, _TooDeep):
        pass
    # Slow path: parse declaration by declaration to report every independent error.
    decls, diags = [], []
    for start_line, chunk in _chunks(text):
        try:
            decls.extend(_parse_chunk(chunk, path, start_line, limits))
        except UnexpectedInput as exc:
            diags.append(_syntax_diagnostic(exc, chunk, path, start_line))
        except _Abort as exc:
            diags.append(exc.diagnostic)
        except _TooDeep as exc:
            diags.append(Diagnostic(
                EC.TOO_DEEP, "error",
                f"expression nested more than {limits.max_depth} levels deep", exc.span,
                "name parts of the expression with `let` to keep each one shallow",
            ))
    return A.PackFile(path, tuple(decls), comments), diags


def parse_expression(text: str, path: str = "<expr>") -> A.Expr:
    """Parse a lone expression (used by tests and tools); raises PackError on bad input."""
    from otrules.errors import PackError

    pack, diags = parse_source(f"rule x : info\n  when {text}\n", path)
    if diags:
        raise PackError(diags)
    rule = pack.decls[0]
    assert isinstance(rule, A.Rule)
    assert rule.when is not None
    return rule.when


# ---------------------------------------------------------------------------- chunks


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split into top-level declarations: (0-based line offset, text) pairs."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if _DECL_START.match(line)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(lines)]
    return [(a, "\n".join(lines[a:b])) for a, b in itertools.pairwise(bounds) if a < b]


def _parse_chunk(
    text: str, path: str, line_offset: int, limits: Limits, *, explain: bool = True
) -> list[A.Decl]:
    """Parse with the fast driver; on anything it does not accept, raise ``DriverFailed``
    (``explain=False``) or parse again with Lark, whose exception explains the error."""
    builder = _Builder(path, line_offset, limits.max_depth)
    program = _driver_program()
    if program is None:
        return builder.build(_base_parser().parse(text))  # type: ignore[no-any-return]
    try:
        return lalr_driver.parse(  # type: ignore[no-any-return]
            program, text, builder, path, line_offset, _max_stack(limits))
    except lalr_driver.StackTooDeep as exc:
        line = exc.line + line_offset
        raise _TooDeep(Span(path, line, exc.column, line, exc.end_column)) from None
    except (lalr_driver.DriverFailed, _Abort, _TooDeep):
        if not explain:
            raise lalr_driver.DriverFailed from None
    tree = _base_parser().parse(text)
    return _Builder(path, line_offset, limits.max_depth).build(tree)  # type: ignore[no-any-return]


# Off only in tests, which compare the driver with Lark's own parser over many texts.
_USE_DRIVER = True


def _driver_program() -> lalr_driver.Program | None:
    return _built_program() if _USE_DRIVER else None


@functools.cache
def _built_program() -> lalr_driver.Program | None:
    try:
        return lalr_driver.Program(lalr_driver.tables_for(_base_parser()), _Builder.resolve,
                                   _new_span)
    except (AttributeError, RuntimeError):  # a Lark whose insides differ: Lark alone is right
        return None


def _max_stack(limits: Limits) -> int:
    # An expression level holds at most 8 entries on the parse stack (`sum of … over lines as
    # x where …`), so this bound never fires before the AST depth limit on a real expression,
    # yet parentheses, which make no AST node, are bounded too.
    return 8 * limits.max_depth + 64


# ---------------------------------------------------------------------------- comments


def _collect_comments(text: str) -> tuple[A.Comment, ...]:
    if "#" not in text:  # most generated packs: no line to look at
        return ()
    out = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        idx = _comment_start(line)
        if idx is not None:
            out.append(A.Comment(line[idx:].rstrip(), lineno, not line[:idx].strip()))
    return tuple(out)


def _comment_start(line: str) -> int | None:
    """Index of a '#' that starts a comment (not one inside a quoted text)."""
    in_string = escaped = False
    for i, ch in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            return i
    return None


# ---------------------------------------------------------------------------- errors


def _syntax_diagnostic(exc: UnexpectedInput, chunk: str, path: str, offset: int) -> Diagnostic:
    line = (getattr(exc, "line", None) or 1)
    column = (getattr(exc, "column", None) or 1)
    if (isinstance(exc, UnexpectedToken) and exc.token.type == "$END") or isinstance(
        exc, UnexpectedEOF
    ):
        last = chunk.rstrip()
        line = last.count("\n") + 1
        column = len(last.split("\n")[-1]) + 1
        expected = _expected_words(getattr(exc, "expected", None) or getattr(exc, "accepts", ()))
        return Diagnostic(
            EC.UNEXPECTED_END, "error", "the declaration ends too early",
            Span.point(path, line + offset, column), f"expected {expected}" if expected else None,
        )
    if isinstance(exc, UnexpectedCharacters):
        lines = chunk.split("\n")
        ch = lines[line - 1][column - 1: column] if line <= len(lines) else ""
        expected = _expected_words(exc.allowed or ())
        word = _word_at(chunk, line, column)
        help_ = _suggest(word, exc.allowed or ()) or (f"expected {expected}" if expected else None)
        shown = word or ch
        return Diagnostic(
            EC.BAD_CHARACTER, "error", f"unexpected '{shown}'",
            Span.point(path, line + offset, column, len(shown) or 1), help_,
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    previous = (getattr(exc, "token_history", None) or [None])[-1]
    if previous is not None and previous.type == "NAME" and str(previous) in _reserved_words():
        # `when x >= say "…"`: the keyword was read as a name where a value belonged.
        return Diagnostic(
            EC.SYNTAX, "error", f"unexpected '{previous}'",
            Span(path, previous.line + offset, previous.column, previous.line + offset,
                 previous.column + len(previous)),
            f"'{previous}' is a keyword of the language and cannot name a value",
        )
    expected_set = exc.accepts or exc.expected or set()
    expected = _expected_words(expected_set)
    word = _word_at(chunk, tok.line, tok.column)
    if tok.type == "STRING" or not word.startswith(str(tok)):
        word = str(tok)
    help_ = _suggest(word, expected_set) or (f"expected {expected}" if expected else None)
    shown = _describe_token(tok) if word == str(tok) else f"'{word}'"
    end_column = tok.column + len(word) if word != str(tok) else tok.end_column
    return Diagnostic(
        EC.SYNTAX, "error", f"unexpected {shown}",
        Span(path, tok.line + offset, tok.column, (tok.end_line or tok.line) + offset,
             end_column or tok.column + 1),
        help_,
    )


def _describe_token(tok: Token) -> str:
    if tok.type == "STRING":
        return "quoted text"
    value = str(tok)
    if len(value) > 40:
        value = value[:37] + "…"
    return f"'{value}'"


def _expected_words(names: Any) -> str:
    words = _terminal_words()
    described = {words.get(n, n.lower()) for n in names if n not in ("COMMENT",)}
    # Kinds of value ("a whole number") first, then keywords and symbols ('when', ')').
    items = sorted(described, key=lambda w: (w.startswith("'"), w))
    if not items:
        return ""
    if len(items) > 12:
        items = [*items[:12], "…"]
    if len(items) == 1:
        return items[0]
    return "one of " + ", ".join(items)


def _word_at(chunk: str, line: int, column: int) -> str:
    lines = chunk.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    m = re.match(r"[A-Za-z0-9_.*$,-]+", lines[line - 1][column - 1:])
    return m.group(0)[:40] if m else ""


def _suggest(word: str, expected: Any) -> str | None:
    """'did you mean' for a misspelled keyword or a lower-case modifier."""
    if not word:
        return None
    expected = set(expected)
    if "MODIFIER" in expected and re.fullmatch(r"[A-Za-z0-9]{2}", word) and word != word.upper():
        return f"did you mean '{word.upper()}'? modifiers are written in capitals"
    keywords = [w.strip("'") for n, w in _terminal_words().items() if n in expected
                and w.startswith("'")]
    close = difflib.get_close_matches(word, keywords or sorted(_keywords()), n=1, cutoff=0.75)
    if close and close[0] != word:
        return f"did you mean '{close[0]}'?"
    return None


# ---------------------------------------------------------------------------- AST builder


def _unescape(raw: str) -> str:
    """Token text of a STRING (with quotes) → its value."""
    body = raw[1:-1]
    if "\\" not in body:  # nearly every text: nothing to read
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


_PLACEHOLDER = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*")
_TEMPLATE_SPECIAL = re.compile(r"[\\{}]")
# A template with no escape and only well-formed placeholders, and one of its placeholders
# (`_PLACEHOLDER` between braces, blanks around it allowed as `str.strip` allows them).
_NAME_PATH = r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*"
_PLAIN_TEMPLATE = re.compile(rf"(?:[^{{}}\\]|\{{\s*{_NAME_PATH}\s*\}})*")
_TEMPLATE_PLACEHOLDER = re.compile(rf"\{{\s*({_NAME_PATH})\s*\}}")


# The unit word of a quantity → the literal's kind.
_QUANTITY_KINDS = {"minute": "minutes", "minutes": "minutes", "day": "days", "days": "days",
                   "month": "months", "months": "months"}


class _Clause(NamedTuple):
    """A clause a declaration takes at most once, as its builder method returns it: the
    clause's keyword, its value, the span of the whole clause and, for `extends`, the span of
    the base pack's name."""

    keyword: str
    value: Any
    span: Span | None
    detail: Any = None


def _first_and_repeats(clauses: list[_Clause]) -> tuple[dict[str, _Clause], list[A.Repeat]]:
    """The first clause of each keyword, and every later one as a Repeat, in source order."""
    first: dict[str, _Clause] = {}
    repeated = []
    for c in clauses:
        if c.keyword in first:
            repeated.append(A.Repeat(c.keyword, c.value, c.span))
        else:
            first[c.keyword] = c
    return first, repeated


def _value(first: dict[str, _Clause], keyword: str, default: Any = None) -> Any:
    c = first.get(keyword)
    return default if c is None else c.value


def _clause_span(first: dict[str, _Clause], keyword: str) -> Span | None:
    c = first.get(keyword)
    return None if c is None else c.span


# The parser's commonest nodes and spans, made without attrs' per-field object.__setattr__
# (see otrules._slots); every field is passed, in field order or by name.
_new_span = slots_constructor(Span)
_new_name = slots_constructor(A.Name)
_new_binary = slots_constructor(A.Binary)
_new_attribute = slots_constructor(A.Attribute)
_new_literal = slots_constructor(A.Literal)
_new_placeholder = slots_constructor(A.Placeholder)
_new_has = slots_constructor(A.Has)
_new_intable = slots_constructor(A.InTable)
_new_inlist = slots_constructor(A.InList)
_new_unary = slots_constructor(A.Unary)
_new_matches = slots_constructor(A.Matches)
_new_ismissing = slots_constructor(A.IsMissing)
_new_call = slots_constructor(A.Call)
_new_lookup = slots_constructor(A.Lookup)
_new_aggregate = slots_constructor(A.Aggregate)
_new_let = slots_constructor(A.Let)
_new_rule = slots_constructor(A.Rule)
_new_template = slots_constructor(A.Template)
_new_foreach = slots_constructor(A.ForEach)


def _head_span(whole: Span | None, last: Span | None) -> Span | None:
    """A declaration's head: from its first token to the end of ``last``, its last part."""
    if whole is None or last is None:
        return whole
    return _new_span(whole.file, whole.line, whole.column, last.end_line, last.end_column)


# Methods of the builder that build no node (grammar rules may not have these names).
_NOT_BUILDERS = frozenset({"build", "resolve"})

# A token as the builders see it: (kind, text, line, column, end line, end column), lines
# counted from the start of the parsed text. The driver makes them; Lark's are converted.
_Tok = tuple[str, str, int, int, int, int]


def _token_tuple(node: Any) -> Any:
    """A leaf of Lark's tree as the builders take it: a Token as a token tuple."""
    if type(node) is not Token:
        return node
    return (node.type, str(node), node.line, node.column, node.end_line, node.end_column)


def _binary(op: A.BinaryOp) -> Any:
    """The builder of a binary operator's node."""
    @_meta
    def build(self: _Builder, span: Span | None, children: list[Any]) -> A.Binary:
        left, right = children
        node = _new_binary(op, left, right, span)
        # self._deep(node, left, right), unrolled: a binary node is the commonest of all
        depth = self.depth
        below_left, below_right = depth.get(id(left), 0), depth.get(id(right), 0)
        level = (below_left if below_left > below_right else below_right) + 1
        if level > self.max_depth:
            raise _TooDeep(span)
        depth[id(node)] = level
        return node
    return build


class _Builder:
    """Parse reductions → AST nodes. Runs during parsing (bottom-up, no recursion): the
    driver calls each builder as it reduces, and for Lark's tree ``build`` does."""

    def __init__(self, path: str, line_offset: int, max_depth: int) -> None:
        self.path = path
        self.offset = line_offset
        self.max_depth = max_depth
        self.depth: dict[int, int] = {}
        self._handlers: dict[Any, Any] = {}
        self._reserved = _reserved_words()

    def build(self, tree: lark.Tree) -> Any:  # type: ignore[type-arg]
        """Post-order walk of Lark's tree with an explicit stack (input depth never reaches
        Python's stack), giving the builders what the driver gives them: token tuples and
        spans."""
        tree_type = lark.Tree
        stack: list[tuple[Any, bool]] = [(tree, False)]
        done: list[Any] = []
        push, pop, emit = stack.append, stack.pop, done.append
        handlers = self._handlers
        while stack:
            node, expanded = pop()
            if type(node) is not tree_type:
                emit(_token_tuple(node))
                continue
            if not expanded:
                push((node, True))
                stack.extend([(child, False) for child in reversed(node.children)])
                continue
            count = len(node.children)
            if count:
                children = done[-count:]
                del done[-count:]
            else:
                children = []
            name = node.data
            handler = handlers.get(name)
            if handler is None:
                handler = handlers[name] = self._lark_handler(str(name))
            emit(handler(node.meta, children))
        return done[0]

    def _lark_handler(self, name: str) -> Any:
        """How to reduce a node of Lark's tree named ``name``: ``f(meta, children)``."""
        found = self.resolve(name)
        if found is None:
            return lambda meta, children: lark.Tree(name, children, meta)
        method, wants_span = found
        if wants_span:
            return lambda meta, children: method(self, self._meta_span(meta), children)
        return lambda meta, children: method(self, children)

    @classmethod
    def resolve(cls, name: str) -> tuple[Any, bool] | None:
        """The builder of nodes named ``name`` (a function of the class, called with the
        builder first), and whether it takes the node's span; None if there is none."""
        method = None if name.startswith("_") or name in _NOT_BUILDERS else \
            getattr(cls, name, None)
        if method is None or not callable(method):
            return None
        return method, getattr(method, "_wants_meta", False)

    # ----------------------------------------------------------------- helpers
    def _meta_span(self, meta: Any) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return _new_span(self.path, meta.line + self.offset, meta.column,
                         meta.end_line + self.offset, meta.end_column)

    def _tspan(self, tok: _Tok) -> Span:
        return _new_span(self.path, tok[2] + self.offset, tok[3], tok[4] + self.offset, tok[5])

    def _deep(self, node: Any, *children: Any) -> Any:
        depth = self.depth
        level = 1
        for child in children:
            below = depth.get(id(child), 0)
            if below >= level:
                level = below + 1
        if level > self.max_depth:
            raise _TooDeep(getattr(node, "span", None))
        self.depth[id(node)] = level
        return node

    def _deep1(self, node: Any, child: Any) -> Any:
        """``_deep(node, child)`` for a node of one child, the commonest case."""
        level = self.depth.get(id(child), 0) + 1
        if level > self.max_depth:
            raise _TooDeep(getattr(node, "span", None))
        self.depth[id(node)] = level
        return node

    def _abort(self, code: str, message: str, span: Span | None, help_: str | None = None) -> None:
        raise _Abort(Diagnostic(code, "error", message, span, help_))

    def _date(self, tok: _Tok) -> dt.date:
        try:
            return dt.date.fromisoformat(tok[1])
        except ValueError:
            self._abort(EC.BAD_LITERAL, f"'{tok[1]}' is not a calendar date", self._tspan(tok),
                        "write dates as YYYY-MM-DD, for example 2026-01-31")
            raise  # unreachable

    # ----------------------------------------------------------------- top level
    def start(self, children: list[Any]) -> list[A.Decl]:
        return children

    @_meta
    def pack_header(self, span: Span | None, children: list[Any]) -> A.PackHeader:
        name_tok, *rest = children
        head = [self._tspan(name_tok)]
        title = None
        clauses = []
        for child in rest:
            if type(child) is tuple:  # the title's STRING token (clauses are _Clause)
                title = _unescape(child[1])
                head.append(self._tspan(child))
            else:
                clauses.append(child)
        first, repeated = _first_and_repeats(clauses)
        extends = first.get("extends")
        return A.PackHeader(
            name=name_tok[1], title=title, version=_value(first, "version"),
            payers=_value(first, "payer", ()), effective=_value(first, "effective"),
            extends=_value(first, "extends"), about=_value(first, "about"),
            repeated=tuple(repeated), span=span, name_span=head[0],
            extends_span=extends.detail if extends else None,
            head_span=_head_span(span, head[-1]),
            version_span=_clause_span(first, "version"), payer_span=_clause_span(first, "payer"),
            extends_clause_span=_clause_span(first, "extends"),
            about_span=_clause_span(first, "about"),
        )

    @_meta
    def version_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        tok = children[0]
        value = _unescape(tok[1]) if tok[0] == "STRING" else tok[1]
        return _Clause("version", value, span)

    @_meta
    def payer_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("payer", tuple([t[1] for t in children]), span)

    @_meta
    def extends_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("extends", children[0][1], span, self._tspan(children[0]))

    @_meta
    def effective_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("effective", A.DateRange(self._date(children[0]),
                                                self._date(children[1]), span), span)

    @_meta
    def about_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("about", _unescape(children[0][1]), span)

    @_meta
    def source_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("source", _unescape(children[0][1]), span)

    @_meta
    def units_decl(self, span: Span | None, children: list[Any]) -> A.UnitsDecl:
        method = children[0]
        table = column = None
        if len(children) > 1:
            table, column = children[1]
        return A.UnitsDecl(method, table, column, span)  # type: ignore[arg-type]

    def unit_method(self, children: list[_Tok]) -> str:
        return children[0][1]

    def timed_by(self, children: list[_Tok]) -> tuple[str, str]:
        return children[0][1], children[1][1]

    @_meta
    def type_name(self, span: Span | None, children: list[_Tok]) -> A.TypeRef:
        return A.TypeRef(children[0][1], span)

    # ----------------------------------------------------------------- parameters
    @_meta
    def parameter(self, span: Span | None, children: list[Any]) -> A.Parameter:
        override = children[0][0] == "OVERRIDE"  # a token: OVERRIDE or the NAME
        rest = children[1:] if override else children
        name_tok, type_ref, *parts = rest
        constant, periods, clauses = None, [], []
        for c in parts:
            if isinstance(c, A.Period):
                periods.append(c)
            elif isinstance(c, A.Literal):
                constant = c
            else:
                clauses.append(c)
        first, repeated = _first_and_repeats(clauses)
        head_end = constant.span if constant is not None else type_ref.span
        return A.Parameter(
            name_tok[1], type_ref, constant, tuple(periods), _value(first, "about"),
            _value(first, "source"), override, tuple(repeated), span,
            self._tspan(name_tok), head_span=_head_span(span, head_end),
            about_span=_clause_span(first, "about"), source_span=_clause_span(first, "source"),
        )

    def param_constant(self, children: list[Any]) -> A.Literal:
        return children[0]  # type: ignore[no-any-return]

    @_meta
    def period(self, span: Span | None, children: list[Any]) -> A.Period:
        return A.Period(self._date(children[0]), self._date(children[1]), children[2],
                        span)

    # ----------------------------------------------------------------- tables
    @_meta
    def table(self, span: Span | None, children: list[Any]) -> A.Table:
        override = children[0][0] == "OVERRIDE"  # a token: OVERRIDE or the name
        rest = children[1:] if override else children
        name_tok, *parts = rest
        head = [self._tspan(name_tok)]
        f: dict[str, Any] = {"title": None, "file": None, "layout": None, "file_span": None}
        columns, rows, clauses = [], [], []
        for c in parts:
            if type(c) is tuple:  # the title's STRING token
                f["title"] = _unescape(c[1])
                head.append(self._tspan(c))
            elif isinstance(c, A.Column):
                columns.append(c)
            elif isinstance(c, A.Row):
                rows.append(c)
            elif c.keyword != "from":
                clauses.append(c)
            else:  # `from "file" as layout`, part of the head
                f["file"], f["layout"], f["file_span"] = c.value
                head.append(f["file_span"])
        first, repeated = _first_and_repeats(clauses)
        valid_from, valid_until = _value(first, "valid", (None, None))
        return A.Table(
            name=name_tok[1], columns=tuple(columns), rows=tuple(rows),
            valid_from=valid_from, valid_until=valid_until, source=_value(first, "source"),
            override=override, repeated=tuple(repeated), span=span,
            name_span=head[0], valid_span=_clause_span(first, "valid"),
            head_span=_head_span(span, head[-1]),
            source_span=_clause_span(first, "source"), **f,
        )

    @_meta
    def table_from(self, span: Span | None, children: list[_Tok]) -> _Clause:
        layout = children[1][1] if len(children) > 1 else None
        return _Clause("from", (_unescape(children[0][1]), layout, span), span)

    @_meta
    def key_clause(self, span: Span | None, children: list[Any]) -> A.Column:
        return A.Column(children[0][1], children[1], False, True, span)

    @_meta
    def column_clause(self, span: Span | None, children: list[Any]) -> A.Column:
        optional = len(children) == 3
        return A.Column(children[0][1], children[-1], optional, False, span)

    @_meta
    def valid_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("valid", (children[0][1], children[1][1]), span)

    @_meta
    def row(self, span: Span | None, children: list[A.Literal]) -> A.Row:
        return A.Row(tuple(children), span)

    @_meta
    def word_value(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("word", children[0][1], children[0][1], span)

    @_meta
    def none_value(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("none", None, "none", span)

    # ----------------------------------------------------------------- rules
    @_meta
    def rule(self, span: Span | None, children: list[Any]) -> A.Rule:
        override = children[0][0] == "OVERRIDE"  # a token: OVERRIDE or the name
        rest = children[1:] if override else children
        id_tok, severity_tok, *parts = rest
        lets_before: list[A.Let] = []
        lets_after: list[A.Let] = []
        iteration = None
        clauses = []
        for c in parts:
            if isinstance(c, A.Let):
                (lets_after if iteration is not None else lets_before).append(c)
            elif isinstance(c, A.ForEach):
                clauses.append(_Clause("for each", c, c.span))
                if iteration is None:
                    iteration = c
            else:
                clauses.append(c)
        first, repeated = _first_and_repeats(clauses)
        # Each clause looked up once (a rule is read for every rule of a pack).
        about, when, say, source = (first.get("about"), first.get("when"), first.get("say"),
                                    first.get("source"))
        return _new_rule(
            id=id_tok[1], severity=severity_tok[1],  # type: ignore[arg-type]
            override=override, about=None if about is None else about.value,
            effective=_value(first, "effective"), lets_before=tuple(lets_before),
            iteration=iteration, lets_after=tuple(lets_after),
            when=None if when is None else when.value, say=None if say is None else say.value,
            fix=_value(first, "fix"), source=None if source is None else source.value,
            repeated=tuple(repeated), span=span, id_span=self._tspan(id_tok),
            source_span=None if source is None else source.span,
            head_span=_head_span(span, self._tspan(severity_tok)),
            about_span=None if about is None else about.span,
            when_span=None if when is None else when.span,
            say_span=None if say is None else say.span,
        )

    def severity(self, children: list[_Tok]) -> _Tok:
        return children[0]

    @_meta
    def let_clause(self, span: Span | None, children: list[Any]) -> A.Let:
        self._not_keyword(children[0])
        return _new_let(children[0][1], children[1], span)

    @_meta
    def for_each(self, span: Span | None, children: list[Any]) -> A.ForEach:
        kind, names, table = children[0]
        where = children[1] if len(children) > 1 else None
        return _new_foreach(kind, names, table, where, span)

    def each_line(self, children: list[_Tok]) -> tuple[str, tuple[str, ...], None]:
        # ``for each line as this``: the element is named ``this`` instead of ``line``
        return "line", (children[0][1] if children else "line",), None

    def each_diagnosis(self, children: list[_Tok]) -> tuple[str, tuple[str, ...], None]:
        return "diagnosis", (children[0][1] if children else "diagnosis",), None

    def each_pair(self, children: list[_Tok]) -> tuple[str, tuple[str, ...], str | None]:
        table = children[2][1] if len(children) > 2 else None
        return "pair", (children[0][1], children[1][1]), table

    @_meta
    def when_clause(self, span: Span | None, children: list[Any]) -> _Clause:
        return _Clause("when", children[0], span)

    @_meta
    def say_clause(self, span: Span | None, children: list[_Tok]) -> _Clause:
        return _Clause("say", self._template(children[0]), span)

    @_meta
    def fix_clause(self, span: Span | None, children: list[Any]) -> _Clause:
        return _Clause("fix", attrs.evolve(children[0], span=span), span)

    def fix_add_modifier(self, children: list[_Tok]) -> A.Fix:
        return A.Fix("add_modifier", children[0][1], None)

    def fix_set_units(self, children: list[Any]) -> A.Fix:
        return A.Fix("set_units", None, children[0])

    @_meta
    def disable(self, span: Span | None, children: list[Any]) -> A.Disable:
        kind, target_tok = children[0]
        return A.Disable(kind, target_tok[1], _unescape(children[1][1]), span,
                         self._tspan(target_tok))

    def disable_rule(self, children: list[_Tok]) -> tuple[str, _Tok]:
        return "rule", children[0]

    def disable_parameter(self, children: list[_Tok]) -> tuple[str, _Tok]:
        return "parameter", children[0]

    # ----------------------------------------------------------------- templates
    def _template(self, tok: _Tok) -> A.Template:
        raw = tok[1][1:-1]
        line = tok[2] + self.offset
        col0 = tok[3] + 1  # column of the first character inside the quotes
        parts = self._plain_template(raw, line, col0)
        if parts is None:
            parts = self._escaped_template(raw, line, col0)
        return _new_template(tuple(parts), self._tspan(tok))

    def _plain_template(self, raw: str, line: int, col0: int) -> list[Any] | None:
        """The parts of a template without backslashes whose braces all hold placeholders
        (nearly every message), or None for `_escaped_template` to read (and explain)."""
        if not _PLAIN_TEMPLATE.fullmatch(raw):
            return None
        parts: list[str | A.Placeholder] = []
        at = 0  # offset in raw of the text not yet read
        for found in _TEMPLATE_PLACEHOLDER.finditer(raw):
            start, end = found.span()
            if start > at:
                parts.append(raw[at:start])
            span = _new_span(self.path, line, col0 + start, line, col0 + end)
            parts.append(_new_placeholder(tuple(found[1].split(".")), span))
            at = end
        if at < len(raw):
            parts.append(raw[at:])
        return parts

    def _escaped_template(self, raw: str, line: int, col0: int) -> list[Any]:
        """The parts of any template, escapes read and misplaced braces reported."""
        parts: list[str | A.Placeholder] = []
        buf: list[str] = []
        i = 0
        special = _TEMPLATE_SPECIAL.search
        while i < len(raw):
            found = special(raw, i)  # plain text up to the next backslash or brace
            if found is None:
                buf.append(raw[i:])
                break
            if found.start() > i:
                buf.append(raw[i:found.start()])
                i = found.start()
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                buf.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            if ch == "{":
                end = raw.find("}", i)
                inner = raw[i + 1:end] if end != -1 else raw[i + 1:]
                span = _new_span(self.path, line, col0 + i, line, col0 + (end + 1 if end != -1
                                                                        else len(raw)))
                if end == -1 or not _PLACEHOLDER.fullmatch(inner.strip()):
                    self._abort(EC.BAD_PLACEHOLDER,
                                f"'{{{inner[:30]}' is not a placeholder", span,
                                "write a dotted name such as {line.code}; write \\{ for a "
                                "literal brace")
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(_new_placeholder(tuple(inner.strip().split(".")), span))
                i = end + 1
                continue
            if ch == "}":
                span = _new_span(self.path, line, col0 + i, line, col0 + i + 1)
                self._abort(EC.BAD_PLACEHOLDER, "'}' closes no placeholder", span,
                            "write \\} for a literal brace")
            buf.append(ch)
            i += 1
        if buf:
            parts.append("".join(buf))
        return parts

    # ----------------------------------------------------------------- expressions
    add, sub = _binary("+"), _binary("-")
    mul, div, floordiv, mod = _binary("*"), _binary("/"), _binary("//"), _binary("%")
    eq, ne, lt, le, gt, ge = (_binary(op) for op in ("=", "!=", "<", "<=", ">", ">="))
    and_op, or_op = _binary("and"), _binary("or")

    @_meta
    def not_op(self, span: Span | None, children: list[Any]) -> A.Unary:
        return self._deep1(_new_unary("not", children[0], span), children[0])  # type: ignore[no-any-return]

    @_meta
    def neg(self, span: Span | None, children: list[Any]) -> A.Unary:
        return self._deep1(_new_unary("-", children[0], span), children[0])  # type: ignore[no-any-return]

    @_meta
    def if_expr(self, span: Span | None, children: list[Any]) -> A.IfElse:
        return self._deep(A.IfElse(*children, span=span), *children)  # type: ignore[no-any-return]

    @_meta
    def in_op(self, span: Span | None, children: list[Any]) -> A.Expr:
        return self._membership(span, children, False)

    @_meta
    def not_in_op(self, span: Span | None, children: list[Any]) -> A.Expr:
        return self._membership(span, children, True)

    def _membership(self, span: Span | None, children: list[Any], negated: bool) -> A.Expr:
        subject, container = children
        if type(container) is tuple:  # a table's NAME token (a list is the items)
            return self._deep1(_new_intable(subject, container[1], negated, span), subject)  # type: ignore[no-any-return]
        items = tuple(container)
        return self._deep(_new_inlist(subject, items, negated, span), subject, *items)  # type: ignore[no-any-return]

    def table_ref(self, children: list[_Tok]) -> _Tok:
        return children[0]

    def item_list(self, children: list[Any]) -> list[Any]:
        return children

    @_meta
    def has_op(self, span: Span | None, children: list[Any]) -> A.Has:
        mode, mods = children[1]
        return self._deep1(_new_has(children[0], mode, mods, False, span), children[0])  # type: ignore[no-any-return]

    @_meta
    def lacks_op(self, span: Span | None, children: list[Any]) -> A.Has:
        mode, mods = children[1]
        return self._deep1(_new_has(children[0], mode, mods, True, span), children[0])  # type: ignore[no-any-return]

    def mod_one(self, children: list[_Tok]) -> tuple[str, tuple[str, ...]]:
        return "one", (children[0][1],)

    def mod_any(self, children: list[Any]) -> tuple[str, tuple[str, ...]]:
        return "any", children[0]

    def mod_all(self, children: list[Any]) -> tuple[str, tuple[str, ...]]:
        return "all", children[0]

    def mod_many(self, children: list[Any]) -> tuple[str, tuple[str, ...]]:
        return "many", children[0]

    def modifier_list(self, children: list[_Tok]) -> tuple[str, ...]:
        return tuple([t[1] for t in children])

    def pattern_list(self, children: list[_Tok]) -> tuple[str, ...]:
        return tuple([t[1] for t in children])

    @_meta
    def matches_op(self, span: Span | None, children: list[Any]) -> A.Matches:
        return self._deep1(_new_matches(children[0], children[1], span), children[0])  # type: ignore[no-any-return]

    @_meta
    def is_missing(self, span: Span | None, children: list[Any]) -> A.IsMissing:
        return self._deep1(_new_ismissing(children[0], False, span), children[0])  # type: ignore[no-any-return]

    @_meta
    def is_present(self, span: Span | None, children: list[Any]) -> A.IsMissing:
        return self._deep1(_new_ismissing(children[0], True, span), children[0])  # type: ignore[no-any-return]

    @_meta
    def attribute(self, span: Span | None, children: list[Any]) -> A.Attribute:
        node = _new_attribute(children[0], children[1][1], span)
        return self._deep1(node, children[0])  # type: ignore[no-any-return]

    @_meta
    def lookup(self, span: Span | None, children: list[Any]) -> A.Lookup:
        keys = tuple(children[1:])
        return self._deep(_new_lookup(children[0][1], keys, span), *keys)  # type: ignore[no-any-return]

    @_meta
    def name(self, span: Span | None, children: list[_Tok]) -> A.Name:
        word = children[0][1]
        if word in self._reserved:
            self._not_keyword(children[0])
        return _new_name(word, span)

    def _not_keyword(self, tok: _Tok) -> None:
        # The contextual lexer reads a keyword as a name where no keyword can come
        # (`when x >= say`); a name may never be a keyword, so report it as out of place.
        word = tok[1]
        if word in self._reserved:
            self._abort(EC.SYNTAX, f"unexpected '{word}'", self._tspan(tok),
                        f"'{word}' is a keyword of the language and cannot name a value")

    @_meta
    def call(self, span: Span | None, children: list[Any]) -> A.Call:
        args = tuple(c for c in children[1:] if c is not None)
        return self._deep(_new_call(children[0][1], args, span), *args)  # type: ignore[no-any-return]

    def collection(self, children: list[_Tok]) -> str:
        return children[0][1]

    def element(self, children: list[_Tok]) -> str:
        return children[0][1]

    def _agg(self, span: Span | None, kind: str, collection: str, rest: list[Any],
             value: A.Expr | None) -> A.Aggregate:
        var = "line" if collection in ("lines", "line") else "diagnosis"
        where = None
        for item in rest:
            if type(item) is tuple:  # the NAME token of `as NAME` (else the condition)
                var = item[1]
            else:
                where = item
        coll = "lines" if collection in ("lines", "line") else "diagnoses"
        node = _new_aggregate(kind, coll, var, value, where, span)  # type: ignore[arg-type]
        return self._deep(node, *(c for c in (value, where) if c is not None))  # type: ignore[no-any-return]

    @_meta
    def count_agg(self, span: Span | None, children: list[Any]) -> A.Aggregate:
        return self._agg(span, "count", children[0], children[1:], None)

    @_meta
    def sum_agg(self, span: Span | None, children: list[Any]) -> A.Aggregate:
        return self._agg(span, "sum", children[1], children[2:], children[0])

    @_meta
    def any_agg(self, span: Span | None, children: list[Any]) -> A.Aggregate:
        return self._agg(span, "any", children[0], children[1:], None)

    @_meta
    def no_agg(self, span: Span | None, children: list[Any]) -> A.Aggregate:
        return self._agg(span, "no", children[0], children[1:], None)

    @_meta
    def any_diagnosis_matches(self, span: Span | None, children: list[Any]) -> A.Aggregate:
        cond = _new_matches(_new_name("diagnosis", span), children[0], span)
        return _new_aggregate("any", "diagnoses", "diagnosis", None, cond, span)

    # ----------------------------------------------------------------- literals
    @_meta
    def int_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("number", int(children[0][1]), children[0][1], span)

    @_meta
    def decimal_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("number", Decimal(children[0][1]), children[0][1], span)

    @_meta
    def money_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        text = children[0][1]
        try:
            value = Decimal(text[1:].replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the token regex prevents it
            self._abort(EC.BAD_LITERAL, f"'{text}' is not an amount", span)
            raise
        return _new_literal("money", value, text, span)

    @_meta
    def quantity_lit(self, span: Span | None, children: list[Any]) -> A.Literal:
        if not children[0][1].isdigit():  # `G0283 minutes`: a code where a count belongs
            self._abort(EC.SYNTAX, f"unexpected '{children[0][1]}'", self._tspan(children[0]),
                        "a quantity is a whole number followed by its unit: 15 minutes")
        count = int(children[0][1])
        unit = children[1]
        kind = _QUANTITY_KINDS[unit]
        value: A.LiteralValue = A.Months(count) if kind == "months" else count
        return _new_literal(kind, value, f"{children[0][1]} {unit}", span)  # type: ignore[arg-type]

    def quantity_unit(self, children: list[_Tok]) -> str:
        return children[0][1]

    @_meta
    def date_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("date", self._date(children[0]), children[0][1], span)

    @_meta
    def string_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("text", _unescape(children[0][1]), children[0][1], span)

    @_meta
    def code_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("code", children[0][1], children[0][1], span)

    @_meta
    def yes_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("flag", True, "yes", span)

    @_meta
    def no_lit(self, span: Span | None, children: list[_Tok]) -> A.Literal:
        return _new_literal("flag", False, "no", span)
