"""The Pygments lexer for rule packs: every bundled pack and every generated pack is lexed
without an error token, and each kind of word gets its token type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from otrules.pygments_lexer import OtrulesLexer
from otrules.testing import pack_sources
from test_docs_support import DOCS, REPO, blocks

BUNDLED = sorted((REPO / "rulepacks").glob("*/*.otr"))


def tokens(text: str) -> list[tuple[Any, str]]:
    """The tokens of ``text`` that are not white space."""
    return [(t, v) for t, v in OtrulesLexer().get_tokens(text) if t is not Whitespace]


def errors(text: str) -> list[str]:
    return [v for t, v in OtrulesLexer().get_tokens(text) if t in Error]


def test_bundled_packs_are_there() -> None:
    assert len(BUNDLED) >= 9


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_bundled_pack_file_lexes_without_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert errors(text) == []
    assert "".join(v for _, v in OtrulesLexer().get_tokens(text)) == text


@given(pack_sources())
def test_every_generated_valid_pack_lexes_without_errors(text: str) -> None:
    assert errors(text) == []


def test_the_language_reference_and_the_tutorial_lex_without_errors() -> None:
    for page in (DOCS / "language" / "reference.md", DOCS / "tutorial.md", DOCS / "guide.md"):
        for block in blocks(page):
            if block.language.startswith("otr"):
                assert errors(block.body) == [], f"{page.name}:{block.line}"


def test_declarations_name_what_they_declare() -> None:
    assert tokens("rule go-modifier-required : error\n") == [
        (Keyword.Declaration, "rule"), (Name.Function, "go-modifier-required"),
        (Punctuation, ":"), (Name.Exception, "error")]
    assert tokens("pack demo-2 \"Demo\"\n  extends medicare-ot\n  payer medicare, medicaid\n"
                  ) == [
        (Keyword.Declaration, "pack"), (Name.Namespace, "demo-2"), (String.Double, '"'),
        (String.Double, "Demo"), (String.Double, '"'), (Keyword.Declaration, "extends"),
        (Name.Namespace, "medicare-ot"), (Keyword, "payer"), (Name.Namespace, "medicare"),
        (Punctuation, ","), (Name.Namespace, "medicaid")]
    assert tokens("disable rule kx-required because \"n/a\"\n")[:3] == [
        (Keyword.Declaration, "disable"), (Keyword.Declaration, "rule"),
        (Name.Function, "kx-required")]


def test_table_columns_types_and_layouts() -> None:
    assert tokens("table ptp from \"p.txt\" as cms-ptp\n  key code : code\n"
                  "  column note : optional text\n") == [
        (Keyword.Declaration, "table"), (Name.Class, "ptp"), (Keyword, "from"),
        (String.Double, '"'), (String.Double, "p.txt"), (String.Double, '"'),
        (Keyword, "as"), (Name.Builtin, "cms-ptp"),
        (Keyword, "key"), (Name, "code"), (Punctuation, ":"), (Keyword.Type, "code"),
        (Keyword, "column"), (Name, "note"), (Punctuation, ":"), (Keyword, "optional"),
        (Keyword.Type, "text")]


def test_codes_modifiers_and_keywords() -> None:
    assert tokens("  when line.code = 97110 and line lacks any of (59, XE) and x = G0283\n") == [
        (Keyword, "when"), (Name.Builtin.Pseudo, "line"), (Punctuation, "."),
        (Name.Attribute, "code"), (Operator, "="), (Name.Constant, "97110"),
        (Operator.Word, "and"), (Name.Builtin.Pseudo, "line"), (Operator.Word, "lacks"),
        (Operator.Word, "any"), (Operator.Word, "of"), (Punctuation, "("), (Name.Tag, "59"),
        (Punctuation, ","), (Name.Tag, "XE"), (Punctuation, ")"), (Operator.Word, "and"),
        (Name, "x"), (Operator, "="), (Name.Constant, "G0283")]
    # After `fix add modifier`, 95 is a modifier; after `=`, 95 is a number.
    assert tokens("  fix add modifier 95\n  when n = 95\n") == [
        (Keyword, "fix"), (Keyword, "add"), (Keyword, "modifier"), (Name.Tag, "95"),
        (Keyword, "when"), (Name, "n"), (Operator, "="), (Number.Integer, "95")]
    assert tokens("line has more than one of (GO, GP)")[1:6] == [
        (Operator.Word, "has"), (Operator.Word, "more"), (Operator.Word, "than"),
        (Operator.Word, "one"), (Operator.Word, "of")]


def test_money_dates_numbers_and_quantities() -> None:
    assert tokens("  from 2026-01-01 to 2026-12-31 = $2,480.00\n") == [
        (Keyword, "from"), (Literal.Date, "2026-01-01"), (Keyword, "to"),
        (Literal.Date, "2026-12-31"), (Operator, "="), (Number, "$2,480.00")]
    assert tokens("x >= 8 minutes and y = 0.10 and z > $0 and n = 12 months") == [
        (Name, "x"), (Operator, ">="), (Number.Integer, "8"), (Keyword.Type, "minutes"),
        (Operator.Word, "and"), (Name, "y"), (Operator, "="), (Number.Float, "0.10"),
        (Operator.Word, "and"), (Name, "z"), (Operator, ">"), (Number, "$0"),
        (Operator.Word, "and"), (Name, "n"), (Operator, "="), (Number.Integer, "12"),
        (Keyword.Type, "months")]
    # month( is the built-in function, not the unit.
    assert tokens("month(date_of_service)")[0] == (Name.Builtin, "month")


def test_strings_with_placeholders_and_escapes() -> None:
    assert tokens('  say "{line.code} needs \\{GO\\} for { patient.visits_this_year }"\n') == [
        (Keyword, "say"), (String.Double, '"'), (String.Interpol, "{line.code}"),
        (String.Double, " needs "), (String.Escape, "\\{"), (String.Double, "GO"),
        (String.Escape, "\\}"), (String.Double, " for "),
        (String.Interpol, "{ patient.visits_this_year }"), (String.Double, '"')]


def test_patterns_comments_and_flags() -> None:
    assert tokens("when any diagnosis matches F90.*, F84.0 and x = yes  # ADHD\n") == [
        (Keyword, "when"), (Operator.Word, "any"), (Name.Builtin.Pseudo, "diagnosis"),
        (Operator.Word, "matches"), (String.Regex, "F90.*"), (Punctuation, ","),
        (String.Regex, "F84.0"), (Operator.Word, "and"), (Name, "x"), (Operator, "="),
        (Keyword.Constant, "yes"), (Comment.Single, "# ADHD")]
    assert tokens("let first = no line where line.units is missing") == [
        (Keyword, "let"), (Name, "first"), (Operator, "="), (Operator.Word, "no"),
        (Name.Builtin.Pseudo, "line"), (Keyword, "where"), (Name.Builtin.Pseudo, "line"),
        (Punctuation, "."), (Name.Attribute, "units"), (Operator.Word, "is"),
        (Operator.Word, "missing")]


def test_an_unterminated_text_stops_at_the_end_of_its_line() -> None:
    assert tokens('say "oops\nrule r : info\n')[-4:] == [
        (Keyword.Declaration, "rule"), (Name.Function, "r"), (Punctuation, ":"),
        (Name.Exception, "info")]


def test_text_that_is_not_the_language_shows_error_tokens() -> None:
    assert errors("when visit.payer = 'acme'\n") == ["'", "'"]


def test_pygments_finds_the_lexer_by_alias_and_file_name() -> None:
    """Through the ``pygments.lexers`` entry point that pyproject.toml declares."""
    assert isinstance(get_lexer_by_name("otr"), OtrulesLexer)
    assert isinstance(get_lexer_by_name("otrules"), OtrulesLexer)
    assert isinstance(get_lexer_for_filename("rules-lines.otr"), OtrulesLexer)
