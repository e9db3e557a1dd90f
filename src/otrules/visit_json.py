"""The visit JSON contract: load and validate, dump, and stream JSON Lines.

:func:`load_visit` is the validator: it checks the structure of one visit and reports every
problem it finds in a single :class:`~otrules.errors.VisitError`, each problem with a JSON path
(``lines[2].minutes``, indexes 0-based) and a plain-English message. Messages echo only the
offending scalar value, shortened, never other text from the visit.

:func:`read_visits` streams :class:`VisitRecord` objects from JSON Lines (or from a JSON array,
or a single JSON object) without holding the file in memory. The contract is documented in
``docs/visits.md``; its JSON Schema ships as ``otrules/data/visit.schema.json``.
"""

from __future__ import annotations

import codecs
import datetime
import difflib
import functools
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from itertools import chain
from typing import IO, Any, AnyStr, Final

import attrs

from otrules.errors import Problem, VisitError
from otrules.model import (
    CLAIM_TYPES,
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_LINES,
    MAX_MINUTES,
    MAX_MODIFIERS,
    MAX_MONEY,
    MAX_POINTERS,
    MAX_UNITS,
    PERFORMERS,
    Authorization,
    Line,
    Patient,
    Visit,
)

__all__ = ["MAX_RECORD_CHARS", "PathOrFile", "VisitRecord", "dump_visit", "dumps_visit",
           "load_visit", "read_visits", "write_visits"]

# A record (one JSON Lines line, one array element) larger than this is not read: a 50-line
# visit is well under 20 kB, and the limit is what keeps streaming in constant memory.
MAX_RECORD_CHARS: Final = 1_000_000
_CHUNK_SIZE: Final = 64 * 1024
_ECHO_LIMIT: Final = 40  # longest scalar echoed back in a message

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CODE = re.compile(r"[A-Za-z0-9]{5}")
_MODIFIER = re.compile(r"[A-Za-z0-9]{2}")
_DIAGNOSIS = re.compile(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+)?")
_PLACE_OF_SERVICE = re.compile(r"[0-9]{2}")
_MONEY_TEXT = re.compile(r"[0-9]{1,8}(\.[0-9]{1,2})?")
_CENT: Final = Decimal("0.01")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_CHARS = re.compile(r"[-+.eE0-9]*")

_BAD: Final[Any] = object()  # what a field parser returns after reporting a problem


# ---- problems and how values are shown in them -------------------------------------------


class _Problems:
    """Collects problems so that one pass over a visit reports all of them."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(path, message))

    def bad(self, path: str, message: str, value: Any) -> Any:
        if path in _PHI_PATHS:  # protected health information: say what is wrong, not the value
            self.add(path, f"{message}, got {_kind(value)}")
        else:
            self.add(path, f"{message}, got {_describe(value)}")
        return _BAD


# Fields whose value must never be echoed back in a problem (a log would then hold PHI).
_PHI_PATHS = frozenset({"patient.id", "patient.birth_date"})


def _kind(value: Any) -> str:
    """What a value is, without its content."""
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    return "null" if value is None else f"a {type(value).__name__}"


def _clip(text: str) -> str:
    return text if len(text) <= _ECHO_LIMIT else text[:_ECHO_LIMIT] + "…"


def _describe(value: Any) -> str:
    """A short rendering of a scalar; containers are named, never shown (they may hold PHI)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**_ECHO_LIMIT:
        return "a number too large to show"  # str() of a huge int is slow or refused
    if isinstance(value, int | float | Decimal):
        return _clip(str(value))
    if isinstance(value, str):
        return json.dumps(_clip(value), ensure_ascii=False)  # quoted, control chars escaped
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _key(path: str, name: object) -> str:
    shown = _clip(name) if isinstance(name, str) else _describe(name)
    return f"{path}.{shown}" if path else shown


# ---- scalar field parsers: (value, path, problems) -> parsed value or _BAD ------------------

Parser = Callable[[Any, str, _Problems], Any]


