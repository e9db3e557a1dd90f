"""Pack impact: what changes for a stream of visits when one pack version replaces another.

Compliance staff ask "what happens to our claims if we adopt the new pack?". :func:`compare_packs`
evaluates every visit under both packs and counts what differs: visits whose status changes,
findings added and removed per rule, findings whose wording or severity changed, and lines
whose computed units changed, per code. Each category keeps its counts and the first few visit
ids as examples. Memory stays flat however long the stream (counts and examples only), and the
report is deterministic: categories are ordered by count, then by name.

Only visit ids, rule ids, codes and counts appear in a report: never patient data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from otrules.eval.engine import Pack
from otrules.eval.result import Finding, Result
from otrules.model import Visit
from otrules.visit_json import VisitRecord

__all__ = ["Category", "ImpactReport", "compare_packs"]


@attrs.define
class Category:
    """One kind of change: how many items (findings, lines, visits), on how many visits,
    with the first few visit ids. ``before``/``after`` total the units of changed lines."""

    key: str
    items: int = 0
    visits: int = 0
    examples: list[str] = attrs.Factory(list)
    before: int = 0
    after: int = 0

    def add(self, visit_id: str, items: int, limit: int) -> None:
        self.items += items
        self.visits += 1
        if len(self.examples) < limit:
            self.examples.append(visit_id)


def _ordered(categories: dict[str, Category]) -> list[Category]:
    return sorted(categories.values(), key=lambda c: (-c.visits, -c.items, c.key))


@attrs.define
class ImpactReport:
    old: tuple[str, str | None]  # (pack name, version)
    new: tuple[str, str | None]
    examples: int = 3
    visits: int = 0
    invalid_records: int = 0
    changed_visits: int = 0
    status_changes: dict[str, Category] = attrs.Factory(dict)  # key "pass -> fail"
    findings_added: dict[str, Category] = attrs.Factory(dict)  # key: rule
    findings_removed: dict[str, Category] = attrs.Factory(dict)
    findings_reworded: dict[str, Category] = attrs.Factory(dict)
    units_changed: dict[str, Category] = attrs.Factory(dict)  # key: code

    @property
    def unchanged_visits(self) -> int:
        return self.visits - self.changed_visits

    @property
    def changed(self) -> bool:
        return self.changed_visits > 0

    def sections(self) -> list[tuple[str, list[Category]]]:
        """Each kind of change with its categories, in report order."""
        return [("status changes", _ordered(self.status_changes)),
                ("findings added", _ordered(self.findings_added)),
                ("findings removed", _ordered(self.findings_removed)),
                ("findings reworded", _ordered(self.findings_reworded)),
                ("units changed", _ordered(self.units_changed))]

    def _bump(self, table: dict[str, Category], key: str, visit_id: str, items: int
              ) -> Category:
        category = table.setdefault(key, Category(key))
        category.add(visit_id, items, self.examples)
        return category

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (docs/cli.md, "otrules diff")."""
        def findings(table: dict[str, Category]) -> list[dict[str, Any]]:
            return [{"rule": c.key, "findings": c.items, "visits": c.visits,
                     "examples": c.examples} for c in _ordered(table)]

        return {
            "old": {"pack": self.old[0], "version": self.old[1]},
            "new": {"pack": self.new[0], "version": self.new[1]},
            "visits": self.visits, "invalid_records": self.invalid_records,
            "changed_visits": self.changed_visits, "unchanged_visits": self.unchanged_visits,
            "status_changes": [
                {"from": c.key.split(" -> ")[0], "to": c.key.split(" -> ")[1],
                 "visits": c.visits, "examples": c.examples}
                for c in _ordered(self.status_changes)],
            "findings_added": findings(self.findings_added),
            "findings_removed": findings(self.findings_removed),
            "findings_reworded": findings(self.findings_reworded),
            "units_changed": [
                {"code": c.key, "lines": c.items, "visits": c.visits,
                 "units_before": c.before, "units_after": c.after, "examples": c.examples}
                for c in _ordered(self.units_changed)],
        }

    def add(self, old: Result, new: Result) -> None:
        """Count one visit's two results (same visit, old pack then new pack)."""
        self.visits += 1
        visit_id = old.visit_id
        changed = old.status != new.status
        if changed:
            self._bump(self.status_changes, f"{old.status} -> {new.status}", visit_id, 1)
        added, removed, reworded = _finding_changes(old.findings, new.findings)
        for table, counts in ((self.findings_added, added), (self.findings_removed, removed),
                              (self.findings_reworded, reworded)):
            for rule, count in sorted(counts.items()):
                self._bump(table, rule, visit_id, count)
                changed = True
        changed = self._units(old, new) or changed
        self.changed_visits += changed

    def _units(self, old: Result, new: Result) -> bool:
        per_code: dict[str, list[tuple[int, int]]] = {}
        for a, b in zip(old.lines, new.lines, strict=True):
            if a.units != b.units:
                per_code.setdefault(a.code, []).append((a.units, b.units))
        for code, pairs in sorted(per_code.items()):
            category = self._bump(self.units_changed, code, old.visit_id, len(pairs))
            category.before += sum(a for a, _ in pairs)
            category.after += sum(b for _, b in pairs)
        return bool(per_code)


def _finding_changes(old: Iterable[Finding], new: Iterable[Finding]
                     ) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Per rule: findings only the new pack gives, only the old one gives, and findings of
    the same rule and line whose message or severity changed (one left, one came back)."""
    before, after = _full(old), _full(new)
    came, gone = _by_place(after - before), _by_place(before - after)
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    reworded: Counter[str] = Counter()
    for place in came.keys() | gone.keys():
        both = min(came[place], gone[place])
        rule = place[0]
        reworded[rule] += both
        added[rule] += came[place] - both
        removed[rule] += gone[place] - both
    return +added, +removed, +reworded


def _full(findings: Iterable[Finding]) -> Counter[tuple[str, int, str, str]]:
    return Counter((f.rule, -1 if f.line is None else f.line, f.severity, f.message)
                   for f in findings)


def _by_place(findings: Counter[tuple[str, int, str, str]]) -> Counter[tuple[str, int]]:
    places: Counter[tuple[str, int]] = Counter()
    for (rule, line, _, _), count in findings.items():
        places[rule, line] += count
    return places


def compare_packs(old: Pack, new: Pack, visits: Iterable[Visit | VisitRecord], *,
                  examples: int = 3) -> ImpactReport:
    """Evaluate each visit under both packs and count the differences. A VisitRecord that
    failed validation is counted in ``invalid_records`` and skipped."""
    report = ImpactReport((old.name, old.version), (new.name, new.version), examples)
    for item in visits:
        if isinstance(item, VisitRecord):
            if item.visit is None:
                report.invalid_records += 1
                continue
            item = item.visit
        report.add(old.evaluate(item), new.evaluate(item))
    return report
