"""Where the package data lives: the grammar and the bundled rule packs.

In a built wheel they sit inside the package (``otrules/grammar``, ``otrules/rulepacks``);
in a source checkout (editable install, or tests run from the repository) they sit at the top
of the repository. Both layouts are supported so that a developer never has to rebuild to see
a pack change.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    inside = _PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    repo = _PACKAGE_DIR.parent.parent / name  # src/otrules -> repository root
    if repo.is_dir():
        return repo
    raise FileNotFoundError(f"otrules package data '{name}' is missing from the installation")


def grammar_dir() -> Path:
    return _data_dir("grammar")


def rulepacks_dir() -> Path:
    return _data_dir("rulepacks")


def package_data_dir() -> Path:
    """Data that lives inside the Python package itself (code tables, JSON Schema)."""
    return _PACKAGE_DIR / "data"
