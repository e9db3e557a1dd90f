"""The public API is what otrules/__init__.py exports, and it stays small and light."""

import subprocess
import sys
from pathlib import Path

import otrules

EXAMPLES = Path(otrules.__file__).parent / "data" / "example-visits.jsonl"

EXPECTED = {
    "AppliedFix", "BillableLine", "Diagnostic", "EvaluationError", "Finding", "FixSuggestion",
    "InternalError", "LimitError", "OtrulesError", "Pack", "PackError", "Problem", "Result",
    "Span", "TraceEntry", "VisitError", "VisitRecord", "__version__", "check", "dump_visit",
    "load_pack", "load_visit", "read_visits", "write_visits",
}


def test_all_is_the_public_api() -> None:
    assert set(otrules.__all__) == EXPECTED
    for name in otrules.__all__:
        assert hasattr(otrules, name)


def test_every_error_derives_from_one_root() -> None:
    for name in ("EvaluationError", "InternalError", "LimitError", "PackError", "VisitError"):
        assert issubclass(getattr(otrules, name), otrules.OtrulesError)


def test_importing_otrules_is_light() -> None:
    code = ("import sys, otrules; "
            "print(sorted(m for m in ('click', 'hypothesis', 'yaml', 'otrules.cli', 'lark') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_load_pack_evaluates_a_visit() -> None:
    pack = otrules.load_pack("medicare-ot")
    visit = otrules.load_visit({
        "id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",
        "patient": {"id": "P-1"}, "diagnoses": ["R27.8"],
        "lines": [{"code": "97530", "minutes": 23, "modifiers": ["GO"],
                   "diagnosis_pointers": [1]}],
    })
    result = pack.evaluate(visit)
    assert [(line.code, line.units) for line in result.lines] == [("97530", 2)]
    assert result.status == "pass"


def test_load_pack_through_the_cache_and_evaluate_on_two_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = otrules.load_pack("medicare-ot", cache=True, cache_dir=tmp_path / "cache")
    second = otrules.load_pack("medicare-ot", cache=True, cache_dir=tmp_path / "cache")
    assert any((tmp_path / "cache").iterdir())  # an entry was written and then served
    records = list(otrules.read_visits(EXAMPLES)) * 3
    serial = [r.to_json() for r in first.evaluate_many(records)]
    parallel = [r.to_json() for r in second.evaluate_many(records, workers=2)]
    assert parallel == serial
    assert [r["visit_id"] for r in parallel] == [rec.visit.id for rec in records]
