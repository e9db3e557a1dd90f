"""The parser's shortcuts give exactly what the slow ways give: nodes and spans made by
``otrules._slots.slots_constructor``, the driver's line-by-line lexing (proved from the terminals'
patterns), its reading of character classes, and the template reader's fast path."""

from __future__ import annotations

import pickle
import re._parser as sre_parse
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Token
from lark.utils import TextSlice

from otrules._slots import slots_constructor
from otrules.diagnostics import Span
from otrules.lang import ast as A
from otrules.lang import lalr_driver
from otrules.lang import parser as P

SPAN = Span("p.otr", 3, 5, 3, 9)
NAME = A.Name("x", SPAN)

# One value per field of each class the parser makes with a slots constructor.
SAMPLES: list[tuple[type, tuple[Any, ...]]] = [
    (Span, ("p.otr", 1, 2, 3, 4)),
    (A.Name, ("line", SPAN)),
    (A.Binary, ("+", NAME, A.Literal("number", 1, "1", None), SPAN)),
    (A.Attribute, (NAME, "code", SPAN)),
    (A.Literal, ("money", Decimal("2.50"), "$2.50", SPAN)),
    (A.Placeholder, (("line", "code"), SPAN)),
    (A.Has, (NAME, "any", ("GO", "KX"), True, SPAN)),
    (A.InTable, (NAME, "codes", False, SPAN)),
    (A.InList, (NAME, (NAME,), True, SPAN)),
    (A.Unary, ("not", NAME, SPAN)),
    (A.Matches, (NAME, ("F90.*",), SPAN)),
    (A.IsMissing, (NAME, False, SPAN)),
    (A.Call, ("max", (NAME, NAME), SPAN)),
    (A.Lookup, ("fees", (NAME,), SPAN)),
    (A.Aggregate, ("count", "lines", "line", None, NAME, SPAN)),
    (A.Let, ("extra", NAME, SPAN)),
]


def slot_values(obj: Any) -> dict[str, Any]:
    """Every slot of ``obj``, attrs' hash cache included (unset slots left out)."""
    return {name: getattr(obj, name) for cls in type(obj).__mro__
            for name in getattr(cls, "__slots__", ()) if hasattr(obj, name)
            and name != "__weakref__"}


@pytest.mark.parametrize(("cls", "values"), SAMPLES, ids=lambda v: getattr(v, "__name__", ""))
def test_a_slots_constructor_makes_what_attrs_makes(cls: type, values: tuple[Any, ...]) -> None:
    fast, slow = slots_constructor(cls)(*values), cls(*values)
    assert type(fast) is cls
    assert slot_values(fast) == slot_values(slow)
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert slot_values(pickle.loads(pickle.dumps(fast))) == slot_values(cls(*values))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.span = None  # type: ignore[attr-defined]


def test_fields_may_be_given_by_name() -> None:
    """The parser makes rules, templates and `for each` clauses naming every field."""
    values = {f.name: f"<{f.name}>" for f in attrs.fields(A.Rule)}
    values.update(span=SPAN, id_span=None, repeated=())
    fast, slow = slots_constructor(A.Rule)(**values), A.Rule(**values)  # type: ignore[arg-type]
    assert slot_values(fast) == slot_values(slow)
    assert fast == slow
    with pytest.raises(TypeError):
        slots_constructor(A.Rule)(**{**values, "id": None, "span": None, "extra": 1})
    with pytest.raises(TypeError):  # no field may be left out: none has its default
        slots_constructor(A.Template)(("x",))


def test_the_hash_cache_starts_empty() -> None:
    node = slots_constructor(A.Name)("x", None)
    assert node._attrs_cached_hash is None  # type: ignore[attr-defined]
    assert hash(node) == hash(A.Name("x"))
    assert node._attrs_cached_hash is not None  # type: ignore[attr-defined]


def test_a_class_with_validators_keeps_its_init() -> None:
    @attrs.frozen
    class Checked:
        count: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.define
    class Plain:  # slotted but not frozen: fine, the descriptors are the same
        value: int

    with pytest.raises(TypeError):
        slots_constructor(Checked)
    assert slots_constructor(Plain)(3) == Plain(3)


# ---------------------------------------------------------------------------- lexing


@pytest.mark.parametrize("pattern", [
    r"[a-z]+", r'"([^"\\\n]|\\["\\nt{}])*"', r"[0-9]{5}(?![0-9A-Za-z_.])", r"\bfoo\b",
    r"\$([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?", "(?i:select)",
])
def test_terminals_that_stay_on_their_line_are_lexed_by_line(pattern: str) -> None:
    assert lalr_driver._lexable_by_line(pattern, 0)


@pytest.mark.parametrize("pattern", [
    r"a\nb",            # a newline inside
    r"[^x]+",           # a class that holds the newline
    r"a\s+b",
    r"(?s:a.b)",        # any character, newline included
    r"a(?=\n)",         # looks at the next line
    r"a(?![a-z]|$)",    # a lookahead that can match nothing: differs at the line's end
    r"a$",              # `$` sees the end of the line, not of the text
    r"^a",
    r" a",              # starts with a character the driver skips
    r"#a",
    r"(a)\1",           # what the proof cannot read
])
def test_terminals_that_could_leave_their_line_are_refused(pattern: str) -> None:
    assert not lalr_driver._lexable_by_line(pattern, 0)


