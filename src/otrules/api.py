"""The front door: load a pack ready to evaluate, or check one without raising.

Each stage can also be called on its own (``otrules.lang.parser.parse_source``,
``otrules.lang.loader.load_checked_pack``, ``otrules.eval.compiler.compile_source``,
``otrules.eval.engine.Pack``); these two functions are what most applications need.
"""

from __future__ import annotations

import os
from typing import Literal

from otrules.diagnostics import Diagnostic
from otrules.eval.compiler import CompiledBackend
from otrules.eval.engine import Pack
from otrules.eval.interpreter import InterpreterBackend
from otrules.lang.loader import check_pack, load_checked_pack

BackendName = Literal["compiled", "interpreter"]


def load_pack(path_or_name: str | os.PathLike[str], *,
              backend: BackendName = "compiled", cache: bool = False,
              cache_dir: str | os.PathLike[str] | None = None) -> Pack:
    """Load, check and compile a rule pack.

    ``path_or_name`` is a bundled pack's name (``"medicare-ot"``), a pack folder, or the
    pack's main ``.otr`` file. Raises :class:`otrules.PackError` (with every diagnostic) when
    the pack has errors. ``backend="interpreter"`` selects the reference interpreter, which is
    slower but is the oracle the compiled back end is tested against.

    ``cache=True`` keeps the checked pack in an on-disk cache (``cache_dir``, default
    ``$OTRULES_CACHE_DIR`` or ``~/.cache/otrules``), so that loading a pack whose files have
    not changed skips parsing and checking; entries are authenticated and never trusted when
    another user could have written them (see :mod:`otrules.cache`).
    """
    if cache:
        from otrules.cache import load_cached

        return load_cached(path_or_name, cache_dir=cache_dir, backend=backend)
    checked = load_checked_pack(path_or_name)
    if backend == "compiled":
        return Pack(checked, CompiledBackend(checked))
    if backend == "interpreter":
        return Pack(checked, InterpreterBackend(checked))
    raise ValueError(f"unknown backend {backend!r}; use 'compiled' or 'interpreter'")


def check(path_or_name: str | os.PathLike[str]) -> list[Diagnostic]:
    """Every diagnostic of a pack (errors, warnings), sorted by location. Never raises for a
    bad pack: a missing folder or an unreadable file is a diagnostic too."""
    return check_pack(path_or_name)
