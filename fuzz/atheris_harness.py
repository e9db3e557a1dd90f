"""Coverage-guided fuzzing of the front end with Atheris (libFuzzer for Python).

Runs outside CI, for as long as you like. The invariants are those of
``tests/test_fuzz_front_end.py``: for any text, ``parse_source`` and ``check_source`` return
diagnostics whose spans lie inside the text (or succeed), never raise, and whatever parses
also formats, idempotently, to the same AST. A violation raises, and libFuzzer saves the
input that caused it as ``crash-*``.

    pip install atheris
    python fuzz/atheris_harness.py --make-corpus fuzz/corpus      # seeds: every bundled .otr
    python fuzz/atheris_harness.py fuzz/corpus -max_total_time=600 -timeout=30 -rss_limit_mb=4096

See fuzz/README.md for what runs have found.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["otrules", "lark"]):
    from otrules.diagnostics import Diagnostic, render
    from otrules.lang.checkcodes import INTERNAL
    from otrules.lang.formatter import format_source
    from otrules.lang.loader import check_source
    from otrules.lang.parser import parse_source
    from otrules.resources import rulepacks_dir

# An empty folder two levels down: `extends NAME` finds no sibling, `from "x.csv"` no file.
_FOLDER = Path(tempfile.mkdtemp(prefix="otrules-fuzz-")) / "packs" / "fuzzed"
_FOLDER.mkdir(parents=True)
PATH = str(_FOLDER / "pack.otr")


class InvariantBroken(AssertionError):
    pass


def _check(condition: bool, what: str, d: Diagnostic | None = None) -> None:
    if not condition:
        raise InvariantBroken(f"{what}: {d!r}")


def _span_inside(d: Diagnostic, text: str) -> None:
    span = d.span
    if span is None or span.file != PATH:
        return
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    _check(1 <= span.line <= len(lines), "line outside the text", d)
    _check(1 <= span.column <= len(lines[span.line - 1]) + 1, "column outside the line", d)
    _check((span.end_line, span.end_column) >= (span.line, span.column), "end before start", d)
    _check(span.end_line <= len(lines), "end line outside the text", d)


def front_end(text: str) -> None:
    parsed, diags = parse_source(text, PATH)
    for d in diags:
        _check(d.severity == "error" and d.code.startswith("E"), "parser non-error", d)
        _span_inside(d, text)
        render(d, {PATH: text})
    for d in check_source(text, PATH):
        _check(d.code != INTERNAL, "the checker caught a bug of its own", d)
        _span_inside(d, text)
    if not diags:
        formatted = format_source(text, PATH)
        _check(format_source(formatted, PATH) == formatted, "formatting is not idempotent")
        _check(parse_source(formatted, PATH)[0] == parsed, "formatting changed the AST")


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    front_end(provider.ConsumeUnicodeNoSurrogates(len(data)))


def make_corpus(folder: Path) -> None:
    """Seed inputs: every bundled .otr file, encoded as the harness decodes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(rulepacks_dir().glob("*/*.otr")):
        text = source.read_text(encoding="utf-8")
        # ConsumeUnicodeNoSurrogates reads a first byte choosing the encoding: 1 is ASCII,
        # 2 is UTF-16 (little-endian here), 0 is UTF-32.
        data = (b"\x01" + text.encode("ascii") if text.isascii()
                else b"\x02" + text.encode("utf-16-le"))
        (folder / f"{source.parent.name}-{source.name}").write_bytes(data)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
        return
    sys.setrecursionlimit(10_000)  # the default; the front end must not need more
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
