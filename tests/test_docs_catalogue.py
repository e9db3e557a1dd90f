"""The rule catalogue (otrules.catalogue): what the generated page says about the bundled
packs, checked against the packs' own files and against values read off them by hand."""

from __future__ import annotations

import re

import pytest

import otrules
from otrules.catalogue import bundled_pack_names, catalogue_markdown
from test_docs_support import REPO

# medicare-ot's rules in rule order, with their severities (rulepacks/medicare-ot/README.md).
MEDICARE_RULES = [
    ("units-mismatch", "error"), ("go-modifier-required", "error"),
    ("therapy-modifier-conflict", "error"), ("kx-modifier-required", "error"),
    ("assistant-modifier-required", "error"), ("ncci-pair-conflict", "error"),
    ("mue-exceeded", "error"), ("telehealth-modifier-required", "error"),
    ("telehealth-place-of-service", "error"), ("diagnosis-missing", "error"),
    ("diagnosis-invalid", "error"), ("code-not-covered", "error"), ("timely-filing", "error"),
    ("progress-report-due", "warning"), ("recertification-due", "warning"),
]
_SUMMARY_ROW = re.compile(r"^\| \[`(?P<id>[a-z0-9-]+)`\]\(#rule-(?P=id)\) \| (?P<severity>\w+) "
                          r"\| `(?P<pack>[a-z0-9-]+)` \| (?P<source>.*) \|$", re.M)


@pytest.fixture(scope="module")
def medicare() -> str:
    return catalogue_markdown(otrules.load_pack("medicare-ot", backend="interpreter"))


@pytest.fixture(scope="module")
def medicaid() -> str:
    links = {"medicare-ot": "medicare-ot.md"}
    return catalogue_markdown(otrules.load_pack("medicaid-example", backend="interpreter"),
                              links=links)


def sources_in_files(folder: str) -> dict[str, str]:
    """rule id -> its `source "…"` text, read straight from the pack's .otr files."""
    found = {}
    for path in sorted((REPO / "rulepacks" / folder).glob("*.otr")):
        for block in re.split(r"\n(?=\S)", path.read_text(encoding="utf-8")):
            rule = re.match(r"rule ([a-z0-9-]+) :", block)
            source = re.search(r'^  source "(.*)"$', block, re.M)
            if rule and source:
                found[rule.group(1)] = source.group(1)
    return found


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def test_the_bundled_packs_are_listed() -> None:
    assert bundled_pack_names() == ["commercial-example", "language-tour",
                                    "language-tour-extended", "medicaid-example", "medicare-ot"]


def test_medicare_page_lists_every_rule_with_its_severity_and_source(medicare: str) -> None:
    rows = [m.groupdict() for m in _SUMMARY_ROW.finditer(medicare)]
    assert [(r["id"], r["severity"]) for r in rows] == MEDICARE_RULES
    assert {r["pack"] for r in rows} == {"medicare-ot"}
    sources = sources_in_files("medicare-ot")
    assert len(sources) == len(MEDICARE_RULES)
    assert {r["id"]: unescape(r["source"]) for r in rows} == sources
    # Each rule also has its own section, with its text as written in the pack.
    for rule_id, severity in MEDICARE_RULES:
        assert f"### `{rule_id}` {{#rule-{rule_id}}}" in medicare
        assert f"    rule {rule_id} : {severity}\n" in medicare


def test_a_rule_section_says_what_the_rule_checks(medicare: str) -> None:
    section = medicare.split("### `go-modifier-required`")[1].split("\n### ")[0]
    assert "- **checks**: each line where `ot_codes[line.code].therapy = yes`" in section
    assert "- **when**: `line lacks GO`" in section
    assert ("- **message**: `{line.code} is an outpatient therapy service under an OT plan of "
            "care and needs modifier GO.`") in section
    assert "- **fix**: add modifier `GO`" in section
    assert "- **effective**: the pack's dates (2024-01-01 to 2026-12-31)" in section
    assert '??? example "Rule text (medicare-ot/rules-lines.otr, line 14)"' in section


