"""docs/language/reference.md: every example is real rule-pack text that otrules accepts.

* The first ```` ```otr ```` block is a whole pack: it must check with no error on its own.
* Every later ```` ```otr ```` block is appended, in page order, to a small prelude pack (a
  header covering 2024-01-01 to 2026-12-31, a ``codes`` table holding every procedure code
  the examples name, and a ``modifiers`` table); the whole must check with no error.
* ```` ```otr-header ```` and ```` ```otr-file ```` blocks (a header alone, tables that read
  files the page does not show) must parse; ```` ```otr-extends ```` blocks are whole packs
  extending a bundled pack, and must check with no error.

The examples of docs/language/errors.md are checked by tests/test_checker_errors_doc.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from otrules import codes
from otrules.diagnostics import Diagnostic
from otrules.lang.loader import check_source
from otrules.lang.parser import parse_source
from test_docs_support import DOCS, Block, blocks

PAGE = DOCS / "language" / "reference.md"
MODIFIERS = ("GO", "GP", "GN", "KX", "CO", "CQ", "59", "XE", "XS", "XP", "XU", "95")
_CODE = re.compile(r"(?<![0-9A-Za-z_.$-])([0-9]{5}|[A-Z][0-9]{4}|[0-9]{4}[A-Z])(?![0-9A-Za-z_.])")


def _examples(language: str) -> list[Block]:
    return [b for b in blocks(PAGE) if b.language == language]


def _errors(diags: list[Diagnostic]) -> list[str]:
    return [f"{d.span}: {d.code} {d.message}" for d in diags if d.severity == "error"]


def prelude(code_list: list[str]) -> str:
    """A pack header and the tables the examples assume, in the language itself."""
    rows = "".join(f"  row {code}, {'yes' if codes.is_timed(code) else 'no'}\n"
                   for code in code_list)
    modifiers = "".join(f"  row {m}\n" for m in MODIFIERS)
    return ('pack reference-examples "The examples of docs/language/reference.md"\n'
            "  effective 2024-01-01 to 2026-12-31\n\n"
            f"table codes\n  key code : code\n  column timed : flag\n{rows}\n"
            f"table modifiers\n  key modifier : modifier\n{modifiers}\n")


def codes_named(texts: list[str]) -> list[str]:
    """Every procedure code written in ``texts`` (outside strings and comments), sorted."""
    found: set[str] = set()
    for text in texts:
        bare = re.sub(r'"([^"\\\n]|\\.)*"|#[^\n]*', " ", text)
        found.update(_CODE.findall(bare))
    return sorted(found)


def test_the_prelude_finds_the_codes_the_examples_name() -> None:
    assert codes_named(['row 97110, "97530 text" # 97140\n  when x = G0283 and y = 2026-01-01']
                       ) == ["97110", "G0283"]


def test_the_first_example_is_a_whole_pack_that_checks(tmp_path: Path) -> None:
    first = _examples("otr")[0]
    assert re.search(r"^pack ", first.body, re.M), "the first example is not a whole pack"
    diags = check_source(first.body, str(tmp_path / "pack.otr"))
    assert _errors(diags) == [], f"docs/language/reference.md:{first.line}"


def test_the_other_examples_check_together_after_the_prelude(tmp_path: Path) -> None:
    examples = _examples("otr")[1:]
    assert len(examples) >= 10
    head = prelude(codes_named([b.body for b in examples]))
    text, starts = head, []  # starts: (first line in the pack text, the block)
    for block in examples:
        starts.append((text.count("\n") + 1, block))
        text += block.body + "\n"
    errors = [d for d in check_source(text, str(tmp_path / "pack.otr")) if d.severity == "error"]
    located = []
    for d in errors:
        line = d.span.line if d.span else 0
        owner = max(((s, b) for s, b in starts if s <= line), default=None,
                    key=lambda item: item[0])
        where = (f"docs/language/reference.md:{owner[1].line + 1 + line - owner[0]}" if owner
                 else "the prelude")
        located.append(f"{where}: {d.code} {d.message}")
    assert not located, "\n".join(located)


def test_header_and_file_examples_parse() -> None:
    examples = _examples("otr-header") + _examples("otr-file")
    assert len(examples) >= 3
    for block in examples:
        _, diags = parse_source(block.body, "example.otr")
        assert diags == [], f"docs/language/reference.md:{block.line}: {diags}"


def test_extends_examples_check_against_the_bundled_base(tmp_path: Path) -> None:
    examples = _examples("otr-extends")
    assert examples
    for i, block in enumerate(examples):
        folder = tmp_path / f"example-{i}"
        folder.mkdir()
        diags = check_source(block.body, str(folder / "pack.otr"))
        assert _errors(diags) == [], f"docs/language/reference.md:{block.line}"


def test_every_fence_on_the_page_is_one_the_tests_know() -> None:
    known = {"otr", "otr-header", "otr-file", "otr-extends", ""}
    assert {b.language for b in blocks(PAGE)} <= known


def test_pack_text_in_the_other_pages_parses() -> None:
    """The pages written for people who do not read the reference (tutorial, guide, home)
    show only rule-pack text that parses."""
    for name in ("index.md", "tutorial.md", "guide.md", "billing.md", "architecture.md"):
        for block in blocks(DOCS / name):
            if block.language == "otr":
                _, diags = parse_source(block.body, "example.otr")
                assert diags == [], f"docs/{name}:{block.line}: {diags}"
