"""Pausing Python's cyclic garbage collector while a pack is read.

Reading a pack makes hundreds of thousands of small objects (tokens, AST nodes, spans, types)
and none of them in a cycle. Each batch of 700 allocations would start a collection, and the
older collections walk every live object: on a 2,000-rule pack that cost between a tenth and
a third of a parse (more, the more objects the process already holds).
Reference counting still frees everything as before; cyclic garbage that other threads make
meanwhile waits for the collector's next full collection (see below). The pause nests and
is shared by threads: the collector is switched back on only if it was on when the first
read began.

When the collector is switched back on, the objects made during the read are all still in
the youngest generation, and the first allocation after would start a collection that walks
every one of them (about 6% of a parse) only to move them one generation up. They
are moved straight to the oldest generation instead (``gc.freeze`` then ``gc.unfreeze``, which
relink the generations' lists without walking them) — unless the application holds frozen
objects of its own, which ``gc.unfreeze`` would release. Cyclic garbage then waits for the
next full collection.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_readers = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _readers, _was_enabled
    with _lock:
        if _readers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _was_enabled:
                _age_young_objects()
                gc.enable()


def _age_young_objects() -> None:
    """Move every tracked object to the oldest generation without walking any of them."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
