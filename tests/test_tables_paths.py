"""Path safety: a pack reads only files inside its own folder, and never opens one outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from otrules.diagnostics import Diagnostic
from otrules.lang import ast as A
from otrules.lang.checked import TableData
from otrules.lang.parser import parse_source
from otrules.lang.tables import load_table

SECRET = "code\n97110\n"


def load(file: str, folder: Path) -> tuple[TableData | None, list[Diagnostic]]:
    text = f'table t from "{file}"\n  key code : code\n'
    pack, diagnostics = parse_source(text, "main.otr")
    assert diagnostics == []
    (decl,) = pack.decls
    assert isinstance(decl, A.Table)
    return load_table(decl, folder)


def where(d: Diagnostic) -> tuple[str, str, int, int]:
    assert d.span is not None
    return d.code, d.message, d.span.line, d.span.column


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/pack (the pack folder) next to tmp/outside/secret.csv."""
    (tmp_path / "pack" / "tables").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.csv").write_text(SECRET, encoding="utf-8")
    (tmp_path / "secret.csv").write_text(SECRET, encoding="utf-8")
    return tmp_path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path os.open is asked for while the test runs."""
    seen: list[str] = []
    real = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        seen.append(os.fspath(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return seen


def test_climbing_out_of_the_pack_folder(layout: Path, opened: list[str]) -> None:
    table, diagnostics = load("../secret.csv", layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E061", "'../secret.csv' leads out of the pack folder", 1, 9),
    ]
    assert diagnostics[0].help == ("a pack may read only files inside its own folder; copy the "
                                   "file into the pack, for example into tables/")
    assert opened == []
    assert table is not None
    assert table.rows == ()


def test_climbing_out_through_a_subfolder(layout: Path, opened: list[str]) -> None:
    _, diagnostics = load("tables/../../outside/secret.csv", layout / "pack")
    assert [where(d)[:2] for d in diagnostics] == [
        ("E061", "'tables/../../outside/secret.csv' leads out of the pack folder"),
    ]
    assert opened == []


def test_dot_dot_that_stays_inside_is_fine(layout: Path) -> None:
    (layout / "pack" / "tables" / "x.csv").write_text(SECRET, encoding="utf-8")
    table, diagnostics = load("tables/../tables/x.csv", layout / "pack")
    assert diagnostics == []
    assert table is not None
    assert table.origin == "tables/x.csv"
    assert table.rows == (("97110",),)


@pytest.mark.parametrize("path", ["/etc/passwd", "C:/data/x.csv"])
def test_absolute_paths(layout: Path, opened: list[str], path: str) -> None:
    _, diagnostics = load(path, layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E061", f"'{path}' is an absolute path; a pack may read only its own files", 1, 9),
    ]
    assert opened == []


def test_absolute_path_to_a_file_inside_the_folder_is_refused_too(layout: Path) -> None:
    inside = layout / "pack" / "tables" / "x.csv"
    inside.write_text(SECRET, encoding="utf-8")
    _, diagnostics = load(str(inside), layout / "pack")
    assert [d.code for d in diagnostics] == ["E061"]


def test_a_symbolic_link_to_a_file_outside(layout: Path, opened: list[str]) -> None:
    (layout / "pack" / "tables" / "link.csv").symlink_to(layout / "outside" / "secret.csv")
    _, diagnostics = load("tables/link.csv", layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E061", "'tables/link.csv' passes through a symbolic link that leads out of the pack "
         "folder", 1, 9),
    ]
    assert opened == []


def test_a_symbolic_link_to_a_folder_outside(layout: Path, opened: list[str]) -> None:
    (layout / "pack" / "shared").symlink_to(layout / "outside", target_is_directory=True)
    _, diagnostics = load("shared/secret.csv", layout / "pack")
    assert [where(d)[:2] for d in diagnostics] == [
        ("E061", "'shared/secret.csv' passes through a symbolic link that leads out of the "
         "pack folder"),
    ]
    assert opened == []


def test_a_symbolic_link_that_stays_inside_is_followed(layout: Path) -> None:
    (layout / "pack" / "tables" / "real.csv").write_text(SECRET, encoding="utf-8")
    (layout / "pack" / "current.csv").symlink_to(layout / "pack" / "tables" / "real.csv")
    table, diagnostics = load("current.csv", layout / "pack")
    assert diagnostics == []
    assert table is not None
    assert table.origin == "current.csv"
    assert table.rows == (("97110",),)


def test_a_pack_folder_reached_through_a_link_still_reads_its_files(layout: Path) -> None:
    (layout / "pack" / "tables" / "x.csv").write_text(SECRET, encoding="utf-8")
    (layout / "alias").symlink_to(layout / "pack", target_is_directory=True)
    table, diagnostics = load("tables/x.csv", layout / "alias")
    assert diagnostics == []
    assert table is not None
    assert table.rows == (("97110",),)


@pytest.mark.parametrize(("path", "message", "help_"), [
    ("", "the file name is empty",
     "write the path relative to the pack folder, for example tables/ptp.csv"),
    ("tables\\\\x.csv", "'tables\\x.csv' contains a backslash",
     "write paths with forward slashes: tables/x.csv"),
])
def test_unusable_names(layout: Path, path: str, message: str, help_: str) -> None:
    _, diagnostics = load(path, layout / "pack")
    assert [where(d) for d in diagnostics] == [("E061", message, 1, 9)]
    assert diagnostics[0].help == help_


def test_a_missing_file_suggests_a_close_name(layout: Path) -> None:
    (layout / "pack" / "tables" / "ptp.csv").write_text(SECRET, encoding="utf-8")
    _, diagnostics = load("tables/ptp.cvs", layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E062", "there is no file 'tables/ptp.cvs' in the pack folder", 1, 9),
    ]
    assert diagnostics[0].help == "did you mean 'tables/ptp.csv'?"


def test_a_missing_folder(layout: Path) -> None:
    _, diagnostics = load("nowhere/ptp.csv", layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E062", "there is no file 'nowhere/ptp.csv' in the pack folder", 1, 9),
    ]
    assert diagnostics[0].help is None


@pytest.mark.parametrize(("path", "what"), [("tables", "a folder"), (".", "a folder")])
def test_a_folder_is_not_a_table_file(layout: Path, path: str, what: str) -> None:
    _, diagnostics = load(path, layout / "pack")
    assert [where(d) for d in diagnostics] == [("E062", f"'{path}' is {what}", 1, 9)]


def test_a_fifo_is_refused_without_blocking(layout: Path) -> None:
    os.mkfifo(layout / "pack" / "tables" / "pipe.csv")
    _, diagnostics = load("tables/pipe.csv", layout / "pack")
    assert [where(d) for d in diagnostics] == [
        ("E062", "'tables/pipe.csv' is not a regular file", 1, 9),
    ]


def test_a_symbolic_link_loop(layout: Path) -> None:
    (layout / "pack" / "a.csv").symlink_to(layout / "pack" / "b.csv")
    (layout / "pack" / "b.csv").symlink_to(layout / "pack" / "a.csv")
    _, diagnostics = load("a.csv", layout / "pack")
    assert [d.code for d in diagnostics] == ["E062"]
    assert diagnostics[0].message.startswith("cannot follow the path 'a.csv': ")
