"""The saved Lark analysis of the grammar (``otrules.lang.prebuilt``): current, used only when
it fits, and the same parser as the one Lark builds from the grammar."""

from __future__ import annotations

import marshal
from pathlib import Path

import lark
import pytest

from otrules.lang import lalr_driver, prebuilt
from otrules.lang.parser import _grammar_text
from otrules.resources import rulepacks_dir

GRAMMAR = _grammar_text()
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built() -> lark.Lark:
    return prebuilt.build(GRAMMAR)


@pytest.fixture(scope="module")
def loaded(built: lark.Lark, tmp_path_factory: pytest.TempPathFactory) -> lark.Lark:
    # Saved and loaded here, so that the comparison holds whatever Lark is installed.
    path = tmp_path_factory.mktemp("tables") / "grammar-tables.marshal"
    path.write_bytes(prebuilt.dump(built, GRAMMAR))
    parser = prebuilt.load(GRAMMAR, path)
    assert parser is not None
    return parser


def test_the_shipped_tables_are_for_this_grammar() -> None:
    saved = marshal.loads(prebuilt.tables_file().read_bytes())
    assert saved["grammar_sha256"] == prebuilt._digest(GRAMMAR), \
        "the grammar changed: run `python -m otrules.lang.prebuilt`"
    # Used exactly when the Lark that made them is the one installed; else Lark rebuilds.
    assert (prebuilt.load(GRAMMAR) is not None) == (saved["lark"] == lark.__version__)


def test_tables_that_do_not_fit_are_not_used(built: lark.Lark, tmp_path: Path) -> None:
    path = tmp_path / "tables"
    path.write_bytes(prebuilt.dump(built, GRAMMAR + "\n// another grammar\n"))
    assert prebuilt.load(GRAMMAR, path) is None
    saved = marshal.loads(prebuilt.dump(built, GRAMMAR))
    saved["lark"] = "0.0.1"
    path.write_bytes(marshal.dumps(saved))
    assert prebuilt.load(GRAMMAR, path) is None
    for damaged in (b"", b"not marshal data", prebuilt.dump(built, GRAMMAR)[:5000],
                    marshal.dumps({"format": 1}), marshal.dumps([1, 2, 3])):
        path.write_bytes(damaged)
        assert prebuilt.load(GRAMMAR, path) is None
    assert prebuilt.load(GRAMMAR, tmp_path / "missing") is None


def test_the_loaded_parser_has_the_built_tables(built: lark.Lark, loaded: lark.Lark) -> None:
    ours, theirs = lalr_driver.Tables(loaded), lalr_driver.Tables(built)
    assert ours.actions == theirs.actions
    assert ours.goto == theirs.goto
    assert (ours.start, ours.end) == (theirs.start, theirs.end)
    assert [None if lexer is None else (lexer[0].__self__.pattern, lexer[1])
            for lexer in ours.lexers] == \
        [None if lexer is None else (lexer[0].__self__.pattern, lexer[1])
         for lexer in theirs.lexers]


def _texts() -> list[str]:
    shipped = sorted([*rulepacks_dir().rglob("*.otr"), *(REPO / "tests").rglob("*.otr")])
    return [path.read_text(encoding="utf-8") for path in shipped]


def test_the_loaded_parser_reads_every_pack_as_the_built_one(built: lark.Lark,
                                                            loaded: lark.Lark) -> None:
    texts = _texts()
    assert len(texts) > 10
    for text in texts:
        for cut in (len(text), len(text) // 2, len(text) // 3):  # whole, and broken off
            damaged = text[:cut] + ("\n)" if cut < len(text) else "")
            assert _outcome(loaded, damaged) == _outcome(built, damaged)


def _outcome(parser: lark.Lark, text: str) -> object:
    try:
        return parser.parse(text)
    except lark.exceptions.UnexpectedInput as error:
        return (type(error).__name__, error.line, error.column,
                sorted(getattr(error, "expected", None) or getattr(error, "allowed", ())))
