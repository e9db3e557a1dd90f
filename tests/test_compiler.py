"""The compiled back end against the reference interpreter (the oracle), and its safety.

Differential: every bundled and example pack over random visits, and random generated packs
over random visits, must give identical results (lines, findings, messages, order).
"""

from __future__ import annotations

import datetime as dt
import pickle
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otrules._pack_strategies import pack_sources
from otrules.eval.compiler import _HANDLERS, CompiledBackend, compile_source
from otrules.eval.engine import Pack
from otrules.lang import ast as A
from otrules.lang.loader import load_checked_pack
from otrules.resources import rulepacks_dir
from otrules.testing import visits
from otrules.visit_json import read_visits

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "src" / "otrules" / "data" / "example-visits.jsonl"
PACK_DIRS = sorted(p for p in rulepacks_dir().iterdir() if any(p.glob("*.otr")))
BENCH_PACK = REPO / "benchmarks" / "bench-pack"


def _both(path: Path) -> tuple[Pack, Pack]:
    checked = load_checked_pack(path)
    return Pack(checked), Pack(checked, CompiledBackend(checked))


@pytest.fixture(scope="module", params=[*PACK_DIRS, BENCH_PACK], ids=lambda p: p.name)
def pack_pair(request: pytest.FixtureRequest) -> tuple[Pack, Pack]:
    return _both(request.param)


def _in_range(visit, pack: Pack, day_offset: int):  # type: ignore[no-untyped-def]
    start, end = pack.effective
    span = (end - start).days
    return attrs.evolve(visit, date_of_service=start + dt.timedelta(days=day_offset % (span + 1)))


def test_every_expression_node_has_a_compiler_handler() -> None:
    assert set(_HANDLERS) == set(A.EXPR_NODES)


def test_example_visits_agree(pack_pair: tuple[Pack, Pack]) -> None:
    interpreted, compiled = pack_pair
    for record in read_visits(EXAMPLES):
        assert record.visit is not None
        assert compiled.evaluate(record.visit).to_json() == \
            interpreted.evaluate(record.visit).to_json()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(visit=visits(), day=st.integers(0, 2000))
def test_random_visits_agree(pack_pair: tuple[Pack, Pack], visit, day: int) -> None:  # type: ignore[no-untyped-def]
    interpreted, compiled = pack_pair
    for candidate in (visit, _in_range(visit, interpreted, day)):
        assert compiled.evaluate(candidate).to_json_text() == \
            interpreted.evaluate(candidate).to_json_text()


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(source=pack_sources(), batch=st.lists(visits(), min_size=1, max_size=4),
       day=st.integers(0, 2000))
def test_random_packs_agree(source: str, batch: list, day: int) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pack.otr").write_text(source, encoding="utf-8")
        interpreted, compiled = _both(Path(folder))
    for visit in batch:
        for candidate in (visit, _in_range(visit, interpreted, day)):
            assert compiled.evaluate(candidate).to_json_text() == \
                interpreted.evaluate(candidate).to_json_text()


def test_generated_source_holds_no_pack_text(tmp_path: Path) -> None:
    hostile = 'x"); __import__("os").system("echo pwned") #'.replace('"', '\\"')
    (tmp_path / "pack.otr").write_text(f'''pack hostile "{hostile}"
  version "1"
  effective 2026-01-01 to 2026-12-31

table codes
  key code : code
  row 97110

table modifiers
  key modifier : modifier
  row GO

rule r-one : error
  for each line where line.code in codes
  when line lacks GO and line.code != 97110 or "{hostile}" = "x"
  say "{hostile} \\{{\\}}"
  source "{hostile}"
''', encoding="utf-8")
    checked = load_checked_pack(tmp_path)
    source = compile_source(checked)
    assert "__import__" not in source
    assert "pwned" not in source
    assert "hostile" not in source


def test_compiled_pack_pickles(pack_pair: tuple[Pack, Pack]) -> None:
    _, compiled = pack_pair
    clone = pickle.loads(pickle.dumps(compiled))
    for record in read_visits(EXAMPLES):
        assert record.visit is not None
        assert clone.evaluate(record.visit) == compiled.evaluate(record.visit)
