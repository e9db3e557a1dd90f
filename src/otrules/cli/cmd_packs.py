"""``otrules packs``: the bundled packs, their versions, payers and dates."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from otrules.cli._common import OK, console
from otrules.errors import PackError
from otrules.lang.loader import load_checked_pack
from otrules.resources import rulepacks_dir


@click.command("packs")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: an array with one object per pack.")
def packs_command(fmt: str) -> None:
    """List the packs bundled with otrules: name, version, payers, effective dates and
    the pack each one extends."""
    rows = [_describe(folder) for folder in sorted(rulepacks_dir().iterdir())
            if folder.is_dir() and any(folder.glob("*.otr"))]
    out = console()
    if fmt == "json":
        out.out(json.dumps(rows, ensure_ascii=False, indent=2))
        sys.exit(OK)
    head = ("name", "version", "payers", "effective", "extends")
    table = [head, *((r["name"], r["version"] or "-", ", ".join(r["payers"]) or "-",
                      _range(r), r["extends"] or "-") for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        out.out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    sys.exit(OK)


def _describe(folder: Any) -> dict[str, Any]:
    try:
        pack = load_checked_pack(folder)
    except PackError as error:
        errors = sum(1 for d in error.diagnostics if d.severity == "error")
        return {"name": folder.name, "title": None, "version": None, "payers": [],
                "effective": None, "extends": None,
                "problem": f"does not check ({errors} error{'' if errors == 1 else 's'})"}
    return {"name": pack.name, "title": pack.title, "version": pack.version,
            "payers": list(pack.payers),
            "effective": {"from": pack.effective.start.isoformat(),
                          "to": pack.effective.end.isoformat()},
            "extends": pack.lineage[-2] if len(pack.lineage) > 1 else None,
            "problem": None}


def _range(row: dict[str, Any]) -> str:
    if row["effective"] is None:
        return str(row["problem"])
    return f"{row['effective']['from']} to {row['effective']['to']}"
