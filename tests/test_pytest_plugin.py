"""The pytest plugin (``otrules.pytest_plugin``), run with pytest's own ``pytester``."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from test_cli_main import TINY_PACK
from test_cli_test import CASES

pytest_plugins = ["pytester"]

# Once the package is installed with its `pytest11` entry point the plugin loads by itself;
# before that (a checkout installed earlier) it is named explicitly.
_INSTALLED = any(ep.value == "otrules.pytest_plugin" for ep in entry_points(group="pytest11"))
PLUGIN = () if _INSTALLED else ("-p", "otrules.pytest_plugin")


@pytest.fixture
def tiny(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".otr", **{"tiny/pack": TINY_PACK})
    pytester.makefile(".yaml", **{"tiny/tests/cases": CASES})
    return pytester


def test_cases_are_items_and_a_failure_shows_the_differences(tiny: pytest.Pytester) -> None:
    result = tiny.runpytest(*PLUGIN, "tiny")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*_ case long-visit-wrong _*",
        "status: expected pass, got warn",
        "line 0 (97530): expected 4 unit(s), got 5",
        "unexpected finding: long-visit (visit) warning: 'The visit has 70 timed minutes.'",
        "*short test summary info*",
        "FAILED tiny/tests/cases.yaml::long-visit-wrong - status: expected pass, got warn",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "def runtest" not in result.stdout.str()


def test_node_ids_and_k_selection(tiny: pytest.Pytester) -> None:
    listed = tiny.runpytest(*PLUGIN, "tiny", "--collect-only", "-q")
    listed.stdout.fnmatch_lines(["tiny/tests/cases.yaml::quiet",
                                 "tiny/tests/cases.yaml::go-missing",
                                 "tiny/tests/cases.yaml::long-visit-wrong"])
    chosen = tiny.runpytest(*PLUGIN, "tiny", "-k", "go or quiet")
    chosen.assert_outcomes(passed=2, deselected=1)


def test_verbose_report_names_the_case_file_line(tiny: pytest.Pytester) -> None:
    result = tiny.runpytest(*PLUGIN, "tiny", "-v", "-k", "quiet")
    result.stdout.fnmatch_lines(["tiny/tests/cases.yaml::quiet PASSED*"])


def test_a_malformed_case_file_is_a_collection_error(tiny: pytest.Pytester) -> None:
    tiny.makefile(".yaml", **{"tiny/tests/broken": "cases:\n  - name: x\n"})
    result = tiny.runpytest(*PLUGIN, "tiny")
    result.assert_outcomes(errors=1)  # pytest stops on a collection error, as for any file
    result.stdout.fnmatch_lines([
        "*ERROR collecting tiny/tests/broken.yaml*",
        "tiny/tests/broken.yaml:2: case 'x': give exactly one of 'visit' and 'visit_file'",
    ])
    assert "Traceback" not in result.stdout.str()
    going_on = tiny.runpytest(*PLUGIN, "tiny", "--continue-on-collection-errors")
    going_on.assert_outcomes(passed=2, failed=1, errors=1)


def test_a_pack_with_errors_fails_each_case_with_its_diagnostics(
        pytester: pytest.Pytester) -> None:
    pytester.makefile(".otr", **{"p/pack": "pack p\n  effective 2026-01-01 to 2026-12-31\n\n"
                                           "rule r : eror\n  say \"x\"\n"})
    pytester.makefile(".yaml", **{"p/tests/cases": CASES})
    result = pytester.runpytest(*PLUGIN, "p")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["the pack p does not check:",
                                 "p/pack.otr:4:10: error[E001]: unexpected 'eror'"])


def test_yaml_files_that_are_not_case_files_are_ignored(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"loose/tests/cases": CASES})  # no pack folder around it
    pytester.makefile(".otr", **{"q/pack": TINY_PACK})
    pytester.makefile(".yaml", **{"q/tests/notes": "owner: someone\n"})  # no `cases:`
    result = pytester.runpytest(*PLUGIN, "loose", "q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_the_backend_ini_option(tiny: pytest.Pytester) -> None:
    tiny.makeini("[pytest]\notrules_backend = interpreter\n")
    result = tiny.runpytest(*PLUGIN, "tiny", "-k", "quiet or go")
    result.assert_outcomes(passed=2, deselected=1)


def test_a_wrong_backend_is_a_usage_error(tiny: pytest.Pytester) -> None:
    tiny.makeini("[pytest]\notrules_backend = fast\n")
    result = tiny.runpytest(*PLUGIN, "tiny")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*otrules_backend must be compiled or interpreter, not 'fast'"])
