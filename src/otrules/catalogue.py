"""The rule catalogue: a Markdown page describing everything a loaded pack contains.

``catalogue_markdown(pack)`` lists the pack's header, its lineage, what it changes in the pack
it extends, every rule (id, severity, what it checks, its message, fix, source and dates, and
its text), every parameter with its value in each period, and every table with its row count
and where its rows came from. The documentation site builds one page per bundled pack with it
(``docs/hooks/catalogue.py``); the page is plain Markdown, readable anywhere.

The checked pack holds the merged result; which pack of the lineage declared, overrode or
disabled what is read back from the pack's own source files (kept in ``CheckedPack.sources``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from otrules.eval.engine import Pack
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack, ParameterData, RuleInfo, TableData
from otrules.lang.formatter import format_expression
from otrules.lang.parser import parse_source
from otrules.resources import rulepacks_dir

__all__ = ["bundled_pack_names", "catalogue_markdown"]

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]>|#])")
_UNITS = {"cms": "CMS total-time method (the 8-minute rule, `units cms`)",
          "ama": "AMA per-code method (the rule of eights, `units ama`)"}
_NOTE_COLUMNS = ("provenance", "source")  # per-row notes on where a row comes from
_MAX_NOTES = 12


def bundled_pack_names() -> list[str]:
    """The names of the packs bundled with otrules, sorted."""
    return sorted(p.name for p in rulepacks_dir().iterdir() if p.is_dir() and any(p.glob("*.otr")))


def catalogue_markdown(pack: Pack, *, links: Mapping[str, str] | None = None) -> str:
    """The catalogue page of ``pack`` as Markdown. ``links`` maps pack names to the URLs of
    their own catalogue pages (relative to this one), to link the lineage."""
    checked = pack.checked
    history = _History(checked)
    parts = [_header(checked, history, links or {}), _changes(checked, history),
             _rules(checked, history), _parameters(checked, history), _tables(checked, history)]
    return "\n\n".join(p for p in parts if p).rstrip() + "\n"


# ============================================================================ lineage


class _History:
    """Which pack of the lineage declared, overrode or disabled each name."""

    def __init__(self, checked: CheckedPack) -> None:
        self.sources = checked.sources
        self.folder_of: dict[str, Path] = {}  # pack name -> folder
        self.events: dict[tuple[str, str], list[tuple[str, str, str | None]]] = {}
        self.decls: dict[tuple[str, str], tuple[Any, str]] = {}  # last declaration, its file
        self.units_by: str | None = None
        # (pack, kind, name, action, reason) of every override and disable, in source order
        self.changes: list[tuple[str, str, str, str, str | None]] = []
        by_folder: dict[Path, list[A.PackFile]] = {}
        for path, text in sorted(checked.sources.items()):
            parsed, _ = parse_source(text, path)
            by_folder.setdefault(Path(path).parent, []).append(parsed)
        names = {self._pack_name(files): folder for folder, files in by_folder.items()}
        for name in checked.lineage:
            if name in names:
                self.folder_of[name] = names[name]
                for file in by_folder[names[name]]:
                    self._record(name, file)

    @staticmethod
    def _pack_name(files: list[A.PackFile]) -> str | None:
        for file in files:
            for decl in file.decls:
                if isinstance(decl, A.PackHeader):
                    return decl.name
        return None

    def _record(self, pack: str, file: A.PackFile) -> None:
        for decl in file.decls:
            if isinstance(decl, A.UnitsDecl):
                self.units_by = pack
            elif isinstance(decl, A.Disable):
                self._event(decl.kind, decl.target, pack, "disabled", decl.reason)
            elif isinstance(decl, A.Rule | A.Parameter | A.Table):
                kind = {A.Rule: "rule", A.Parameter: "parameter", A.Table: "table"}[type(decl)]
                name = decl.id if isinstance(decl, A.Rule) else decl.name
                self._event(kind, name, pack, "overridden" if decl.override else "declared")
                self.decls[(kind, name)] = (decl, file.path)

    def _event(self, kind: str, name: str, pack: str, action: str, reason: str | None = None
               ) -> None:
        self.events.setdefault((kind, name), []).append((pack, action, reason))
        if action != "declared":
            self.changes.append((pack, kind, name, action, reason))

    def declared_in(self, kind: str, name: str) -> str:
        """'medicare-ot' or 'medicare-ot, overridden in medicaid-example'."""
        events = self.events.get((kind, name), [])
        text = ", ".join(f"{action} in `{pack}`" for pack, action, _ in events)
        return text or "—"

    def location(self, kind: str, name: str) -> str | None:
        found = self.decls.get((kind, name))
        if found is None or getattr(found[0], "span", None) is None:
            return None
        return f"{self.relative(found[1])}, line {found[0].span.line}"

    def relative(self, path: str) -> str:
        """A file of the lineage, named as its pack folder and file (``medicare-ot/pack.otr``)."""
        file = Path(path)
        for name, folder in self.folder_of.items():
            if file.parent == folder:
                return f"{name}/{file.name}"
        return file.name

    def changes_by(self, pack: str) -> list[tuple[str, str, str, str | None]]:
        """(kind, name, action, reason) of every override and disable ``pack`` makes."""
        return [(kind, name, action, reason)
                for by, kind, name, action, reason in self.changes if by == pack]


# ============================================================================ sections


def _header(checked: CheckedPack, history: _History, links: Mapping[str, str]) -> str:
    title = f"# {checked.name}" + (f": {_md(checked.title)}" if checked.title else "")
    start, end = checked.effective.start, checked.effective.end
    unit_source = ("the built-in code table" if checked.timed_by is None
                   else f"`{checked.timed_by[0]}.{checked.timed_by[1]}`")
    counts = Counter(info.rule.severity for info in checked.rules)
    severities = ", ".join(_count(counts[s], s) for s in ("error", "warning", "info") if counts[s])
    rows = [
        ("pack", f"`{checked.name}`"),
        ("version", _md(checked.version or "—")),
        ("payers", ", ".join(f"`{p}`" for p in checked.payers) or "—"),
        ("dates of service", f"{start.isoformat()} to {end.isoformat()}"),
        ("units", f"{_UNITS[checked.unit_method]}; timed codes from {unit_source}"
         + (f" (set by `{history.units_by}`)" if history.units_by and
            len(checked.lineage) > 1 else "")),
        ("lineage", " → ".join(_pack_link(n, links) for n in checked.lineage)),
        ("rules", f"{len(checked.rules)} ({severities})" if checked.rules else "none"),
        ("parameters", str(len(checked.parameters))),
        ("tables", str(len(checked.tables))),
        ("digest", f"sha256 `{checked.digest}`" if checked.digest else "—"),
    ]
    about = f"\n\n{_md(checked.about)}" if checked.about else ""
    return title + about + "\n\n" + _table(("", ""), rows)


def _pack_link(name: str, links: Mapping[str, str]) -> str:
    return f"[`{name}`]({links[name]})" if name in links else f"`{name}`"


def _changes(checked: CheckedPack, history: _History) -> str:
    if len(checked.lineage) < 2:
        return ""
    own, base = checked.lineage[-1], checked.lineage[-2]
    changes = history.changes_by(own)
    added = [info.rule.id for info in checked.rules if info.pack == own and not info.rule.override]
    lines = [f"## What `{own}` changes in `{base}`", ""]
    for kind, name, action, reason in changes:
        because = f": {_md(reason)}" if reason else ""
        lines.append(f"- {action} {kind} `{name}`{because}")
    if history.units_by == own:
        lines.append(f"- replaced the unit method: {_UNITS[checked.unit_method]}")
    for rule_id in added:
        lines.append(f"- added rule [`{rule_id}`](#{_anchor(rule_id)})")
    for kind, mapping in (("parameter", checked.parameters), ("table", checked.tables)):
        for name in mapping:
            events = history.events.get((kind, name), [])
            if events and events[0][0] == own:
                lines.append(f"- added {kind} `{name}`")
    if len(lines) == 2:
        lines.append("Nothing: it only restates its base.")
    return "\n".join(lines)


def _rules(checked: CheckedPack, history: _History) -> str:
    if not checked.rules:
        return "## Rules\n\nThis pack has no rules."
    summary = [(f"[`{i.rule.id}`](#{_anchor(i.rule.id)})", i.rule.severity, f"`{i.pack}`",
                _md(i.rule.source or "—")) for i in checked.rules]
    head = ("## Rules\n\nFindings come out in this order. A visit dated outside "
            f"{checked.effective.start} to {checked.effective.end} gets only "
            "`pack-not-effective` (error).")
    table = _table(("rule", "severity", "declared in", "source"), summary)
    return "\n\n".join([head, table, *(_rule(checked, info, history) for info in checked.rules)])


def _rule(checked: CheckedPack, info: RuleInfo, history: _History) -> str:
    rule = info.rule
    effective = (f"{rule.effective.start} to {rule.effective.end}" if rule.effective
                 else f"the pack's dates ({checked.effective.start} to {checked.effective.end})")
    items = [
        ("severity", f"**{rule.severity}**"),
        ("checks", _checks(rule)),
        *((f"let `{let.name}`", _code(format_expression(let.value)))
          for let in (*rule.lets_before, *rule.lets_after)),
        ("when", _code(format_expression(rule.when)) if rule.when is not None else "—"),
        ("message", _code(_template(rule.say)) if rule.say is not None else "—"),
        ("fix", _fix(rule.fix)),
        ("source", _md(rule.source or "—")),
        ("effective", effective),
        ("history", history.declared_in("rule", rule.id)),
    ]
    body = [f"### `{rule.id}` {{#{_anchor(rule.id)}}}", ""]
    if rule.about:
        body += [_md(rule.about), ""]
    body += [f"- **{label}**: {value}" for label, value in items]
    text = _source_text(checked.sources, info.file, rule.span)
    if text:
        where = history.location("rule", rule.id) or history.relative(info.file)
        body += ["", f'??? example "Rule text ({where})"', "", "    ```otr",
                 *(f"    {line}" if line else "" for line in text.splitlines()), "    ```"]
    return "\n".join(body)


def _checks(rule: A.Rule) -> str:
    it = rule.iteration
    if it is None:
        return "once per visit"
    what = {"line": "each line", "diagnosis": "each diagnosis"}.get(it.kind, "")
    if it.kind == "pair":
        what = f"each pair of lines `{it.names[0]}`, `{it.names[1]}`"
        if it.table:
            what += f" whose codes are a key of `{it.table}`"
    elif it.names and it.names[0] != it.kind:
        what += f" (as `{it.names[0]}`)"
    if it.where is not None:
        what += f" where {_code(format_expression(it.where))}"
    return what


def _fix(fix: A.Fix | None) -> str:
    if fix is None:
        return "none"
    if fix.kind == "add_modifier":
        return f"add modifier `{fix.modifier}`"
    assert fix.value is not None
    return f"set units to {_code(format_expression(fix.value))}"


def _template(t: A.Template) -> str:
    return "".join(p if isinstance(p, str) else "{" + ".".join(p.path) + "}" for p in t.parts)


def _parameters(checked: CheckedPack, history: _History) -> str:
    if not checked.parameters:
        return ""
    return "\n\n".join(["## Parameters", *(_parameter(p, history)
                                           for p in checked.parameters.values())])


def _parameter(p: ParameterData, history: _History) -> str:
    body = [f"### `{p.name}` ({p.type})", ""]
    if p.about:
        body += [_md(p.about), ""]
    if p.periods:
        rows = [(str(start), str(end), _value(p.type, value)) for start, end, value in p.periods]
        body += [_table(("from", "to", "value"), rows), ""]
    else:
        body += [f"- **value**: {_value(p.type, p.constant)} (every date)"]
    body += [f"- **source**: {_md(p.source or '—')}",
             f"- **history**: {history.declared_in('parameter', p.name)}"]
    return "\n".join(body)


def _tables(checked: CheckedPack, history: _History) -> str:
    if not checked.tables:
        return ""
    return "\n\n".join(["## Tables", *(_table_section(t, history)
                                       for t in checked.tables.values())])


def _table_section(t: TableData, history: _History) -> str:
    decl = history.decls.get(("table", t.name), (None, ""))[0]
    title = f": {_md(decl.title)}" if decl is not None and decl.title else ""
    columns = ", ".join(f"`{c.name}` ({'key, ' if c.is_key else ''}"
                        f"{'optional ' if c.optional else ''}{c.type})" for c in t.columns)
    rows = [("rows", f"{len(t.rows):,}"),
            ("read from", "rows written in the pack" if t.origin == "inline" else f"`{t.origin}`"),
            ("columns", columns)]
    if decl is not None and decl.layout:
        rows.append(("layout", f"`{decl.layout}` (the file exactly as CMS publishes it)"))
    if t.valid_from or t.valid_until:
        rows.append(("in force", f"from `{t.valid_from}` up to, not including, `{t.valid_until}`"))
    if decl is not None and decl.source:
        rows.append(("source", _md(decl.source)))
    rows += [("history", history.declared_in("table", t.name)),
             ("sha256", f"`{t.digest}`" if t.digest else "—")]
    body = [f"### `{t.name}`{title}", "", _table(("", ""), rows)]
    notes = _notes(t)
    if notes:
        body += ["", notes]
    return "\n".join(body)


def _notes(t: TableData) -> str:
    """The distinct provenance notes of a table's rows, most frequent first."""
    names = [c.name for c in t.columns]
    column = next((n for n in _NOTE_COLUMNS if n in names), None)
    if column is None:
        return ""
    index = names.index(column)
    counts = Counter(row[index] for row in t.rows if row[index])
    if not counts:
        return ""
    lines = [f"Provenance notes (column `{column}`), with the number of rows that carry each:", ""]
    for note, count in counts.most_common(_MAX_NOTES):
        lines.append(f"- {_md(str(note))} ({_count(count, 'row')})")
    if len(counts) > _MAX_NOTES:
        lines.append(f"- … and {len(counts) - _MAX_NOTES} more distinct notes")
    return "\n".join(lines)


