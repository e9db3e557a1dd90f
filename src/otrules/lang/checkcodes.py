"""The checker's diagnostic codes: E010–E048 (errors), W001–W004 (warnings) and E099.

Each code is registered in :mod:`otrules.lang.errorcodes` with a title and an explanation for
pack authors; ``docs/language/errors.md`` shows an example of each and a test checks that
every example really produces its code.
"""

from __future__ import annotations

from otrules.lang.errorcodes import register

# ---------------------------------------------------------------------------- reading packs
CANNOT_READ = register(
    "E010", "cannot read the pack",
    "The pack folder or one of its files is missing, unreadable, not UTF-8 text, or the folder "
    "holds no .otr file. The message names the path.",
)
NO_HEADER = register(
    "E011", "no pack header",
    "Exactly one .otr file of a pack starts with a `pack NAME` header giving the pack's name "
    "and effective dates. None of the pack's files has one.",
)
TWO_HEADERS = register(
    "E012", "more than one pack header",
    "A pack has exactly one `pack` header. Keep one and delete the others.",
)
UNKNOWN_BASE = register(
    "E013", "unknown base pack",
    "`extends NAME` names a pack that is neither a sibling folder ../NAME nor a bundled pack.",
)
BAD_EXTENDS = register(
    "E014", "invalid extends chain",
    "Packs extend each other in a cycle, or the chain of `extends` is deeper than 8 packs.",
)

# ---------------------------------------------------------------------------- declarations
DUPLICATE = register(
    "E015", "duplicate declaration",
    "Two declarations of one pack use the same name: two rules with one id, two parameters or "
    "tables with one name (parameters and tables share names), or two `units` declarations.",
)
OVERRIDE_NOTHING = register(
    "E016", "override of something the base pack lacks",
    "`override rule`, `override parameter` and `override table` replace a declaration of the "
    "base pack. The base pack has no declaration of that name, or the pack extends no pack.",
)
NEEDS_OVERRIDE = register(
    "E017", "declaration collides with the base pack",
    "The base pack already declares this name. To replace the base's declaration, write "
    "`override` before it; to add a new one, choose another name.",
)
DISABLE_NOTHING = register(
    "E018", "disable of something the base pack lacks",
    "`disable rule` and `disable parameter` remove a declaration of the base pack. The base "
    "pack has no declaration of that name, or the pack extends no pack.",
)
NO_EFFECTIVE = register(
    "E019", "pack has no effective range",
    "The pack header (or the header of a base pack) must say which dates of service the pack "
    "covers: `effective 2026-01-01 to 2026-12-31`.",
)

# ---------------------------------------------------------------------------- names
UNKNOWN_NAME = register(
    "E020", "unknown name",
    "A name that is not a `let` of the rule, an element of `for each`, a parameter or a field "
    "of the visit. Names are case-sensitive; the help line suggests the closest name.",
)
UNKNOWN_FIELD = register(
    "E021", "unknown field",
    "A field that the record does not have (line.minuts), or a column that the table does not "
    "have. The help line lists the fields or suggests the closest.",
)
UNKNOWN_TABLE = register(
    "E022", "unknown table",
    "`x in T`, `T[key]`, `for each pair a, b in T` and `timed by T.C` name a table that the "
    "pack (and its base packs) does not declare.",
)
UNKNOWN_FUNCTION = register(
    "E023", "unknown function",
    "Only the built-in functions can be called: year, month, icd10_shape, min, max, abs, "
    "units_for.",
)
ARG_COUNT = register(
    "E024", "wrong number of arguments",
    "A built-in function was called with too many or too few arguments.",
)
UNKNOWN_CODE = register(
    "E025", "unknown procedure code",
    "A code written in a rule or parameter is not listed in any code column of any table of "
    "the pack or its base packs. A typing mistake in a code would otherwise silently never "
    "match; declare every code the pack uses in a table.",
)
UNKNOWN_MODIFIER = register(
    "E026", "unknown modifier",
    "A modifier in `has`, `lacks` or `fix add modifier` is not listed in any modifier column "
    "of any table of the pack or its base packs. Declare the pack's modifiers in a table.",
)
UNKNOWN_TYPE = register(
    "E027", "unknown type",
    "A parameter's type must be one of: number, minutes, money, days, months, date, text, "
    "code, modifier, diagnosis, flag.",
)
ARG_TYPE = register(
    "E028", "argument of the wrong type",
    "A built-in function was given a value of a type it does not take, such as year(30).",
)
TABLE_KEY = register(
    "E029", "wrong key for the table",
    "`T[k1, k2]` needs one value per key column of T, each of the key column's type; "
    "`x in T` needs a table with exactly one key column, of the type of x.",
)

