"""A pytest plugin that collects golden case files as test items, so that ``pytest rulepacks/``
runs every case with pytest's reporting, ``-k`` selection and parallel runners.

Collection rule (the same as ``otrules test``, see :mod:`otrules.suite`): a ``*.yaml`` /
``*.yml`` file in a ``tests`` folder whose parent folder holds an ``*.otr`` file, with a
top-level ``cases:`` key. Each case is an item named after the case
(``rulepacks/medicare-ot/tests/units.yaml::cms-example-1-billed-as-the-manual-says``).

Items are independent: each loads its pack through a cache kept for the session, so workers
of a parallel runner (pytest-xdist) collect and run them on their own. A failing case reports
the readable difference list of :mod:`otrules.cases`, never a traceback; a malformed case
file or a pack with errors is reported the same way. The ini option ``otrules_backend``
(``compiled`` by default, or ``interpreter``) chooses how packs are evaluated.

Registered through the ``pytest11`` entry point ``otrules``; disable it with
``-p no:otrules``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from otrules.api import BackendName, load_pack
from otrules.cases import Case, CaseError, CaseResult, load_cases, run_case
from otrules.errors import PackError
from otrules.eval.engine import Pack
from otrules.suite import is_case_file

__all__ = ["CaseFailed", "CaseFileCollector", "CaseItem", "PackUnusable"]

# One Pack per pack folder and session: loading checks the whole pack, so it is done once.
# A pack that does not check is remembered as its report, so that each of its cases says so.
_PACKS = pytest.StashKey[dict[Path, "Pack | str"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("otrules_backend", "how golden cases are evaluated: compiled (the default, "
                  "as applications run packs) or interpreter (the reference)",
                  default="compiled")


def pytest_configure(config: pytest.Config) -> None:
    backend = config.getini("otrules_backend")
    if backend not in ("compiled", "interpreter"):
        raise pytest.UsageError(f"otrules_backend must be compiled or interpreter, not "
                                f"{backend!r}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_case_file(file_path):
        return CaseFileCollector.from_parent(parent, path=file_path)
    return None


class CaseFailed(Exception):
    """A case's outcome differs from its expectation."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.report())
        self.result = result


class PackUnusable(Exception):
    """The pack a case file belongs to has errors; the message is its diagnostics."""


class CaseFileCollector(pytest.File):
    """A case file: one item per case."""

    def collect(self) -> list[CaseItem]:
        try:
            cases = load_cases(_shown(self.path))
        except CaseError as error:
            raise self.CollectError(str(error)) from None
        return [CaseItem.from_parent(self, name=case.name, case=case) for case in cases]


class CaseItem(pytest.Item):
    """One golden case, run against the pack that owns the case file."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.pack_folder = Path(case.file).parent.parent

    def runtest(self) -> None:
        result = run_case(self._pack(), self.case)
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        error = excinfo.value
        if isinstance(error, CaseFailed):
            # The first line is what pytest's short summary shows: make it the first difference.
            return "\n".join(error.result.differences)
        if isinstance(error, PackUnusable):
            return f"the pack {self.pack_folder} does not check:\n{error}"
        return str(super().repr_failure(excinfo, style))  # a bug in otrules: keep the trace

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"case {self.case.name}"

    def _pack(self) -> Pack:
        packs = self.config.stash.setdefault(_PACKS, {})
        key = self.pack_folder.resolve()
        if key not in packs:
            try:
                backend = str(self.config.getini("otrules_backend"))
                packs[key] = load_pack(self.pack_folder,
                                       backend=cast(BackendName, backend))
            except PackError as error:
                packs[key] = str(error)
        found = packs[key]
        if isinstance(found, str):
            raise PackUnusable(found)
        return found


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when it is inside it, so that reports name
    files as the user would."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
