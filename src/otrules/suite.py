"""The regression suite: find golden case files, run many cases, measure rule coverage, and
rewrite the expectations of chosen cases from current results (``otrules test --update``).

Loading and comparing one case is :mod:`otrules.cases`; this module works over many files and
packs. The collection rule is shared by ``otrules test`` and the pytest plugin:

    a case file is a ``*.yaml`` / ``*.yml`` file in a folder named ``tests`` whose parent
    folder holds at least one ``*.otr`` file (a pack folder), and whose text has a top-level
    ``cases:`` key.

Coverage comes from traces: every case is evaluated with ``trace=True`` and each trace entry
counts for its rule as fired (condition true), false, missing or skipped.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
import yaml

from otrules.cases import (
    ANY_LINE,
    Case,
    CaseError,
    CaseResult,
    Expectation,
    ExpectedFinding,
    ExpectedLine,
    Outcome,
    compare,
    load_cases,
    run_case,
)
from otrules.errors import OtrulesError, PackError
from otrules.eval.engine import Pack
from otrules.eval.result import Result
from otrules.resources import rulepacks_dir

__all__ = [
    "CaseFile",
    "CaseRun",
    "Discovery",
    "PackCoverage",
    "RuleCoverage",
    "SuiteError",
    "SuiteReport",
    "UpdateResult",
    "case_id",
    "discover",
    "is_case_file",
    "keyword_matcher",
    "run_suite",
    "update_case_file",
    "update_matcher",
]

_CASES_KEY: Final = re.compile(r"^cases[ \t]*:", re.MULTILINE)
_YAML: Final = (".yaml", ".yml")


class SuiteError(OtrulesError):
    """A suite could not be set up: a path that does not exist, a bad ``-k`` expression."""


# ---------------------------------------------------------------------------- discovery


@attrs.frozen
class CaseFile:
    path: Path  # as the user would write it (relative when given relative)
    pack_folder: Path


@attrs.frozen
class Discovery:
    files: tuple[CaseFile, ...]
    # YAML files in a pack's tests/ folder without a top-level `cases:` key: not case files,
    # but worth a note, since a misspelt `case:` would otherwise hide a whole file.
    skipped: tuple[Path, ...] = ()


def _is_pack_folder(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(p.suffix == ".otr" for p in folder.iterdir())
    except OSError:
        return False


def _in_pack_tests(path: Path) -> bool:
    return (path.suffix in _YAML and path.parent.name == "tests"
            and _is_pack_folder(path.parent.parent))


def _has_cases_key(path: Path) -> bool:
    try:
        return _CASES_KEY.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return True  # let loading report why it cannot be read


def is_case_file(path: str | os.PathLike[str]) -> bool:
    """The collection rule (see the module docstring)."""
    path = Path(path)
    return _in_pack_tests(path) and _has_cases_key(path)


def discover(paths: Sequence[str | os.PathLike[str]] = ()) -> Discovery:
    """Case files under ``paths`` (pack folders, ``tests`` folders, case files, folders of
    packs, or bundled pack names); with no paths, every bundled pack's. Sorted, no repeats."""
    found: dict[Path, CaseFile] = {}
    skipped: dict[Path, None] = {}
    for target in paths or [_shown(rulepacks_dir())]:
        for candidate in _candidates(target):
            if not _has_cases_key(candidate):
                skipped[candidate] = None
            else:
                found.setdefault(candidate.resolve(),
                                 CaseFile(candidate, candidate.parent.parent))
    return Discovery(tuple(found.values()), tuple(skipped))


def _candidates(target: str | os.PathLike[str]) -> list[Path]:
    path = Path(target)
    if not path.exists():
        bundled = rulepacks_dir() / str(target)
        if isinstance(target, str) and "/" not in target and _is_pack_folder(bundled):
            return _pack_case_files(_shown(bundled))
        raise SuiteError(f"no such file or folder: {os.fspath(target)}")
    if path.is_file():
        if not _in_pack_tests(path):
            raise SuiteError(f"{path} is not a case file: case files are .yaml files in the "
                             "tests/ folder of a pack folder")
        return [path]
    if _is_pack_folder(path):
        return _pack_case_files(path)
    if path.name == "tests" and _is_pack_folder(path.parent):
        return _pack_case_files(path.parent)
    return [f for folder in _pack_folders_under(path) for f in _pack_case_files(folder)]


