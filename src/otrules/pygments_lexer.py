"""A Pygments lexer for the rule-pack language (``*.otr``), for documentation and editors.

Registered under the ``pygments.lexers`` entry point, so that ```` ```otr ```` fences in the
docs, ``pygmentize -l otr`` and any tool built on Pygments highlight rule packs. It follows
``grammar/otrules.lark`` closely enough for highlighting; it never decides whether a pack is
valid (``otrules check`` does that).

Lark lexes contextually: ``59`` is a modifier after ``has`` and a number after ``=``. A
regular-expression lexer cannot see the parser's state, so the few places where a word means
something else are tracked with small states (after ``has``/``lacks``, ``fix add modifier``,
``matches``, ``payer``, and the names that follow ``pack``, ``rule``, ``table`` ...).

Token types are standard Pygments types, so that every Pygments style colours them:

==========================  ===========================================================
what                        token type
==========================  ===========================================================
declaration keywords        ``Keyword.Declaration`` (pack, units, parameter, table, ...)
clause keywords             ``Keyword`` (when, say, for each, source, ...)
word operators              ``Operator.Word`` (and, or, not, in, has, lacks, count ...)
yes / no / none             ``Keyword.Constant``
types, quantity units       ``Keyword.Type`` (money, date, minutes, ...)
severities                  ``Name.Exception`` (error, warning, info)
rule ids                    ``Name.Function``
pack and payer names        ``Name.Namespace``
table and parameter names   ``Name.Class`` / ``Name.Variable`` where they are declared
built-in functions          ``Name.Builtin``
line, visit, patient ...    ``Name.Builtin.Pseudo``
procedure codes             ``Name.Constant`` (97110, G0283, 0001F)
modifiers                   ``Name.Tag`` (GO, KX, 59)
ICD-10 patterns             ``String.Regex`` (F90.*, F84.0)
dates                       ``Literal.Date``
money                       ``Number`` ($2,480.00)
numbers                     ``Number.Integer`` / ``Number.Float``
texts                       ``String.Double``, with ``String.Interpol`` for ``{placeholders}``
                            and ``String.Escape`` for ``\\{``, ``\\"`` ...
comments                    ``Comment.Single``
==========================  ===========================================================
"""

from __future__ import annotations

from typing import Any