# ============================================================================ text helpers


def _value(type_: str, value: Any) -> str:
    """A parameter value written as the language writes it."""
    if value is None:
        return "(missing)"
    if type_ == "money" and isinstance(value, Decimal):
        return f"`${value:,.2f}`"
    if type_ in ("minutes", "days"):
        unit = type_[:-1] if value == 1 else type_
        return f"`{value} {unit}`"
    if type_ == "months":
        count = getattr(value, "count", value)
        return f"`{count} month{'s' if count != 1 else ''}`"
    if type_ == "flag":
        return "`yes`" if value else "`no`"
    if type_ == "text":
        return _code(f'"{value}"')
    if isinstance(value, dt.date):
        return f"`{value.isoformat()}`"
    return _code(str(value))


def _source_text(sources: Mapping[str, str], file: str, span: Any) -> str:
    """The lines of ``span`` in ``file``, with the comment lines just above them."""
    text = sources.get(file)
    if text is None or span is None:
        return ""
    lines = text.splitlines()
    first = span.line - 1
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1
    return "\n".join(lines[first:span.end_line]).rstrip()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _anchor(rule_id: str) -> str:
    return f"rule-{rule_id}"


def _md(text: str) -> str:
    """Plain text made safe for Markdown (and for a table cell)."""
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", " ".join(text.split()))
    return escaped.replace("<", "&lt;")  # Python-Markdown has no backslash escape for <


def _code(text: str) -> str:
    """Inline code, with a fence long enough for backticks inside."""
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