def _shown(path: Path) -> Path:
    """A bundled pack's path as a user sees it: relative when it is under the current
    folder (a source checkout), so that reports do not depend on where it lives."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _pack_case_files(folder: Path) -> list[Path]:
    tests = folder / "tests"
    if not tests.is_dir():
        return []
    return sorted(p for p in tests.iterdir() if p.suffix in _YAML and p.is_file())


def _pack_folders_under(root: Path) -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if any(f.endswith(".otr") for f in files):
            out.append(Path(folder))
            dirs.clear()  # a pack's subfolders are its tables and tests, not other packs
    return sorted(out)


# ---------------------------------------------------------------------------- selection


def case_id(case: Case) -> str:
    """``file::name``, the id ``-k`` and ``--update`` match against."""
    return f"{case.file}::{case.name}"


_TOKEN: Final = re.compile(r"\s*(\(|\)|[^\s()]+)")


def keyword_matcher(expression: str) -> Callable[[str], bool]:
    """A pytest ``-k`` style matcher: words match case-insensitive substrings of the id, and
    combine with ``and``, ``or``, ``not`` and parentheses."""
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise SuiteError("empty -k expression")
    parser = _KParser(tokens, expression)
    match = parser.disjunction()
    if parser.pos != len(tokens):
        raise SuiteError(f"bad -k expression {expression!r}: unexpected "
                         f"{tokens[parser.pos]!r}")
    return lambda text: match(text.lower())


class _KParser:
    def __init__(self, tokens: list[str], expression: str) -> None:
        self.tokens = tokens
        self.expression = expression
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def disjunction(self) -> Callable[[str], bool]:
        parts = [self.conjunction()]
        while self._peek() == "or":
            self.pos += 1
            parts.append(self.conjunction())
        return lambda text: any(p(text) for p in parts)

    def conjunction(self) -> Callable[[str], bool]:
        parts = [self.negation()]
        while self._peek() == "and":
            self.pos += 1
            parts.append(self.negation())
        return lambda text: all(p(text) for p in parts)

    def negation(self) -> Callable[[str], bool]:
        token = self._peek()
        if token is None or token in ("and", "or", ")"):
            raise SuiteError(f"bad -k expression {self.expression!r}: a word is missing")
        self.pos += 1
        if token == "not":
            inner = self.negation()
            return lambda text: not inner(text)
        if token == "(":
            inner = self.disjunction()
            if self._peek() != ")":
                raise SuiteError(f"bad -k expression {self.expression!r}: ')' is missing")
            self.pos += 1
            return inner
        word = token.lower()
        return lambda text: word in text


def update_matcher(pattern: str) -> Callable[[Case], bool]:
    """``file::name`` (the name may use ``*`` and ``?``; the file matches by path or by the
    end of its path) or a ``-k`` style expression over the case id."""
    if "::" not in pattern:
        keyword = keyword_matcher(pattern)
        return lambda case: keyword(case_id(case))
    file_part, name_part = pattern.rsplit("::", 1)
    wanted = Path(file_part)

    def matches(case: Case) -> bool:
        if not fnmatch.fnmatchcase(case.name, name_part):
            return False
        path = Path(case.file)
        return (path.resolve() == wanted.resolve()
                or path.as_posix().endswith("/" + wanted.as_posix().lstrip("./")))

    return matches


# ---------------------------------------------------------------------------- coverage


@attrs.frozen
class RuleCoverage:
    """How one rule went over every element of every case run."""

    rule: str
    fired: int = 0  # condition true
    false: int = 0  # condition false
    missing: int = 0  # condition missing
    skipped: int = 0  # where not true, or outside the rule's dates

    @property
    def reached(self) -> bool:
        return self.fired + self.false + self.missing > 0


@attrs.frozen
class PackCoverage:
    pack: str
    folder: Path
    rules: tuple[RuleCoverage, ...]
    cases: int

    @property
    def percent(self) -> float:
        """Share of the pack's rules that fired in at least one case, 0–100."""
        if not self.rules:
            return 100.0
        return 100.0 * sum(1 for r in self.rules if r.fired) / len(self.rules)

    @property
    def never_fired(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.rules if not r.fired)

    @property
    def never_false(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.rules if not r.false)

    @property
    def never_reached(self) -> tuple[str, ...]:
        return tuple(r.rule for r in self.rules if not r.reached)


