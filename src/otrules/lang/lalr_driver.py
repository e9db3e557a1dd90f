"""A lean LALR(1) driver over the tables Lark builds from ``grammar/otrules.lark``.

Lark stays the definition of the language: it reads the grammar, builds the LALR tables and
the contextual lexer's patterns, and it is the parser that explains every syntax error. This
module only *runs* those tables, faster than Lark's general machinery can, because it does
the one job the parser needs on valid input and nothing else:

* the text is lexed line by line (no token of the grammar can hold a newline, which
  :func:`_check_terminals` proves from the patterns when the tables are built), so a token's
  line is the loop's line number and its column its offset in the line; one regular
  expression per lexer state (Lark's own alternatives, in Lark's order), whitespace and
  comments skipped by the same match (see :func:`_state_lexer`);
* a token is a plain tuple ``(kind, text, line, column, end line, end column)``, and the AST
  builders take it as it is: no ``lark.Token`` is ever made;
* no parse tree: each production has a small reduction function, generated once when the
  tables are built, that pops its symbols, builds the node's children list and span, calls
  the builder and pushes the result — the same positions Lark's ``propagate_positions`` gives,
  rule for rule (``tests/test_lalr_driver.py`` compares both paths, spans included, over every
  bundled pack and random packs). The generated code is made of stack offsets and fixed names
  only; what differs between productions (builders, goto rows) is passed in as values;
* the `?a: b` reductions (the precedence levels, from `atom` up to `expr`)
  leave the value as it is and only change the top state, so the run of them that follows a
  reduction is looked up in a memo by the reduction itself.

Anything the driver does not accept raises :class:`DriverFailed`, and the caller parses the
same text with Lark to report the error in Lark's words. The driver also bounds the depth of
the parse stack, so that deeply nested parentheses — which make no AST node of their own —
meet the nesting limit too.
"""

from __future__ import annotations

import functools
import re
import re._compiler as _sre_compile
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Callable, Iterable
from typing import Any

import lark
from lark.parsers.lalr_analysis import Shift

# Ignored text between tokens inside one line: the grammar's %ignore terminals, WS and
# COMMENT (checked against the grammar in `_check_ignored`), less the newline.
_SKIP = re.compile(r"(?:[ \t\f\r]+|#[^\n]*)*")
_IGNORED = {"WS": "(?:[ \t\x0c\r\n])+", "COMMENT": "#[^\n]*"}
_SKIPPED_CHARS = frozenset(map(ord, " \t\f\r\n#"))
_END = "$END"

# How a reduction treats each symbol it pops (see Lark's ParseTreeBuilder: filtered tokens,
# inlined `_rules`, kept children).
_DROP, _TOKEN, _VALUE, _SPLICE = range(4)

# The stack holds four slots per entry: state, value, first token, last token covered.
_SLOTS = 4

# A builder of the nodes of one production name: the function, and whether it takes the
# node's span before its children (``f(builder, span, children)``, else
# ``f(builder, children)``).
Resolver = Callable[[str], "tuple[Callable[..., Any], bool] | None"]
SpanFactory = Callable[[str, int, int, int, int], Any]


# The lexer of a parser state: the match function of its terminals (after the ignored
# text; see _state_lexer for its groups), and its keyword map (a NAME whose text is a
# keyword of that state becomes the keyword, as Lark's lexer does), or None.
_Lexer = tuple[Callable[..., Any], dict[Any, str] | None]


class DriverFailed(Exception):
    """The driver does not accept this text; parse it with Lark to explain why."""


class StackTooDeep(Exception):
    """The parse stack grew past the nesting limit (deep parentheses, long chains of `not`)."""

    def __init__(self, line: int, column: int, end_column: int) -> None:
        super().__init__("nested too deep")
        self.line, self.column, self.end_column = line, column, end_column


