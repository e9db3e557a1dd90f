"""MkDocs hooks for the otrules site (listed under ``hooks:`` in mkdocs.yml).

* The rule catalogue: one page per bundled pack, written at build time from the packs
  themselves by :func:`otrules.catalogue.catalogue_markdown`, so the site can never describe a
  rule that the pack no longer has. The nav entry ``Rule catalogue`` becomes a section holding
  the index and every pack's page.
* Rule-pack source is highlighted by otrules' own Pygments lexer, found through the
  ``pygments.lexers`` entry point: the build stops if it is missing (an install without the
  entry point would silently show pack source as plain text).
* Fences such as ```` ```otr-header ```` or ```` ```otr max_depth=3 ```` carry information for
  the tests that run the examples; they are highlighted as ``otr``.
* Source ids such as ``[S1][S2]`` (citations of the domain notes) are text, not links: they are
  escaped before rendering, because the cross-reference plugin of mkdocstrings would read
  ``[S1][S2]`` as a link to an identifier ``S2``.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

import otrules
from otrules.catalogue import bundled_pack_names, catalogue_markdown
from otrules.pygments_lexer import OtrulesLexer

CATALOGUE = "catalogue"
NAV_TITLE = "Rule catalogue"
_OTR_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})otr\b[^\n`]*$", re.M)
_CITATION = re.compile(r"\[(S\d+[a-z-]*)\](?![(:])")  # not a link, not a link definition
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
# mkdocstrings shows Sphinx roles (:class:`X`) literally; the code span alone reads better.
_SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):(?=<code>)")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _require_lexer()
    config.nav = [_expand(item) for item in config.nav or []]
    return config


def _require_lexer() -> None:
    try:
        lexer = get_lexer_by_name("otr")
    except ClassNotFound:
        lexer = None
    if not isinstance(lexer, OtrulesLexer):
        raise PluginError("the Pygments lexer 'otr' is not registered: install otrules with its "
                          "entry points, e.g. pip install -e '.[docs]'")


def _expand(item: Any) -> Any:
    """The nav entry ``Rule catalogue: catalogue/index.md`` becomes the catalogue section."""
    if isinstance(item, dict) and item.get(NAV_TITLE) == f"{CATALOGUE}/index.md":
        pages = [{"Overview": f"{CATALOGUE}/index.md"}]
        pages += [{name: f"{CATALOGUE}/{name}.md"} for name in bundled_pack_names()]
        return {NAV_TITLE: pages}
    return item


def on_files(files: Files, config: MkDocsConfig) -> Files:
    names = bundled_pack_names()
    links = {name: f"{name}.md" for name in names}
    packs = [otrules.load_pack(name, backend="interpreter") for name in names]
    files.append(File.generated(config, f"{CATALOGUE}/index.md", content=_index(packs)))
    for pack in packs:
        files.append(File.generated(config, f"{CATALOGUE}/{pack.name}.md",
                                    content=catalogue_markdown(pack, links=links)))
    return files


def _index(packs: list[otrules.Pack]) -> str:
    rows = []
    for pack in packs:
        checked = pack.checked
        base = checked.lineage[-2] if len(checked.lineage) > 1 else None
        rows.append(f"| [`{pack.name}`]({pack.name}.md) | {checked.title or ''} | "
                    f"{pack.version or '—'} | {', '.join(checked.payers)} | "
                    f"{pack.effective[0]} to {pack.effective[1]} | {len(checked.rules)} | "
                    + (f"[`{base}`]({base}.md)" if base else "—") + " |")
    return "\n".join([
        "# Rule catalogue", "",
        "One page per pack bundled with otrules, written from the packs themselves each time "
        "this site is built: every rule with its severity, what it checks, its message, fix, "
        "source and dates; every parameter with its value in each period; every table with "
        "its row count and where its rows come from. For a pack that extends another, the "
        "page says what it overrides, disables and adds.", "",
        "The same page can be written for any pack from Python: "
        "`otrules.catalogue.catalogue_markdown(otrules.load_pack(path))`.", "",
        "| pack | title | version | payers | dates of service | rules | extends |",
        "|---|---|---|---|---|---|---|",
        *rows, ""])


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return _escape_citations(_OTR_FENCE.sub(r"\g<indent>\g<fence>otr", markdown))


def _escape_citations(markdown: str) -> str:
    """``[S12]`` becomes ``\\[S12\\]`` outside code blocks and code spans."""
    out, fence = [], None
    for line in markdown.split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None and opened and opened.group(1).startswith(fence):
            fence = None
        elif fence is None:
            # Odd-numbered pieces between backticks are code spans: leave them alone.
            pieces = line.split("`")
            line = "`".join(_CITATION.sub(r"\\[\1\\]", piece) if i % 2 == 0 else piece
                            for i, piece in enumerate(pieces))
        out.append(line)
    return "\n".join(out)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    return _SPHINX_ROLE.sub("", html)