_OUTCOME_FIELD: Final = {"fired": "fired", "condition is false": "false",
                         "condition is missing": "missing"}


class _Tally:
    def __init__(self, pack: Pack, folder: Path) -> None:
        self.pack = pack
        self.folder = folder
        self.counts = {r.id: dict.fromkeys(("fired", "false", "missing", "skipped"), 0)
                       for r in pack.rules}
        self.cases = 0

    def add(self, result: Result) -> None:
        self.cases += 1
        for entry in result.trace or ():
            counts = self.counts.get(entry.rule)
            if counts is None:
                continue  # pack-not-effective: not a rule of the pack
            key = "fired" if entry.outcome == "fired" else _OUTCOME_FIELD.get(entry.reason)
            counts[key or "skipped"] += 1

    def coverage(self) -> PackCoverage:
        rules = tuple(RuleCoverage(rule, **counts) for rule, counts in self.counts.items())
        return PackCoverage(self.pack.name, self.folder, rules, self.cases)


class _Recording:
    """An engine for ``run_case`` that evaluates with a trace and keeps the last result."""

    def __init__(self, pack: Pack, trace: bool) -> None:
        self.pack = pack
        self.trace = trace
        self.last: Result | None = None

    def evaluate(self, visit: Any, *, as_of: dt.date | None = None) -> Result:
        self.last = None
        self.last = self.pack.evaluate(visit, trace=self.trace, as_of=as_of)
        return self.last


# ---------------------------------------------------------------------------- running


@attrs.frozen
class CaseRun:
    """One case that ran: its comparison and the engine's result (None if it did not run)."""

    result: CaseResult
    evaluated: Result | None

    @property
    def id(self) -> str:
        return case_id(self.result.case)


@attrs.frozen
class SuiteReport:
    runs: tuple[CaseRun, ...]
    # Files or packs that could not be used: (path shown, message). A pack error's message is
    # its rendered diagnostics; each of its case files counts once.
    errors: tuple[tuple[str, str], ...]
    coverage: tuple[PackCoverage, ...] = ()

    @property
    def passed(self) -> int:
        return sum(1 for r in self.runs if r.result.passed)

    @property
    def failed(self) -> tuple[CaseRun, ...]:
        return tuple(r for r in self.runs if not r.result.passed)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed


def run_suite(discovery: Discovery, *, select: Callable[[str], bool] | None = None,
              coverage: bool = False, on_run: Callable[[CaseRun], None] | None = None,
              load: Callable[[Path], Pack] = Pack.load) -> SuiteReport:
    """Run every (selected) case of the discovered files, each against its own pack, loaded
    by ``load`` (default: the reference interpreter). Raises nothing for a bad case file or
    pack: they are listed in ``errors``."""
    runs: list[CaseRun] = []
    errors: list[tuple[str, str]] = []
    tallies: dict[Path, _Tally] = {}
    for folder, files in _by_pack(discovery.files):
        pack, problem = _load_pack(folder, load)
        if pack is None:
            errors.append((str(folder), problem or ""))
            continue
        engine = _Recording(pack, trace=coverage)
        tally = tallies.setdefault(folder, _Tally(pack, folder)) if coverage else None
        for case in _cases(files, errors, select):
            run = CaseRun(run_case(engine, case), engine.last)
            if tally is not None and run.evaluated is not None:
                tally.add(run.evaluated)
            runs.append(run)
            if on_run is not None:
                on_run(run)
    covered = tuple(t.coverage() for t in tallies.values() if t.cases)
    return SuiteReport(tuple(runs), tuple(errors), covered)


