"""Hypothesis strategies that write random rule packs, for property tests and fuzzing.

* :func:`pack_sources` - the text of a random **valid** single-file pack (inline tables
  only): it parses, and it passes the checker by construction (names in scope, well-typed
  expressions, every code and modifier declared in a table, parameter periods covering the
  pack's dates day by day, a ``source`` on every rule, no patient identity in messages).
  Layout is random by default (indentation, spacing, line breaks, clause order, redundant
  parentheses, comments anywhere); ``canonical=True`` writes the layout that
  ``otrules fmt`` produces instead, so the formatter must leave it unchanged.
* :func:`pack_asts` - the same packs, parsed (:class:`otrules.lang.ast.PackFile`).
* :func:`mutated_pack_sources` - valid packs damaged by deleted, repeated or swapped tokens,
  truncation and random characters: input for hardening (no traceback may escape).

Requires Hypothesis (the ``test`` extra). Re-exported by :mod:`otrules.testing`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TypeVar

import attrs
from hypothesis import strategies as st

from otrules.lang import ast as A
from otrules.lang.parser import parse_source

__all__ = ["mutated_pack_sources", "pack_asts", "pack_sources"]

_OT_CODES = ("97110", "97112", "97116", "97140", "97150", "97165", "97166", "97530", "97535",
             "97760", "G0283", "0001F")
_MODIFIERS = ("GO", "GP", "KX", "CQ", "59", "XE", "XS", "XU", "95")
_PATTERNS = ("F90.*", "F84.0", "M17.11", "R26.8*", "G35", "I69.*", "Z96", "S62.1*")
_WORDS = ("total", "limit", "gap", "share", "late", "extra", "cap", "span", "left", "used")
_ORDERED = ("number", "minutes", "money", "days", "date")
_NUMERIC = ("number", "minutes", "money", "days")
_PARAM_TYPES = ("number", "minutes", "money", "days", "months", "date", "text", "code", "flag")

# Visit fields by type: (text, may appear in a message). Lines and rows are added per scope.
_VISIT_FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "number": (("visit.line_count", True), ("patient.visits_this_year", True),
               ("patient.treatment_days_since_progress_report", True),
               ("authorization.visits_authorized", True), ("authorization.visits_used", True),
               ("patient.age", False)),
    "minutes": (("visit.timed_minutes", True),),
    "money": (("patient.ytd_ot_allowed", True),),
    "date": (("date_of_service", True), ("visit.date_of_service", True),
             ("claim_submitted_on", True), ("patient.plan_of_care_certified_on", True),
             ("authorization.valid_from", True), ("authorization.valid_to", True),
             ("patient.birth_date", False)),
    "text": (("visit.payer", True), ("visit.claim_type", True), ("place_of_service", True),
             ("authorization.number", True)),
    "flag": (("telehealth", True), ("visit.stated_units_valid", True)),
}
_LINE_FIELDS = {"code": "code", "minutes": "minutes", "units": "number",
                "computed_units": "number", "performed_by": "text",
                "assistant_minutes": "minutes", "charge": "money", "position": "number",
                "pointer_count": "number", "timed": "flag"}
_CODE_TABLE = "ot_codes"  # key code : code, then these columns
_CODE_COLUMNS = {"timed": "flag", "fee": "money", "label": "text"}
_PAIR_TABLE = "ptp"  # key first : code, key second : code, column indicator : number
_MOD_TABLE = "mods"
_PHI = re.compile(r"patient\.(birth_date|age|id)\b")

# A valid pack is text: no NUL byte (the loader refuses such a file) and no line break inside
# a quoted text.
_TEXT_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00")


# ============================================================================ layout


@attrs.define
class _Layout:
    """Spacing decisions: fixed in canonical mode, drawn at random otherwise."""

    draw: st.DrawFn
    canonical: bool

    def chance(self, p: float) -> bool:
        return not self.canonical and self.draw(st.integers(0, 99)) < p * 100

    def sp(self) -> str:
        """Whitespace between two tokens of an expression."""
        if not self.chance(0.15):
            return " "
        if self.chance(0.5):
            return "  "
        comment = "  " + self.draw(_comments()) if self.chance(0.4) else ""
        return comment + "\n" + " " * self.draw(st.integers(2, 8))

    def indent(self) -> str:
        return "  " if self.canonical else " " * self.draw(st.integers(0, 6))


@st.composite
def _comments(draw: st.DrawFn) -> str:
    body = draw(st.text(_TEXT_CHARS, max_size=30))
    return "#" + body.rstrip()


# ============================================================================ scope


@attrs.define
class _Scope:
    names: dict[str, str]  # bare names (parameters, lets, diagnosis elements) -> type
    lines: tuple[str, ...] = ()  # names bound to lines
    row: bool = False  # `ptp` is bound to the row of `for each pair … in ptp`
    tainted: frozenset[str] = frozenset()  # lets computed from patient identity

    def bind(self, name: str, type_: str) -> _Scope:
        if type_ == "line":
            return attrs.evolve(self, lines=(*self.lines, name))
        return attrs.evolve(self, names={**self.names, name: type_})

    def diagnoses(self) -> list[str]:
        return [n for n, t in self.names.items() if t == "diagnosis"]


@attrs.frozen
class _E:
    """Generated expression text. ``pieces`` is the canonical cut before each operator of a
    top-level and/or chain (one piece otherwise)."""

    text: str
    op: str | None = None
    pieces: tuple[str, ...] = ()


# ============================================================================ expressions
_IF, _OR, _AND, _NOT, _PRED, _SUM, _PROD, _UNARY, _POSTFIX, _ATOM = range(10)
_LEVEL = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM, "*": _PROD, "/": _PROD, "//": _PROD,
          "%": _PROD, **dict.fromkeys(("=", "!=", "<", "<=", ">", ">="), _PRED)}
_ARITH: dict[str, tuple[tuple[str, str, str], ...]] = {
    "number": (("+", "number", "number"), ("-", "number", "number"),
               ("*", "number", "number"), ("/", "number", "number"),
               ("//", "number", "number"), ("%", "number", "number"),
               ("/", "minutes", "minutes"), ("//", "minutes", "minutes"),
               ("/", "money", "money")),
    "minutes": (("+", "minutes", "minutes"), ("-", "minutes", "minutes"),
                ("*", "minutes", "number"), ("*", "number", "minutes"),
                ("/", "minutes", "number"), ("//", "minutes", "number"),
                ("%", "minutes", "minutes")),
    "money": (("+", "money", "money"), ("-", "money", "money"), ("*", "money", "number"),
              ("*", "number", "money"), ("/", "money", "number")),
    "days": (("+", "days", "days"), ("-", "days", "days"), ("-", "date", "date")),
    "date": (("+", "date", "days"), ("-", "date", "days"), ("+", "date", "months"),
             ("-", "date", "months")),
}


_T = TypeVar("_T")
_Build = Callable[[int, bool], _E]  # (depth left, nothing follows) -> expression
_Option = tuple[int, bool, _Build]  # (precedence level, open-ended, builder)


class _Gen:
    """Type-directed expression writer. Each production knows its precedence level, so the
    writer parenthesizes exactly where the grammar needs it (plus, in random layout, now and
    then where it does not)."""

    def __init__(self, draw: st.DrawFn, lay: _Layout, codes: tuple[str, ...],
                 mods: tuple[str, ...], fresh: Callable[[str], str]) -> None:
        self.draw, self.lay, self.codes, self.mods, self.fresh = draw, lay, codes, mods, fresh

    def pick(self, options: list[_T]) -> _T:
        return options[self.draw(st.integers(0, len(options) - 1))]

    # ------------------------------------------------------------- entry point
    def expr(self, ty: str, sc: _Scope, depth: int, min_level: int = _IF,
             tail: bool = True, literal: bool = True) -> _E:
        options = self._leaves(ty, sc, literal)
        if depth > 0 or not options:
            options = options + self._compounds(ty, sc)
        level, open_end, build = self.pick(options)
        wrap = level < min_level or (open_end and not tail) or self.lay.chance(0.05)
        e = build(depth - 1, tail or wrap)
        if wrap:
            return _E(f"({e.text})")
        return e

    def sub(self, ty: str, sc: _Scope, depth: int, min_level: int, tail: bool,
            literal: bool = True) -> str:
        return self.expr(ty, sc, max(depth, 0), min_level, tail, literal).text

    # ------------------------------------------------------------- leaves
    def _leaves(self, ty: str, sc: _Scope, literal: bool) -> list[_Option]:
        out: list[_Option] = []
        texts = [f for f, _ in _VISIT_FIELDS.get(ty, ())]
        texts += [n for n, t in sc.names.items() if t == ty]
        texts += [f"{ln}.{f}" for ln in sc.lines for f, t in _LINE_FIELDS.items() if t == ty]
        if sc.row and ty == "number":
            texts.append(f"{_PAIR_TABLE}.indicator")
        out += [(_ATOM if "." not in t else _POSTFIX, False, self._const(t)) for t in texts]
        if literal and ty not in ("diagnosis",):
            out.append((_ATOM, False, lambda d, t: _E(self.literal(ty))))
        return out

    @staticmethod
    def _const(text: str) -> Callable[[int, bool], _E]:
        return lambda d, t: _E(text)

    def literal(self, ty: str) -> str:
        return _literal(self.draw, ty, self.codes)

    # ------------------------------------------------------------- compounds
    def _compounds(self, ty: str, sc: _Scope) -> list[_Option]:
        out: list[_Option] = [(_IF, False, lambda d, t: self._if(ty, sc, d, t))]
        for op, lt, rt in _ARITH.get(ty, ()):
            out.append((_LEVEL[op], False, self._arith(op, lt, rt, sc)))
        if ty in _NUMERIC:
            out.append((_UNARY, False, lambda d, t: _E("-" + self.sub(ty, sc, d, _UNARY, t))))
            out.append((_ATOM, False, lambda d, t: self._call2(ty, sc, d)))
            out.append((_ATOM, False, lambda d, t: _E(
                f"abs({self.sub(ty, sc, d, _SUM, True)})")))
        if ty == "number":
            out += [(_ATOM, False, lambda d, t: self._count(sc, d, where=False)),
                    (_ATOM, True, lambda d, t: self._count(sc, d, where=True)),
                    (_ATOM, False, lambda d, t: _E(
                        f"{self.pick(['year', 'month'])}({self.sub('date', sc, d, _SUM, True)})")),
                    (_ATOM, False, lambda d, t: _E(
                        f"units_for({self.sub('minutes', sc, d, _SUM, True)})"))]
        if ty in ("number", "minutes", "money"):
            out += [(_ATOM, False, lambda d, t: self._sum(ty, sc, d, where=False)),
                    (_ATOM, True, lambda d, t: self._sum(ty, sc, d, where=True))]
        if ty in ("flag", "money", "text"):
            col = next(c for c, t in _CODE_COLUMNS.items() if t == ty)
            out.append((_POSTFIX, False, lambda d, t: _E(
                f"{_CODE_TABLE}[{self.sub('code', sc, d, _SUM, True)}].{col}")))
        if ty == "flag":
            out += self._conditions(sc)
        return out

    def _arith(self, op: str, lt: str, rt: str, sc: _Scope) -> Callable[[int, bool], _E]:
        level = _LEVEL[op]

        def build(d: int, tail: bool) -> _E:
            left = self.sub(lt, sc, d, level, False)
            right = self.sub(rt, sc, d, level + 1, tail)
            return _E(f"{left}{self.lay.sp()}{op} {right}")
        return build

    def _if(self, ty: str, sc: _Scope, d: int, tail: bool) -> _E:
        sp = self.lay.sp
        return _E(f"if {self.sub('flag', sc, d, _OR, True)}{sp()}then "
                  f"{self.sub(ty, sc, d, _OR, True)}{sp()}else {self.sub(ty, sc, d, _IF, tail)}")

    def _call2(self, ty: str, sc: _Scope, d: int) -> _E:
        fn = self.pick(["min", "max"])
        return _E(f"{fn}({self.sub(ty, sc, d, _SUM, False)}, {self.sub(ty, sc, d, _SUM, True)})")

    def _element(self, sc: _Scope, collection: str) -> tuple[str, str, _Scope]:
        """``(element word, ' as NAME' or '', scope inside)`` for an aggregate."""
        word = "line" if collection == "lines" else "diagnosis"
        taken = word in sc.lines or word in sc.names
        name = self.fresh("each") if taken or self.lay.chance(0.2) else word
        alias = "" if name == word else f" as {name}"
        return word, alias, sc.bind(name, "line" if word == "line" else "diagnosis")

    def _where(self, inner: _Scope, d: int) -> str:
        return f"{self.lay.sp()}where {self.sub('flag', inner, d, _OR, True)}"

    def _count(self, sc: _Scope, d: int, where: bool) -> _E:
        coll = self.pick(["lines", "diagnoses"])
        _, alias, inner = self._element(sc, coll)
        return _E(f"count of {coll}{alias}" + (self._where(inner, d) if where else ""))

    def _sum(self, ty: str, sc: _Scope, d: int, where: bool) -> _E:
        _, alias, inner = self._element(sc, "lines")
        cond = self._where(inner, d) if where else ""
        value = self.sub(ty, inner, d, _PROD, True)
        return _E(f"sum of {value} over lines{alias}{cond}")

    # ------------------------------------------------------------- conditions
    def _conditions(self, sc: _Scope) -> list[_Option]:
        out: list[_Option] = [
            (_OR, False, self._logic("or", sc)), (_AND, False, self._logic("and", sc)),
            (_NOT, False, lambda d, t: _E("not " + self.sub("flag", sc, d, _NOT, t))),
            (_PRED, False, lambda d, t: self._compare(sc, d, t)),
            (_PRED, False, lambda d, t: self._in_list(sc, d, t)),
            (_PRED, False, lambda d, t: _E(
                f"{self.sub('code', sc, d, _SUM, False, literal=False)} "
                f"{self.pick(['in', 'not in'])} {_CODE_TABLE}")),
            (_PRED, False, lambda d, t: _E(
                f"{self.sub(self.pick(list(_ORDERED)), sc, d, _SUM, False, literal=False)} "
                f"is {self.pick(['missing', 'present'])}")),
            (_PRED, False, lambda d, t: _E(
                f"{self.sub('text', sc, d, _SUM, False, literal=False)} matches "
                f"{self._patterns()}")),
            (_ATOM, True, lambda d, t: self._any_no(sc, d)),
            (_ATOM, True, lambda d, t: _E(f"any diagnosis matches {self._patterns()}")),
        ]
        if sc.lines:
            out.append((_PRED, False, lambda d, t: self._has(sc)))
        diagnoses = sc.diagnoses()
        if diagnoses:
            out += [(_PRED, False, lambda d, t: _E(
                        f"{self.pick(diagnoses)} matches {self._patterns()}")),
                    (_ATOM, False, lambda d, t: _E(f"icd10_shape({self.pick(diagnoses)})"))]
        return out

    def _logic(self, op: str, sc: _Scope) -> Callable[[int, bool], _E]:
        level = _LEVEL[op]

        def build(d: int, tail: bool) -> _E:
            left = self.expr("flag", sc, max(d, 0), level, False)
            right = self.sub("flag", sc, d, level + 1, tail)
            sp = self.lay.sp()
            head = left.pieces if left.op == op else (left.text,)
            return _E(f"{left.text}{sp}{op} {right}", op, (*head, f"{op} {right}"))
        return build

    def chain(self, op: str, sc: _Scope, count: int, depth: int) -> _E:
        """``a op b op c …``: the shape of a long condition, which the layout breaks."""
        level = _LEVEL[op]
        e = self.expr("flag", sc, depth, level, False)
        pieces = e.pieces if e.op == op else (e.text,)
        for i in range(count - 1):
            right = self.sub("flag", sc, depth, level + 1, i == count - 2)
            e = _E(f"{e.text}{self.lay.sp()}{op} {right}", op, (*pieces, f"{op} {right}"))
            pieces = e.pieces
        return e

    def _compare(self, sc: _Scope, d: int, tail: bool) -> _E:
        ty = self.pick([*_ORDERED, "text", "code", "flag", "months"])
        op = self.pick(["=", "!="] if ty in ("text", "code", "flag", "months") else
                       ["=", "!=", "<", "<=", ">", ">="])
        left = self.sub(ty, sc, d, _SUM, False, literal=False)
        return _E(f"{left}{self.lay.sp()}{op} {self.sub(ty, sc, d, _SUM, tail)}")

    def _in_list(self, sc: _Scope, d: int, tail: bool) -> _E:
        ty = self.pick(["code", "text", "number", "money", "date"])
        subject = self.sub(ty, sc, d, _SUM, False, literal=False)
        count = self.draw(st.integers(1, 3))
        items = ", ".join(self.sub(ty, sc, 0, _SUM, i == count - 1) for i in range(count))
        return _E(f"{subject} {self.pick(['in', 'not in'])} ({items})")

    def _has(self, sc: _Scope) -> _E:
        verb = self.pick(["has", "lacks"])
        mods = self.draw(st.lists(st.sampled_from(self.mods), min_size=1, max_size=3,
                                  unique=True))
        mode = self.pick(["", "any of ", "all of ", "more than one of "])
        spec = mods[0] if not mode else f"{mode}({', '.join(mods)})"
        return _E(f"{self.pick(list(sc.lines))} {verb} {spec}")

    def _any_no(self, sc: _Scope, d: int) -> _E:
        kind = self.pick(["any", "no"])
        coll = self.pick(["lines", "diagnoses"])
        word, alias, inner = self._element(sc, coll)
        where = self._where(inner, d)
        shorthand = re.fullmatch(r"\s*where diagnosis matches ([A-Z0-9.*, ]+)", where)
        if kind == "any" and word == "diagnosis" and not alias and shorthand:
            # the formatter's spelling of the same AST
            return _E(f"any diagnosis matches {shorthand.group(1)}")
        return _E(f"{kind} {word}{alias}{where}")

    def _patterns(self) -> str:
        pats = self.draw(st.lists(st.sampled_from(_PATTERNS), min_size=1, max_size=3,
                                  unique=True))
        return ", ".join(pats)


# ============================================================================ literals


def _literal(draw: st.DrawFn, ty: str, codes: tuple[str, ...]) -> str:
    if ty == "number":
        if draw(st.booleans()):
            return str(draw(st.integers(0, 9999)))
        return f"{draw(st.integers(0, 999))}.{draw(st.integers(0, 99)):02d}"
    if ty in ("minutes", "days", "months"):
        n = draw(st.integers(0, 400))
        unit = ty if n != 1 or draw(st.booleans()) else ty[:-1]
        return f"{n} {unit}"
    if ty == "money":
        return _money(draw(st.integers(0, 99_999_999)), draw(st.booleans()),
                      draw(st.sampled_from([0, 1, 2, 2])))
    if ty == "date":
        return draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))).isoformat()
    if ty == "text":
        return _quote(draw(st.text(_TEXT_CHARS, max_size=12)), draw)
    if ty == "code":
        return draw(st.sampled_from(codes))
    if ty == "flag":
        return draw(st.sampled_from(["yes", "no"]))
    raise AssertionError(ty)


def _money(cents: int, commas: bool, places: int) -> str:
    whole, frac = divmod(cents, 100)
    digits = f"{whole:,}" if commas else str(whole)
    if places == 0:
        return f"${digits}"
    return f"${digits}.{frac:02d}"[: len(digits) + 2 + places]


def _quote(value: str, draw: st.DrawFn | None = None, template: bool = False) -> str:
    """A STRING token for ``value``. Outside messages, braces may be escaped or not (both
    mean a brace); ``draw`` decides, so the formatter's re-escaping is exercised."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t" if draw is None or draw(st.booleans()) else "\t")
        elif ch in "{}" and (template or (draw is not None and draw(st.booleans()))):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _q(lay: _Layout, value: str) -> str:
    """A STRING for a clause (about, source, title): canonical escapes in canonical mode."""
    return _quote(value, None if lay.canonical else lay.draw)


