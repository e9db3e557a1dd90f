"""``otrules fmt``: rewrite pack sources in the canonical layout."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from otrules.cli._common import BAD_INPUT, FAILED, INTERNAL, OK, console
from otrules.errors import InternalError, PackError
from otrules.lang.formatter import format_file


@click.command("fmt")
@click.argument("targets", nargs=-1, required=True, metavar="PACK_OR_FILE...")
@click.option("--check", is_flag=True,
              help="Change nothing; list the files that would change (exit status 1 if any).")
def fmt_command(targets: tuple[str, ...], check: bool) -> None:
    """Format .otr files in place: each PACK_OR_FILE is an .otr file or a folder (its .otr
    files; a folder without any, the packs under it).

    A file that does not parse is reported and left alone (exit status 2).
    """
    out = console()
    status = OK
    changed = unchanged = 0
    for path in _files(targets):
        try:
            text, differs = format_file(path)
        except PackError as error:
            out.err(error.rendered or str(error))
            out.error(f"{path}: not formatted: it does not parse")
            status = max(status, BAD_INPUT)
            continue
        except OSError as error:
            out.error(f"cannot read {path}: {error.strerror or error}")
            status = max(status, BAD_INPUT)
            continue
        except InternalError as error:
            out.error(f"{path}: left unchanged: {error} (a bug in otrules; please report it)")
            status = max(status, INTERNAL)
            continue
        if not differs:
            unchanged += 1
        elif check:
            changed += 1
            out.out(f"would reformat {path}")
            status = max(status, FAILED)
        else:
            changed += 1
            _write(path, text)
            out.out(f"reformatted {path}")
    verb = "would be reformatted" if check else "reformatted"
    out.out(f"{changed} file{'' if changed == 1 else 's'} {verb}, {unchanged} unchanged")
    sys.exit(status)


def _files(targets: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = sorted(path.glob("*.otr")) or sorted(path.rglob("*.otr"))
            files.extend(p for p in found if p.is_file())
        else:
            console().error(f"no such file or folder: {target}")
            sys.exit(BAD_INPUT)
    return list(dict.fromkeys(files))


def _write(path: Path, text: str) -> None:
    """Replace the file atomically, keeping its permissions, so a crash never leaves half a
    pack source behind."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