def test_the_header_and_the_parameters_per_period(medicare: str) -> None:
    assert medicare.startswith(
        "# medicare-ot: Medicare Part B outpatient occupational therapy\n")
    assert "| dates of service | 2024-01-01 to 2026-12-31 |" in medicare
    assert "| rules | 15 (13 errors, 2 warnings) |" in medicare
    kx = medicare.split("### `kx_threshold` (money)")[1].split("\n### ")[0]
    assert ("| from | to | value |\n|---|---|---|\n"
            "| 2024-01-01 | 2024-12-31 | `$2,330.00` |\n"
            "| 2025-01-01 | 2025-12-31 | `$2,410.00` |\n"
            "| 2026-01-01 | 2026-12-31 | `$2,480.00` |") in kx
    assert "- **value**: `12 months` (every date)" in medicare  # filing_limit
    assert "- **value**: `90 days` (every date)" in medicare  # recertification_interval


def test_tables_with_row_counts_origins_and_provenance(medicare: str) -> None:
    ptp = medicare.split("### `ptp`")[1].split("\n### ")[0]
    # tables/practitioner-ptp.txt: three notice/header lines, then 8 edits.
    assert "| rows | 8 |" in ptp
    assert "| read from | `tables/practitioner-ptp.txt` |" in ptp
    assert "| layout | `cms-ptp` (the file exactly as CMS publishes it) |" in ptp
    assert "| in force | from `effective` up to, not including, `deletion` |" in ptp
    assert "Provenance notes (column `provenance`)" in ptp
    assert "(6 rows)" in ptp  # the six deleted January 2020 evaluation edits
    modifiers = medicare.split("### `modifiers`")[1].split("\n### ")[0]
    assert "| rows | 11 |" in modifiers
    assert "| read from | rows written in the pack |" in modifiers


def test_an_extending_pack_shows_its_lineage_and_what_it_changes(medicaid: str) -> None:
    assert "| lineage | [`medicare-ot`](medicare-ot.md) → `medicaid-example` |" in medicaid
    changes = medicaid.split("## What `medicaid-example` changes in `medicare-ot`")[1]
    changes = changes.split("\n## ")[0]
    for line in ("- overridden table `covered`",
                 "- disabled rule `kx-modifier-required`: The KX threshold is a Medicare Part B",
                 "- disabled rule `assistant-modifier-required`:",
                 "- disabled rule `timely-filing`:",
                 "- disabled parameter `kx_threshold`: Only the disabled KX rule used it.",
                 "- added rule [`prior-authorization-required`]"
                 "(#rule-prior-authorization-required)"):
        assert line in changes
    rows = {m["id"]: m["pack"] for m in _SUMMARY_ROW.finditer(medicaid)}
    assert "kx-modifier-required" not in rows
    assert rows["units-mismatch"] == "medicare-ot"
    assert rows["authorization-exhausted"] == "medicaid-example"
    assert "| history | declared in `medicare-ot`, overridden in `medicaid-example` |" in medicaid


def test_an_extending_pack_that_replaces_the_unit_method() -> None:
    page = catalogue_markdown(otrules.load_pack("language-tour-extended",
                                                backend="interpreter"))
    assert "- replaced the unit method: AMA per-code method" in page
    assert "- overridden rule `go-modifier-required`" in page
    assert "- overridden parameter `kx_threshold`" in page
    go = page.split("### `go-modifier-required`")[1].split("\n### ")[0]
    assert "- **severity**: **warning**" in go  # the override made it a warning
    assert "- **history**: declared in `language-tour`, overridden in `language-tour-extended`" \
        in go


def test_citations_in_pack_text_never_read_as_links(medicare: str) -> None:
    # Outside the rule text blocks (indented code), [S1] is escaped: Markdown would otherwise
    # take [S1][S2] for a reference link.
    prose = "\n".join(line for line in medicare.splitlines() if not line.startswith("    "))
    assert re.search(r"(?<!\\)\[S\d", prose) is None
    assert "\\[S1\\]" in prose