class _Rule:
    __slots__ = (
        "chain",
        "grows",
        "keep",
        "kept",
        "name",
        "origin",
        "parts",
        "pass_through",
        "size",
        "spliced",
        "symbols",
    )

    def __init__(self, rule: Any) -> None:
        keep_all = rule.options.keep_all_tokens
        self.size = len(rule.expansion)
        self.origin = str(rule.origin.name)  # plain str: Lark's names are Tokens, slow as keys
        self.name = str(rule.alias or rule.origin.name)
        self.symbols = tuple(str(sym.name) for sym in rule.expansion)
        parts = []
        for sym in rule.expansion:
            if sym.is_term:
                parts.append(_TOKEN if keep_all or not sym.filter_out else _DROP)
            else:
                parts.append(_SPLICE if sym.name.startswith("_") else _VALUE)
        self.parts = tuple(parts)
        kept = sum(1 for p in parts if p != _DROP)
        # `?rule` with one child left after filtering: the child itself, no node.
        self.pass_through = bool(rule.options.expand1 and not rule.alias) and kept == 1 and \
            _SPLICE not in parts
        self.kept = next((i for i, p in enumerate(parts) if p != _DROP), -1)
        self.chain = self.pass_through and self.size == 1 and parts[0] == _VALUE
        self.keep = tuple((i, p) for i, p in enumerate(parts) if p != _DROP)
        self.spliced = self.name.startswith("_")
        # A left-recursive list rule of an inlined `x*`: its first child is its own list.
        self.grows = self.spliced and bool(parts) and parts[0] == _SPLICE and \
            self.symbols[0] == self.origin


class Tables:
    """Lark's LALR tables and lexer patterns, rearranged for a tight loop."""

    def __init__(self, parser: lark.Lark) -> None:
        frontend = parser.parser
        table = frontend.parser.parser.parse_table
        rules: dict[Any, int] = {}
        self.rules: list[_Rule] = []
        size = max(table.states) + 1
        # actions[state][terminal] = next state (>= 0) for a shift, ~rule index for a reduce
        self.actions: list[dict[str, int]] = [{} for _ in range(size)]
        self.goto: list[dict[str, int]] = [{} for _ in range(size)]
        for state, row in table.states.items():
            acts, gotos = self.actions[state], self.goto[state]
            for symbol, (action, arg) in row.items():
                symbol = str(symbol)
                if action is Shift:
                    (acts if symbol.isupper() or symbol == _END else gotos)[symbol] = arg
                else:
                    if arg not in rules:
                        rules[arg] = len(self.rules)
                        self.rules.append(_Rule(arg))
                    acts[symbol] = ~rules[arg]
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.lexers = self._lexers(frontend.lexer, size)
        # (state below, top state, lookahead) → top state after a run of chain reductions;
        # filled as texts are parsed (a dict write is atomic, so threads may share it).
        self.chains: dict[tuple[int, int, str], int] = {}

    @staticmethod
    def _lexers(contextual: Any, size: int) -> list[_Lexer | None]:
        """Per parser state, its lexer (see :data:`_Lexer`)."""
        built: dict[int, _Lexer] = {}
        out: list[_Lexer | None] = [None] * size
        for state, basic in contextual.lexers.items():
            if id(basic) not in built:
                built[id(basic)] = _state_lexer(basic)
            out[state] = built[id(basic)]
        return out


def _state_lexer(basic: Any) -> _Lexer:
    """The match function and keyword map of one of Lark's basic lexers."""
    scanner = basic.scanner
    if len(scanner._mres) != 1 or any(
            not hasattr(cb, "scanner") for cb in basic.callback.values()):
        raise RuntimeError("the grammar needs Lark's general lexer")
    _check_ignored(basic)
    keywords = {}
    for kind, callback in basic.callback.items():
        for term in callback.scanner.terminals:
            if term.pattern.flags or term.pattern.type != "str" or "\n" in term.pattern.value:
                raise RuntimeError("the grammar needs Lark's general lexer")
            keywords[(str(kind), str(term.pattern.value))] = str(term.name)
    terminals = [(str(t.name), t.pattern.to_regexp()) for t in scanner.terminals
                 if t.name not in basic.ignore_types]
    flags = scanner.g_regex_flags
    _check_terminals((regexp for _, regexp in terminals), flags)
    # Ignored text first, as group 1 (possessive: it never gives back), then Lark's
    # alternatives in Lark's order, less the ignored ones (which never match after the skip).
    # Each alternative names its terminal by an empty group at its end rather than a group
    # around it: the regex engine then skips an alternative whose first character does not
    # match without entering it: 20-24% less matching time over a parse, measured. (One
    # match per token: a separate skip, then a match among only the alternatives that can
    # start with the next character, was measured no faster.)
    # (A state that takes no terminal at all takes the end of the text only: `(?!)`.)
    pattern = "|".join(f"(?:{regexp})(?P<{name}>)" for name, regexp in terminals) or "(?!)"
    return re.compile(f"({_SKIP.pattern}+)(?:{pattern})", flags).match, keywords or None