def _identifier(value: Any, path: str, problems: _Problems) -> Any:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_ID_LENGTH:
        return value
    return problems.bad(
        path, f"must be a non-empty string of at most {MAX_ID_LENGTH} characters", value)


def _payer(value: Any, path: str, problems: _Problems) -> Any:
    parsed = _identifier(value, path, problems)
    return parsed if parsed is _BAD else parsed.strip()


def _date(value: Any, path: str, problems: _Problems) -> Any:
    # The regex first: date.fromisoformat also accepts "20260302" and week dates.
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    return problems.bad(path, "must be a calendar date written YYYY-MM-DD", value)


def _boolean(value: Any, path: str, problems: _Problems) -> Any:
    return value if isinstance(value, bool) else problems.bad(path, "must be true or false", value)


def _one_of(choices: tuple[str, ...]) -> Parser:
    wanted = " or ".join(f'"{c}"' for c in choices)

    def parse(value: Any, path: str, problems: _Problems) -> Any:
        return value if value in choices else problems.bad(path, f"must be {wanted}", value)

    return parse


def _pattern(regex: re.Pattern[str], message: str) -> Parser:
    """A string matching ``regex`` (case-insensitively, stored upper-cased)."""

    def parse(value: Any, path: str, problems: _Problems) -> Any:
        if isinstance(value, str) and regex.fullmatch(value):
            return value.upper()
        return problems.bad(path, message, value)

    return parse


_code = _pattern(_CODE, "must be a 5-character CPT/HCPCS code (letters and digits)")
_modifier = _pattern(_MODIFIER, "must be a 2-character modifier (letters and digits)")
_place_of_service = _pattern(_PLACE_OF_SERVICE, 'must be a 2-digit place of service such as "11"')


def _diagnosis(value: Any, path: str, problems: _Problems) -> Any:
    # Only characters no ICD-10 code has are rejected here; whether the code is a real
    # ICD-10-CM code is a rule pack's finding.
    if isinstance(value, str) and 3 <= len(value) <= 8 and _DIAGNOSIS.fullmatch(value):
        return value.upper()
    message = 'must be an ICD-10 code: 3 to 8 letters and digits with at most one "."'
    return problems.bad(path, message, value)


