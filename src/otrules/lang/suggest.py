"""'Did you mean …?' suggestions for misspelled names, fields, codes and modifiers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Characters people type for each other in codes and modifiers (G0 for GO, 9711O for 97110).
_CONFUSABLE = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when none is close enough."""
    pool = sorted(set(candidates) - {word})
    if not pool:
        return None
    folded = word.translate(_CONFUSABLE).upper()
    for cand in pool:
        if cand.translate(_CONFUSABLE).upper() == folded:
            return cand
    if len(word) <= 2:
        return None  # one typo in a two-letter modifier (GP for GO) is another real modifier
    cutoff = 0.6 if len(word) <= 4 else 0.7
    found = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    found = closest(word, candidates)
    return f"did you mean '{found}'?" if found else None


def field_help(word: str, fields: Iterable[str], *, few: int = 12, noun: str = "fields"
               ) -> str | None:
    """A suggestion, or the list of valid fields when there are only a few."""
    names = sorted(set(fields))
    hint = did_you_mean(word, names)
    if hint:
        return hint
    if names and len(names) <= few:
        return f"valid {noun}: " + ", ".join(names)
    return None
