"""Every diagnostic code a pack author can meet, with a short title and an explanation.

Each code is documented in ``docs/language/errors.md`` (written by hand; a test checks that
the page and this table list the same codes and that each example produces its code), and
every code is exercised by a test through real pack text.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ErrorCode:
    code: str
    title: str
    explanation: str


_CODES: dict[str, ErrorCode] = {}


def register(code: str, title: str, explanation: str) -> str:
    if code in _CODES and _CODES[code].title != title:
        raise ValueError(f"diagnostic code {code} registered twice")
    _CODES[code] = ErrorCode(code, title, explanation)
    return code


def lookup(code: str) -> ErrorCode | None:
    return _CODES.get(code)


def all_codes() -> list[ErrorCode]:
    return [_CODES[c] for c in sorted(_CODES)]


# --- the parser's own codes (E001–E009); the checker and table loader add theirs. ---------
SYNTAX = register(
    "E001", "syntax error",
    "The text does not follow the language's grammar at this point: a word is missing, "
    "misspelled, or in the wrong place. The message lists what could come here instead.",
)
BAD_CHARACTER = register(
    "E002", "unexpected character",
    "A character that cannot start any word of the language at this point, such as a stray "
    "symbol or a lower-case modifier (modifiers are written in capitals: GO, KX, 59).",
)
UNEXPECTED_END = register(
    "E003", "unexpected end of file",
    "The file ends in the middle of a declaration: a clause or a closing parenthesis or "
    "quote is missing.",
)
BAD_LITERAL = register(
    "E004", "invalid value",
    "A date that does not exist (2026-02-30), an amount with more than two decimals, or a "
    "similar value that looks right but cannot be read.",
)
BAD_PLACEHOLDER = register(
    "E005", "invalid message placeholder",
    "A message template uses braces for placeholders: {line.code}. A brace that does not "
    "enclose a dotted name is an error; write \\{ and \\} for literal braces.",
)
TOO_LARGE = register(
    "E006", "input too large",
    "The pack source exceeds the configured size limit. Split the pack or move large data "
    "into CSV tables, which have their own limits.",
)
TOO_DEEP = register(
    "E007", "expression nested too deeply",
    "An expression is nested more deeply than the configured limit. Break it into named "
    "parts with `let`.",
)