def _check_ignored(basic: Any) -> None:
    ignored = {t.name: t.pattern.to_regexp() for t in basic.terminals
               if t.name in basic.ignore_types}
    if ignored != _IGNORED:
        raise RuntimeError("the grammar ignores other text than whitespace and comments")


# ---------------------------------------------------------------------------- terminals
#
# The driver lexes line by line and skips whitespace and comments before matching a token;
# both are exact only if no terminal can match a newline, look past the end of its line, or
# start with a character that is skipped. These functions prove it from the parsed patterns
# (over the ASCII characters, enough for the characters in question), or refuse the grammar.

_ASCII = range(128)
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT)
_ONE_CHAR = (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN, _sre.CATEGORY)
_SAFE_ANCHORS = (_sre.AT_BOUNDARY, _sre.AT_NON_BOUNDARY)  # a newline is a non-word character


class _Refused(Exception):
    pass


def _check_terminals(patterns: Iterable[str], flags: int) -> None:
    for pattern in patterns:
        if not _lexable_by_line(pattern, flags):
            raise RuntimeError(f"the driver cannot lex the terminal /{pattern}/")


@functools.cache  # each terminal is in many states' lexers
def _lexable_by_line(pattern: str, flags: int) -> bool:
    try:
        parsed = _sre_parse.parse(pattern, flags)
        first, _ = _first(parsed, flags)
        return not first & _SKIPPED_CHARS and ord("\n") not in _chars(parsed, flags)
    except _Refused:
        return False


def _char_set(op: Any, av: Any, flags: int) -> set[int]:
    """The ASCII characters that one single-character element matches."""
    if not flags & (re.IGNORECASE | re.DOTALL):  # read the common elements directly
        if op is _sre.LITERAL:
            return {av} & set(_ASCII)
        if op is _sre.NOT_LITERAL:
            return set(_ASCII) - {av}
        if op is _sre.IN and all(o in (_sre.LITERAL, _sre.RANGE, _sre.NEGATE) for o, _ in av):
            chars = set()
            for o, a in av:
                chars |= {a} if o is _sre.LITERAL else set(range(a[0], a[1] + 1)) \
                    if o is _sre.RANGE else set()
            chars &= set(_ASCII)
            return set(_ASCII) - chars if (_sre.NEGATE, None) in av else chars
    return _char_set_compiled(op, av, flags)


def _char_set_compiled(op: Any, av: Any, flags: int) -> set[int]:
    """`_char_set` by trying each character against the compiled element."""
    state = _sre_parse.State()
    state.flags = flags
    sub = _sre_parse.SubPattern(state, [(op, av)])
    fullmatch = _sre_compile.compile(sub, flags).fullmatch
    return {c for c in _ASCII if fullmatch(chr(c))}


def _first(items: Any, flags: int) -> tuple[set[int], bool]:
    """The characters a sequence can start with, and whether it can match nothing."""
    first: set[int] = set()
    for op, av in items:
        chars, nullable = _first_of(op, av, flags)
        first |= chars
        if not nullable:
            return first, False
    return first, True


def _first_of(op: Any, av: Any, flags: int) -> tuple[set[int], bool]:
    if op in _ONE_CHAR:
        return _char_set(op, av, flags), False
    if op is _sre.SUBPATTERN:
        return _first(av[3], (flags | av[1]) & ~av[2])
    if op is _sre.ATOMIC_GROUP:
        return _first(av, flags)
    if op is _sre.BRANCH:
        found = [_first(alt, flags) for alt in av[1]]
        return set().union(*(f for f, _ in found)), any(n for _, n in found)
    if op in _REPEATS:
        chars, nullable = _first(av[2], flags)
        return chars, nullable or av[0] == 0
    if op is _sre.AT and av in _SAFE_ANCHORS:
        return set(), True
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        # At a line's end (or start) the driver's lookaround sees the end of the text where
        # Lark's sees a newline: the same answer when the looked-for text consumes at least
        # one character and never a newline.
        _, nullable = _first(av[1], flags)
        if nullable or ord("\n") in _chars(av[1], flags):
            raise _Refused
        return set(), True
    raise _Refused


