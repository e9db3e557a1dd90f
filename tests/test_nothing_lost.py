"""Nothing lost under bad input: in a stream with bad records mixed in, every good visit is
evaluated, every bad record is reported with its position and reason, and
records in = results out + errors reported. One process and several give the same account.
(``benchmarks/bench_scale.py`` measures the same on 1,000,000 records.)
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from otrules.api import load_pack
from otrules.errors import VisitError
from otrules.eval.result import Result
from otrules.parallel import evaluate_many_parallel
from otrules.visit_json import MAX_RECORD_CHARS, read_visits

_BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(_BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(_BENCHMARKS))

import workload  # noqa: E402

RECORDS = 5_000
BAD_SHARE = 0.05


def bad_records(rng: random.Random, good: dict[str, Any]) -> Iterator[tuple[bytes, str]]:
    """(line, the reason a reader must give) for each kind of bad record, forever."""
    text = json.dumps(good)
    kinds = [
        (text[: len(text) // 2].encode(), "not valid JSON"),
        (json.dumps({**good, "lines": [{**good["lines"][0], "minutes": -5}]}).encode(),
         "lines[0].minutes:"),
        (json.dumps({**good, "lines": [good["lines"][0]] * 51}).encode(),
         "lines: must list 1 to 50 service lines, got 51"),
        (b"[1, 2]", "a visit must be a JSON object"),
        (text.encode()[:20] + b"\xff\xfe" + text.encode()[20:], "not valid UTF-8"),
        (json.dumps({**good, "payer": "x" * MAX_RECORD_CHARS}).encode(),
         f"is longer than {MAX_RECORD_CHARS} characters; not read"),
        (json.dumps({k: v for k, v in good.items() if k != "patient"}).encode(),
         "patient: is required"),
    ]
    while True:
        yield kinds[rng.randrange(len(kinds))]


def write_stream(path: Path, count: int, seed: int = 7) -> tuple[list[str], dict[int, str]]:
    """A JSON Lines file of ``count`` records; returns the good visits' ids in order and, for
    each bad record's line number, the reason it must be reported with."""
    rng = random.Random(seed)
    goods = workload.generate_visit_dicts(count, seed)
    bads = bad_records(rng, next(workload.generate_visit_dicts(1, seed + 1)))
    good_ids: list[str] = []
    reasons: dict[int, str] = {}
    line = 0
    with path.open("wb") as handle:
        for index, visit in enumerate(goods):
            line += 1
            if index > 0 and rng.random() < BAD_SHARE:
                data, reasons[line] = next(bads)
                handle.write(data + b"\n")
            else:
                good_ids.append(visit["id"])
                handle.write(json.dumps(visit).encode() + b"\n")
            if rng.random() < 0.01:  # a blank line is no record, but it is a line
                line += 1
                handle.write(b"   \n")
    return good_ids, reasons


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[int, str]]:
    path = tmp_path_factory.mktemp("stream") / "visits.jsonl"
    good_ids, reasons = write_stream(path, RECORDS)
    return path, good_ids, reasons


def account(outcomes: Iterable[Result | VisitError], good_ids: list[str],
            reasons: dict[int, str]) -> None:
    seen_ids: list[str] = []
    reported: dict[int, str] = {}
    for outcome in outcomes:
        if isinstance(outcome, Result):
            assert outcome.status in ("pass", "warn", "fail")
            seen_ids.append(outcome.visit_id)
        else:
            assert outcome.record is not None
            assert outcome.record not in reported
            reported[outcome.record] = str(outcome)
    assert seen_ids == good_ids
    assert sorted(reported) == sorted(reasons)
    for record, reason in reasons.items():
        assert reason in reported[record], (record, reason, reported[record])
    assert len(seen_ids) + len(reported) == RECORDS


def test_the_stream_has_every_kind_of_bad_record(stream: tuple[Path, list[str],
                                                                dict[int, str]]) -> None:
    _, good_ids, reasons = stream
    assert len(set(reasons.values())) == 7
    assert len(good_ids) + len(reasons) == RECORDS
    assert 150 < len(reasons) < 350  # about 5 %


def test_one_process_loses_nothing(stream: tuple[Path, list[str], dict[int, str]]) -> None:
    path, good_ids, reasons = stream
    pack = load_pack(workload.BENCH_PACK)
    account(pack.evaluate_many(read_visits(path)), good_ids, reasons)


def test_several_processes_lose_nothing(stream: tuple[Path, list[str],
                                                      dict[int, str]]) -> None:
    path, good_ids, reasons = stream
    pack = load_pack(workload.BENCH_PACK)
    outcomes = evaluate_many_parallel(pack, read_visits(path), workers=2, chunk_size=200)
    account(outcomes, good_ids, reasons)


def test_raw_lines_on_several_processes_lose_nothing(
        stream: tuple[Path, list[str], dict[int, str]]) -> None:
    # The workers validate the JSON themselves; record numbers are positions among the
    # records (blank lines are dropped here, so they are renumbered to line numbers).
    path, good_ids, reasons = stream
    numbered = [(number, line) for number, line in
                enumerate(path.read_bytes().split(b"\n")[:-1], start=1) if line.strip()]
    pack = load_pack(workload.BENCH_PACK)
    outcomes = []
    for outcome in evaluate_many_parallel(pack, (line for _, line in numbered), workers=2,
                                          chunk_size=300):
        if isinstance(outcome, VisitError):
            assert outcome.record is not None
            outcome = VisitError(outcome.problems, record=numbered[outcome.record - 1][0])
        outcomes.append(outcome)
    account(outcomes, good_ids, reasons)
