"""A lean LALR(1) driver over the tables Lark builds from ``grammar/otrules.lark``.

Lark stays the definition of the language: it reads the grammar, builds the LALR tables and
the contextual lexer's patterns, and it is the parser that explains every syntax error. This
module only *runs* those tables, faster than Lark's general machinery can, because it does
the one job the parser needs on valid input and nothing else:

* one regular expression per lexer state (Lark's own, in Lark's order), whitespace and
  comments skipped by a single extra match, line and column counted incrementally;
* tokens kept as plain tuples until a rule keeps them, so that the keywords and punctuation
  (half of all tokens) never become ``lark.Token`` objects;
* no parse tree: each reduction calls the AST builder at once, with the node's position taken
  from the first and last token it covers — the same positions Lark's
  ``propagate_positions`` gives, rule for rule (``tests/test_lalr_driver.py`` compares both
  paths, spans included, over every bundled pack and random packs).

Anything the driver does not accept raises :class:`DriverFailed`, and the caller parses the
same text with Lark to report the error in Lark's words. The driver also bounds the depth of
the parse stack, so that deeply nested parentheses — which make no AST node of their own —
meet the nesting limit too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import lark
from lark import Token
from lark.parsers.lalr_analysis import Shift

# Ignored text between tokens: the grammar's %ignore terminals (WS and COMMENT).
_SKIP = re.compile(r"(?:[ \t\f\r\n]+|#[^\n]*)*")
_END = "$END"

# How a reduction treats each symbol it pops (see Lark's ParseTreeBuilder: filtered tokens,
# inlined `_rules`, kept children).
_DROP, _TOKEN, _VALUE, _SPLICE = range(4)


class DriverFailed(Exception):
    """The driver does not accept this text; parse it with Lark to explain why."""


class StackTooDeep(Exception):
    """The parse stack grew past the nesting limit (deep parentheses, long chains of `not`)."""

    def __init__(self, line: int, column: int, end_column: int) -> None:
        super().__init__("nested too deep")
        self.line, self.column, self.end_column = line, column, end_column


class Meta:
    """The position of a node, as Lark's ``Tree.meta`` gives it to the AST builder."""

    __slots__ = ("column", "empty", "end_column", "end_line", "line")

    def __init__(self, first: tuple[Any, ...] | None, last: tuple[Any, ...] | None) -> None:
        if first is None or last is None:
            self.empty = True
            return
        self.empty = False
        self.line, self.column = first[2], first[3]
        self.end_line, self.end_column = last[4], last[5]


class _Spliced(list):  # type: ignore[type-arg]
    """The children of an inlined `_rule`, spliced into its parent's children."""


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
    )

    def __init__(self, rule: Any) -> None:
        keep_all = rule.options.keep_all_tokens
        self.size = len(rule.expansion)
        self.origin = str(rule.origin.name)  # plain str: Lark's names are Tokens, slow as keys
        self.name = str(rule.alias or rule.origin.name)
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
            str(rule.expansion[0].name) == self.origin


class Tables:
    """Lark's LALR tables and lexer patterns, rearranged for a tight loop."""

    def __init__(self, parser: lark.Lark) -> None:
        frontend = parser.parser
        table = frontend.parser.parser.parse_table
        rules: dict[Any, int] = {}
        self.rules: list[_Rule] = []
        # actions[state][terminal] = next state (>= 0) for a shift, ~rule index for a reduce
        self.actions: dict[int, dict[str, int]] = {}
        self.goto: dict[int, dict[str, int]] = {}
        for state, row in table.states.items():
            acts, gotos = {}, {}
            for symbol, (action, arg) in row.items():
                symbol = str(symbol)
                if action is Shift:
                    (acts if symbol.isupper() or symbol == _END else gotos)[symbol] = arg
                else:
                    if arg not in rules:
                        rules[arg] = len(self.rules)
                        self.rules.append(_Rule(arg))
                    acts[symbol] = ~rules[arg]
            self.actions[state], self.goto[state] = acts, gotos
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.lexers = self._lexers(frontend.lexer)
        # (state below, top state, lookahead) → top state after a run of chain reductions;
        # filled as texts are parsed (a dict write is atomic, so threads may share it).
        self.chains: dict[tuple[int, int, str], int] = {}

    @staticmethod
    def _lexers(contextual: Any) -> dict[int, tuple[Callable[..., Any], dict[str, str]]]:
        """Per parser state: the match function of its lexer, and its keyword map (a NAME
        whose text is a keyword of that state becomes the keyword, as Lark's lexer does)."""
        built: dict[int, tuple[Callable[..., Any], dict[str, str]]] = {}
        out = {}
        for state, basic in contextual.lexers.items():
            if id(basic) not in built:
                scanner = basic.scanner
                if len(scanner._mres) != 1 or any(
                        not hasattr(cb, "scanner") for cb in basic.callback.values()):
                    raise RuntimeError("the grammar needs Lark's general lexer")
                keywords = {}
                for kind, callback in basic.callback.items():
                    for term in callback.scanner.terminals:
                        if term.pattern.flags or term.pattern.type != "str":
                            raise RuntimeError("the grammar needs Lark's general lexer")
                        keywords[(str(kind), str(term.pattern.value))] = str(term.name)
                # Ignored text first (possessive: it never gives back), then Lark's pattern.
                pattern = re.compile(_SKIP.pattern + "+(?:" + scanner._mres[0].pattern + ")",
                                     scanner._mres[0].flags)
                built[id(basic)] = (pattern.match, keywords)  # type: ignore[assignment]
            out[state] = built[id(basic)]
        return out  # type: ignore[return-value]