def _single_characters(items: Any) -> Any:
    for op, av in items:
        if op in lalr_driver._ONE_CHAR:
            yield op, av
        elif op is lalr_driver._sre.SUBPATTERN:
            yield from _single_characters(av[3])
        elif op is lalr_driver._sre.BRANCH:
            for alt in av[1]:
                yield from _single_characters(alt)
        elif op in lalr_driver._REPEATS:
            yield from _single_characters(av[2])
        elif op in (lalr_driver._sre.ASSERT, lalr_driver._sre.ASSERT_NOT):
            yield from _single_characters(av[1])


def test_character_classes_are_read_as_the_regex_engine_reads_them() -> None:
    patterns = [t.pattern.to_regexp() for t in P._base_parser().terminals]
    patterns += [r"[^a-c\n]", r"[\d_]", r"\w", r"[^\W]", "x"]
    seen = 0
    for pattern in patterns:
        for op, av in _single_characters(sre_parse.parse(pattern)):
            assert lalr_driver._char_set(op, av, 0) == \
                lalr_driver._char_set_compiled(op, av, 0), (pattern, op, av)
            seen += 1
    assert seen > 50


def test_the_grammar_is_lexed_by_line() -> None:
    """The shipped grammar passes the proof (else the driver would be off, and slow)."""
    assert P._built_program() is not None


def test_every_production_has_a_reduction() -> None:
    program = P._built_program()
    assert program is not None
    for rule, reduce in zip(program.tables.rules, program.reducers, strict=True):
        assert (reduce is None) == rule.chain, rule.name
        if not (rule.chain or rule.spliced or rule.pass_through):
            assert P._Builder.resolve(rule.name) is not None, rule.name


def test_names_that_are_not_builders_resolve_to_nothing() -> None:
    for name in ("build", "resolve", "_span", "_tspan", "no_such_rule"):
        assert P._Builder.resolve(name) is None


def test_a_lexer_state_matches_as_lark_does() -> None:
    """The driver's alternation (an empty group marks each terminal) picks the terminal
    and the extent that Lark's own scanner picks, at every position of a real pack."""
    program = P._built_program()
    assert program is not None
    lexer = P._base_parser().parser.lexer
    text = _sample_pack()
    checked, seen = 0, set()
    for state, basic in lexer.lexers.items():
        if id(basic) in seen:
            continue
        seen.add(id(basic))
        match, _ = program.tables.lexers[state]  # type: ignore[misc]
        for line in text.split("\n"):
            for pos in range(len(line)):
                if line[pos] in " \t#":
                    continue
                ours = match(line, pos)
                theirs = basic.scanner.match(lark_text(line), pos)
                if theirs is None or theirs[1] in basic.ignore_types:
                    assert ours is None or theirs is not None
                    continue
                assert ours is not None, (line, pos)
                assert (ours.lastgroup, line[ours.end(1):ours.end()]) == \
                    (theirs[1], theirs[0]), (line, pos)
                checked += 1
    assert checked > 1000


def lark_text(line: str) -> Any:
    return TextSlice(line, 0, len(line))


def _sample_pack() -> str:
    from benchmarks.bench_check import generate
    return generate(3) + '\nrule r : info\n  when count of lines where x >= 1.5 or y = $1,000\n'


# ---------------------------------------------------------------------------- templates


def _builder() -> P._Builder:
    return P._Builder("p.otr", 0, 200)


@given(st.text(alphabet="ab .{}_x1\\\"é\t\xa0", max_size=30))
def test_the_template_fast_path_agrees_with_the_full_reader(raw: str) -> None:
    builder = _builder()
    fast = builder._plain_template(raw, 4, 10)
    if fast is None:
        return
    assert "\\" not in raw
    slow = builder._escaped_template(raw, 4, 10)
    assert fast == slow
    assert [getattr(p, "span", None) for p in fast] == [getattr(p, "span", None) for p in slow]


@pytest.mark.parametrize("raw", ["", "plain", "{x}", "{ line.code } and {y}", "a{b}c{d.e}f",
                                 "{}", "{x", "x}", "{a{b}", "a \\{ {x} \\}", "{1x}"])
def test_the_template_fast_path_reads_or_hands_over(raw: str) -> None:
    builder = _builder()
    fast = builder._plain_template(raw, 4, 10)
    try:
        slow = builder._escaped_template(raw, 4, 10)
    except P._Abort:
        assert fast is None  # errors are the full reader's to explain
        return
    if fast is not None:
        assert fast == slow
        assert [getattr(p, "span", None) for p in fast] == \
            [getattr(p, "span", None) for p in slow]


def test_the_driver_needs_no_lark_token() -> None:
    """Builders take token tuples on both paths (the Lark path converts its tokens)."""
    token = P._token_tuple(Token("NAME", "x", 0, 2, 3, 2, 4, 1))
    assert token == ("NAME", "x", 2, 3, 2, 4)
    assert type(token) is tuple
