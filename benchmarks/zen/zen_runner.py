"""The bench pack as one GoRules zen-engine decision model (JDM), and how to run it.

``build_decision(pack_dir)`` writes the model from the bench pack's CSV tables, so the three
implementations share their data; ``bench-decision.json`` beside this file is that model for the
shipped 100-row pair table (regenerate it with ``python benchmarks/zen/zen_runner.py``).

The graph is one straight chain (every node passes its input through):

    request -> prepare (expression) -> code facts, coverage, unit limits (decision tables,
    one row per line) -> pair edits (decision table, one row per ordered pair of lines)
    -> facts (expression: OT lines, the CMS unit check) -> rules (expression, one key per
    rule, then all findings in rule order) -> result (visit id and findings) -> response

Every rule is native ZEN (decision tables and expressions); no function (JavaScript) node is
needed. The model reads the visit in its JSON contract shape (``dump_visit``), so a JSON text
can be handed to zen unchanged. The differences from the language that cost the most
expression text are listed in benchmarks/README.md (no missing-value logic, no sort,
tables only as decision tables, a regex compiled on every call).
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zen

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import BENCH_PACK, KX_THRESHOLD, PACK_END, PACK_START, BenchTables, read_tables

__all__ = ["DECISION_FILE", "ZenRunner", "build_decision", "decision_text", "findings_of"]

DECISION_FILE = Path(__file__).resolve().parent / "bench-decision.json"
DECISION_KEY = "bench"
Finding = tuple[str, int | None]
# icd10_shape without a regex: zen's matches() compiles its pattern on every call (about
# 250 µs per diagnosis here, more than the rest of the model). The visit contract already
# limits a diagnosis to 3-8 letters and digits with at most one inner dot, so the shape comes
# down to: a letter, a digit, and then either no dot and at most 7 characters in all, or the
# dot in 4th place. (Slices in ZEN include both ends: d[0:0] is the first character.)
ICD10_SHAPE = ("contains('ABCDEFGHIJKLMNOPQRSTUVWXYZ', d[0:0]) and contains('0123456789', d[1:1])"
               " and (contains(d, '.') ? d[3:3] == '.' : len(d) <= 7)")

# ---- the model -----------------------------------------------------------------------------


def _node(node_id: str, kind: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": kind, "name": node_id,
                            "position": {"x": 0, "y": 0}}
    if content is not None:
        node["content"] = content
    return node


def _expressions(node_id: str, pairs: Sequence[tuple[str, str]], *, keep: bool) -> dict:
    # Later expressions of a node read earlier ones as $.key.
    expressions = [{"id": f"{node_id}-{i}", "key": key, "value": value}
                   for i, (key, value) in enumerate(pairs)]
    return _node(node_id, "expressionNode", {"expressions": expressions, "passThrough": keep})


def _text(value: str) -> str:
    return "'" + value + "'"  # codes, payers: letters and digits only, never a quote


def _table(node_id: str, over: str, into: str, inputs: Sequence[str], outputs: Sequence[str],
           rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """A first-hit decision table run once per element of ``over``; results go to ``into``."""
    columns = [{"id": f"i{k}", "name": name, "field": name} for k, name in enumerate(inputs)]
    results = [{"id": f"o{k}", "name": name, "field": name} for k, name in enumerate(outputs)]
    rules = []
    for r, row in enumerate(rows):
        rule = {"_id": f"r{r}"}
        rule.update({f"i{k}": cell for k, cell in enumerate(row[: len(inputs)])})
        rule.update({f"o{k}": cell for k, cell in enumerate(row[len(inputs):])})
        rules.append(rule)
    return _node(node_id, "decisionTableNode", {
        "hitPolicy": "first", "executionMode": "loop", "inputField": over, "outputPath": into,
        "passThrough": True, "inputs": columns, "outputs": results, "rules": rules})


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _tables(tables: BenchTables) -> list[dict[str, Any]]:
    return [
        _table("code_facts", "items", "codeFacts", ["code"], ["timed", "evaluation"],
               [(_text(code), _flag(timed), _flag(code in tables.evaluations))
                for code, timed in tables.timed.items()]),
        _table("coverage", "items", "coveredRows", ["payer", "code"], ["covered"],
               [(_text(payer), _text(code), "true") for payer, code in sorted(tables.covered)]),
        _table("unit_limits", "items", "mueRows", ["code"], ["limit"],
               [(_text(code), str(limit)) for code, limit in tables.mue.items()]),
        _table("pair_edits", "pairs", "ptpRows", ["first", "second"], ["modifier"],
               [(_text(a), _text(b), str(indicator))
                for (a, b), indicator in tables.ptp.items()]),
    ]


_PREPARE = (
    ("n", "len(lines)"),
    ("items", "map(lines, {code: #.code, payer: payer})"),
    # Every ordered pair of different lines, the first line as the outer loop.
    ("pairs", "flatMap([0..$.n) as a, map(filter([0..$.n), # != a), "
              "{a: a, b: #, first: lines[a].code, second: lines[#].code}))"),
)

# The CMS unit check (otrules.units.is_valid_allocation) without sort: the cut-off is the
# largest remainder c that at least `extra` codes reach. Minutes are pooled per code; a code
# counts as stated only when all its lines state units.
_SAME_CODE = "filter($.timedLines, lines[#].code == lines[i].code)"
_BONUS = "#.s - floor(#.m / 15)"
_FACTS = (
    ("ot", "filter([0..n), codeFacts[#].timed != null)"),
    ("timedLines", "filter([0..n), codeFacts[#].timed == true)"),
    ("codes", "map(filter($.timedLines as i, none($.timedLines, # < i and "
              "lines[#].code == lines[i].code)) as i, "
              f"{{m: sum(map({_SAME_CODE}, lines[#].minutes ?? 0)), "
              f"s: all({_SAME_CODE}, lines[#].units != null) "
              f"? sum(map({_SAME_CODE}, lines[#].units)) : null}})"),
    ("extra", "floor((sum(map($.codes, #.m)) + 7) / 15) - sum(map($.codes, floor(#.m / 15)))"),
    ("cut", "$.extra > 0 ? max(filter([1..14] as c, count($.codes, #.m % 15 >= c) >= $.extra))"
            " : 15"),
    ("needed", "$.extra - count($.codes, #.m % 15 > $.cut)"),
    ("tied", "count($.codes, #.m % 15 == $.cut)"),
    ("unitsValid",
     f"all($.codes, #.s == null or ({_BONUS} >= 0 and {_BONUS} <= 1 and "
     f"(#.m % 15 == $.cut or {_BONUS} == (#.m % 15 > $.cut ? 1 : 0)))) "
     f"and count($.codes, #.s != null and #.m % 15 == $.cut and {_BONUS} == 1) <= $.needed "
     f"and count($.codes, #.s != null and #.m % 15 == $.cut and {_BONUS} == 0) "
     f"<= $.tied - $.needed"),
)


def _lacks(index: str, modifier: str) -> str:
    return f"not contains(lines[{index}].modifiers ?? [], '{modifier}')"


def _at_lines(rule: str, indexes: str, condition: str) -> str:
    return f"map(filter({indexes}, {condition}), {{rule: '{rule}', line: #}})"


def _visit_finding(rule: str, condition: str) -> str:
    return f"{condition} ? [{{rule: '{rule}', line: null}}] : []"


def _rules() -> tuple[tuple[str, str], ...]:
    ot_charges = "sum(map(filter(ot, lines[#].charge != null), number(lines[#].charge)))"
    rules = (
        ("r01", _visit_finding("units-match-minutes", "not unitsValid")),
        ("r02", _at_lines("go-required", "ot", _lacks("#", "GO"))),
        ("r03", f"payer == 'medicare' and patient.ytd_ot_allowed != null and "
                f"number(patient.ytd_ot_allowed) + {ot_charges} > {KX_THRESHOLD} ? "
                + _at_lines("kx-required", "ot", _lacks("#", "KX")) + " : []"),
        ("r04", "payer == 'medicare' ? " + _at_lines(
            "co-required", "ot", "lines[#].minutes != null and "
            "(lines[#].assistant_minutes ?? 0) * 10 > lines[#].minutes and "
            + _lacks("#", "CO")) + " : []"),
        ("r05", "map(filter([0..len(pairs)) as p, ptpRows[p].modifier != null and "
                "(ptpRows[p].modifier == 0 or none(lines[pairs[p].b].modifiers ?? [], "
                "# in ['59', 'XE', 'XS', 'XP', 'XU']))), "
                "{rule: 'ncci-pair', line: pairs[#].b})"),
        ("r06", _visit_finding("evaluation-twice",
                               "count(ot, codeFacts[#].evaluation == true) > 1")),
        ("r07", "map(filter([0..n) as i, mueRows[i].limit != null and "
                "sum(map(filter([0..n), lines[#].code == lines[i].code and "
                "lines[#].units != null), lines[#].units)) > mueRows[i].limit), "
                "{rule: 'mue-exceeded', line: #})"),
        ("r08", "contains(['02', '10'], place_of_service ?? '') or telehealth == true ? "
                + _at_lines("telehealth-needs-95", "[0..n)", _lacks("#", "95")) + " : []"),
        ("r09", f"map(filter(diagnoses as d, not ({ICD10_SHAPE})), "
                "{rule: 'diagnosis-shape', line: null})"),
        ("r10", _visit_finding("diagnosis-required", "len(diagnoses) == 0")),
        ("r11", _at_lines("code-not-covered", "[0..n)", "coveredRows[#].covered != true")),
    )
    every = ", ".join(f"$.{key}" for key, _ in rules)
    effective = (f"date(date_of_service) >= date('{PACK_START}') and "
                 f"date(date_of_service) <= date('{PACK_END}')")
    return (("visit_id", "id"), *rules,
            ("findings", f"{effective} ? flatMap([{every}], #) : "
                         "[{rule: 'pack-not-effective', line: null}]"))


def build_decision(pack_dir: Path = BENCH_PACK) -> dict[str, Any]:
    """The JDM model of the bench pack, with the tables of ``pack_dir``."""
    nodes = [
        _node("request", "inputNode"),
        _expressions("prepare", _PREPARE, keep=True),
        *_tables(read_tables(pack_dir)),
        _expressions("facts", _FACTS, keep=True),
        _expressions("rules", _rules(), keep=False),
        _expressions("result", (("visit_id", "visit_id"), ("findings", "findings")), keep=False),
        _node("response", "outputNode"),
    ]
    edges = [{"id": f"edge-{i}", "type": "edge", "sourceId": a["id"], "targetId": b["id"]}
             for i, (a, b) in enumerate(itertools.pairwise(nodes))]
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}


def decision_text(pack_dir: Path = BENCH_PACK, *, indent: int | None = 1) -> str:
    """The model as JSON text (compact with ``indent=None``: a million-row table is big)."""
    separators = (",", ":") if indent is None else None
    return json.dumps(build_decision(pack_dir), indent=indent, separators=separators) + "\n"


# ---- running it ----------------------------------------------------------------------------


def findings_of(response: dict[str, Any]) -> list[Finding]:
    """A zen response as (rule, line) pairs; zen's numbers may come back as floats."""
    return [(f["rule"], None if f["line"] is None else int(f["line"]))
            for f in response["result"]["findings"]]