def _as_whole(value: Any, low: int, high: int) -> int | None:
    """An integral number in low..high (20.0 counts, as in JSON Schema); bool is no number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        # Range first: int() of Decimal("1E+999999999") would build an enormous integer.
        if not low <= value <= high or value != int(value):
            return None
    except InvalidOperation:  # Decimal NaN refuses to be compared
        return None
    return int(value)


def _whole(low: int, high: int, unit: str = "", what: str = "must be a whole number") -> Parser:
    message = f"{what}{unit} {low}..{high}"

    def parse(value: Any, path: str, problems: _Problems) -> Any:
        number = _as_whole(value, low, high)
        return number if number is not None else problems.bad(path, message, value)

    return parse


_minutes = _whole(0, MAX_MINUTES, " of minutes")
_count = _whole(0, MAX_COUNT)


def _as_money(value: Any) -> Decimal | None:
    if isinstance(value, str):
        return Decimal(value) if _MONEY_TEXT.fullmatch(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    # A float goes through its shortest repr, so 0.1 is 0.1 and not 0.1000000000000000055...
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or not 0 <= amount <= MAX_MONEY or amount % _CENT:
        return None
    amount = amount.copy_abs()  # -0.0 is 0.0
    # A JSON number is judged by value, as the schema's multipleOf does: 1.230 is 1.23.
    exponent = amount.as_tuple().exponent
    return amount if isinstance(exponent, int) and exponent >= -2 else amount.quantize(_CENT)


def _money(value: Any, path: str, problems: _Problems) -> Any:
    amount = _as_money(value)
    if amount is not None:
        return amount
    message = f"must be an amount of money 0..{MAX_MONEY} with at most 2 decimal places"
    return problems.bad(path, message, value)


# ---- lists ---------------------------------------------------------------------------------


def _items(value: Any, path: str, problems: _Problems) -> list[Any] | None:
    if isinstance(value, list | tuple):
        return list(value)
    problems.add(path, f"must be a list, got {_describe(value)}")
    return None


def _report_repeats(values: list[Any], path: str, noun: str, problems: _Problems) -> None:
    first_at: dict[Any, int] = {}
    for index, value in enumerate(values):
        if value is _BAD:
            continue
        if value in first_at:
            problems.add(f"{path}[{index}]",
                         f"repeats {noun} {_describe(value)} (already at index {first_at[value]})")
        else:
            first_at[value] = index


def _bounded_list(item: Parser, most: int, noun: str) -> Parser:
    """A list of at most ``most`` distinct items (modifiers, diagnosis pointers)."""

    def parse(value: Any, path: str, problems: _Problems) -> Any:
        items = _items(value, path, problems)
        if items is None:
            return _BAD
        if len(items) > most:
            problems.add(path, f"must list at most {most} {noun}s, got {len(items)}")
        parsed = [item(v, f"{path}[{i}]", problems) for i, v in enumerate(items)]
        _report_repeats(parsed, path, noun, problems)
        return tuple(parsed)

    return parse


def _diagnoses(value: Any, path: str, problems: _Problems) -> Any:
    items = _items(value, path, problems)
    if items is None:
        return _BAD
    return tuple(_diagnosis(v, f"{path}[{i}]", problems) for i, v in enumerate(items))


def _pointer(diagnoses: int | None) -> Parser:
    """A 1-based diagnosis pointer; its range is known only when the diagnoses list is."""
    if diagnoses is None:  # the diagnoses list itself is broken and already reported
        return _whole(1, MAX_COUNT)
    if diagnoses == 0:
        message = "must point to a diagnosis, but the visit lists none"
        return lambda value, path, problems: problems.bad(path, message, value)
    return _whole(1, diagnoses, "", "must be a diagnosis pointer")


# ---- objects -------------------------------------------------------------------------------


@attrs.frozen
class _Field:
    parse: Parser
    required: bool = False
    absent: Any = None  # the model's value when the field is absent (or null)


def _read_object(
    value: Any, path: str, fields: Mapping[str, _Field], problems: _Problems
) -> dict[str, Any] | None:
    """Parse every known field, then report unknown and repeated ones. None if no object."""
    if not isinstance(value, Mapping):
        problems.add(path, f"must be an object, got {_describe(value)}")
        return None
    parsed: dict[str, Any] = {}
    for name, field in fields.items():
        # null is accepted as "absent" for optional fields: many exporters write it.
        if name not in value or (value[name] is None and not field.required):
            if field.required:
                problems.add(_key(path, name), "is required")
            parsed[name] = field.absent
        else:
            parsed[name] = field.parse(value[name], _key(path, name), problems)
    for name in value:
        if name not in fields:
            problems.add(_key(path, name), _unknown_message(name, fields))
    for name in getattr(value, "repeated_keys", ()):
        problems.add(_key(path, name), "appears more than once in this object")
    return parsed


def _unknown_message(name: object, fields: Mapping[str, _Field]) -> str:
    if isinstance(name, str):
        close = difflib.get_close_matches(_clip(name).lower(), list(fields), n=1, cutoff=0.75)
        if close:
            return f'unknown field; did you mean "{close[0]}"?'
    return "unknown field"


Check = Callable[[dict[str, Any], str, _Problems], None]


def _object(cls: type, fields: Mapping[str, _Field], check: Check | None = None) -> Parser:
    """Parse an object's fields, run its cross-field check, build it if nothing was wrong."""

    def parse(value: Any, path: str, problems: _Problems) -> Any:
        before = len(problems.items)
        values = _read_object(value, path, fields, problems)
        if values is None:
            return _BAD
        if check is not None:
            check(values, path, problems)
        # Built only if nothing in its subtree was reported: never half a visit.
        return cls(**values) if len(problems.items) == before else _BAD

    return parse


