"""``otrules diff`` end to end, and ``otrules.impact`` on the same packs.

tiny-2 extends the tiny pack (test_cli_main.TINY_PACK): AMA units instead of CMS, and
long-visit from 45 minutes instead of 60, with a new message. By hand, per visit:

  V-1  97530 24 min stated 1, GO; 97110 23 min stated 2. CMS: 47 min -> 3 units, 2 and 1.
       AMA: 24 -> 1 + (9 >= 8) = 2; 23 -> 1 + (8 >= 8) = 2. So 97110 goes 1 -> 2 units and its
       units-mismatch disappears; line 0's (1 stated, 2 computed) stays, same message; GO is
       still missing on line 1: fail under both. 24 + 23 = 47 timed minutes, over 45:
       long-visit is added.
  V-2  97530 38 min stated 3: 3 units under both (AMA 2 + (8 >= 8)); 38 minutes is under
       45: unchanged.
  V-3  97530 70 min: 5 units under both (AMA 4 + (10 >= 8)); long-visit fires under both,
       with the new message: one finding reworded.
  V-4  97530 50 min, GO: 3 units under both; 50 is over 45, not over 60: long-visit is
       added, pass -> warn.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otrules.eval.engine import Pack
from otrules.impact import compare_packs
from otrules.visit_json import read_visits
from test_cli_eval import V1, V2, V3
from test_cli_main import run, visit_json, write_pack

TINY_2 = """\
pack tiny-2 "The tiny pack, version 2"
  version 2.0
  extends tiny

units ama

override rule long-visit : warning
  when visit.timed_minutes > 45 minutes
  say "The visit has {visit.timed_minutes} timed minutes, over 45."
  source "test"
"""
V4 = visit_json("V-4", '[{"code": "97530", "minutes": 50, "modifiers": ["GO"]}]')


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_pack(tmp_path / "tiny")
    write_pack(tmp_path / "tiny-2", TINY_2)
    (tmp_path / "v.jsonl").write_text("\n".join([V1, V2, V3, V4]) + "\n", encoding="utf-8")
    return tmp_path


def test_text_report(folder: Path) -> None:
    ran = run("diff", "./tiny", "./tiny-2", "v.jsonl", cwd=folder)
    assert ran.code == 0
    assert ran.out.splitlines() == [
        "old: tiny version 1.0, from ./tiny",
        "new: tiny-2 version 2.0, from ./tiny-2",
        "4 visits compared, 0 invalid records skipped: 3 changed, 1 unchanged",
        "",
        "status changes",
        "  pass -> warn: 1 visit (e.g. V-4)",
        "",
        "findings added",
        "  long-visit: 2 findings on 2 visits (e.g. V-1, V-4)",
        "",
        "findings removed",
        "  units-mismatch: 1 finding on 1 visit (e.g. V-1)",
        "",
        "findings reworded",
        "  long-visit: 1 finding on 1 visit (e.g. V-3)",
        "",
        "units changed",
        "  97110: 1 line on 1 visit, 1 -> 2 units (e.g. V-1)",
    ]


def test_json_report(folder: Path) -> None:
    ran = run("diff", "--format", "json", "./tiny", "./tiny-2", "v.jsonl", cwd=folder)
    assert json.loads(ran.out) == {
        "old": {"pack": "tiny", "version": "1.0"},
        "new": {"pack": "tiny-2", "version": "2.0"},
        "visits": 4, "invalid_records": 0, "changed_visits": 3, "unchanged_visits": 1,
        "status_changes": [{"from": "pass", "to": "warn", "visits": 1, "examples": ["V-4"]}],
        "findings_added": [{"rule": "long-visit", "findings": 2, "visits": 2,
                            "examples": ["V-1", "V-4"]}],
        "findings_removed": [{"rule": "units-mismatch", "findings": 1, "visits": 1,
                              "examples": ["V-1"]}],
        "findings_reworded": [{"rule": "long-visit", "findings": 1, "visits": 1,
                               "examples": ["V-3"]}],
        "units_changed": [{"code": "97110", "lines": 1, "visits": 1, "units_before": 1,
                           "units_after": 2, "examples": ["V-1"]}],
    }


def test_fail_on_change_and_invalid_records(folder: Path) -> None:
    same = run("diff", "--fail-on-change", "./tiny", "./tiny", "v.jsonl", cwd=folder)
    assert same.code == 0
    assert same.out.splitlines()[2] == ("4 visits compared, 0 invalid records skipped: "
                                        "0 changed, 4 unchanged")
    changed = run("diff", "--fail-on-change", "./tiny", "./tiny-2", "v.jsonl", cwd=folder)
    assert changed.code == 1
    (folder / "bad.jsonl").write_text(V2 + "\n{broken\n", encoding="utf-8")
    bad = run("diff", "./tiny", "./tiny-2", "bad.jsonl", cwd=folder)
    assert bad.code == 2
    assert bad.err.startswith("bad.jsonl:2: invalid visit: not valid JSON: ")
    assert bad.out.splitlines()[2] == ("1 visit compared, 1 invalid record skipped: 0 changed, "
                                       "1 unchanged")


def test_compare_packs_from_python(folder: Path) -> None:
    old, new = Pack.load(folder / "tiny"), Pack.load(folder / "tiny-2")
    report = compare_packs(old, new, read_visits(folder / "v.jsonl"), examples=0)
    assert (report.visits, report.changed_visits, report.unchanged_visits) == (4, 3, 1)
    assert [(title, [(c.key, c.items, c.visits, c.examples) for c in categories])
            for title, categories in report.sections()] == [
        ("status changes", [("pass -> warn", 1, 1, [])]),
        ("findings added", [("long-visit", 2, 2, [])]),
        ("findings removed", [("units-mismatch", 1, 1, [])]),
        ("findings reworded", [("long-visit", 1, 1, [])]),
        ("units changed", [("97110", 1, 1, [])]),
    ]