class ZenRunner:
    """One zen engine holding the bench model: per-visit and batch evaluation."""

    def __init__(self, decision: str) -> None:
        # The loader hands zen a parsed ZenDecisionContent, never the JSON text: zen calls the
        # loader on every evaluate, and re-parsing the text cost 11 ms a call against 41 µs
        # for a model with a 1,000-row table. Calls go through the engine, not
        # ZenDecision.evaluate, which measured several times slower per call.
        self._content = zen.ZenDecisionContent(decision)
        self.engine = zen.ZenEngine({"loader": self._load})
        self.engine.get_decision(DECISION_KEY)  # fail here, not mid-benchmark, on a bad model

    def _load(self, key: str) -> zen.ZenDecisionContent:
        return self._content

    def evaluate(self, context: dict[str, Any] | str) -> list[Finding]:
        """One call per visit; ``context`` is the visit's JSON dict or its JSON text."""
        return findings_of(self.engine.evaluate(DECISION_KEY, context))

    def evaluate_raw(
        self, context: dict[str, Any] | str, *, trace: bool = False
    ) -> dict[str, Any]:
        return self.engine.evaluate(DECISION_KEY, context, {"trace": trace})  # type: ignore[return-value]

    def evaluate_batch_raw(self, contexts: Sequence[dict[str, Any] | str]) -> list[dict]:
        """zen's batch call (ZenEngine.evaluate_batch): each visit's result, in order."""
        answers = self.engine.evaluate_batch(
            [{"key": DECISION_KEY, "context": context} for context in contexts])
        out = []
        for answer in answers:
            if not answer.get("success"):
                raise RuntimeError(f"zen batch request failed: {answer.get('error')}")
            out.append(answer["data"]["result"])
        return out

    def evaluate_batch(self, contexts: Sequence[dict[str, Any] | str]) -> list[list[Finding]]:
        return [findings_of({"result": result}) for result in self.evaluate_batch_raw(contexts)]


def main() -> None:
    DECISION_FILE.write_text(decision_text(), encoding="utf-8")
    print(f"wrote {DECISION_FILE}")


if __name__ == "__main__":
    main()