_PATIENT_FIELDS: Final = {
    "id": _Field(_identifier, required=True),
    "birth_date": _Field(_date),
    "ytd_ot_allowed": _Field(_money),
    "visits_this_year": _Field(_count),
    "treatment_days_since_progress_report": _Field(_count),
    "plan_of_care_certified_on": _Field(_date),
}

_AUTHORIZATION_FIELDS: Final = {
    "number": _Field(_identifier, required=True),
    "visits_authorized": _Field(_count),
    "visits_used": _Field(_count),
    "valid_from": _Field(_date),
    "valid_to": _Field(_date),
}


def _check_validity(values: dict[str, Any], path: str, problems: _Problems) -> None:
    start, end = values["valid_from"], values["valid_to"]
    if isinstance(start, datetime.date) and isinstance(end, datetime.date) and end < start:
        problems.add(_key(path, "valid_to"),
                     f"must not be before valid_from ({start.isoformat()}), got {end.isoformat()}")


@functools.lru_cache(maxsize=16)  # one table per diagnosis count; the tables are never changed
def _line_fields(diagnoses: int | None) -> Mapping[str, _Field]:
    return {
        "code": _Field(_code, required=True),
        "minutes": _Field(_minutes),
        "units": _Field(_whole(0, MAX_UNITS, " of units")),
        "modifiers": _Field(_bounded_list(_modifier, MAX_MODIFIERS, "modifier"), absent=()),
        "performed_by": _Field(_one_of(PERFORMERS)),
        "assistant_minutes": _Field(_minutes),
        "charge": _Field(_money),
        "diagnosis_pointers": _Field(
            _bounded_list(_pointer(diagnoses), MAX_POINTERS, "diagnosis pointer"), absent=()),
    }


def _check_assistant(values: dict[str, Any], path: str, problems: _Problems) -> None:
    minutes, assistant = values["minutes"], values["assistant_minutes"]
    if isinstance(minutes, int) and isinstance(assistant, int) and assistant > minutes:
        problems.add(_key(path, "assistant_minutes"),
                     f"must not exceed the line's minutes ({minutes}), got {assistant}")


def _lines(value: Any, path: str, problems: _Problems, *, diagnoses: int | None) -> Any:
    items = _items(value, path, problems)
    if items is None:
        return _BAD
    if not 1 <= len(items) <= MAX_LINES:
        problems.add(path, f"must list 1 to {MAX_LINES} service lines, got {len(items)}")
    line = _object(Line, _line_fields(diagnoses), _check_assistant)
    # Lines past the 50th cannot be billed at all; checking them would only add noise.
    return tuple(line(v, f"{path}[{i}]", problems) for i, v in enumerate(items[:MAX_LINES]))


_VISIT_FIELDS: Final = {  # in contract order, which is also the order problems are reported
    "id": _Field(_identifier, required=True),
    "date_of_service": _Field(_date, required=True),
    "payer": _Field(_payer, required=True),
    "claim_type": _Field(_one_of(CLAIM_TYPES)),
    "place_of_service": _Field(_place_of_service),
    "telehealth": _Field(_boolean),
    "claim_submitted_on": _Field(_date),
    "patient": _Field(_object(Patient, _PATIENT_FIELDS), required=True),
    "authorization": _Field(_object(Authorization, _AUTHORIZATION_FIELDS, _check_validity)),
    "diagnoses": _Field(_diagnoses, required=True),
    "lines": _Field(_lines, required=True),  # replaced per visit: pointers need the count
}


def _validate(value: Any, problems: _Problems) -> Any:
    if not isinstance(value, Mapping):
        problems.add("", f"a visit must be a JSON object, got {_describe(value)}")
        return _BAD
    diagnoses = value.get("diagnoses")
    count = len(diagnoses) if isinstance(diagnoses, list | tuple) else None
    lines = functools.partial(_lines, diagnoses=count)
    return _object(Visit, {**_VISIT_FIELDS, "lines": _Field(lines, required=True)})(
        value, "", problems)


