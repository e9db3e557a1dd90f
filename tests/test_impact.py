"""``otrules.impact``: how pairs of results are counted (results built by hand here; the
end-to-end comparison of two real packs is in test_cli_diff)."""

from __future__ import annotations

from decimal import Decimal

from otrules.errors import Problem, VisitError
from otrules.eval.result import BillableLine, Finding, Result, status_of
from otrules.impact import ImpactReport, compare_packs
from otrules.visit_json import VisitRecord


def finding(rule: str, line: int | None, message: str = "m",
            severity: str = "error") -> Finding:
    return Finding(rule, severity, line, message)  # type: ignore[arg-type]


def result(visit_id: str, findings: list[Finding], units: tuple[int, ...] = (1,),
           codes: tuple[str, ...] = ("97530",)) -> Result:
    lines = tuple(BillableLine(i, code, n, None, ("GO",), Decimal("10.00"), (1,))
                  for i, (code, n) in enumerate(zip(codes, units, strict=True)))
    found = tuple(findings)
    return Result(visit_id, "p", "1", status_of(found), lines, found)


def report(examples: int = 3) -> ImpactReport:
    return ImpactReport(("old", "1"), ("new", None), examples)


def test_identical_results_change_nothing() -> None:
    r = report()
    same = result("V-1", [finding("a", 0)])
    r.add(same, same)
    assert (r.visits, r.changed_visits, r.unchanged_visits, r.changed) == (1, 0, 1, False)
    assert all(categories == [] for _, categories in r.sections())


def test_added_removed_and_reworded_findings() -> None:
    r = report()
    old = result("V-1", [finding("a", 0), finding("b", 1, "old words"), finding("c", None)])
    new = result("V-1", [finding("a", 0), finding("b", 1, "new words"), finding("d", 0),
                         finding("d", 0)])
    r.add(old, new)
    sections = dict(r.sections())
    assert [(c.key, c.items, c.visits) for c in sections["findings added"]] == [("d", 2, 1)]
    assert [(c.key, c.items, c.visits) for c in sections["findings removed"]] == [("c", 1, 1)]
    assert [(c.key, c.items, c.visits) for c in sections["findings reworded"]] == [("b", 1, 1)]
    assert r.changed_visits == 1


def test_a_severity_change_is_a_rewording_and_an_extra_finding_is_added() -> None:
    r = report()
    old = result("V-1", [finding("a", 0, severity="warning")])
    new = result("V-1", [finding("a", 0, severity="error"), finding("a", 0, "second")])
    r.add(old, new)
    sections = dict(r.sections())
    # Two new findings on (a, line 0), one old one gone: one reworded, one added.
    assert [(c.key, c.items) for c in sections["findings reworded"]] == [("a", 1)]
    assert [(c.key, c.items) for c in sections["findings added"]] == [("a", 1)]
    assert [c.key for c in sections["status changes"]] == ["warn -> fail"]


def test_a_finding_that_moves_to_another_line_is_removed_and_added() -> None:
    r = report()
    r.add(result("V-1", [finding("a", 0)], units=(1, 1), codes=("97530", "97110")),
          result("V-1", [finding("a", 1)], units=(1, 1), codes=("97530", "97110")))
    sections = dict(r.sections())
    assert [(c.key, c.items) for c in sections["findings added"]] == [("a", 1)]
    assert [(c.key, c.items) for c in sections["findings removed"]] == [("a", 1)]
    assert sections["findings reworded"] == []


def test_units_are_summed_per_code() -> None:
    r = report()
    codes = ("97530", "97110", "97530")
    r.add(result("V-1", [], (2, 1, 1), codes), result("V-1", [], (1, 2, 2), codes))
    r.add(result("V-2", [], (3,)), result("V-2", [], (2,)))
    [categories] = [c for title, c in r.sections() if title == "units changed"]
    # 97530: V-1 lines 0 and 2 (2 + 1 = 3 -> 1 + 2 = 3) and V-2 (3 -> 2): 3 lines, 2 visits.
    assert [(c.key, c.items, c.visits, c.before, c.after, c.examples) for c in categories] == [
        ("97530", 3, 2, 6, 5, ["V-1", "V-2"]), ("97110", 1, 1, 1, 2, ["V-1"])]
    assert r.changed_visits == 2


def test_examples_are_the_first_visits_up_to_the_limit_and_order_is_by_count() -> None:
    r = report(examples=2)
    for n in range(1, 5):
        r.add(result(f"V-{n}", []), result(f"V-{n}", [finding("many", 0)]))
    r.add(result("V-9", []), result("V-9", [finding("few", 0), finding("few", 0),
                                            finding("few", 0)]))
    added = dict(r.sections())["findings added"]
    assert [(c.key, c.items, c.visits, c.examples) for c in added] == [
        ("many", 4, 4, ["V-1", "V-2"]), ("few", 3, 1, ["V-9"])]


def test_json_shape() -> None:
    r = report(examples=1)
    r.add(result("V-1", []), result("V-1", [finding("a", None)], units=(2,)))
    r.invalid_records = 2
    assert r.to_json() == {
        "old": {"pack": "old", "version": "1"}, "new": {"pack": "new", "version": None},
        "visits": 1, "invalid_records": 2, "changed_visits": 1, "unchanged_visits": 0,
        "status_changes": [{"from": "pass", "to": "fail", "visits": 1, "examples": ["V-1"]}],
        "findings_added": [{"rule": "a", "findings": 1, "visits": 1, "examples": ["V-1"]}],
        "findings_removed": [], "findings_reworded": [],
        "units_changed": [{"code": "97530", "lines": 1, "visits": 1, "units_before": 1,
                           "units_after": 2, "examples": ["V-1"]}],
    }


class _Fixed:
    """A stand-in for a Pack: always the same result."""

    def __init__(self, name: str, findings: list[Finding]) -> None:
        self.name, self.version, self.findings = name, None, findings

    def evaluate(self, visit: object) -> Result:
        return result("V-1", self.findings)


def test_compare_packs_counts_invalid_records_and_skips_them() -> None:
    error = VisitError([Problem("", "bad")], record=2)
    records = [VisitRecord(1, object(), None), VisitRecord(2, None, error)]  # type: ignore[arg-type]
    r = compare_packs(_Fixed("a", []), _Fixed("b", [finding("x", 0)]),  # type: ignore[arg-type]
                      records)
    assert (r.visits, r.invalid_records, r.changed_visits) == (1, 1, 1)
    assert (r.old, r.new) == (("a", None), ("b", None))