def _version(text: str) -> str:
    # A quoted version that could be written bare is written bare by the formatter.
    return text if re.fullmatch(r"[0-9]+(\.[0-9]+)*", text) else _quote(text)


# ============================================================================ declarations


@attrs.frozen
class _Decl:
    head: str
    clauses: tuple[str, ...]  # in the order they are written


def _expr_clause(prefix: str, e: _E, canonical: bool) -> str:
    """The canonical breaking rule: over 90 columns, cut before each top-level and/or."""
    if canonical and e.op and len("  " + prefix + e.text) > 90:
        return prefix + e.pieces[0] + "".join("\n    " + p for p in e.pieces[1:])
    return prefix + e.text


@st.composite
def _pack_text(draw: st.DrawFn, canonical: bool) -> str:
    lay = _Layout(draw, canonical)
    counter = iter(range(10_000))

    def fresh(word: str) -> str:
        return f"{word}_{next(counter)}"

    codes = tuple(draw(st.lists(st.sampled_from(_OT_CODES), min_size=2, max_size=6,
                                unique=True)))
    mods = tuple(draw(st.lists(st.sampled_from(_MODIFIERS), min_size=1, max_size=5,
                               unique=True)))
    start = draw(st.dates(dt.date(2020, 1, 1), dt.date(2027, 1, 1)))
    end = start + dt.timedelta(days=draw(st.integers(0, 1500)))
    gen = _Gen(draw, lay, codes, mods, fresh)
    params = draw(st.lists(_parameter(gen, start, end), max_size=3))
    scope = _Scope({name: ty for name, ty, _ in params})
    decls = [_header(draw, lay, start, end)]
    if draw(st.booleans()):
        timed = f" timed by {_CODE_TABLE}.timed" if draw(st.booleans()) else ""
        decls.append(_Decl(f"units {draw(st.sampled_from(['cms', 'ama']))}{timed}", ()))
    decls += [decl for _, _, decl in params]
    decls += _tables(draw, lay, codes, mods)
    rule_ids = draw(st.lists(st.from_regex(r"[a-z]{2,8}(-[a-z0-9]{1,6}){1,2}", fullmatch=True),
                             min_size=1, max_size=3, unique=True))
    decls += [_rule(gen, scope, rid, start, end) for rid in rule_ids]
    return _write(draw, lay, decls)