# ---------------------------------------------------------------------------- types
OPERAND_TYPES = register(
    "E030", "operands of the wrong type",
    "The operator cannot combine these types (see the operator table in the language "
    "semantics). Minutes, money and days never mix with plain numbers: write `8 minutes`, "
    "`$30.00`, `90 days`.",
)
NOT_A_FLAG = register(
    "E031", "not a condition",
    "`when`, `where`, `and`, `or`, `not` and the condition of `if` need a yes/no value, such "
    "as a comparison.",
)
IF_BRANCHES = register(
    "E032", "if branches of different types",
    "Both branches of `if … then … else …` must give values of one type.",
)
NOT_SUMMABLE = register(
    "E033", "cannot sum these values",
    "`sum of X over …` adds numbers, minutes, money or days.",
)
HAS_SUBJECT = register(
    "E034", "has/lacks needs a line",
    "`has` and `lacks` test the modifiers of a line: write `line has GO` (or the element name "
    "of `for each line as …` or `for each pair`).",
)
PARAM_VALUE = register(
    "E035", "parameter value of the wrong type",
    "A parameter's values must be written in its declared type: `$2,480.00` for money, "
    "`8 minutes` for minutes, `90 days` for days, a date for date, and so on.",
)

# ---------------------------------------------------------------------------- dates
REVERSED_RANGE = register(
    "E036", "date range ends before it starts",
    "In `effective A to B` and `from A to B`, A must not be after B (both days are included).",
)
PERIOD_GAP = register(
    "E037", "parameter periods overlap or leave a gap",
    "The periods of a date-effective parameter must follow each other day by day: each "
    "period starts the day after the previous one ends.",
)
PERIOD_COVERAGE = register(
    "E038", "parameter does not cover the pack's dates",
    "A date-effective parameter must have a value on every day of the pack's effective range; "
    "otherwise a rule would read a missing value on the uncovered days.",
)
RULE_RANGE = register(
    "E039", "rule effective outside the pack's range",
    "A rule's own `effective` range must lie inside the pack's effective range.",
)

# ---------------------------------------------------------------------------- messages
BAD_PLACEHOLDER_NAME = register(
    "E040", "placeholder names no value",
    "A `{placeholder}` in a message must name a value visible in the rule (a let, an element "
    "field, a parameter, a visit field), and a single value: {line.code}, not {line}.",
)
PHI_PLACEHOLDER = register(
    "E041", "placeholder shows protected health information",
    "Messages must not show patient.id or patient.birth_date, nor values computed from them: "
    "messages end up in reports and logs.",
)

# ---------------------------------------------------------------------------- rules
REPEATED_CLAUSE = register(
    "E042", "clause given twice",
    "Each clause of a rule (about, effective, for each, when, say, fix, source), of the pack "
    "header (version, payer, effective, extends, about), of a table (valid, source) and of a "
    "parameter (about, source) is given at most once. Join conditions with `and`; list every "
    "payer in one `payer` clause.",
)
MISSING_CLAUSE = register(
    "E043", "rule lacks a required clause",
    "Every rule needs `when` (its condition), `say` (its message) and `source` (the policy it "
    "enforces, so that a reviewer can check it).",
)
FIX_WITHOUT_LINE = register(
    "E044", "fix in a rule without a line",
    "A fix changes a line, so it needs `for each line` or `for each pair`.",
)
FIX_UNITS_TYPE = register(
    "E045", "fix sets units to a non-number",
    "`fix set units to EXPR` needs a plain number, such as line.computed_units.",
)
TABLE_SHAPE = register(
    "E046", "table unsuitable for this use",
    "`for each pair a, b in T` needs a table whose key is exactly two code columns; "
    "`timed by T.C` needs a table with one code key column and a flag column C.",
)
LET_SHADOWS = register(
    "E047", "name used twice",
    "A `let` (or an element name) may not reuse the name of a parameter, a table, a visit "
    "field, an element or another `let` of the same rule.",
)
LET_ORDER = register(
    "E048", "let used before it is defined",
    "A `let` can be used only after it: lets before `for each` cannot see the lets after it "
    "(those are computed once per element), and the `where` of `for each` cannot see them "
    "either.",
)

INTERNAL = register(
    "E099", "internal error",
    "The checker failed on this input. This is a bug in otrules, not in the pack: please "
    "report it with the pack that triggers it.",
)

# ---------------------------------------------------------------------------- warnings
NEVER_TRUE = register(
    "W001", "condition can never be true",
    "The rule's `where` and `when` conditions contradict each other (x > 5 and x < 3, "
    "line has GO and line lacks GO, …) or are always no, so the rule never fires.",
)
FIXED_COMPARISON = register(
    "W002", "comparison of two fixed values",
    "A comparison between two literal values always gives the same answer. It is usually a "
    "typing mistake for a field or a parameter.",
)
UNUSED_PARAMETER = register(
    "W003", "unused parameter",
    "No rule of the pack uses this parameter. Remove it, or use it.",
)
UNUSED_LET = register(
    "W004", "unused let",
    "The rule never uses this `let`. Remove it, or use it.",
)