def _readable_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        visit_id = value.get("id")
        if _identifier(visit_id, "", _Problems()) is not _BAD:
            return visit_id
    return None


# ---- JSON text -------------------------------------------------------------------------------


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers keys written twice (json keeps only the last)."""

    __slots__ = ("repeated_keys",)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls(pairs)
        obj.repeated_keys = ()
        if len(obj) != len(pairs):
            counts = Counter(name for name, _ in pairs)
            obj.repeated_keys = tuple(name for name in obj if counts[name] > 1)
        return obj


# parse_float=Decimal: money never passes through float. NaN/Infinity decode to Decimal
# so that the field check reports them with the field's path.
_DECODER: Final = json.JSONDecoder(
    parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_JsonObject.from_pairs)


def _utf8(data: bytes, problems: _Problems) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        problems.add("", f"not valid UTF-8 text: {error.reason} at byte {error.start + 1}")
        return None


def _decode_json(data: str | bytes, problems: _Problems, first_line: int = 1) -> Any:
    """Decode JSON text; report a syntax error with its line (counted from ``first_line``)."""
    text = _utf8(data, problems) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if text is None:
        return _BAD
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as error:
        line = first_line + error.lineno - 1
        problems.add("", f"not valid JSON: {error.msg} at line {line}, column {error.colno}")
    except RecursionError:
        problems.add("", "not valid JSON: nested too deeply")
    except ValueError:  # an integer with more digits than Python will convert
        problems.add("", "not valid JSON: a number has too many digits")
    return _BAD


# ---- public: one visit -----------------------------------------------------------------------


def _load(data: Any, record: int | None, first_line: int = 1) -> Visit:
    problems = _Problems()
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
    if isinstance(data, str | bytes):
        data = _decode_json(data, problems, first_line)
    visit = _BAD if data is _BAD else _validate(data, problems)
    if problems.items:
        raise VisitError(problems.items, record=record, visit_id=_readable_id(data))
    return visit  # type: ignore[no-any-return]


def load_visit(obj: Mapping[str, Any] | str | bytes) -> Visit:
    """Validate one visit given as decoded JSON (a dict) or as JSON text, and build it.

    Raises :class:`VisitError` listing every problem found; never returns half a visit.
    """
    return _load(obj, record=None)


def _dump(obj: Visit | Patient | Authorization | Line) -> dict[str, Any]:
    # The field tables are in contract order, so the dump's key order is the contract's.
    fields = _DUMP_FIELDS[type(obj)]
    out: dict[str, Any] = {}
    for name, field in fields.items():
        value = getattr(obj, name)
        if value is not None and (value != () or field.required):
            out[name] = _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # keeps the scale: Decimal("120.00") -> "120.00"
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if type(value) in _DUMP_FIELDS:
        return _dump(value)
    return value


_DUMP_FIELDS: Final[dict[type, Mapping[str, _Field]]] = {
    Visit: _VISIT_FIELDS, Patient: _PATIENT_FIELDS, Authorization: _AUTHORIZATION_FIELDS,
    Line: _line_fields(None),
}


def dump_visit(visit: Visit) -> dict[str, Any]:
    """The visit as canonical JSON-shaped data: absent fields omitted, money as strings."""
    return _dump(visit)


def dumps_visit(visit: Visit) -> str:
    """Compact, deterministic JSON text (ASCII only, so any file encoding can hold it)."""
    return json.dumps(dump_visit(visit), separators=(",", ":"))


# ---- public: streams -------------------------------------------------------------------------


@attrs.frozen
class VisitRecord:
    """One record of a visit stream: exactly one of ``visit`` and ``error`` is set.

    ``number`` is the 1-based line number in JSON Lines (blank lines count), the 1-based
    element index in a JSON array, and 1 for a file holding a single JSON object.
    """

    number: int
    visit: Visit | None
    error: VisitError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _record(data: Any, number: int, first_line: int | None = None) -> VisitRecord:
    try:
        return VisitRecord(number, _load(data, number, first_line or number), None)
    except VisitError as error:
        return VisitRecord(number, None, error)


def _failed(number: int, message: str) -> VisitRecord:
    return VisitRecord(number, None, VisitError([Problem("", message)], record=number))


PathOrFile = str | os.PathLike[str] | IO[str] | IO[bytes]


def read_visits(source: PathOrFile) -> Iterator[VisitRecord]:
    """Stream the visits of a JSON Lines file (or a JSON array, or one JSON object).

    ``source`` is a path or an open text or binary file. A bad record yields a
    :class:`VisitRecord` carrying its error and reading goes on. Nothing is read (and a path
    is not opened) until iteration starts; a file opened here is closed when the iterator is
    exhausted or closed.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield from _records(_chunks(handle))
    else:
        yield from _records(_chunks(source))


