"""The documentation site as a whole: mkdocs.yml's navigation, the API page, and quotations
of bundled packs. (``mkdocs build --strict`` in CI checks every link and anchor.)"""

from __future__ import annotations

from typing import Any

import yaml

import otrules
from test_docs_support import DOCS, REPO, blocks


class _Loader(yaml.SafeLoader):
    """mkdocs.yml names Python objects (``!!python/name:``); here they stay strings."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/name:",
                              lambda loader, suffix, node: suffix)


def _config() -> dict[str, Any]:
    with (REPO / "mkdocs.yml").open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # a SafeLoader: no arbitrary objects


def _nav_files(items: Any) -> list[str]:
    if isinstance(items, str):
        return [items]
    if isinstance(items, list):
        return [f for item in items for f in _nav_files(item)]
    if isinstance(items, dict):
        return [f for value in items.values() for f in _nav_files(value)]
    return []


def _pages() -> list[str]:
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
                  if "hooks" not in p.parts)


def test_every_page_is_in_the_navigation_and_every_entry_exists() -> None:
    listed = _nav_files(_config()["nav"])
    generated = [f for f in listed if f.startswith("catalogue/")]
    assert generated == ["catalogue/index.md"]  # the hook adds one page per bundled pack
    written = [f for f in listed if f not in generated]
    assert sorted(written) == _pages()
    assert len(written) == len(set(written))


def test_the_site_is_strict_and_uses_the_catalogue_hook() -> None:
    config = _config()
    assert config["strict"] is True
    assert config["hooks"] == ["docs/hooks/catalogue.py"]
    assert set(config["validation"].values()) == {"warn"}


def test_the_api_page_documents_every_public_name() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    for name in otrules.__all__:
        if name != "__version__":
            assert f"::: otrules.{name}\n" in text, name


def test_quoted_pack_text_is_verbatim_from_the_bundled_packs() -> None:
    quoted = 0
    for page in _pages():
        for block in blocks(DOCS / page):
            if block.kind == "excerpt":
                source = (REPO / (block.arg or "").strip()).read_text(encoding="utf-8")
                assert block.body in source, f"docs/{page}:{block.line} no longer matches"
                quoted += 1
    assert quoted >= 3


def test_every_page_has_one_title() -> None:
    for page in _pages():
        lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# "), page
        assert sum(line.startswith("# ") for line in _prose(lines)) == 1, page


def _prose(lines: list[str]) -> list[str]:
    """The lines outside fenced blocks (a `#` comment in a code block is not a title)."""
    out, fenced = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return out