def _chars(items: Any, flags: int) -> set[int]:
    """Every character that a sequence can match anywhere (lookarounds included)."""
    out: set[int] = set()
    for op, av in items:
        if op in _ONE_CHAR:
            out |= _char_set(op, av, flags)
        elif op is _sre.SUBPATTERN:
            out |= _chars(av[3], (flags | av[1]) & ~av[2])
        elif op is _sre.ATOMIC_GROUP:
            out |= _chars(av, flags)
        elif op is _sre.BRANCH:
            for alt in av[1]:
                out |= _chars(alt, flags)
        elif op in _REPEATS:
            out |= _chars(av[2], flags)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            out |= _chars(av[1], flags)
        elif not (op is _sre.AT and av in _SAFE_ANCHORS):
            raise _Refused
    return out


# ---------------------------------------------------------------------------- reductions


class Program:
    """The tables with one generated reduction function per production, for the builders
    that ``resolve`` finds (see :data:`Resolver`) and the spans that ``make_span`` makes."""

    def __init__(self, tables: Tables, resolve: Resolver, make_span: SpanFactory) -> None:
        self.tables = tables
        raw = _raw_token_symbols(tables.rules)
        nullable = _nullable_symbols(tables.rules)
        gotos = _goto_by_symbol(tables)
        # None for a chain reduction (`?a: b`), which the driver follows through its memo.
        self.reducers: list[Callable[..., int] | None] = [
            None if rule.chain else _reducer(rule, resolve, make_span, tables,
                                             gotos[rule.origin], raw, nullable)
            for rule in tables.rules
        ]


def _goto_by_symbol(tables: Tables) -> dict[str, dict[int, int]]:
    """Nonterminal → (state below → state after the goto)."""
    out: dict[str, dict[int, int]] = {}
    for state, row in enumerate(tables.goto):
        for symbol, target in row.items():
            out.setdefault(symbol, {})[state] = target
    return out


def _nullable_symbols(rules: list[_Rule]) -> set[str]:
    """Nonterminals that can cover no token at all (their entries have no first token)."""
    return _closure(rules, lambda rule, found: all(s in found for s in rule.symbols))


def _raw_token_symbols(rules: list[_Rule]) -> set[str]:
    """Nonterminals whose value can be a bare token (a `?rule` that keeps one token)."""
    return _closure(rules, lambda rule, found: rule.pass_through and (
        rule.parts[rule.kept] == _TOKEN or rule.symbols[rule.kept] in found))