def _chunks(handle: IO[Any]) -> Iterator[Any]:
    while chunk := handle.read(_CHUNK_SIZE):
        yield chunk


def _without_bom(chunks: Iterator[AnyStr]) -> Iterator[AnyStr]:
    head = None
    for chunk in chunks:
        head = chunk if head is None else head + chunk
        if len(head) >= len(codecs.BOM_UTF8):
            break
    if head is not None:
        yield head.removeprefix("\ufeff" if isinstance(head, str) else codecs.BOM_UTF8)
        yield from chunks


def _records(chunks: Iterator[Any]) -> Iterator[VisitRecord]:
    chunks = _without_bom(chunks)
    seen = []
    for chunk in chunks:  # find the first non-whitespace character, keeping what was read
        seen.append(chunk)
        rest = chunk.lstrip()
        if rest:
            first = rest[:1] if isinstance(rest, str) else rest[:1].decode("latin-1")
            everything = chain(seen, chunks)
            if first == "[":
                return _read_array(_text(everything))
            return _read_lines(_split_lines(everything))
    return iter(())


def _text(chunks: Iterator[Any]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in chunks:
        try:
            yield chunk if isinstance(chunk, str) else decoder.decode(chunk)
        except UnicodeDecodeError as error:
            # Hand over the good text before the bad byte first, so that the elements it
            # holds are still read; the error then ends the array.
            yield error.object[:error.start].decode("utf-8")
            raise
    yield decoder.decode(b"", final=True)


def _split_lines(chunks: Iterator[AnyStr]) -> Iterator[AnyStr | None]:
    """Lines without "\\n"; None stands for a line too long to read (it is never held whole)."""
    parts: list[AnyStr] = []
    size = 0
    for chunk in chunks:
        *complete, rest = chunk.split("\n" if isinstance(chunk, str) else b"\n")  # type: ignore[arg-type]
        for piece in complete:
            yield None if size + len(piece) > MAX_RECORD_CHARS else piece[:0].join([*parts, piece])
            parts, size = [], 0
        size += len(rest)
        if size <= MAX_RECORD_CHARS:
            parts.append(rest)
        else:
            parts.clear()
    if size:
        yield None if size > MAX_RECORD_CHARS else parts[0][:0].join(parts)


def _read_lines(lines: Iterator[Any]) -> Iterator[VisitRecord]:
    numbered = enumerate(lines, 1)
    buffered: list[tuple[int, Any]] = []
    for number, line in numbered:  # skip to the first non-blank line
        buffered.append((number, line))
        if line is None or line.strip():
            break
    single = _single_object(buffered, numbered)
    if single is not None:
        yield single
        return
    for number, line in chain(buffered, numbered):
        if line is None:
            yield _failed(number, f"line is longer than {MAX_RECORD_CHARS} characters; not read")
        elif line.strip():
            yield _record(line, number)


def _single_object(
    buffered: list[tuple[int, Any]], numbered: Iterator[tuple[int, Any]]
) -> VisitRecord | None:
    """If the first line is not JSON by itself, try the whole input as one (pretty-printed)
    JSON value. Lines read for the attempt stay in ``buffered`` for JSON Lines reading."""
    first = buffered[-1][1] if buffered else None
    if first is None or not first.strip() or _decode_json(first, _Problems()) is not _BAD:
        return None
    size = 0
    for number, line in numbered:
        buffered.append((number, line))
        if line is None or (size := size + len(line) + 1) > MAX_RECORD_CHARS:
            return None  # too big to be one visit: read it as JSON Lines after all
    newline = "\n" if isinstance(first, str) else b"\n"
    value = _decode_json(newline.join(line for _, line in buffered), _Problems())
    return None if value is _BAD else _record(value, 1)


# ---- JSON arrays, decoded element by element ---------------------------------------------------


@attrs.frozen
class _Decoded:
    value: Any


class _TextBuffer:
    """Unconsumed input text and the file line/column where it starts (for error messages)."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self.text = ""
        self.pos = 0
        self.line = 1
        self.column = 1

    def more(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self.text += chunk
                return True
        return False

    def _position(self, pos: int) -> tuple[int, int]:
        before = self.text[:pos]
        newlines = before.count("\n")
        column = self.column + pos if not newlines else pos - before.rfind("\n")
        return self.line + newlines, column

    def where(self, pos: int) -> str:
        return "line {}, column {}".format(*self._position(pos))

    def drop_consumed(self) -> None:
        self.line, self.column = self._position(self.pos)
        self.text, self.pos = self.text[self.pos:], 0

    def next_char(self) -> str:
        """Skip JSON whitespace; the next character, or "" at the end of the input."""
        while True:
            self.pos = _JSON_SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def value(self) -> Any:
        """Decode the value at ``pos``, reading on while it is incomplete; a str is an error."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if len(self.text) - self.pos > MAX_RECORD_CHARS or not self.more():
                    return f"not valid JSON: {error.msg} at {self.where(error.pos)}"
                continue
            except RecursionError:
                return "not valid JSON: nested too deeply"
            except ValueError:
                return "not valid JSON: a number has too many digits"
            # A number running to the end of the text ("12", "0.") may go on in the next chunk.
            numeric_end = _NUMBER_CHARS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            may_go_on = (numeric_end == len(self.text)
                         and len(self.text) - self.pos <= MAX_RECORD_CHARS)
            if not (may_go_on and self.more()):
                self.pos = end
                return _Decoded(value)


def _read_array(chunks: Iterator[str]) -> Iterator[VisitRecord]:
    buffer = _TextBuffer(chunks)
    number = 1  # of the element being read, which is also the one an error is charged to
    try:
        buffer.next_char()
        buffer.pos += 1  # the "["
        after = buffer.next_char()
        while after != "]":
            buffer.drop_consumed()
            result = buffer.value()
            if isinstance(result, str):  # a syntax error: no line boundary to resync at
                yield _failed(number, result)
                return
            yield _record(result.value, number)
            number += 1
            after = buffer.next_char()
            if after not in (",", "]"):
                where = buffer.where(buffer.pos)
                yield _failed(number, f"not valid JSON: expected ',' or ']' at {where}")
                return
            if after == ",":
                buffer.pos += 1
                buffer.next_char()
        buffer.pos += 1  # the "]"
        if buffer.next_char():
            yield _failed(number, f"not valid JSON: extra data at {buffer.where(buffer.pos)}")
    except UnicodeDecodeError as error:  # from the incremental decoder
        yield _failed(number, f"not valid UTF-8 text: {error.reason}")


def write_visits(visits: Iterable[Visit], file: PathOrFile) -> int:
    """Write one compact JSON object per line (JSON Lines); return how many were written.

    ``file`` is a path (written as UTF-8) or an open text or binary file.
    """
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as handle:
            return write_visits(visits, handle)
    binary = (isinstance(file, io.RawIOBase | io.BufferedIOBase)
              or "b" in str(getattr(file, "mode", "")))
    count = 0
    for visit in visits:
        text = dumps_visit(visit) + "\n"
        file.write(text.encode("ascii") if binary else text)  # type: ignore[arg-type]
        count += 1
    return count
