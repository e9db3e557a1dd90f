"""Every declaration head and clause has a span of its own, covering exactly its text.

The property: the spans of a declaration's head and clauses (repeats included) each start with
their keyword and, in source order, tile the declaration: the first starts where the
declaration starts, the last ends where it ends, and only blanks and comments lie between two
of them. So no clause is missing a span, and no span covers more or less than its clause.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given

from otrules._pack_strategies import mutated_pack_sources, pack_sources
from otrules.diagnostics import Span
from otrules.lang import ast as A
from otrules.lang.parser import parse_source

RULEPACKS = Path(__file__).parent.parent / "rulepacks"
_BETWEEN = re.compile(r"(?:\s|#[^\n]*)*")


def _parts(decl: A.Decl) -> list[tuple[str, Span | None]]:
    """(keyword, span) of the head and of every clause of ``decl``."""
    override = "override " if getattr(decl, "override", False) else ""
    out: list[tuple[str, Span | None]] = []
    if isinstance(decl, A.PackHeader):
        out += [("pack", decl.head_span), ("version", decl.version_span),
                ("payer", decl.payer_span), ("extends", decl.extends_clause_span),
                ("about", decl.about_span)]
        if decl.effective is not None:
            out.append(("effective", decl.effective.span))
    elif isinstance(decl, A.Parameter):
        out += [(override + "parameter", decl.head_span), ("about", decl.about_span),
                ("source", decl.source_span)]
        out += [("from", p.span) for p in decl.periods]
    elif isinstance(decl, A.Table):
        out += [(override + "table", decl.head_span), ("valid", decl.valid_span),
                ("source", decl.source_span)]
        out += [("key" if c.is_key else "column", c.span) for c in decl.columns]
        out += [("row", r.span) for r in decl.rows]
    elif isinstance(decl, A.Rule):
        out += [(override + "rule", decl.head_span), ("about", decl.about_span),
                ("when", decl.when_span), ("say", decl.say_span),
                ("source", decl.source_span)]
        out += [("let", x.span) for x in (*decl.lets_before, *decl.lets_after)]
        for keyword, node in (("effective", decl.effective), ("for each", decl.iteration),
                              ("fix", decl.fix)):
            if node is not None:
                out.append((keyword, node.span))
    else:  # units and disable are a head only
        out.append((type(decl).__name__.lower().removesuffix("decl"), decl.span))
    out += [(r.keyword, r.span) for r in getattr(decl, "repeated", ())]
    return out


def _offset(starts: list[int], line: int, column: int) -> int:
    return starts[line - 1] + column - 1


def assert_clause_spans(text: str) -> None:
    pack, diags = parse_source(text)
    assert diags == []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    for decl in pack.decls:
        assert decl.span is not None
        present = _parts(decl)
        # An absent clause has no span; a present one always has.
        fields = {"about": "about", "when": "when", "say": "say", "source": "source",
                  "version": "version", "payer": "payers", "extends": "extends",
                  "valid": "valid_from"}
        for keyword, span in present:
            if span is None:
                assert keyword in fields, (keyword, decl)
                assert getattr(decl, fields[keyword]) in (None, ()), (keyword, decl)
        spans = sorted(((kw, s) for kw, s in present if s is not None),
                       key=lambda p: (p[1].line, p[1].column))
        decl_start = _offset(starts, decl.span.line, decl.span.column)
        decl_end = _offset(starts, decl.span.end_line, decl.span.end_column)
        position = decl_start
        for keyword, span in spans:
            start = _offset(starts, span.line, span.column)
            end = _offset(starts, span.end_line, span.end_column)
            assert _BETWEEN.fullmatch(text, position, start), (keyword, text[position:end])
            pattern = r"\s+".join(map(re.escape, keyword.split())) + r"(?![a-z0-9_-])"
            assert re.match(pattern, text[start:end]), (keyword, text[start:end])
            position = end
        assert _offset(starts, spans[0][1].line, spans[0][1].column) == decl_start
        assert position == decl_end, (text[decl_start:decl_end], text[position:decl_end])


@given(pack_sources())
def test_every_clause_of_a_random_pack_has_its_own_span(text: str) -> None:
    assert_clause_spans(text)


@given(mutated_pack_sources())
def test_every_clause_of_a_damaged_pack_that_parses_has_its_own_span(text: str) -> None:
    # Damaged packs that still parse often hold a clause twice, or clauses on one line.
    if parse_source(text)[1] == []:
        assert_clause_spans(text)


@pytest.mark.parametrize("path", sorted(RULEPACKS.glob("*/*.otr")), ids=lambda p: p.parent.name
                         + "/" + p.name)
def test_every_clause_of_a_bundled_pack_has_its_own_span(path: Path) -> None:
    assert_clause_spans(path.read_text(encoding="utf-8"))


REPEATS = """\
pack rep "Title"  # a comment
  version 1 about "first"
  payer a,
    b
  version "2"
  effective 2026-01-01
    to 2026-12-31
  extends base about "second"
  extends other
  payer c
  effective 2026-01-01 to 2026-01-02
parameter p : number = 1 source "s" about "a"
  # between
  about "b" source "t"
override parameter q : money
  from 2026-01-01 to 2026-12-31 = $1
  about "x"
table t "T" from "f.csv" as cms-ptp
  source "a"
  key k : code key j : code
  column c : optional text
  valid from a until b
  source "b"
  row 1, 2
  valid from c until d
override rule r :
  error
  let x = 1
  when a
    and b  # inside
  say "one"
  when   b   # second when
  about "x"
  for each line as l
  for each diagnosis where (x)
  let y = 2
  about "y"
  effective 2026-01-01 to 2026-12-31 effective 2026-01-01 to 2026-12-31
  fix add modifier GO
  fix set units to 1 + 2
  source "s1"
  source "s2"
  say "two"
units cms timed by t.c
disable rule x because "y"
"""


def test_every_clause_and_repeat_of_a_hand_written_pack_has_its_own_span() -> None:
    assert_clause_spans(REPEATS)
    pack, _ = parse_source(REPEATS)
    header, param, _, table, rule = pack.decls[:5]
    assert isinstance(header, A.PackHeader)
    assert isinstance(rule, A.Rule)
    assert [(r.keyword, r.span.line, r.span.column) for r in header.repeated] == [
        ("version", 5, 3), ("about", 8, 16), ("extends", 9, 3), ("payer", 10, 3),
        ("effective", 11, 3)]
    assert (header.head_span.end_line, header.head_span.end_column) == (1, 17)
    assert (header.payer_span.line, header.payer_span.end_line) == (3, 4)
    assert [(r.keyword, r.span.line, r.span.column) for r in param.repeated] == [
        ("about", 14, 3), ("source", 14, 13)]
    assert [(r.keyword, r.value, r.span.line) for r in table.repeated] == [
        ("source", "b", 23), ("valid", ("c", "d"), 25)]
    assert (rule.head_span.line, rule.head_span.end_line, rule.head_span.end_column) == (
        26, 27, 8)
    assert [(r.keyword, r.span.line, r.span.column) for r in rule.repeated] == [
        ("when", 32, 3), ("for each", 35, 3), ("about", 37, 3), ("effective", 38, 38),
        ("fix", 40, 3), ("source", 42, 3), ("say", 43, 3)]
    # Each repeat's span covers the whole clause, and only it.
    when = rule.repeated[0].span
    assert (when.end_line, when.end_column) == (32, 11)
    assert (rule.when_span.line, rule.when_span.end_line, rule.when_span.end_column) == (
        29, 30, 10)