def _header(draw: st.DrawFn, lay: _Layout, start: dt.date, end: dt.date) -> _Decl:
    name = draw(st.from_regex(r"[a-z]{2,6}(-[a-z0-9]{1,5}){1,2}", fullmatch=True))
    title = "" if draw(st.booleans()) else " " + _q(lay, draw(st.text(_TEXT_CHARS, max_size=20)))
    version = draw(st.one_of(st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,2}){1,2}", fullmatch=True),
                             st.integers(0, 99).map(str),
                             st.text(_TEXT_CHARS, min_size=1, max_size=8).map(_version)))
    payers = draw(st.lists(st.sampled_from(["medicare", "medicaid", "aetna", "bcbs-tx"]),
                           min_size=1, max_size=3, unique=True))
    clauses = [f"version {version}", f"payer {', '.join(payers)}",
               f"effective {start.isoformat()} to {end.isoformat()}"]
    if draw(st.booleans()):
        clauses.append("about " + _q(lay, draw(st.text(_TEXT_CHARS, max_size=30))))
    if not lay.canonical:
        clauses = draw(st.permutations(clauses))
    return _Decl(f"pack {name}{title}", tuple(clauses))


@st.composite
def _parameter(draw: st.DrawFn, gen: _Gen, start: dt.date, end: dt.date) -> tuple[str, str,
                                                                                  _Decl]:
    ty = draw(st.sampled_from(_PARAM_TYPES))
    name = gen.fresh(draw(st.sampled_from(_WORDS)))
    head = f"parameter {name} : {ty}"
    clauses: list[str] = []
    days = (end - start).days
    if draw(st.booleans()):
        head += f" = {gen.literal(ty)}"
    else:  # contiguous periods covering the pack's dates exactly
        cuts = sorted(draw(st.sets(st.integers(1, days), max_size=min(days, 3)))) if days else []
        bounds = [start, *(start + dt.timedelta(days=c) for c in cuts)]
        for i, lo in enumerate(bounds):
            hi = bounds[i + 1] - dt.timedelta(days=1) if i + 1 < len(bounds) else end
            clauses.append(f"from {lo.isoformat()} to {hi.isoformat()} = {gen.literal(ty)}")
    notes = []
    if draw(st.booleans()):
        notes.append("about " + _q(gen.lay, draw(st.text(_TEXT_CHARS, max_size=20))))
    if draw(st.booleans()):
        notes.append("source " + _q(gen.lay, draw(st.text(_TEXT_CHARS, max_size=20))))
    if not gen.lay.canonical:  # `about` and `source` come in either order
        notes = draw(st.permutations(notes))
    return name, ty, _Decl(head, (*clauses, *notes))