def _by_pack(files: Iterable[CaseFile]) -> Iterator[tuple[Path, list[CaseFile]]]:
    groups: dict[Path, list[CaseFile]] = {}
    for f in files:
        groups.setdefault(f.pack_folder, []).append(f)
    yield from groups.items()


def _load_pack(folder: Path, load: Callable[[Path], Pack]) -> tuple[Pack | None, str | None]:
    try:
        return load(folder), None
    except PackError as error:
        return None, f"the pack does not check:\n{error}"


def _cases(files: list[CaseFile], errors: list[tuple[str, str]],
           select: Callable[[str], bool] | None) -> Iterator[Case]:
    for f in files:
        try:
            cases = load_cases(f.path)
        except CaseError as error:
            errors.append((str(f.path), str(error)))
            continue
        yield from (c for c in cases if select is None or select(case_id(c)))


# ---------------------------------------------------------------------------- updating


@attrs.frozen
class UpdateResult:
    """What ``update_case_file`` did: cases rewritten (id, what changed) and cases refused
    (id, why)."""

    updated: tuple[tuple[str, tuple[str, ...]], ...]
    refused: tuple[tuple[str, str], ...]


def update_case_file(path: str | os.PathLike[str], runs: Sequence[CaseRun]) -> UpdateResult:
    """Rewrite the ``expect`` section of each run's case in ``path`` from its outcome,
    leaving every other byte of the file as it was. The new text is loaded back and the
    updated cases compared again before it replaces the file; nothing is written otherwise.

    The new ``expect`` holds ``status``, ``lines`` and an exhaustive ``findings`` list; a
    finding keeps a ``message`` when the old expectation checked that rule's message, and
    ``absent`` entries stay unless the new outcome contradicts them."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    newline = "\r\n" if "\r\n" in text else "\n"
    try:
        located = _expect_nodes(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:  # the file changed since its cases ran
        raise SuiteError(f"{path} is no longer valid YAML; nothing was updated") from None
    edits: list[tuple[int, int, str]] = []
    updated: list[tuple[str, tuple[str, ...]]] = []
    refused: list[tuple[str, str]] = []
    rewritten: dict[str, CaseRun] = {}
    for run in runs:
        case, outcome = run.result.case, run.result.outcome
        span = _expect_span(text, located.get(case.name))
        if outcome is None:
            refused.append((run.id, "; ".join(run.result.differences)))
        elif span is None:
            refused.append((run.id, "its `expect` is not written out in the case (a YAML "
                                    "alias or merge); update it by hand"))
        else:
            expect, notes = _new_expectation(case.expect, outcome)
            block = _render_expect(expect, span[2], newline)
            edits.append((span[0], span[1], block))
            updated.append((run.id, (*run.result.differences, *notes)))
            rewritten[case.name] = run
    if edits:
        for start, end, block in sorted(edits, reverse=True):
            text = text[:start] + block + text[end:]
        _verify_and_replace(path, text, rewritten)
    return UpdateResult(tuple(updated), tuple(refused))


def _expect_nodes(root: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Case name -> (the `expect` key node, its value node), for keys written in the case."""
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        if key.value != "cases" or not isinstance(value, yaml.SequenceNode):
            continue
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                continue
            pairs = {k.value: (k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)}
            if "name" in pairs and "expect" in pairs:
                out[str(pairs["name"][1].value)] = pairs["expect"]
    return out


def _expect_span(text: str, nodes: tuple[yaml.Node, yaml.Node] | None
                 ) -> tuple[int, int, int] | None:
    """(start, end, indent column) of ``expect: …`` up to the end of its last line, or None
    when any part of the value is written elsewhere (an alias to an anchor)."""
    if nodes is None:
        return None
    key, value = nodes
    start = value.start_mark.index
    if start < key.end_mark.index:
        return None
    end = start
    for node in _descendants(value):
        if node.start_mark.index < start:
            return None
        end = max(end, node.end_mark.index)
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if text[line_end - 1:line_end] == "\r":
        line_end -= 1
    return key.start_mark.index, line_end, key.start_mark.column


