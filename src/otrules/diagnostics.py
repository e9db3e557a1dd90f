"""Diagnostics as data, and their rendering as compiler-style text or JSON.

A diagnostic is what a pack author sees: a code (``E012``), a severity, a message, a source
span and an optional ``help`` line. Rendering is separate from the data so the same list can be
printed for a person (with the source line and a caret) or emitted as JSON for an editor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

Severity = Literal["error", "warning", "info"]
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@attrs.frozen(order=True)
class Span:
    """A region of a source file: 1-based line and column, end exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> Span:
        return cls(file, line, column, line, column + max(width, 1))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@attrs.frozen
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span | None = None
    help: str | None = None

    def headline(self) -> str:
        where = f"{self.span}: " if self.span is not None else ""
        return f"{where}{self.severity}[{self.code}]: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        span = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
            "span": None if span is None else {
                "file": span.file, "line": span.line, "column": span.column,
                "end_line": span.end_line, "end_column": span.end_column,
            },
        }


def sort_key(d: Diagnostic) -> tuple[Any, ...]:
    s = d.span
    loc = (s.file, s.line, s.column) if s is not None else ("", 0, 0)
    return (*loc, _SEVERITY_ORDER.get(d.severity, 3), d.code, d.message)


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by location, then severity; drop exact duplicates (one cause reported twice)."""
    seen: set[Diagnostic] = set()
    out = []
    for d in sorted(diags, key=sort_key):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


SourceLookup = Callable[[str], str | None] | Mapping[str, str]


def _source_line(sources: SourceLookup | None, span: Span) -> str | None:
    if sources is None:
        return None
    text = sources.get(span.file) if isinstance(sources, Mapping) else sources(span.file)
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    return None


def render(d: Diagnostic, sources: SourceLookup | None = None) -> str:
    """``file:line:col: error[E012]: message``, then the source line, a caret, and help."""
    out = [d.headline()]
    span = d.span
    if span is not None:
        line = _source_line(sources, span)
        if line is not None:
            shown = line.expandtabs(1)
            if len(shown) > 200:  # a 1 MB line must not flood the terminal
                start = max(span.column - 60, 0)
                shown = ("…" if start else "") + shown[start:start + 140] + "…"
                col = span.column - start + (1 if start else 0)
            else:
                col = span.column
            gutter = f"{span.line} | "
            out.append(gutter + shown)
            width = span.end_column - span.column if span.end_line == span.line else 1
            width = max(1, min(width, max(len(shown) - col + 1, 1)))
            out.append(" " * (len(gutter) + col - 1) + "^" * width)
    if d.help:
        out.append(f"help: {d.help}")
    return "\n".join(out)


def render_all(
    diags: Iterable[Diagnostic], sources: SourceLookup | None = None, *, limit: int = 50
) -> str:
    ordered = sorted_diagnostics(diags)
    parts = [render(d, sources) for d in ordered[:limit]]
    if len(ordered) > limit:
        parts.append(f"... and {len(ordered) - limit} more")
    return "\n\n".join(parts)