def _closure(rules: list[_Rule], gives: Callable[[_Rule, set[str]], bool]) -> set[str]:
    """The least set of nonterminals closed under ``gives``: a rule's origin is in it when
    ``gives(rule, the set so far)`` holds (repeated until nothing more is added)."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for rule in rules:
            if rule.origin not in found and gives(rule, found):
                found.add(rule.origin)
                changed = True
    return found


def _reducer(rule: _Rule, resolve: Resolver, make_span: SpanFactory, tables: Tables,
             goto: dict[int, int], raw: set[str], nullable: set[str]) -> Callable[..., int]:
    """The function ``reduce(stack, builder, path, line_offset, lookahead) -> new state`` of
    one production, compiled from generated source made of stack offsets only."""
    n = rule.size
    width = _SLOTS * n
    env: dict[str, Any] = {"_goto": goto, "_span": make_span, "_first": _first_covered,
                           "_last": _last_covered, "_tables": tables,
                           "_follow": _follow_chain,
                           # state below → lookahead → top state after the goto and the run
                           # of `?a: b` reductions the lookahead makes next; filled as texts
                           # are parsed (dict writes are atomic: threads may share it)
                           "_after": {below: {} for below in goto}}

    def value(i: int) -> str:  # the stack slot of the value of the i-th popped symbol
        return f"stack[{i * _SLOTS + 1 - width}]"

    # A one-symbol production replaces its entry in place, which keeps its first and last.
    body = _bounds(rule, n, width, nullable) if n != 1 else []
    if rule.spliced:
        body += _splice(rule, value)
    elif rule.pass_through:
        kept = rule.kept
        if rule.parts[kept] == _VALUE and rule.symbols[kept] in raw:
            # Lark would give the lone token its own place; no such rule in the grammar.
            raise RuntimeError(f"the driver cannot pass a bare token through {rule.name}")
        body.append(f"node = {value(kept)}")
        if rule.parts[kept] == _TOKEN and n != 1:  # a token is its own first and last
            body.append("first = last = node")
    else:
        found = resolve(rule.name)
        if found is None:
            raise RuntimeError(f"no builder for {rule.name}")
        env["_build"], wants_span = found
        children = ", ".join(f"*{value(i)}" if part == _SPLICE else value(i)
                             for i, part in rule.keep)
        if wants_span:
            if n == 1:
                body += _bounds(rule, n, width, nullable)
            body.append(_span_line(rule, n, nullable))
            body.append(f"node = _build(builder, span, [{children}])")
        else:
            body.append(f"node = _build(builder, [{children}])")
    body += _push(n, width, _may_chain(tables, goto))
    source = "def reduce(stack, builder, path, off, kind):\n" + \
        "".join(f"    {line}\n" for line in body)
    # The source holds stack offsets and fixed names only, never text from a grammar or pack.
    exec(_compiled(source), env)
    reduce: Callable[..., int] = env["reduce"]
    return reduce


@functools.cache  # many productions have the same source (`_rule_clause: when_clause`, …)
def _compiled(source: str) -> Any:
    return compile(source, "<lalr_driver reduction>", "exec")


def _may_chain(tables: Tables, goto: dict[int, int]) -> bool:
    """Whether a state this reduction can go to reduces `?a: b` on some lookahead."""
    return any(act < 0 and tables.rules[~act].chain
               for state in set(goto.values()) for act in tables.actions[state].values())


def _push(n: int, width: int, chains: bool) -> list[str]:
    """Source lines replacing the popped entries by the reduction's: goto (and the run of
    `?a: b` reductions that the lookahead makes next, see _chain), value, bounds."""
    lines = [f"below = stack[{-width - 4}]"]
    if chains:
        lines += ["after = _after[below]", "state = after.get(kind)", "if state is None:",
                  "    state = after[kind] = _follow(_tables, below, _goto[below], kind)"]
    else:
        lines.append("state = _goto[below]")
    if n == 0:
        lines.append("stack += (state, node, first, last)")
    elif n == 1:
        lines += ["stack[-4] = state", "stack[-3] = node"]
    else:
        lines.append(f"stack[-{width}:] = (state, node, first, last)")
    return [*lines, "return state"]


def _span_line(rule: _Rule, n: int, nullable: set[str]) -> str:
    """The source line setting ``span``, the node's span (None when it covers nothing)."""
    make = "_span(path, first[2] + off, first[3], last[4] + off, last[5])"
    if n == 0:
        return "span = None"
    if all(s in nullable for s in rule.symbols):
        return f"span = None if first is None else {make}"
    return f"span = {make}"


def _bounds(rule: _Rule, n: int, width: int, nullable: set[str]) -> list[str]:
    """Source lines setting ``first`` and ``last``: the first and last token the popped
    symbols cover (Lark's `container` positions), ``None`` when they cover nothing."""
    if n == 0:
        return ["first = last = None"]
    lines = []
    if rule.symbols[0] in nullable:
        lines.append(f"first = _first(stack, {width})")
    else:
        lines.append(f"first = stack[{2 - width}]")
    if rule.symbols[-1] in nullable:
        lines.append(f"last = _last(stack, {width})")
    else:
        lines.append("last = stack[-1]")
    return lines


def _splice(rule: _Rule, value: Callable[[int], str]) -> list[str]:
    """Source lines making ``node``, the children list of an inlined `_rule`. Each stack
    value is read by one reduction only, so a growing list is extended in place."""
    keep = rule.keep
    if rule.grows:
        lines = [f"node = {value(0)}"]
        for i, part in keep[1:]:
            lines.append(f"node += {value(i)}" if part == _SPLICE else
                         f"node.append({value(i)})")
        return lines
    if len(keep) == 1 and keep[0][1] == _SPLICE:  # `__x_star: _x`: the same list
        return [f"node = {value(keep[0][0])}"]
    items = ", ".join(f"*{value(i)}" if part == _SPLICE else value(i) for i, part in keep)
    return [f"node = [{items}]"]


