"""Reading the examples out of the documentation pages, shared by the ``test_docs_*`` tests.

A page marks what a test must do with an HTML comment (invisible on the site) just before a
fenced block:

* ``<!-- file: PATH -->``: write the block to PATH, relative to the test's folder;
* ``<!-- append: PATH -->``: add the block to the end of PATH;
* ``<!-- edit: PATH -->``: a ``diff`` block; lines marked ``-`` and ``+`` are removed and
  added, lines marked with a space are context. The old text must occur exactly once;
* ``<!-- excerpt: PATH -->``: the block must appear, verbatim, in PATH (relative to the
  repository), so that a page never quotes a pack that has since changed;
* ``<!-- run -->`` or ``<!-- run: exit N -->``: a ``console`` block of ``$ command`` lines,
  each followed by its exact output (stdout and stderr together);
* ``<!-- output -->``: the exact standard output of the Python block just before it.

In expected output a line holding only ``…`` stands for any number of lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"

_MARKED = re.compile(
    r"<!-- (?P<kind>file|append|edit|excerpt|run|output)(?::\s*(?P<arg>[^>]*?))? -->\n"
    r"(?P<fence>`{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)$", re.S | re.M)
_FENCED = re.compile(r"^(?P<fence>`{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)$", re.S | re.M)


@attrs.frozen
class Block:
    """A fenced block of a page, with the marker before it (``kind`` None when unmarked)."""

    line: int  # the line of the opening fence, 1-based, for messages
    info: str  # the fence's info string: ``otr``, ``console``, ``otr-header`` ...
    body: str
    kind: str | None = None
    arg: str | None = None

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    @property
    def exit(self) -> int:
        """The exit status a ``run`` block expects."""
        match = re.fullmatch(r"exit (\d+)", (self.arg or "").strip())
        return int(match.group(1)) if match else 0


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page`` in order, with its marker if it has one."""
    text = page.read_text(encoding="utf-8")
    marked = {m.start("fence"): m for m in _MARKED.finditer(text)}
    found = []
    for m in _FENCED.finditer(text):
        mark = marked.get(m.start())
        line = text.count("\n", 0, m.start()) + 1
        found.append(Block(line, m["info"].strip(), m["body"],
                           mark["kind"] if mark else None, mark["arg"] if mark else None))
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; an expected ``…`` line matches any number of actual lines."""
    if not expected:
        return not actual
    head, *rest = expected
    if head == "…":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and head == actual[0] and matches(rest, actual[1:])


def apply_edit(text: str, diff: str) -> str:
    """Apply a one-hunk ``diff`` block (``-``, ``+`` and context lines) to ``text``."""
    old, new = [], []
    for line in diff.splitlines():
        mark, rest = line[:1], line[1:]
        if mark in (" ", "-"):
            old.append(rest)
        if mark in (" ", "+"):
            new.append(rest)
        if mark not in (" ", "-", "+"):
            raise ValueError(f"a diff line must start with ' ', '-' or '+': {line!r}")
    before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
    count = text.count(before)
    if count != 1:
        raise ValueError(f"the lines to change occur {count} times, not once:\n{before}")
    return text.replace(before, after)


def commands(body: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of a console block, each with the output lines after it."""
    found: list[tuple[str, list[str]]] = []
    for line in body.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
        else:
            raise ValueError(f"output before any command: {line!r}")
    return found


# ---------------------------------------------------------------------------- the helpers


def test_matching_with_ellipses() -> None:
    assert matches(["a", "…", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "…"], ["a"])
    assert not matches(["a", "…", "d"], ["a", "b"])
    assert not matches(["a"], ["a", "b"])


def test_an_edit_replaces_exactly_the_marked_lines() -> None:
    text = "one\ntwo\nthree\nfour\n"
    assert apply_edit(text, " two\n-three\n+3\n+3.5") == "one\ntwo\n3\n3.5\nfour\n"


def test_an_edit_whose_lines_are_not_found_once_is_refused() -> None:
    for text in ("a\nb\n", "x\ny\nx\ny\n"):
        try:
            apply_edit(text, " x\n-y")
        except ValueError:
            continue
        raise AssertionError(f"the edit applied to {text!r}")


def test_console_blocks_split_into_commands_and_outputs() -> None:
    assert commands("$ a 1\nout\n\n$ b\n") == [("a 1", ["out", ""]), ("b", [])]


def test_markers_attach_to_the_block_that_follows(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("intro\n\n<!-- run: exit 1 -->\n```console\n$ otrules x\ny\n```\n\n"
                    "```otr\nrule\n```\n", encoding="utf-8")
    first, second = blocks(page)
    assert (first.kind, first.exit, first.language, first.line) == ("run", 1, "console", 4)
    assert first.body == "$ otrules x\ny\n"
    assert (second.kind, second.language, second.body) == (None, "otr", "rule\n")
