"""Fast constructors for frozen, slotted attrs records.

The parser makes hundreds of thousands of AST nodes and spans per large pack, and the compiled
back end a finding each time a rule fires. attrs' frozen ``__init__`` sets each field through
``object.__setattr__``; the constructor made here sets it through the slot's own descriptor,
which takes less time and gives the same object (``tests/test_fast_nodes.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from keyword import iskeyword
from typing import Any

import attrs

__all__ = ["slots_constructor"]


def slots_constructor(cls: type) -> Callable[..., Any]:
    """A constructor of the frozen, slotted attrs class ``cls`` that takes every field (by
    position or by name, none left out) and makes the same object as ``cls(...)``
    (``tests/test_fast_nodes.py`` checks it, hash cache included) in less time: attrs' frozen
    ``__init__`` sets each field through ``object.__setattr__``, this one through the slot's
    own descriptor. For the parser, which makes hundreds of thousands of nodes and spans per
    large pack; the class must declare no validators, converters or post-init hook, since
    none would run."""
    fields = attrs.fields(cls)
    if getattr(cls, "__attrs_post_init__", None) is not None or "__slots__" not in vars(cls) \
            or any(f.validator or f.converter or not f.init or f.alias != f.name
                   for f in fields):
        raise TypeError(f"{cls.__name__} needs its attrs __init__")
    # The parameters are the fields' names (attrs' own, checked to be plain identifiers
    # that cannot meet the function's internal names), so that callers may name them.
    params = [f.name for f in fields]
    if not all(p.isidentifier() and not iskeyword(p) and not p.startswith("_slots")
               for p in params):
        raise TypeError(f"{cls.__name__} has fields that cannot be parameters")
    env: dict[str, Any] = {"_slots_new": object.__new__, "_slots_cls": cls}
    body = ["_slots_node = _slots_new(_slots_cls)"]
    for i, name in enumerate(params):
        env[f"_slots_set{i}"] = vars(cls)[name].__set__
        body.append(f"_slots_set{i}(_slots_node, {name})")
    if "_attrs_cached_hash" in cls.__slots__:  # attrs' hash cache starts empty
        env["_slots_hash"] = vars(cls)["_attrs_cached_hash"].__set__
        body.append("_slots_hash(_slots_node, None)")
    source = f"def new({', '.join(params)}):\n" + \
        "".join(f"    {line}\n" for line in body) + "    return _slots_node\n"
    exec(compile(source, "<slots_constructor>", "exec"), env)
    new: Callable[..., Any] = env["new"]
    new.__qualname__ = f"slots_constructor({cls.__name__})"
    return new