def _descendants(node: yaml.Node) -> Iterator[yaml.Node]:
    """Every node under ``node`` whose end mark is exact: scalars and flow collections. (A
    block collection's end mark runs on over the blank lines and comments that follow it.)"""
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        yield node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _descendants(key)
            yield from _descendants(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _descendants(item)


def _new_expectation(old: Expectation, got: Outcome) -> tuple[Expectation, list[str]]:
    notes = []
    checked_messages = [e for e in old.findings or () if e.message is not None]
    findings = tuple(
        ExpectedFinding(g.rule, g.line, g.severity,
                        g.message if any(e.rule == g.rule and e.line in (ANY_LINE, g.line)
                                         for e in checked_messages) else None)
        for g in got.findings)
    absent = []
    for forbidden in old.absent:
        if any(forbidden.matches(g) for g in got.findings):
            notes.append(f"removed from absent (the finding is now given): "
                         f"{forbidden.describe()}")
        else:
            absent.append(forbidden)
    if old.partial:
        notes.append("partial: true removed (the findings list is now exhaustive)")
    lines = tuple(ExpectedLine(code, units) for code, units in got.lines)
    return Expectation(got.status, lines, findings, False, tuple(absent)), notes


_PLAIN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _flow(pairs: Sequence[tuple[str, object]]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"


def _finding_text(f: ExpectedFinding) -> str:
    pairs: list[tuple[str, object]] = [("rule", _scalar(f.rule))]
    if f.line is not ANY_LINE:
        pairs.append(("line", _scalar(f.line)))
    if f.severity is not None:
        pairs.append(("severity", f.severity))
    if f.message is not None:
        pairs.append(("message", json.dumps(f.message, ensure_ascii=False)))
    return _flow(pairs)


def _line_text(line: ExpectedLine) -> str:
    pairs: list[tuple[str, object]] = [("code", json.dumps(line.code))]
    if line.units is not None:
        pairs.append(("units", line.units))
    return _flow(pairs)


def _render_expect(expect: Expectation, column: int, newline: str) -> str:
    pad = " " * (column + 2)
    out = ["expect:", f"{pad}status: {expect.status}"]
    lines = [_line_text(line) for line in expect.lines or ()]
    flow = f"{pad}lines: [{', '.join(lines)}]"
    if len(flow) <= 100 or not lines:
        out.append(flow)
    else:
        out += [f"{pad}lines:", *(f"{pad}  - {line}" for line in lines)]
    for key, items in (("findings", expect.findings or ()), ("absent", expect.absent)):
        if items:
            out += [f"{pad}{key}:", *(f"{pad}  - {_finding_text(f)}" for f in items)]
        elif key == "findings":
            out.append(f"{pad}findings: []")
    return newline.join(out)


def _verify_and_replace(path: Path, text: str, runs: dict[str, CaseRun]) -> None:
    # A temporary file beside the original: `visit_file` paths resolve the same way, and
    # os.replace is atomic on one file system.
    temp = path.with_name(f".{path.name}.otrules-update")
    try:
        with open(temp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        shutil.copymode(path, temp)
        _check_rewritten(path, temp, runs)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _check_rewritten(path: Path, temp: Path, rewritten: dict[str, CaseRun]) -> None:
    """The rewritten file must load, hold the same cases, rewritten ones passing now and the
    others' expectations untouched."""
    try:
        before, after = load_cases(path), load_cases(temp)
    except CaseError as error:
        raise SuiteError(f"the rewritten case file does not load ({error.detail}); "
                         "nothing was written: this is a bug in otrules") from None
    def key(c: Case) -> tuple[Any, ...]:
        return (c.name, c.visit, c.about, c.as_of)

    problem = [key(c) for c in before] != [key(c) for c in after]
    for old, new in zip(before, after, strict=False):
        run = rewritten.get(new.name)
        if run is None:
            problem = problem or old.expect != new.expect
        elif run.result.outcome is not None:
            problem = problem or bool(compare(new.expect, run.result.outcome))
    if problem:
        raise SuiteError(f"rewriting {path} went wrong; nothing was written: this is a bug "
                         "in otrules")