# Pygments has no type information of its own (types-Pygments adds it): these ignores hold
# with and without the stubs installed.
from pygments.lexer import (  # type: ignore[import-untyped, unused-ignore]
    RegexLexer,
    bygroups,
    default,
    include,
)
from pygments.token import (  # type: ignore[import-untyped, unused-ignore]
    Comment,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["OtrulesLexer"]

_SLUG = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
_NAME = r"[a-z_][a-z0-9_]*"
_END = r"(?![A-Za-z0-9_])"  # the grammar's codes, modifiers and words end like this
_WS = r"[ \t]+"

_DECLARATIONS = ("pack", "units", "parameter", "table", "rule", "override", "disable")
_CLAUSES = ("version", "effective", "extends", "about", "timed", "by", "cms", "ama", "to",
            "from", "key", "column", "optional", "valid", "until", "row", "source", "let",
            "for", "each", "pair", "where", "when", "say", "fix", "add", "set", "because",
            "as")
_OPERATORS = ("and", "or", "not", "in", "is", "missing", "present", "any", "all", "more",
              "than", "one", "of", "count", "sum", "over", "if", "then", "else")
_TYPES = ("number", "minutes", "money", "days", "months", "date", "text", "code", "modifier",
          "diagnosis", "flag")
_QUANTITY_UNITS = ("minutes", "minute", "days", "day", "months", "month")
_SEVERITIES = ("error", "warning", "info")
_FUNCTIONS = ("year", "month", "icd10_shape", "min", "max", "abs", "units_for")
_ROOTS = ("line", "lines", "diagnosis", "diagnoses", "visit", "patient", "authorization")
_LAYOUTS = ("cms-ptp", "cms-mue")


def _groups(*tokens: Any) -> Any:
    """Pygments' ``bygroups`` (untyped in its stubs): one token type per regex group."""
    return bygroups(*tokens)  # type: ignore[no-untyped-call, unused-ignore]


def _any(choices: tuple[str, ...], suffix: str = r"\b") -> str:
    """One group matching any of ``choices`` as a whole word (longest first)."""
    return "(" + "|".join(sorted(choices, key=len, reverse=True)) + ")" + suffix


class OtrulesLexer(RegexLexer):  # type: ignore[misc, unused-ignore]
    """Lexer for otrules rule packs (the ``.otr`` files of a pack folder)."""

    name = "otrules"
    aliases = ["otr", "otrules"]  # noqa: RUF012 - Pygments reads these class attributes
    filenames = ["*.otr"]  # noqa: RUF012
    mimetypes = ["text/x-otrules"]  # noqa: RUF012

    tokens = {  # noqa: RUF012 - the Pygments lexer table
        "root": [
            (r"[ \t]*\n", Whitespace),
            (_WS, Whitespace),
            (r"#.*?$", Comment.Single),
            include("declarations"),
            include("literals"),
            include("words"),
            include("punctuation"),
        ],
        # Keywords that name what follows: declarations and the clauses that take a slug.
        "declarations": [
            (r"(pack|extends)(\s+)(" + _SLUG + ")",
             _groups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"(rule)(\s+)(" + _SLUG + ")",
             _groups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(table)(\s+)(" + _NAME + ")",
             _groups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(parameter)(\s+)(" + _NAME + ")",
             _groups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(payer)\b", Keyword, "payers"),
            (r"(as)(\s+)" + _any(_LAYOUTS),
             _groups(Keyword, Whitespace, Name.Builtin)),
            # A declared type after `name :` or `optional`; a severity after `rule id :`.
            (r"(:)(\s*)" + _any(_SEVERITIES),
             _groups(Punctuation, Whitespace, Name.Exception)),
            (r"(:)(\s*)(optional)(\s+)(" + _NAME + ")",
             _groups(Punctuation, Whitespace, Keyword, Whitespace, Keyword.Type)),
            (r"(:)(\s*)(" + _NAME + ")", _groups(Punctuation, Whitespace, Keyword.Type)),
            (r"(set)(\s+)(units)\b", _groups(Keyword, Whitespace, Keyword)),
            (_any(_DECLARATIONS), Keyword.Declaration),
            (r"(has|lacks)\b", Operator.Word, "modifiers"),
            (r"(modifier)(\s+)(?=[A-Z0-9]{2}" + _END + ")", _groups(Keyword, Whitespace),
             "modifiers"),
            (r"(matches)\b", Operator.Word, "patterns"),
            # `no line where …` is an aggregate; a lone `no` is the flag value.
            (r"no(?=\s+(line|diagnosis)\b)", Operator.Word),
        ],
        "literals": [
            (r'"', String.Double, "string"),
            (r"\d{4}-\d{2}-\d{2}", Literal.Date),
            (r"\$(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?", Number),
            (r"(\d+)(\s+)" + _any(_QUANTITY_UNITS),
             _groups(Number.Integer, Whitespace, Keyword.Type)),
            (r"(\d{5}|[A-Z]\d{4}|\d{4}[A-Z])(?![0-9A-Za-z_.])", Name.Constant),
            (r"\d+(\.\d+)+", Number.Float),
            (r"\d+", Number.Integer),
            # Bare capitalised row values: two characters are modifiers (GO, XE), longer
            # ones are words (OTA); a dot or a star makes an ICD-10 pattern.
            (r"[A-Z][0-9][0-9A-Z]?(\.[0-9A-Z]{0,4}\*?|\*)", String.Regex),
            (r"[A-Z0-9][A-Z0-9]" + _END, Name.Tag),
            (r"[A-Z][A-Z0-9]{2,7}" + _END, String.Symbol),
        ],
        "words": [
            # `month(date)` is a function, `12 month` a quantity: calls come first.
            (_any(_FUNCTIONS, r"(?=\s*\()"), Name.Builtin),
            (_any(_SEVERITIES), Name.Exception),
            (_any(("yes", "no", "none")), Keyword.Constant),
            (_any(_QUANTITY_UNITS), Keyword.Type),
            (_any(_OPERATORS), Operator.Word),
            (_any(_CLAUSES), Keyword),
            (r"(\.)(" + _NAME + ")", _groups(Punctuation, Name.Attribute)),
            (_any(_ROOTS), Name.Builtin.Pseudo),
            (_NAME, Name),
        ],
        "punctuation": [
            (r"//|!=|<=|>=|[=<>+\-*/%]", Operator),
            (r"[:,()\[\].]", Punctuation),
        ],
        # After `has` / `lacks` / `fix add modifier`: one modifier or a list of them.
        "modifiers": [
            (_WS, Whitespace),
            (_any(("any", "all", "more", "than", "one", "of")), Operator.Word),
            (r"[(,]", Punctuation),
            (r"\)", Punctuation, "#pop"),
            (r"[A-Z0-9]{2}" + _END, Name.Tag),
            default("#pop"),
        ],
        # After `matches`: ICD-10 patterns, bare or in parentheses.
        "patterns": [
            (_WS, Whitespace),
            (r"[(,]", Punctuation),
            (r"\)", Punctuation, "#pop"),
            (r"[A-Z][0-9A-Z]{0,2}(\.[0-9A-Z]{0,4})?\*?", String.Regex),
            default("#pop"),
        ],
        "payers": [
            (_WS, Whitespace),
            (r",", Punctuation),
            (_SLUG, Name.Namespace),
            default("#pop"),
        ],
        "string": [
            (r'\\["\\nt{}]', String.Escape),
            (r"\{\s*" + _NAME + r"(\s*\.\s*" + _NAME + r")*\s*\}", String.Interpol),
            (r'[^"\\{\n]+', String.Double),
            (r"\{", String.Double),
            (r'"', String.Double, "#pop"),
            # An unterminated text ends at the line's end, so one slip does not colour the
            # rest of the file as a string.
            (r"(?=\n)", String.Double, "#pop"),
        ],
    }
