"""Properties of the formatter over random valid packs, and of the pack strategies themselves.

The formatter runs with ``verify=False`` here: its built-in self-check would otherwise turn a
printer bug into an InternalError before the property under test could see it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings

from otrules._pack_strategies import mutated_pack_sources, pack_asts, pack_sources
from otrules.errors import PackError
from otrules.lang import ast as A
from otrules.lang.formatter import format_source
from otrules.lang.parser import parse_source


def _fmt(text: str) -> str:
    return format_source(text, verify=False)


def _comment_texts(text: str) -> Counter[str]:
    return Counter(c.text for c in parse_source(text)[0].comments)


@given(pack_sources())
def test_formatting_is_idempotent(text: str) -> None:
    once = _fmt(text)
    assert _fmt(once) == once


@given(pack_sources())
def test_formatting_keeps_the_ast(text: str) -> None:
    before, _ = parse_source(text)
    after, diags = parse_source(_fmt(text))
    assert diags == []
    assert after == before


@given(pack_sources())
def test_formatting_keeps_every_comment(text: str) -> None:
    assert _comment_texts(_fmt(text)) == _comment_texts(text)


@given(pack_sources(canonical=True))
def test_canonical_text_is_left_unchanged(text: str) -> None:
    assert _fmt(text) == text


@given(pack_sources())
def test_generated_packs_parse(text: str) -> None:
    pack, diags = parse_source(text)
    assert diags == []
    assert isinstance(pack.decls[0], A.PackHeader)
    assert all(r.source is not None for r in pack.decls if isinstance(r, A.Rule))


@settings(max_examples=10)
@given(pack_asts())
def test_pack_asts_are_parsed_packs(pack: A.PackFile) -> None:
    rules = [d for d in pack.decls if isinstance(d, A.Rule)]
    assert rules
    assert all(r.when is not None and r.say is not None for r in rules)


@given(pack_sources())
def test_generated_packs_pass_the_checker(text: str) -> None:
    # Expected to fail until otrules.lang.loader.check_source lands (the checker).
    from otrules.lang.loader import check_source

    errors = [d for d in check_source(text) if d.severity == "error"]
    assert errors == []


@given(mutated_pack_sources())
def test_damaged_packs_are_formatted_or_refused_with_diagnostics(text: str) -> None:
    pack, diags = parse_source(text)
    if diags:
        with pytest.raises(PackError) as info:
            _fmt(text)
        assert list(info.value.diagnostics) == diags
    else:
        assert parse_source(_fmt(text))[0] == pack
