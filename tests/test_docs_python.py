"""The Python examples of the guide, the architecture page and the home page: on each page,
every Python block runs, in order, in one namespace, and prints what the page shows under it
(``<!-- output -->``). Files marked ``<!-- file: PATH -->`` are written into the folder the
blocks run in, as they are met."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from test_docs_support import DOCS, blocks, matches

PAGE = DOCS / "guide.md"
PAGES = {"guide.md": 10, "architecture.md": 1, "index.md": 1}  # page -> fewest blocks run


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_python_block_runs_and_prints_what_the_page_shows(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": name.removesuffix(".md")}
    printed: str | None = None
    ran = checked = 0
    for block in blocks(DOCS / name):
        where = f"docs/{name}:{block.line}"
        if block.kind == "file":
            target = tmp_path / (block.arg or "").strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
        elif block.kind == "output":
            assert printed is not None, f"{where}: an output block needs a Python block before it"
            expected, actual = block.body.rstrip("\n").split("\n"), printed.rstrip("\n").split("\n")
            assert matches(expected, actual), f"{where}: the block printed\n{printed}"
            printed, checked = None, checked + 1
        elif block.language == "python":
            assert printed is None, f"{where}: the block before printed output the page hides"
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.body, where, "exec"), namespace)  # the page's own code
            printed = out.getvalue() or None
            ran += 1
    assert printed is None, "the last block printed output the page does not show"
    assert ran >= PAGES[name]
    assert checked >= PAGES[name]


def test_the_guide_covers_what_developers_need() -> None:
    code = "\n".join(b.body for b in blocks(PAGE) if b.language == "python")
    for name in ("load_pack", "load_visit", "evaluate(", "evaluate_many", "read_visits",
                 "PackError", "VisitError", "EvaluationError", ".fix(", "trace=True",
                 "otrules.testing"):
        assert name in code, name
