"""The front end under random and damaged input: the parser and the checker either succeed or
return diagnostics with spans inside the text; nothing else ever comes out (no exception, no
RecursionError, no hang), and the formatter handles whatever parses.

Each example runs under a wall-clock alarm, so a hang fails the example instead of the run.
Longer campaigns: ``HYPOTHESIS_PROFILE=fuzz`` for these tests, ``fuzz/atheris_harness.py``
for coverage-guided fuzzing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otrules.diagnostics import Diagnostic, render
from otrules.lang.checkcodes import INTERNAL
from otrules.lang.formatter import format_source
from otrules.lang.loader import check_source
from otrules.lang.parser import parse_source
from otrules.testing import mutated_pack_sources, pack_sources

# Generous: the CI machine has two cores shared with other jobs; a real hang never ends.
BUDGET_SECONDS = 30

# Pieces the grammar knows, so that random sequences get past the first token.
WORDS = (
    "pack", "rule", "table", "parameter", "units", "override", "disable", "extends",
    "effective", "to", "from", "when", "say", "source", "about", "let", "for", "each", "line",
    "lines", "pair", "diagnosis", "where", "in", "not", "and", "or", "has", "lacks", "any",
    "all", "of", "count", "sum", "over", "matches", "is", "missing", "present", "if", "then",
    "else", "fix", "add", "modifier", "set", "key", "column", "row", "none", "yes", "no",
    "error", "warning", "info", "cms", "ama", "timed", "by", "because", "valid", "until",
    "minutes", "days", "months", "(", ")", ",", ":", ".", "[", "]", "=", "!=", "<", ">=", "+",
    "-", "*", "/", "//", "%", "97110", "G0283", "GO", "59", "F90.*", "2026-01-01", "$2,480.00",
    "12", "0.5", '"text"', '"{line.code}"', '"\\{"', "x", "line.code", "\n", "\n  ", "# c\n",
    "\u202e", "\x00", "\ufeff", "\r", "\t",
)
token_soup = st.lists(st.sampled_from(WORDS), max_size=60).map(" ".join)
any_text = st.text(max_size=300)
nasty = st.sampled_from(["\x00", "\u202e", "\u200f", "\u2028", "\ufeff", "\r", "\ud7ff", "\uffff",
                         "\U0001f600", "\\", '"', "{", "}", "\x0c"])


@st.composite
def sprinkled(draw: st.DrawFn) -> str:
    """A valid pack with awkward characters (NUL, RTL marks, BOM, CR...) dropped in."""
    text = draw(pack_sources())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(nasty) + text[at:]
    return text


class Hang(Exception):
    pass


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def lines_of(text: str) -> list[str]:
    """The lines spans count, after the parser's own newline normalisation."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def assert_span_inside(d: Diagnostic, text: str, path: str) -> None:
    span = d.span
    if span is None or span.file != path:
        return  # a diagnostic about the pack as a whole, or about another file
    lines = lines_of(text)
    assert 1 <= span.line <= len(lines), (d, len(lines))
    assert 1 <= span.column <= len(lines[span.line - 1]) + 1, d
    assert (span.end_line, span.end_column) >= (span.line, span.column), d
    assert span.end_line <= len(lines), d
    assert 1 <= span.end_column <= len(lines[span.end_line - 1]) + 2, d


@pytest.fixture(scope="module")
def pack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Nested, so that `extends NAME` finds no sibling folder and tables no stray file.
    folder = tmp_path_factory.mktemp("fuzz") / "packs" / "fuzzed"
    folder.mkdir(parents=True)
    return folder / "pack.otr"


def front_end(text: str, path: Path) -> None:
    """Everything a pack author's text goes through; asserts only the allowed outcomes."""
    name = str(path)
    with time_budget(BUDGET_SECONDS):
        parsed, diags = parse_source(text, name)
        for d in diags:
            assert d.severity == "error", d
            assert d.code.startswith("E"), d
            assert_span_inside(d, text, name)
            render(d, {name: text})  # rendering never fails either
        for d in check_source(text, name):
            assert d.code != INTERNAL, d  # the checker caught a bug of its own
            assert_span_inside(d, text, name)
        if not diags:
            formatted = format_source(text, name)  # verifies AST and comments itself
            assert format_source(formatted, name) == formatted
            assert parse_source(formatted, name)[0] == parsed


@given(any_text)
def test_random_text(pack_file: Path, text: str) -> None:
    front_end(text, pack_file)


@given(token_soup)
def test_random_token_sequences(pack_file: Path, text: str) -> None:
    front_end(text, pack_file)


@given(mutated_pack_sources())
def test_damaged_packs(pack_file: Path, text: str) -> None:
    front_end(text, pack_file)


@given(sprinkled())
def test_packs_with_awkward_characters(pack_file: Path, text: str) -> None:
    front_end(text, pack_file)


@pytest.mark.parametrize("text", [
    "",
    "\x00",
    "\ufeff",
    "\u202epack p",
    "pack",
    "pack p \"unterminated\n",
    "rule r : error\n  when (((((",
    "rule r : error\n  say \"{\"",
    "rule r : error\n  say \"{line.}\"",
    "rule r : error\n  say \"}\"",
    "\r\r\r\n\n",
    "pack p \"x\"\n  effective 2026-02-30 to 2026-13-01\n",
    "pack p \"x\"\n  effective 2026-01-01 to 2026-12-31\n  extends ../../etc\n",
    "table t from \"/etc/passwd\" as cms-ptp\n",
    "#" * 10_000,
    "(" * 5_000,
    "rule r : info\n  when " + "not " * 5_000 + "yes\n",
    "rule r : info\n  when " + " + ".join(["1"] * 3_000) + " > 1\n",
])
def test_named_pathological_inputs(pack_file: Path, text: str) -> None:
    front_end(text, pack_file)