def _first_covered(stack: list[Any], width: int) -> Any:
    return next((stack[i] for i in range(2 - width, 0, _SLOTS) if stack[i] is not None), None)


def _last_covered(stack: list[Any], width: int) -> Any:
    return next((stack[i] for i in range(-1, -width - 1, -_SLOTS) if stack[i] is not None),
                None)


@functools.cache
def tables_for(parser: lark.Lark) -> Tables:
    return Tables(parser)


# ---------------------------------------------------------------------------- the loop


def parse(program: Program, text: str, builder: Any, path: str, line_offset: int,
          max_stack: int) -> Any:
    """Parse ``text``, calling the builders with ``builder`` and spans in ``path`` whose lines
    are shifted by ``line_offset``; return the value of the start symbol."""
    try:
        return _parse(program, text, builder, path, line_offset, max_stack)
    except KeyError:  # no action for a token in a state: Lark explains why
        raise DriverFailed from None


def _parse(program: Program, text: str, builder: Any, path: str, line_offset: int,
           max_stack: int) -> Any:
    tables = program.tables
    actions, lexers, reducers, chains = tables.actions, tables.lexers, program.reducers, \
        tables.chains
    skip = _SKIP.match
    state = tables.start
    stack: list[Any] = [state, None, None, None]
    limit = _SLOTS * (max_stack + 1)
    for lineno, line in enumerate(text.split("\n"), 1):
        pos, size = 0, len(line)
        while pos < size:
            match, keywords = lexers[state]  # type: ignore[misc]
            found = match(line, pos)
            if found is None:  # only ignored text left, or text no terminal of the state starts
                if skip(line, pos).end() != size:
                    raise DriverFailed
                break
            kind = found.lastgroup  # the terminal's empty group closes last (see _state_lexer)
            start = found.end(1)
            pos = found.end()
            value = line[start:pos]
            if keywords is not None:
                kind = keywords.get((kind, value), kind)
            token = (kind, value, lineno, start + 1, lineno, pos + 1)
            while True:
                act = actions[state][kind]  # a KeyError: see parse
                if act >= 0:  # shift
                    state = act
                    stack += (act, token, token, token)
                    if len(stack) > limit:
                        raise StackTooDeep(lineno, start + 1, pos + 1)
                    break
                reduce = reducers[~act]
                if reduce is not None:
                    state = reduce(stack, builder, path, line_offset, kind)
                    continue
                # A `?a: b` reduction that no reduction followed (see _push): none in this
                # grammar, since a chain only ever follows a reduction, but kept exact.
                state = stack[-4] = _chain(tables, chains, stack[-8], state, kind)
    return _finish(program, stack, state, builder, path, line_offset)


def _chain(tables: Tables, chains: dict[tuple[int, int, str], int], below: int, state: int,
           kind: str) -> int:
    """The top state after the `?a: b` reductions (the precedence levels) that ``kind``
    starts in ``state``: they leave the child as it is and only change the top state, so a
    run of them depends only on the state below, the top state and the lookahead, and is
    followed once and remembered."""
    key = (below, state, kind)
    final = chains.get(key)
    if final is None:
        final = chains[key] = _follow_chain(tables, below, state, kind)
    return final


def _finish(program: Program, stack: list[Any], state: int, builder: Any, path: str,
            line_offset: int) -> Any:
    """The reductions the end of the text makes, up to the start symbol."""
    tables = program.tables
    while True:
        act = tables.actions[state].get(_END)
        if act is None or act >= 0:
            raise DriverFailed
        reduce = program.reducers[~act]
        if reduce is None:
            state = stack[-4] = _chain(tables, tables.chains, stack[-8], state, _END)
        else:
            state = reduce(stack, builder, path, line_offset, _END)
        if state == tables.end:
            return stack[-3]


def _follow_chain(tables: Tables, below: int, state: int, kind: str) -> int:
    """The top state after the run of `?a: b` reductions that ``kind`` starts in ``state``."""
    while True:
        act = tables.actions[state].get(kind)
        if act is None or act >= 0 or not tables.rules[~act].chain:
            return state
        state = tables.goto[below][tables.rules[~act].origin]
        if kind == _END and state == tables.end:
            return state
