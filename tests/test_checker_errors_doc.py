"""docs/language/errors.md: every diagnostic code is documented, and every example in it
really produces its code."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from otrules.lang import errorcodes
from otrules.lang.loader import PackLimits, check_pack
from otrules.lang.parser import DEFAULT_LIMITS
from otrules.lang.tables import DEFAULT_TABLE_LIMITS

DOC = Path(__file__).parent.parent / "docs" / "language" / "errors.md"
_SECTION = re.compile(r"^## ([EW]\d{3}): (.+)$", re.M)
_BLOCK = re.compile(r"^```otr(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.M | re.S)
_FILE = re.compile(r"^# file: (\S+)$", re.M)
# E099 is an internal error: no pack text should produce it. E065 needs a CSV cell longer
# than 131,072 characters, too long for a page.
NO_EXAMPLE = {"E065", "E099"}


@attrs.frozen
class Example:
    code: str
    title: str
    info: tuple[str, ...]
    files: dict[str, str]


def sections() -> dict[str, tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    found = list(_SECTION.finditer(text))
    bounds = [m.start() for m in found[1:]] + [len(text)]
    return {m.group(1): (m.group(2), text[m.end():end]) for m, end in zip(found, bounds,
                                                                          strict=True)}


def examples() -> list[Example]:
    out = []
    for code, (title, body) in sections().items():
        block = _BLOCK.search(body)
        if block is not None:
            out.append(Example(code, title, tuple(block.group("info").split()),
                               split_files(block.group("body"))))
    return out


def split_files(body: str) -> dict[str, str]:
    """`# file: NAME` lines start files; without them the block is one file, pack.otr."""
    marks = list(_FILE.finditer(body))
    if not marks:
        return {"pack.otr": body}
    ends = [m.start() for m in marks[1:]] + [len(body)]
    return {m.group(1): body[m.end() + 1:end] for m, end in zip(marks, ends, strict=True)}


def limits_of(info: tuple[str, ...]) -> PackLimits:
    settings = dict(item.split("=", 1) for item in info if "=" in item)
    source = {k: int(v) for k, v in settings.items() if k in ("max_source_bytes", "max_depth")}
    tables = {k: int(v) for k, v in settings.items() if k in ("max_rows",)}
    return PackLimits(source=attrs.evolve(DEFAULT_LIMITS, **source),
                      tables=attrs.evolve(DEFAULT_TABLE_LIMITS, **tables))


def test_every_registered_code_is_documented_with_its_title() -> None:
    documented = {code: title for code, (title, _) in sections().items()}
    registered = {c.code: c.title for c in errorcodes.all_codes()}
    assert sorted(documented) == sorted(registered)
    assert documented == registered


def test_every_code_but_internal_errors_has_an_example() -> None:
    assert {e.code for e in examples()} == set(sections()) - NO_EXAMPLE


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.code)
def test_the_example_produces_its_code(example: Example, tmp_path: Path) -> None:
    encoding = "latin-1" if "latin1" in example.info else "utf-8"
    for name, text in example.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding if name.endswith(".csv") else "utf-8"))
    folder = dict(i.split("=", 1) for i in example.info if "=" in i).get("check", "")
    diags = check_pack(tmp_path / folder, limits=limits_of(example.info))
    assert example.code in {d.code for d in diags}, [(d.code, d.message) for d in diags]