@functools.cache
def tables_for(parser: lark.Lark) -> Tables:
    return Tables(parser)


def parse(tables: Tables, text: str, handler: Callable[[str], Callable[[Meta, list[Any]], Any]],
          max_stack: int) -> Any:
    """Parse ``text``; ``handler(name)`` gives the builder of nodes named ``name``."""
    actions, goto, lexers, rules = tables.actions, tables.goto, tables.lexers, tables.rules
    end_state = tables.end
    skip = _SKIP.match
    count_newlines = text.count
    builders: dict[str, Callable[[Meta, list[Any]], Any]] = {}
    chains = tables.chains
    states: list[int] = [tables.start]
    values: list[Any] = []
    # The first and the last token each stack entry covers (None: it covers nothing). A
    # token is (kind, text, line, column, end line, end column, start offset, end offset).
    firsts: list[Any] = []
    lasts: list[Any] = []
    pos, line, line_start, size = 0, 1, 0, len(text)
    while True:
        state = states[-1]
        match, keywords = lexers[state]
        found = match(text, pos)
        if found is None:
            start = skip(text, pos).end()
            if start < size:
                raise DriverFailed
            kind = _END
        else:
            kind = found.lastgroup
            start, end = found.span(kind)
        if start != pos:
            newlines = count_newlines("\n", pos, start)
            if newlines:
                line += newlines
                line_start = text.rindex("\n", pos, start) + 1
        column = start - line_start + 1
        if kind == _END:
            token: tuple[Any, ...] = (_END, "", line, column, line, column, start, start)
        else:
            value = text[start:end]
            if keywords:
                kind = keywords.get((kind, value), kind)
            if "\n" in value:  # no token of the grammar spans lines; stay exact anyway
                raise DriverFailed
            pos = end
            token = (kind, value, line, column, line, column + end - start, start, end)
        while True:
            act = actions[state].get(kind)
            if act is None:
                raise DriverFailed
            if act >= 0:  # shift
                if kind == _END:
                    raise DriverFailed
                states.append(act)
                values.append(token)
                firsts.append(token)
                lasts.append(token)
                if len(states) > max_stack:
                    raise StackTooDeep(token[2], token[3], token[5])
                break
            rule = rules[~act]
            n = rule.size
            if rule.chain:
                # `?a: b` reductions (the precedence levels) leave the child as it is and only
                # change the top state; a run of them depends only on the state below, the
                # top state and the lookahead, so it is followed once and remembered.
                key = (states[-2], state, kind)
                final = chains.get(key)
                if final is None:
                    final = chains[key] = _follow_chain(tables, states[-2], state, kind)
                state = states[-1] = final
                if kind == _END and state == end_state:
                    return values[-1]
                continue
            if n:
                popped = values[-n:]
                first = firsts[-n]
                if first is None:
                    first = next((f for f in firsts[-n:] if f is not None), None)
                last = lasts[-1]
                if last is None:
                    last = next((f for f in reversed(lasts[-n:]) if f is not None), None)
                if rule.pass_through:
                    kept = rule.kept
                    if rule.parts[kept] == _TOKEN:
                        first = last = popped[kept]
                        result: Any = _token(first)
                    else:
                        result = popped[kept]
                        if type(result) is Token:  # Lark gives a lone token its own place
                            first, last = firsts[kept - n], lasts[kept - n]
                    del states[-n:], values[-n:], firsts[-n:], lasts[-n:]
                else:
                    del states[-n:], values[-n:], firsts[-n:], lasts[-n:]
                    result = _reduce(rule, popped, first, last, builders, handler)
            else:
                first = last = None
                result = _reduce(rule, [], None, None, builders, handler)
            state = goto[states[-1]][rule.origin]
            states.append(state)
            values.append(result)
            firsts.append(first)
            lasts.append(last)
            if kind == _END and state == end_state:
                return result


_new_token = getattr(Token, "_future_new", Token)  # skips Token.__new__'s argument shim


def _token(t: tuple[Any, ...]) -> Token:
    """The ``lark.Token`` of a token tuple (kind, text, line, column, end line, end column,
    start offset, end offset)."""
    return _new_token(t[0], t[1], t[6], t[2], t[3], t[4], t[5], t[7])  # type: ignore[no-any-return]


def _follow_chain(tables: Tables, below: int, state: int, kind: str) -> int:
    """The top state after the run of `?a: b` reductions that ``kind`` starts in ``state``."""
    while True:
        act = tables.actions[state].get(kind)
        if act is None or act >= 0 or not tables.rules[~act].chain:
            return state
        state = tables.goto[below][tables.rules[~act].origin]
        if kind == _END and state == tables.end:
            return state


def _reduce(rule: _Rule, popped: list[Any], first: Any, last: Any,
            builders: dict[str, Callable[[Meta, list[Any]], Any]],
            handler: Callable[[str], Callable[[Meta, list[Any]], Any]]) -> Any:
    """The value of a reduction that makes a node (or the children of an inlined rule)."""
    children: list[Any]
    if rule.grows:  # `__x_star: __x_star item`: extend the list in place, as Lark does
        children = popped[0]
        rest = rule.keep[1:]
    else:
        children = []
        rest = rule.keep
    for i, part in rest:
        child = popped[i]
        if part == _VALUE:
            children.append(child)
        elif part == _TOKEN:
            children.append(_token(child))
        else:
            children.extend(child)
    if rule.spliced:
        return children if type(children) is _Spliced else _Spliced(children)
    build = builders.get(rule.name)
    if build is None:
        build = builders[rule.name] = handler(rule.name)
    return build(Meta(first, last), children)
