"""Golden cases: YAML files of visits, each with what a pack must say about it.

A case file lives in a pack's ``tests/`` folder; ``docs/cases.md`` describes the format. This
module loads case files (every mistake in one becomes a :class:`CaseError` naming the file, the
case and the YAML line), runs a case against an evaluation engine and compares what came out
with what was expected, producing a readable list of differences. The ``otrules test`` command
and the pytest plugin both use it.

Scalars are read as the text the author wrote and converted by the field they belong to, not
by YAML's guessing: ``place_of_service: 02`` stays ``"02"`` and ``modifiers: [GO, 59]`` gives
the modifier ``"59"``, where plain YAML would produce the numbers 2 and 59.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import attrs
import yaml

from otrules.errors import OtrulesError, VisitError
from otrules.model import Visit
from otrules.visit_json import load_visit

__all__ = [
    "ANY_LINE",
    "Case",
    "CaseError",
    "CaseResult",
    "Engine",
    "Expectation",
    "ExpectedFinding",
    "ExpectedLine",
    "GotFinding",
    "Outcome",
    "case_files",
    "compare",
    "load_cases",
    "outcome_of",
    "run_case",
]

_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE: Final = frozenset({"true", "yes", "on"})
_FALSE: Final = frozenset({"false", "no", "off"})
# Visit fields holding whole numbers; every other visit scalar stays text.
_WHOLE: Final = frozenset({
    "minutes", "units", "assistant_minutes", "visits_this_year",
    "treatment_days_since_progress_report", "visits_authorized", "visits_used",
    "diagnosis_pointers",
})
_FLAGS: Final = frozenset({"telehealth"})
_CASE_KEYS: Final = frozenset({"name", "about", "visit", "visit_file", "as_of", "expect"})
_EXPECT_KEYS: Final = frozenset({"status", "lines", "findings", "partial", "absent"})
_FINDING_KEYS: Final = frozenset({"rule", "line", "severity", "message"})
_LINE_KEYS: Final = frozenset({"code", "units"})
_SEVERITIES: Final = frozenset({"error", "warning", "info"})


class CaseError(OtrulesError):
    """A case file is malformed. ``file``, ``case`` (its name, when known) and ``line`` (1-based
    YAML line) say where; the message says what."""

    def __init__(self, message: str, *, file: str, case: str | None = None,
                 line: int | None = None) -> None:
        self.file = file
        self.case = case
        self.line = line
        self.detail = message
        where = file + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: " + (f"case {case!r}: " if case else "") + message)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild_case_error, (self.detail, self.file, self.case, self.line))


def _rebuild_case_error(message: str, file: str, case: str | None, line: int | None) -> CaseError:
    return CaseError(message, file=file, case=case, line=line)


class _Unset:
    """The type of :data:`ANY_LINE`."""

    def __repr__(self) -> str:
        return "ANY_LINE"


ANY_LINE: Final = _Unset()  # an expected finding that does not say which line


# ---------------------------------------------------------------------------- the data


@attrs.frozen
class ExpectedFinding:
    """A finding a case expects (or forbids). ``line`` is a 0-based line index, None for a
    visit-level finding, or :data:`ANY_LINE`; severity and message are checked when given."""

    rule: str
    line: int | _Unset | None = ANY_LINE
    severity: str | None = None
    message: str | None = None

    def matches(self, got: GotFinding) -> bool:
        return (got.rule == self.rule
                and (self.line is ANY_LINE or got.line == self.line)
                and (self.severity is None or got.severity == self.severity)
                and (self.message is None or got.message == self.message))

    def describe(self) -> str:
        parts = [self.rule]
        if self.line is not ANY_LINE:
            parts.append("(visit)" if self.line is None else f"line {self.line}")
        if self.severity is not None:
            parts.append(self.severity)
        text = " ".join(parts)
        return text + (f": {self.message!r}" if self.message is not None else "")


@attrs.frozen
class ExpectedLine:
    code: str | None = None
    units: int | None = None


@attrs.frozen
class Expectation:
    status: str | None = None
    lines: tuple[ExpectedLine, ...] | None = None
    findings: tuple[ExpectedFinding, ...] | None = None
    partial: bool = False
    absent: tuple[ExpectedFinding, ...] = ()


@attrs.frozen
class Case:
    name: str
    visit: Visit
    expect: Expectation
    file: str
    line: int  # 1-based YAML line where the case starts
    about: str | None = None
    as_of: dt.date | None = None


@attrs.frozen
class GotFinding:
    rule: str
    line: int | None
    severity: str
    message: str

    def describe(self) -> str:
        where = "(visit)" if self.line is None else f"line {self.line}"
        return f"{self.rule} {where} {self.severity}: {self.message!r}"


@attrs.frozen
class Outcome:
    """What evaluation produced, reduced to what cases compare."""

    status: str | None
    lines: tuple[tuple[str, int | None], ...]  # (code, computed units) per line, in order
    findings: tuple[GotFinding, ...]


@attrs.frozen
class CaseResult:
    case: Case
    outcome: Outcome | None
    differences: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.differences

    def report(self) -> str:
        head = f"{self.case.file}:{self.case.line}: case {self.case.name!r}"
        if self.passed:
            return head + ": ok"
        return "\n".join([head + ": FAILED", *(f"  {d}" for d in self.differences)])


# ---------------------------------------------------------------------------- loading


def case_files(pack_folder: str | Path) -> list[Path]:
    """The case files of a pack: ``tests/*.yaml`` and ``tests/*.yml``, in name order."""
    tests = Path(pack_folder) / "tests"
    return sorted(p for p in tests.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_cases(path: str | Path) -> list[Case]:
    """Read and validate every case of one file; raises :class:`CaseError` on the first
    problem, naming the file, the case and the line."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(f"cannot read the file: {error}", file=file) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise CaseError(f"not valid YAML: {problem}", file=file, line=line) from None
    reader = _Reader(file)
    top = reader.mapping(root, "the file", {"cases", "shared"})
    if "cases" not in top:
        raise CaseError("the file needs a top-level 'cases:' list", file=file)
    cases = [reader.case(node, path.parent) for node in reader.sequence(top["cases"], "cases")]
    seen: dict[str, int] = {}
    for case in cases:
        if case.name in seen:
            raise CaseError(f"the name is used twice (first at line {seen[case.name]})",
                            file=file, case=case.name, line=case.line)
        seen[case.name] = case.line
    return cases


class _Reader:
    """Turns composed YAML nodes into case data, with the file, case and line in every error."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.case_name: str | None = None

    def fail(self, message: str, node: yaml.Node | None) -> CaseError:
        line = node.start_mark.line + 1 if node is not None else None
        return CaseError(message, file=self.file, case=self.case_name, line=line)

    # -- shapes

    def mapping(self, node: yaml.Node | None, what: str,
                allowed: frozenset[str] | set[str] | None = None) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(f"{what} must be a mapping (key: value lines)", node)
        out: dict[str, yaml.Node] = {}
        for key_node, value in _merged(node):
            key = self.text(key_node, "a key")
            if key in out:
                raise self.fail(f"{what}: the key {key!r} appears twice", key_node)
            if allowed is not None and key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f"{what}: unknown key {key!r} (known: {known})", key_node)
            out[key] = value
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(f"{what} must be a list", node)
        return list(node.value)

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(f"{what} must be a single value", node)
        return str(node.value)

    def optional_text(self, node: yaml.Node | None, what: str) -> str | None:
        if node is None or _is_null(node):
            return None
        return self.text(node, what)

    def whole(self, node: yaml.Node, what: str, *, allow_null: bool = False) -> int | None:
        if allow_null and _is_null(node):
            return None
        value = self.text(node, what)
        if not value.isdigit():
            raise self.fail(f"{what} must be a whole number, got {value!r}", node)
        return int(value)

    def flag(self, node: yaml.Node, what: str) -> bool:
        value = self.text(node, what).lower()
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        raise self.fail(f"{what} must be true or false, got {value!r}", node)

    # -- cases

    def case(self, node: yaml.Node, folder: Path) -> Case:
        self.case_name = None
        fields = self.mapping(node, "a case", _CASE_KEYS)
        if "name" not in fields:
            raise self.fail("a case needs a 'name'", node)
        self.case_name = self.text(fields["name"], "name")
        if ("visit" in fields) == ("visit_file" in fields):
            raise self.fail("give exactly one of 'visit' and 'visit_file'", node)
        if "expect" not in fields:
            raise self.fail("a case needs an 'expect' section", node)
        as_of = None
        if "as_of" in fields:
            as_of = self.date(fields["as_of"], "as_of")
        return Case(
            name=self.case_name, visit=self.visit(fields, folder),
            expect=self.expectation(fields["expect"]), file=self.file,
            line=node.start_mark.line + 1,
            about=self.optional_text(fields.get("about"), "about"), as_of=as_of,
        )

    def date(self, node: yaml.Node, what: str) -> dt.date:
        value = self.text(node, what)
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise self.fail(f"{what} must be a date written YYYY-MM-DD, got {value!r}",
                            node) from None

    def visit(self, fields: Mapping[str, yaml.Node], folder: Path) -> Visit:
        if "visit_file" in fields:
            node = fields["visit_file"]
            target = folder / self.text(node, "visit_file")
            try:
                data: Any = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise self.fail(f"cannot read visit_file: {error}", node) from None
        else:
            node = fields["visit"]
            data = self.visit_data(node)
        try:
            return load_visit(data)
        except VisitError as error:
            problems = "; ".join(str(p) for p in error.problems)
            raise self.fail(f"the visit is not valid: {problems}", node) from None

    def visit_data(self, node: yaml.Node, field: str | None = None) -> Any:
        """A visit as JSON-shaped data, each scalar typed by the field it belongs to."""
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key, value in _merged(node):
                name = self.text(key, "a key")
                if name in out:
                    raise self.fail(f"the visit: the key {name!r} appears twice", key)
                out[name] = self.visit_data(value, name)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.visit_data(item, field) for item in node.value]
        if _is_null(node):
            return None
        text = str(node.value)
        if field in _WHOLE and text.isdigit():
            return int(text)
        if field in _FLAGS and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        return text  # anything else, and malformed numbers, go to load_visit as text

    def expectation(self, node: yaml.Node) -> Expectation:
        fields = self.mapping(node, "expect", _EXPECT_KEYS)
        lines: tuple[ExpectedLine, ...] | None = None
        findings: tuple[ExpectedFinding, ...] | None = None
        if "lines" in fields:
            lines = tuple(self.expected_line(n) for n in self.sequence(fields["lines"], "lines"))
        if "findings" in fields:
            findings = tuple(self.finding(n) for n in self.sequence(fields["findings"],
                                                                     "findings"))
        absent: tuple[ExpectedFinding, ...] = ()
        if "absent" in fields:
            absent = tuple(self.finding(n) for n in self.sequence(fields["absent"], "absent"))
        partial = self.flag(fields["partial"], "partial") if "partial" in fields else False
        if partial and findings is None:
            raise self.fail("'partial: true' needs a 'findings' list", fields["partial"])
        return Expectation(
            status=self.optional_text(fields.get("status"), "status"), lines=lines,
            findings=findings, partial=partial, absent=absent,
        )

    def expected_line(self, node: yaml.Node) -> ExpectedLine:
        fields = self.mapping(node, "an expected line", _LINE_KEYS)
        units = self.whole(fields["units"], "units") if "units" in fields else None
        return ExpectedLine(code=self.optional_text(fields.get("code"), "code"), units=units)

    def finding(self, node: yaml.Node) -> ExpectedFinding:
        fields = self.mapping(node, "a finding", _FINDING_KEYS)
        if "rule" not in fields:
            raise self.fail("a finding needs a 'rule'", node)
        line: int | _Unset | None = ANY_LINE
        if "line" in fields:
            line = self.whole(fields["line"], "line", allow_null=True)
        severity = self.optional_text(fields.get("severity"), "severity")
        if severity is not None and severity not in _SEVERITIES:
            raise self.fail(f"severity must be error, warning or info, got {severity!r}",
                            fields["severity"])
        return ExpectedFinding(
            rule=self.text(fields["rule"], "rule"), line=line, severity=severity,
            message=self.optional_text(fields.get("message"), "message"),
        )


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and node.value in _NULLS


def _merged(node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
    """A mapping's pairs with YAML merge keys (``<<: *shared``) expanded; own keys win."""
    own = [(k, v) for k, v in node.value if not _is_merge(k)]
    own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    inherited: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        if not _is_merge(key):
            continue
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if isinstance(source, yaml.MappingNode):
                for k, v in _merged(source):
                    if isinstance(k, yaml.ScalarNode) and k.value not in own_keys:
                        inherited.setdefault(k.value, (k, v))
    yield from inherited.values()
    yield from own


def _is_merge(key: yaml.Node) -> bool:
    return isinstance(key, yaml.ScalarNode) and key.style is None and key.value == "<<"


# ---------------------------------------------------------------------------- running


class Engine(Protocol):
    """What run_case needs: ``otrules.eval.engine.Pack`` or anything with its ``evaluate``."""

    def evaluate(self, visit: Visit, /, *, as_of: dt.date | None = None) -> Any: ...


def run_case(pack: Engine, case: Case) -> CaseResult:
    """Evaluate the case's visit with ``pack`` and compare the outcome with the expectation."""
    result = pack.evaluate(case.visit, as_of=case.as_of)
    outcome = outcome_of(result)
    return CaseResult(case, outcome, tuple(compare(case.expect, outcome)))


def outcome_of(result: Any) -> Outcome:
    """Read an evaluation result (the engine's object, or its JSON form) into an Outcome."""
    findings = tuple(
        GotFinding(rule=str(_get(f, "rule")), line=_get(f, "line"),
                   severity=str(_get(f, "severity")), message=str(_get(f, "message")))
        for f in _get(result, "findings")
    )
    lines = tuple((str(_get(line, "code")), _units(line)) for line in _get(result, "lines"))
    status = _get(result, "status", None)
    return Outcome(None if status is None else str(status), lines, findings)


def _get(obj: Any, name: str, *default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, *default) if default else obj[name]
    return getattr(obj, name, *default)


def _units(line: Any) -> int | None:
    for name in ("computed_units", "units"):
        value = _get(line, name, None)
        if value is not None:
            return int(value)
    return None


def compare(expect: Expectation, got: Outcome) -> list[str]:
    """Every difference between an expectation and an outcome, in words; empty if they agree."""
    out: list[str] = []
    if expect.status is not None and expect.status != got.status:
        out.append(f"status: expected {expect.status}, got {got.status}")
    if expect.lines is not None:
        out.extend(_compare_lines(expect.lines, got.lines))
    if expect.findings is not None:
        out.extend(_compare_findings(expect.findings, got.findings, expect.partial))
    for forbidden in expect.absent:
        out.extend(f"finding that must be absent: {f.describe()}"
                   for f in got.findings if forbidden.matches(f))
    return out


def _compare_lines(expected: Sequence[ExpectedLine],
                   got: Sequence[tuple[str, int | None]]) -> list[str]:
    out = []
    if len(expected) != len(got):
        out.append(f"lines: expected {len(expected)}, got {len(got)}")
    for index, (want, (code, units)) in enumerate(zip(expected, got, strict=False)):
        if want.code is not None and want.code != code:
            out.append(f"line {index}: expected code {want.code}, got {code}")
        if want.units is not None and want.units != units:
            out.append(f"line {index} ({code}): expected {want.units} unit(s), got {units}")
    return out


def _compare_findings(expected: Sequence[ExpectedFinding], got: Sequence[GotFinding],
                      partial: bool) -> list[str]:
    pairing = _pair(expected, got)
    out = [f"missing finding: {e.describe()}" for i, e in enumerate(expected) if i not in pairing]
    if not partial:
        used = set(pairing.values())
        out.extend(f"unexpected finding: {g.describe()}"
                   for j, g in enumerate(got) if j not in used)
    return out


def _pair(expected: Sequence[ExpectedFinding], got: Sequence[GotFinding]) -> dict[int, int]:
    """A largest one-to-one pairing of expected with actual findings (augmenting paths), so
    that a loosely written expectation never takes the finding a precise one needs."""
    owner: dict[int, int] = {}  # got index -> expected index

    def place(i: int, seen: set[int]) -> bool:
        for j, finding in enumerate(got):
            if j in seen or not expected[i].matches(finding):
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        place(i, set())
    return {i: j for j, i in owner.items()}
