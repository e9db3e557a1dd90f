"""No protected health information leaves otrules: visits whose patient id and birth date
carry marker values are evaluated, traced, fixed, streamed, cached, logged and run through
the CLI, and the markers never appear in any output. The visit id is the join key.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otrules.api import load_pack
from otrules.cache import load_cached
from otrules.errors import EvaluationError, LimitError, VisitError
from otrules.eval.context import EvalContext
from otrules.eval.engine import Pack
from otrules.eval.result import Finding
from otrules.integrations import outcome_json
from otrules.limits import check_visit
from otrules.model import Line
from otrules.parallel import evaluate_many_parallel
from otrules.resources import package_data_dir
from otrules.visit_json import load_visit

PATIENT_ID = "PHI-7Q3ZX-MARKER"
BIRTH_DATE = "1931-07-14"
MARKERS = (PATIENT_ID, BIRTH_DATE, "7Q3ZX")
BUNDLED = ("medicare-ot", "medicaid-example", "commercial-example", "language-tour",
           "language-tour-extended")

# A pack whose rules lean on the birth date and the age in every way the checker allows.
PHI_PACK = """pack phi-probe "PHI probe"
  effective 2024-01-01 to 2026-12-31

table modifiers
  key modifier : modifier
  row GO

rule born-before : warning
  let born = patient.birth_date
  when patient.birth_date < 2000-01-01 and born is present and patient.age > 3
  say "patient aged {patient.age}"
  source "test"

rule born-per-line : info
  for each line
  let b = if patient.birth_date > 1900-01-01 then patient.birth_date else date_of_service
  when patient.birth_date + 10 days < date_of_service and b = b
  say "{line.code} on {date_of_service}"
  fix add modifier GO
  source "test"
"""


def marked_visits() -> list[dict[str, Any]]:
    lines = (package_data_dir() / "example-visits.jsonl").read_text().splitlines()
    out = []
    for line in lines:
        visit = json.loads(line)
        visit["patient"]["id"] = PATIENT_ID
        visit["patient"]["birth_date"] = BIRTH_DATE
        out.append(visit)
    return out


def assert_clean(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text


@pytest.fixture(scope="module")
def phi_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("phi") / "phi-probe"
    folder.mkdir()
    (folder / "pack.otr").write_text(PHI_PACK, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def every_log_line(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)
    yield caplog
    assert_clean("\n".join(r.getMessage() for r in caplog.records))


def packs(phi_pack: Path) -> list[Pack]:
    return [load_pack(target, backend=backend) for target in (*BUNDLED, phi_pack)
            for backend in ("compiled", "interpreter")]


def test_results_traces_and_fixes(phi_pack: Path) -> None:
    visits = [load_visit(v) for v in marked_visits()]
    fired = 0
    for pack in packs(phi_pack):
        for visit in visits:
            result = pack.evaluate(visit, trace=True)
            fired += len(result.findings)
            assert_clean(result.to_json_text())
            assert_clean(result.trace_text())
            assert_clean(repr(result))
            fixed, applied = pack.fix(visit)
            assert_clean(" ".join(a.describe() for a in applied))
            assert fixed.patient.id == PATIENT_ID  # the data itself is kept, just not shown
    assert fired > 50


def test_the_probe_pack_really_reads_the_birth_date(phi_pack: Path) -> None:
    visit = load_visit(marked_visits()[0])  # dated 2026-01-12: the patient is 94
    result = load_pack(phi_pack).evaluate(visit, trace=True)
    assert [f.message for f in result.findings][:2] == ["patient aged 94", "97166 on 2026-01-12"]
    assert "(withheld)" in result.trace_text()


def test_streams_processes_and_the_cache(phi_pack: Path, tmp_path: Path) -> None:
    texts = [json.dumps(v) for v in marked_visits()]
    texts.insert(2, texts[0].replace('"lines":', '"lines": 5, "x":'))  # an invalid record
    pack = load_cached(phi_pack, cache_dir=tmp_path / "cache")
    pack = load_cached(phi_pack, cache_dir=tmp_path / "cache")  # from the cache
    outcomes = list(evaluate_many_parallel(pack, texts, workers=2, chunk_size=3, trace=True))
    assert any(isinstance(o, VisitError) for o in outcomes)
    for outcome in outcomes:
        assert_clean(json.dumps(outcome_json(outcome)))
        assert_clean(str(outcome))


def test_exception_texts() -> None:
    visit = marked_visits()[1]
    visit["lines"][0]["code"] = "9711"
    visit["diagnoses"] = ["not a code!"]
    with pytest.raises(VisitError) as invalid:
        load_visit(visit)
    assert_clean(str(invalid.value))
    assert invalid.value.visit_id == "V-2002"
    good = load_visit(marked_visits()[1])
    too_big = good.__class__(**{**{f: getattr(good, f) for f in (
        "id", "date_of_service", "payer", "patient", "diagnoses")},
        "lines": [Line(code="97110")] * 60})
    with pytest.raises(LimitError) as limit:
        check_visit(too_big)
    assert_clean(str(limit.value))


class Explodes:
    """A back end with a bug whose low-level message quotes patient data."""

    supports_trace = False

    def run(self, ctx: EvalContext) -> list[Finding]:
        raise ValueError(f"cannot handle {ctx.visit.patient.id} born {BIRTH_DATE}")


def test_evaluation_errors_name_the_visit_not_the_patient() -> None:
    pack = load_pack("medicare-ot")
    broken = Pack(pack.checked, Explodes())
    with pytest.raises(EvaluationError) as caught:
        broken.evaluate(load_visit(marked_visits()[0]))
    assert_clean(str(caught.value))
    assert caught.value.visit_id == "V-2001"
    with pytest.raises(EvaluationError) as again:
        list(evaluate_many_parallel(broken, [load_visit(v) for v in marked_visits()],
                                    workers=2, chunk_size=2))
    assert_clean(str(again.value))


def run_cli(*args: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "otrules.cli", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


def test_cli_output(phi_pack: Path, tmp_path: Path) -> None:
    visits = tmp_path / "visits.jsonl"
    lines = [json.dumps(v) for v in marked_visits()]
    lines.append(lines[0].replace('"payer":"medicare"', '"payer":5').replace(
        '"payer": "medicare"', '"payer": 5'))
    visits.write_text("\n".join(lines) + "\n")
    outputs = []
    for pack in ("medicare-ot", str(phi_pack)):
        outputs.append(run_cli("eval", str(visits), "--pack", pack, "--output", "jsonl",
                               "--trace"))
        outputs.append(run_cli("eval", str(visits), "--pack", pack, "--output", "table"))
        for fmt in ("text", "json"):
            outputs.append(run_cli("explain", str(visits), "--pack", pack, "--visit-id",
                                   "V-2001", "--format", fmt))
    assert "V-2001" in "".join(outputs)  # the join key is there
    assert "invalid" in "".join(outputs)
    for output in outputs:
        assert_clean(output)


@pytest.mark.parametrize(("field", "value"), [("birth_date", "1931-02-30"),
                                              ("id", PATIENT_ID * 5)])
def test_invalid_patient_values_are_not_echoed(field: str, value: str) -> None:
    visit = marked_visits()[0]
    visit["patient"][field] = value
    with pytest.raises(VisitError) as caught:
        load_visit(visit)
    assert value[:20] not in str(caught.value)
