"""The fast LALR driver against Lark's own parser: the same AST, spans included, and the same
diagnostics, for every pack we ship and for random valid and broken packs.

The reference is the parser with the driver switched off (``parser._USE_DRIVER``), which is
Lark end to end: Lark's lexer, Lark's parser, Lark's positions, the tree then walked by the
same AST builder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given

from otrules._pack_strategies import mutated_pack_sources, pack_sources
from otrules.lang import ast as A
from otrules.lang import lalr_driver
from otrules.lang import parser as P

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for folder in ("rulepacks", "tests", "docs", "benchmarks")
                 for p in (ROOT / folder).rglob("*.otr"))


@contextmanager
def lark_only() -> Iterator[None]:
    P._USE_DRIVER = False
    try:
        yield
    finally:
        P._USE_DRIVER = True


def both(text: str, limits: P.Limits = P.DEFAULT_LIMITS) -> tuple[Any, Any]:
    fast = P.parse_source(text, "p.otr", limits=limits)
    with lark_only():
        slow = P.parse_source(text, "p.otr", limits=limits)
    return fast, slow


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Equal as values *and* in every span: attrs equality skips spans, so walk all fields."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if attrs.has(type(a)):
        for field in attrs.fields(type(a)):
            assert_same(getattr(a, field.name), getattr(b, field.name), f"{where}.{field.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_shipped_packs_are_found() -> None:
    assert len(SHIPPED) >= 10
    assert any("medicare-ot" in str(p) for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_pack_parses_the_same(path: Path) -> None:
    (fast, fast_diags), (slow, slow_diags) = both(path.read_text(encoding="utf-8"))
    assert fast.decls, "the file declares something"
    assert_same(fast, slow)
    assert fast_diags == slow_diags


@given(pack_sources())
def test_random_packs_parse_the_same(text: str) -> None:
    (fast, fast_diags), (slow, slow_diags) = both(text)
    assert fast_diags == slow_diags == []
    assert_same(fast, slow)


@given(mutated_pack_sources())
def test_broken_packs_get_the_same_diagnostics(text: str) -> None:
    (fast, fast_diags), (slow, slow_diags) = both(text)
    assert fast_diags == slow_diags
    assert_same(fast, slow)


@pytest.mark.parametrize("text", [
    "",
    "# only a comment\n",
    "rule r : info\n  when (((a)))\n",
    "rule r : info\n  when x + (y * 2) > (3)\n",
    "rule r : info\n  when (count of lines where (line.minutes > 8 minutes)) > 1\n",
    "rule r : info # trailing\n  when yes # and another\n  say \"a # b {x}\"\n",
    "rule r : info\n  when x >= say\n",       # a keyword read as a name: builder error
    "rule r : info\n  when x >\n",           # ends too early
    "rule r : info\n  when x ~ y\n",          # a character no token starts with
    "pack p\n  version 1\n  version 2\nrule r : info\n  when yes\n",
    "table t\n  key code : code\n  row 97110\n  row 97112\n",
    # layout the line-by-line lexer must read as Lark does
    "rule r : info   \n\t when yes\f\n\n   # comment only\n  \n",
    "rule r : info\r\n  when yes\r\n",
    "rule r : info\n  when x = \"é ü 中\" # é\n  say \"∑ {x} ∑\"\n",
    "rule r : info\n  when x\n    >\n    1\n",
    "rule r : info\n  when count of lines where line.minutes >= 8 minutes\n",
    "rule r : info\n  when x = $1,000.50 and y = 1.5 and z = 2026-01-31\n",
    # templates: the plain reader and the escaped one
    'rule r : info\n  say "a \\{ b {x} \\} \\n \\t \\\\ \\""\n',
    'rule r : info\n  say "{ line.code }{x}{a.b.c}"\n',
    'rule r : info\n  say ""\n',
    'rule r : info\n  say "{x"\n',
    'rule r : info\n  say "x}"\n',
    'rule r : info\n  say "{}"\n',
    'rule r : info\n  say "{a{b}"\n',
    # keywords where a name belongs, and names that are keywords elsewhere
    "rule r : info\n  let line = 1\n  when line > 0\n",
    "rule r : info\n  when not not yes\n",
    "rule r : info\n  when 2026-02-30 > x\n",
    "rule r : info\n  when G0283 minutes > x\n",
])
def test_edge_cases_parse_the_same(text: str) -> None:
    (fast, fast_diags), (slow, slow_diags) = both(text)
    assert fast_diags == slow_diags
    assert_same(fast, slow)


def test_the_driver_really_runs() -> None:
    """Valid text never reaches Lark's parser (the speed comes from that)."""
    text = (ROOT / "rulepacks" / "medicare-ot").glob("*.otr").__next__().read_text()
    calls = []
    original = P._base_parser().parse
    P._base_parser().parse = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
    try:
        pack, diags = P.parse_source(text, "p.otr")
    finally:
        del P._base_parser().parse
    assert diags == []
    assert pack.decls
    assert calls == []


def test_a_broken_file_is_explained_by_lark() -> None:
    _, diags = P.parse_source("rule r : error\n  when line lacks Go\n", "p.otr")
    assert [(d.code, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E001", 2, 19, "did you mean 'GO'? modifiers are written in capitals")]


def test_deep_parentheses_meet_the_nesting_limit() -> None:
    """Parentheses make no AST node, so the parse stack is what bounds them."""
    for depth in (2_000, 100_000):
        text = "rule r : info\n  when " + "(" * depth + "yes" + ")" * depth + "\n"
        started = time.process_time()
        _, diags = P.parse_source(text, "p.otr")
        assert time.process_time() - started < 30  # a guard against a hang, not a timing test
        assert [(d.code, d.message, d.span.line) for d in diags] == [
            ("E007", "expression nested more than 200 levels deep", 2)]


def test_parentheses_within_the_limit_are_fine() -> None:
    text = "rule r : info\n  when " + "(" * 150 + "yes" + ")" * 150 + "\n"
    pack, diags = P.parse_source(text, "p.otr")
    assert diags == []
    rule = pack.decls[0]
    assert isinstance(rule, A.Rule)
    assert rule.when == A.Literal("flag", True, "yes")


def test_the_stack_bound_never_fires_before_the_depth_limit() -> None:
    """The widest expression level (`sum of 1 over lines as x where …`: eight stack entries
    for one AST level) nested just under the depth limit still parses."""
    def nested(levels: int) -> str:
        expr = "yes"
        for _ in range(levels):
            expr = f"sum of 1 over lines as x where {expr}"
        return f"rule r : info\n  when {expr}\n"
    pack, diags = P.parse_source(nested(199), "p.otr")
    assert diags == []
    assert isinstance(pack.decls[0], A.Rule)
    _, diags = P.parse_source(nested(400), "p.otr")
    assert [(d.code, d.message) for d in diags] == [
        ("E007", "expression nested more than 200 levels deep")]


def test_tables_are_built_once_and_shared() -> None:
    tables = lalr_driver.tables_for(P._base_parser())
    assert tables is lalr_driver.tables_for(P._base_parser())
    assert tables.start != tables.end