def _tables(draw: st.DrawFn, lay: _Layout, codes: tuple[str, ...],
            mods: tuple[str, ...]) -> list[_Decl]:
    title = "" if draw(st.booleans()) else " " + _quote(draw(st.text(_TEXT_CHARS, max_size=12)))
    code_rows = [f"row {c}, {_literal(draw, 'flag', codes)}, {_literal(draw, 'money', codes)}, "
                 f"{_literal(draw, 'text', codes)}" for c in codes]
    code_table = _Decl(f"table {_CODE_TABLE}{title}", (
        "key code : code", *(f"column {c} : {t}" for c, t in _CODE_COLUMNS.items()),
        *code_rows, "source " + _quote(draw(st.text(_TEXT_CHARS, max_size=12)))))
    mod_table = _Decl(f"table {_MOD_TABLE}", ("key modifier : modifier",
                                              *(f"row {m}" for m in mods)))
    pairs = draw(st.lists(st.tuples(st.sampled_from(codes), st.sampled_from(codes)),
                          min_size=1, max_size=4, unique=True))
    dated = draw(st.booleans())
    columns = ["key first : code", "key second : code", "column indicator : number"]
    if dated:
        columns += ["column starts : date", "column ends : optional date",
                    "valid from starts until ends"]
    rows = []
    for a, b in pairs:
        extra = ""
        if dated:  # in force from `starts` up to the day before `ends` (at least a day)
            since = draw(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
            ends = since + dt.timedelta(days=draw(st.integers(1, 900)))
            extra = f", {since.isoformat()}, {'none' if draw(st.booleans()) else ends.isoformat()}"
        rows.append(f"row {a}, {b}, {draw(st.sampled_from(['0', '1', '9']))}{extra}")
    pair_table = _Decl(f"table {_PAIR_TABLE}", (*columns, *rows))
    return [code_table, mod_table, pair_table]


def _rule(gen: _Gen, params: _Scope, rule_id: str, start: dt.date, end: dt.date) -> _Decl:
    draw, lay = gen.draw, gen.lay
    sc = params
    lets_before, sc = _lets(gen, sc, draw(st.integers(0, 2)))
    kind = draw(st.sampled_from(["none", "line", "line", "diagnosis", "pair"]))
    iteration, sc = _iteration(gen, sc, kind)
    lets_after, sc = _lets(gen, sc, draw(st.integers(0, 2)) if kind != "none" else 0)
    if draw(st.integers(0, 2)):
        cond = gen.expr("flag", sc, draw(st.integers(0, 3)))
    else:
        cond = gen.chain(draw(st.sampled_from(["and", "or"])), sc, draw(st.integers(2, 6)),
                         draw(st.integers(0, 2)))
    when = _expr_clause("when ", cond, lay.canonical)
    free = {"when": when, "say": "say " + _message(gen, sc),
            "source": "source " + _q(lay, draw(st.text(_TEXT_CHARS, min_size=1, max_size=30)))}
    if draw(st.booleans()):
        free["about"] = "about " + _q(lay, draw(st.text(_TEXT_CHARS, max_size=20)))
    if draw(st.booleans()):
        lo = draw(st.dates(start, end))
        free["effective"] = f"effective {lo.isoformat()} to {draw(st.dates(lo, end)).isoformat()}"
    if kind in ("line", "pair") and draw(st.booleans()):
        if draw(st.booleans()):
            free["fix"] = f"fix add modifier {draw(st.sampled_from(gen.mods))}"
        else:
            free["fix"] = _expr_clause("fix set units to ",
                                       gen.expr("number", sc, draw(st.integers(0, 1))),
                                       lay.canonical)
    fixed = [*lets_before, *([iteration] if iteration else []), *lets_after]
    if lay.canonical:
        order = ["about", "effective"]
        clauses = [free[k] for k in order if k in free] + fixed
        clauses += [free[k] for k in ("when", "say", "fix", "source") if k in free]
    else:  # lets keep their place around `for each`; the other clauses go anywhere
        clauses = list(fixed)
        for text in draw(st.permutations(list(free.values()))):
            clauses.insert(draw(st.integers(0, len(clauses))), text)
    severity = draw(st.sampled_from(["error", "warning", "info"]))
    return _Decl(f"rule {rule_id} : {severity}", tuple(clauses))


def _lets(gen: _Gen, sc: _Scope, count: int) -> tuple[list[str], _Scope]:
    out = []
    for _ in range(count):
        ty = gen.draw(st.sampled_from([*_PARAM_TYPES[:-3], "text", "flag"]))
        e = gen.expr(ty, sc, gen.draw(st.integers(0, 2)))
        name = gen.fresh(gen.draw(st.sampled_from(_WORDS)))
        taint = bool(_PHI.search(e.text)) or any(
            re.search(rf"\b{t}\b", e.text) for t in sc.tainted)
        out.append(_expr_clause(f"let {name} = ", e, gen.lay.canonical))
        sc = attrs.evolve(sc.bind(name, ty), tainted=sc.tainted | ({name} if taint else set()))
    return out, sc


def _iteration(gen: _Gen, sc: _Scope, kind: str) -> tuple[str | None, _Scope]:
    draw = gen.draw
    if kind == "none":
        return None, sc
    if kind == "pair":
        a, b = gen.fresh("first"), gen.fresh("second")
        table = draw(st.booleans())
        text = f"for each pair {a}, {b}" + (f" in {_PAIR_TABLE}" if table else "")
        inner = attrs.evolve(sc.bind(a, "line").bind(b, "line"), row=table)
    else:
        name = kind if draw(st.booleans()) else gen.fresh("this")
        text = f"for each {kind}" + ("" if name == kind else f" as {name}")
        inner = sc.bind(name, "line" if kind == "line" else "diagnosis")
    if draw(st.booleans()):
        where = gen.expr("flag", inner, 1)
        text = _expr_clause(text + " where ", where, gen.lay.canonical)
    return text, inner


def _message(gen: _Gen, sc: _Scope) -> str:
    """A message with placeholders naming single values in scope, never patient identity."""
    names = [n for n, t in sc.names.items() if n not in sc.tainted]
    names += [f"{ln}.{f}" for ln in sc.lines for f in ("code", "minutes", "units", "charge")]
    names += [f for fs in _VISIT_FIELDS.values() for f, ok in fs if ok]
    if sc.row:
        names.append(f"{_PAIR_TABLE}.indicator")
    parts = []
    for _ in range(gen.draw(st.integers(0, 3))):
        parts.append(_quote(gen.draw(st.text(_TEXT_CHARS, max_size=10)), template=True)[1:-1])
        pad = " " if gen.lay.chance(0.2) else ""
        parts.append("{" + pad + gen.pick(names) + pad + "}")
    parts.append(_quote(gen.draw(st.text(_TEXT_CHARS, max_size=10)), template=True)[1:-1])
    return '"' + "".join(parts) + '"'


# ============================================================================ writing


def _write(draw: st.DrawFn, lay: _Layout, decls: list[_Decl]) -> str:
    """Lay the declarations out, with comments before and after any item."""
    out: list[str] = []
    for i, decl in enumerate(decls):
        if i:
            out.append("" if lay.canonical else "\n" * draw(st.integers(0, 2)))
        items = [("", decl.head), *((lay.indent(), c) for c in decl.clauses)]
        for indent, text in items:
            if draw(st.integers(0, 9)) == 0:
                own = indent if lay.canonical else " " * draw(st.integers(0, 4))
                out.append(own + draw(_comments()))
            line = indent + text
            if draw(st.integers(0, 9)) == 0:
                line += (" " * draw(st.integers(1, 3)) if not lay.canonical else "  ")
                line += draw(_comments())
            out.append(line)
    if draw(st.integers(0, 4)) == 0:
        out += ["", draw(_comments())]
    return "\n".join(out) + "\n"


# ============================================================================ public


def pack_sources(*, canonical: bool = False) -> st.SearchStrategy[str]:
    """Random valid single-file pack sources; ``canonical=True`` for the fmt layout."""
    return _pack_text(canonical)


def pack_asts(*, canonical: bool = False) -> st.SearchStrategy[A.PackFile]:
    """The parsed form of :func:`pack_sources`."""
    return pack_sources(canonical=canonical).map(lambda text: parse_source(text)[0])


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z0-9_$.,*-]+|\S')


@st.composite
def mutated_pack_sources(draw: st.DrawFn) -> str:
    """A valid pack damaged one to three times: a token deleted, repeated or swapped with its
    neighbour, the text cut short, or a random character inserted."""
    text = draw(pack_sources())
    for _ in range(draw(st.integers(1, 3))):
        tokens = list(_TOKEN.finditer(text))
        how = draw(st.sampled_from(["delete", "repeat", "swap", "truncate", "insert"]))
        if how == "truncate" or not tokens:
            text = text[: draw(st.integers(0, len(text)))]
        elif how == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.characters(exclude_categories=["Cs"])) + text[at:]
        else:
            i = draw(st.integers(0, len(tokens) - 1))
            tok = tokens[i]
            if how == "delete":
                text = text[: tok.start()] + text[tok.end():]
            elif how == "repeat":
                text = text[: tok.end()] + " " + tok.group() + text[tok.end():]
            elif i + 1 < len(tokens):
                nxt = tokens[i + 1]
                text = (text[: tok.start()] + nxt.group() + text[tok.end(): nxt.start()]
                        + tok.group() + text[nxt.end():])
    return text
