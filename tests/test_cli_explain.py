"""``otrules explain`` and ``otrules fix`` end to end, on the tiny pack (see test_cli_eval for
the hand-worked values of V-1, V-2 and V-3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli_eval import V1, V2, V3
from test_cli_main import run, visit_json, write_pack


@pytest.fixture
def pack(tmp_path: Path) -> str:
    return str(write_pack(tmp_path / "tiny"))


@pytest.fixture
def visits(tmp_path: Path) -> str:
    path = tmp_path / "v.jsonl"
    path.write_text("\n".join([V1, V2, V3]) + "\n", encoding="utf-8")
    return str(path)


def test_a_passing_visit_shows_every_rule_that_stayed_quiet(pack: str, visits: str) -> None:
    ran = run("explain", "--pack", pack, "--visit-id", "V-2", visits)
    assert ran.code == 0
    assert ran.out.splitlines() == [
        "Visit V-2 checked against tiny version 1.0: pass",
        "",
        "Lines (units by the pack's unit method)",
        "  line 1  97530  3 units  (stated: 3)",
        "",
        "Findings: none",
        "",
        "Rules that fired: none",
        "",
        "Rules checked that did not fire",
        "  units-mismatch",
        "    line 1 (97530): not fired (condition is false)",
        "      where: line.units 3 is present → yes",
        "      when: line.units 3 != line.computed_units 3 → no",
        "  go-modifier-required",
        "    line 1 (97530): not fired (condition is false)",
        "      when: line lacks GO → no",
        "  long-visit",
        "    visit: not fired (condition is false)",
        "      when: visit.timed_minutes 38 > 60 minutes → no",
    ]


def test_a_failing_visit_shows_findings_fixes_and_the_rules_that_fired(pack: str,
                                                                        visits: str) -> None:
    ran = run("explain", "-p", pack, "-i", "V-1", visits)
    assert ran.code == 1
    text = ran.out
    head, fired = text.split("\nRules that fired\n")
    fired, quiet = fired.split("\nRules checked that did not fire\n")
    assert head.splitlines()[:8] == [
        "Visit V-1 checked against tiny version 1.0: fail",
        "",
        "Lines (units by the pack's unit method)",
        "  line 1  97530  2 units  (stated: 1)",
        "  line 2  97110  1 unit  (stated: 2)",
        "",
        "Findings",
        "  error units-mismatch, line 1: 97530 states 1 unit(s); the 8-minute rule gives 2.",
    ]
    assert "    fix: add modifier GO to line 2" in head.splitlines()
    assert [line for line in fired.splitlines() if not line.startswith("   ")] == [
        "  units-mismatch", "  go-modifier-required"]
    assert "    line 1 (97530): not fired (condition is false)" in fired.splitlines()
    assert quiet.splitlines()[:2] == ["  long-visit", "    visit: not fired (condition is false)"]


def test_json_format_has_the_trace(pack: str, visits: str) -> None:
    ran = run("explain", "-p", pack, "-i", "V-3", "--format", "json", visits)
    result = json.loads(ran.out)
    assert (ran.code, result["status"]) == (0, "warn")
    # V-3 states no units, so units-mismatch's where matches no line: one entry for the
    # line and one for the visit saying so (docs/results.md, "Traces").
    assert [(t["rule"], t["element"], t["outcome"]) for t in result["trace"]] == [
        ("units-mismatch", "line 1 (97530)", "skipped"), ("units-mismatch", "visit", "skipped"),
        ("go-modifier-required", "line 1 (97530)", "not fired"),
        ("long-visit", "visit", "fired")]


def test_a_visit_outside_the_pack_dates(tmp_path: Path, pack: str) -> None:
    old = tmp_path / "old.json"
    old.write_text(visit_json("V-8", '[{"code": "97530", "minutes": 30, "modifiers": ["GO"]}]',
                              date="2025-12-31"), encoding="utf-8")
    ran = run("explain", "-p", pack, str(old))
    assert ran.code == 1
    assert ran.out.splitlines()[-9:] == [
        "Findings",
        "  error pack-not-effective: The date of service 2025-12-31 is outside the dates this "
        "pack covers (2026-01-01 to 2026-12-31); no rule was checked.",
        "    source: pack tiny 1.0",
        "",
        "Rules that fired",
        "  pack-not-effective",
        "    visit: fired (the visit is outside the pack's dates)",
        "",
        "Rules checked that did not fire: none",
    ]


def test_choosing_the_visit(tmp_path: Path, pack: str, visits: str) -> None:
    several = run("explain", "-p", pack, visits)
    assert (several.code, several.err) == (
        2, f"error: {visits} holds several visits; choose one with --visit-id\n")
    unknown = run("explain", "-p", pack, "-i", "V-7", visits)
    assert (unknown.code, unknown.err) == (2, f"error: {visits}: no valid visit with id 'V-7'\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "V-5", "payer": "medicare"}\n', encoding="utf-8")
    invalid = run("explain", "-p", pack, "-i", "V-5", str(bad))
    assert invalid.code == 2
    assert invalid.err.startswith(f"{bad}:1: invalid visit V-5: date_of_service: is required")


# ---------------------------------------------------------------------------- fix


def test_fix_writes_corrected_visits_and_lists_the_fixes(pack: str, visits: str) -> None:
    ran = run("fix", "--pack", pack, visits)
    assert ran.code == 0
    fixed = [json.loads(line) for line in ran.out.splitlines()]
    assert [v["id"] for v in fixed] == ["V-1", "V-2", "V-3"]
    # V-1: units set to 2 and 1 (the 8-minute rule), GO added to line 2.
    assert [(x["units"], x.get("modifiers")) for x in fixed[0]["lines"]] == [
        (2, ["GO"]), (1, ["GO"])]
    assert fixed[1] == json.loads(V2)  # nothing to fix
    assert ran.err.splitlines() == [
        "V-1: units-mismatch: set the units of line 1 to 2",
        "V-1: units-mismatch: set the units of line 2 to 1",
        "V-1: go-modifier-required: add modifier GO to line 2",
        "3 fixes applied to 1 visit",
    ]
    recheck = run("eval", "--pack", pack, "-", stdin=ran.out.encode())
    assert [json.loads(line)["status"] for line in recheck.out.splitlines()] == [
        "pass", "pass", "warn"]


def test_fix_report_file_and_output_file(tmp_path: Path, pack: str, visits: str) -> None:
    report, output = tmp_path / "fixes.jsonl", tmp_path / "fixed.jsonl"
    ran = run("fix", "-p", pack, "--report", str(report), "--output", str(output), visits)
    assert (ran.code, ran.out, ran.err) == (0, "", "3 fixes applied to 1 visit\n")
    assert [json.loads(line) for line in report.read_text().splitlines()] == [
        {"visit_id": "V-1", "rule": "units-mismatch", "kind": "set_units", "line": 0,
         "modifier": None, "value": 2, "previous_units": 1},
        {"visit_id": "V-1", "rule": "units-mismatch", "kind": "set_units", "line": 1,
         "modifier": None, "value": 1, "previous_units": 2},
        {"visit_id": "V-1", "rule": "go-modifier-required", "kind": "add_modifier", "line": 1,
         "modifier": "GO", "value": None, "previous_units": None},
    ]
    assert len(output.read_text().splitlines()) == 3


def test_fix_skips_invalid_records(tmp_path: Path, pack: str) -> None:
    mixed = tmp_path / "v.jsonl"
    mixed.write_text(V2 + "\nnot json\n", encoding="utf-8")
    ran = run("fix", "-p", pack, str(mixed))
    assert ran.code == 2
    assert [json.loads(line)["id"] for line in ran.out.splitlines()] == ["V-2"]
    assert ran.err.splitlines()[0].startswith(f"{mixed}:2: invalid visit: not valid JSON: ")
