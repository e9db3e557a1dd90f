"""Lark's analysis of ``grammar/otrules.lark``, saved with the package.

Building the LALR tables from the grammar takes Lark about 0.2 s, in every process that reads
a pack: most of a small pack's ``otrules check``. So the package ships Lark's own serialised
parser (``Lark.memo_serialize``: dicts, lists, tuples, strings and numbers) in
``otrules/data/grammar-tables.marshal``, as :mod:`marshal` data (the format of ``.pyc`` files;
it is package data, trusted as the code beside it, and holds no code). With it, Lark loads
the parser in about 0.02 s.

The file records the sha256 of the grammar it was made from and the Lark version that made
it. It is used only when both match the grammar and Lark in use; otherwise, or if it cannot
be read, Lark analyses the grammar as before, so the file can only make loading faster, never
change what is parsed. After changing the grammar, write it again::

    python -m otrules.lang.prebuilt

(``tests/test_prebuilt.py`` fails while it is out of date.)
"""

from __future__ import annotations

import hashlib
import logging
import marshal
from pathlib import Path
from typing import Any, Final

import lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

from otrules.resources import package_data_dir

__all__ = ["build", "dump", "load", "tables_file"]

log = logging.getLogger("otrules.parser")

_FORMAT: Final = 1
_MARSHAL_VERSION: Final = 4  # read by every Python since 3.4
# The options every pack is parsed with (the driver and the diagnostics rely on them).
_OPTIONS: Final[dict[str, Any]] = {"parser": "lalr", "lexer": "contextual",
                                   "propagate_positions": True, "maybe_placeholders": False}


def tables_file() -> Path:
    return package_data_dir() / "grammar-tables.marshal"


def build(grammar: str) -> lark.Lark:
    """Lark's parser for ``grammar``, analysed now."""
    return lark.Lark(grammar, **_OPTIONS)


def load(grammar: str, path: Path | None = None) -> lark.Lark | None:
    """The saved parser for ``grammar``, or None when there is none that fits (then
    :func:`build` it)."""
    try:
        saved = marshal.loads((path or tables_file()).read_bytes())
        if not _fits(saved, grammar):
            log.debug("the saved grammar tables do not fit this grammar or Lark: rebuilding")
            return None
        return lark.Lark.load({"data": saved["data"], "memo": saved["memo"]})
    except Exception as exc:  # a saved copy that cannot be read is rebuilt, never trusted
        log.debug("the saved grammar tables cannot be read (%s): rebuilding",
                  type(exc).__name__)
        return None


def dump(parser: lark.Lark, grammar: str) -> bytes:
    """The saved form of ``parser``, built from ``grammar``."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    return marshal.dumps({"format": _FORMAT, "grammar_sha256": _digest(grammar),
                          "lark": lark.__version__, "data": data, "memo": memo},
                         _MARSHAL_VERSION)


def _fits(saved: Any, grammar: str) -> bool:
    return (isinstance(saved, dict) and saved.get("format") == _FORMAT
            and saved.get("grammar_sha256") == _digest(grammar)
            and saved.get("lark") == lark.__version__)


def _digest(grammar: str) -> str:
    return hashlib.sha256(grammar.encode("utf-8")).hexdigest()


def main() -> None:
    from otrules.lang.parser import _grammar_text  # the grammar the parser reads

    grammar = _grammar_text()
    tables_file().write_bytes(dump(build(grammar), grammar))
    print(f"wrote {tables_file()} (Lark {lark.__version__})")


if __name__ == "__main__":
    main()
