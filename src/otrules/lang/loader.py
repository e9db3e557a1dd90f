"""Finding, reading, merging and checking rule packs: the public entry points.

``load_checked_pack`` gives a :class:`~otrules.lang.checked.CheckedPack` or raises
:class:`~otrules.errors.PackError`; ``check_pack`` and ``check_source`` give diagnostics and
never raise, whatever the input. A pack is a folder of ``*.otr`` files (semantics.md, "Packs
and files"); ``extends NAME`` finds a sibling folder ``../NAME`` first, then a bundled pack.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

import attrs

from otrules.diagnostics import Diagnostic, Span, has_errors, render, sorted_diagnostics
from otrules.errors import PackError
from otrules.lang import ast as A
from otrules.lang import checkcodes as C
from otrules.lang import collector
from otrules.lang import errorcodes as EC
from otrules.lang.checked import CheckedPack
from otrules.lang.checker import CheckResult, check_merged, load_tables
from otrules.lang.csv_tables import UNSAFE_PATH
from otrules.lang.merge import Merged, PackSource, merge
from otrules.lang.parser import DEFAULT_LIMITS, Limits, parse_source
from otrules.lang.suggest import did_you_mean
from otrules.lang.tables import TableLimits
from otrules.resources import rulepacks_dir

__all__ = ["PackLimits", "check_pack", "check_source", "load_checked_pack",
           "render_diagnostics"]

_PACK_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@attrs.frozen
class PackLimits:
    """Resource limits for loading a pack; the defaults suit any real pack."""

    source: Limits = DEFAULT_LIMITS  # per .otr file: size and expression depth
    tables: TableLimits | None = None  # None: the table loader's own defaults
    max_extends_depth: int = 8


DEFAULT_PACK_LIMITS = PackLimits()


# ---------------------------------------------------------------------------- public API


def load_checked_pack(path_or_name: str | os.PathLike[str], *,
                      limits: PackLimits | None = None) -> CheckedPack:
    """Load, merge and check a pack. Raises PackError (with every diagnostic, rendered) when
    the pack has an error; warnings are kept in ``CheckedPack.diagnostics``."""
    pack, diags, sources = _guarded(lambda: _Build(limits).from_target(path_or_name))
    if pack is None:
        raise PackError(diags, rendered=render_diagnostics(diags, sources))
    return pack


def check_pack(path_or_name: str | os.PathLike[str], *,
               limits: PackLimits | None = None) -> list[Diagnostic]:
    """Every diagnostic of a pack (errors and warnings), sorted. Never raises."""
    return _guarded(lambda: _Build(limits).from_target(path_or_name))[1]


def check_source(text: str, path: str = "<pack>", *,
                 limits: PackLimits | None = None) -> list[Diagnostic]:
    """Every diagnostic of a one-file pack given as text. CSV tables and ``extends`` resolve
    relative to the file's folder. Never raises."""
    return _guarded(lambda: _Build(limits).from_text(text, path))[1]


def render_diagnostics(diags: Iterable[Diagnostic],
                       pack_or_sources: CheckedPack | Mapping[str, str] | None = None, *,
                       limit: int = 50) -> str:
    """Compiler-style text of ``diags``, with source lines of .otr files and of CSV files
    (read from disk) under their carets."""
    if isinstance(pack_or_sources, CheckedPack):
        sources: Mapping[str, str] = pack_or_sources.sources
        folders = [Path(pack_or_sources.folder)]
    else:
        sources, folders = pack_or_sources or {}, []
    ordered = sorted_diagnostics(diags)
    shown = ordered[:limit]
    disk = _disk_lines(shown, sources, folders)
    parts = [render(d, _one_line_source(d, sources, disk)) for d in shown]
    if len(ordered) > limit:
        parts.append(f"... and {len(ordered) - limit} more")
    return "\n\n".join(parts)


_Outcome = tuple[CheckedPack | None, list[Diagnostic], dict[str, str]]


def _guarded(build: Callable[[], _Outcome]) -> _Outcome:
    """Run a build; any exception is a bug in otrules, reported as one diagnostic."""
    try:
        with collector.paused():
            pack, diags, sources = build()
    except Exception as exc:  # the one place where a bug in otrules becomes a diagnostic
        message = (f"internal error in the checker ({type(exc).__name__}); this is a bug in "
                   "otrules, not in the pack: please report it")
        return None, [Diagnostic(C.INTERNAL, "error", message)], {}
    return pack, sorted_diagnostics(diags), sources


# ---------------------------------------------------------------------------- building


class _Build:
    """One load: the lineage's files, their sources and the diagnostics found so far."""

    def __init__(self, limits: PackLimits | None) -> None:
        self.limits = limits or DEFAULT_PACK_LIMITS
        self.diags: list[Diagnostic] = []
        self.sources: dict[str, str] = {}

    def error(self, code: str, message: str, span: Span | None = None,
              help_: str | None = None) -> None:
        self.diags.append(Diagnostic(code, "error", message, span, help_))

    def from_target(self, path_or_name: str | os.PathLike[str]) -> _Outcome:
        located = self._locate(path_or_name)
        if located is None:
            return None, self.diags, self.sources
        pack = self._read_folder(*located)
        return self._finish(pack, located[0])

    def from_text(self, text: str, path: str) -> _Outcome:
        shown_folder = os.path.dirname(path) or "."
        parsed, diags = parse_source(text, path, limits=self.limits.source)
        self.diags.extend(diags)
        self.sources[path] = text
        pack = self._pack_source(Path(shown_folder), shown_folder, [parsed])
        return self._finish(pack, Path(shown_folder))

    def _finish(self, first: PackSource | None, folder: Path) -> _Outcome:
        lineage = self._lineage(first) if first is not None else []
        if not lineage or has_errors(self.diags):
            return None, self.diags, self.sources  # syntax errors would only cascade
        merged, diags = merge(lineage)
        self.diags.extend(diags)
        loaded, diags = load_tables(merged, self.limits.tables)
        self.diags.extend(diags)
        result = check_merged(merged, lineage[-1].header, loaded, self.sources)
        self.diags.extend(result.diagnostics)
        if has_errors(self.diags) or merged.effective is None:
            return None, self.diags, self.sources
        return self._checked(merged, result, lineage, folder), self.diags, self.sources

    # ----------------------------------------------------------------- locating
    def _locate(self, path_or_name: str | os.PathLike[str]) -> tuple[Path, str] | None:
        if isinstance(path_or_name, str) and _PACK_NAME.fullmatch(path_or_name):
            folder = _bundled(path_or_name)
            if folder is None:
                local = f"./{path_or_name}"
                self.error(C.CANNOT_READ, f"there is no bundled pack named '{path_or_name}'",
                           None, f"to check the folder {local}, write {local}"
                           if Path(path_or_name).is_dir()
                           else did_you_mean(path_or_name, _bundled_names()))
                return None
            return folder, str(folder)
        shown = os.fspath(path_or_name)
        if not shown:
            self.error(C.CANNOT_READ, "no pack given: name a pack folder, an .otr file or a "
                       "bundled pack")
            return None
        path = Path(shown)
        if path.suffix == ".otr" or path.is_file():
            if path.suffix != ".otr":
                self.error(C.CANNOT_READ, f"'{shown}' is neither a pack folder nor an .otr "
                           "file", Span.point(shown, 1, 1))
                return None
            if not path.is_file():
                self.error(C.CANNOT_READ, f"the pack file '{shown}' does not exist",
                           Span.point(shown, 1, 1))
                return None
            return path.parent, os.path.dirname(shown) or "."
        return path, os.path.normpath(shown)

    def _read_folder(self, folder: Path, shown: str) -> PackSource | None:
        where = Span.point(shown, 1, 1)
        if not folder.is_dir():
            missing = "does not exist" if not folder.exists() else "is not a folder"
            self.error(C.CANNOT_READ, f"the pack folder '{shown}' {missing}", where)
            return None
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix == ".otr" and p.is_file())
            inside = folder.resolve()
            leaving = [p for p in files if not p.resolve().is_relative_to(inside)]
        except OSError as exc:
            self.error(C.CANNOT_READ, f"cannot list the pack folder '{shown}': "
                       f"{exc.strerror or exc}", where)
            return None
        for link in leaving:  # a pack reads only files inside its own folder
            self.error(UNSAFE_PATH, f"'{link.name}' is a link that leads out of the pack "
                       f"folder '{shown}'", Span.point(str(link), 1, 1),
                       "copy the file into the pack folder instead of linking to it")
        if leaving:
            return None
        if not files:
            self.error(C.CANNOT_READ, f"the pack folder '{shown}' holds no .otr file", where,
                       "a pack is a folder of .otr files, one of them starting with `pack NAME`")
            return None
        parsed = []
        for file in files:
            name = os.path.join(shown, file.name)
            text = self._read_text(file, name)
            if text is not None:
                pack_file, diags = parse_source(text, name, limits=self.limits.source)
                self.diags.extend(diags)
                self.sources[name] = text
                parsed.append(pack_file)
        if len(parsed) < len(files):
            return None  # an unreadable file may hold the header: say nothing more
        return self._pack_source(folder, shown, parsed)

    def _read_text(self, file: Path, shown: str) -> str | None:
        limit = self.limits.source.max_source_bytes
        try:
            size = file.stat().st_size
            if size > limit:  # the parser's own limit, checked before reading a huge file
                self.error(EC.TOO_LARGE, f"the pack source is {size:,} bytes, over the limit "
                           f"of {limit:,} bytes", Span.point(shown, 1, 1))
                return None
            data = file.read_bytes()
        except OSError as exc:
            self.error(C.CANNOT_READ, f"cannot read '{shown}': {exc.strerror or exc}",
                       Span.point(shown, 1, 1))
            return None
        return self._decode(data, shown)

    def _decode(self, data: bytes, shown: str) -> str | None:
        if b"\x00" in data:
            line, col = _position(data, data.index(b"\x00"))
            self.error(C.CANNOT_READ, f"'{shown}' is not a text file (it contains NUL bytes)",
                       Span.point(shown, line, col))
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line, col = _position(data, exc.start)
            self.error(C.CANNOT_READ, f"'{shown}' is not UTF-8 text: byte "
                       f"0x{data[exc.start]:02x} cannot be read", Span.point(shown, line, col),
                       "save the file as UTF-8")
            return None

    def _pack_source(self, folder: Path, shown: str, files: list[A.PackFile]
                     ) -> PackSource | None:
        headers = [d for f in files for d in f.decls if isinstance(d, A.PackHeader)]
        if not headers and has_errors(self.diags):
            return None  # the header may be in a part that could not be read
        if not headers:
            first = files[0].path if files else shown
            message = (f"'{first}' has no `pack` header" if len(files) == 1
                       else f"no file of the pack folder '{shown}' has a `pack` header")
            self.error(C.NO_HEADER, message, Span.point(first, 1, 1),
                       "start the pack's main file with `pack NAME` and its effective dates")
            return None
        for extra in headers[1:]:
            self.error(C.TWO_HEADERS, f"a second `pack` header ('{extra.name}'); a pack has "
                       "exactly one", extra.name_span,
                       f"the first is at {_where(headers[0].name_span)}")
        return PackSource(headers[0].name, folder, tuple(files), headers[0])

    # ----------------------------------------------------------------- extends
    def _lineage(self, first: PackSource) -> list[PackSource]:
        """The packs from ``first`` down its `extends` chain, returned base first."""
        chain = [first]
        seen = {first.folder.resolve()}
        while (head := chain[-1].header) is not None and head.extends is not None:
            found = self._base(chain[-1], head)
            if found is None:
                return []
            folder, shown = found
            if folder.resolve() in seen:
                names = " → ".join([*(p.name for p in chain), head.extends])
                self.error(C.BAD_EXTENDS, f"packs extend each other in a cycle: {names}",
                           head.extends_span, "a pack cannot be its own base")
                return []
            if len(chain) > self.limits.max_extends_depth:
                self.error(C.BAD_EXTENDS, f"the chain of `extends` is deeper than "
                           f"{self.limits.max_extends_depth} packs", head.extends_span)
                return []
            seen.add(folder.resolve())
            base = self._read_folder(folder, shown)
            if base is None or has_errors(self.diags):
                return []
            chain.append(base)
        return list(reversed(chain))

    def _base(self, pack: PackSource, head: A.PackHeader) -> tuple[Path, str] | None:
        name = head.extends
        assert name is not None
        sibling = pack.folder.resolve().parent / name
        if sibling.is_dir():
            return sibling, os.path.normpath(os.path.join(_shown_folder(pack), "..", name))
        bundled = _bundled(name)
        if bundled is not None:
            return bundled, str(bundled)
        siblings = [p.name for p in pack.folder.resolve().parent.iterdir() if p.is_dir()]
        self.error(C.UNKNOWN_BASE, f"unknown base pack '{name}'", head.extends_span,
                   did_you_mean(name, [*siblings, *_bundled_names()])
                   or f"there is no folder ../{name} next to this pack and no bundled pack "
                   "of that name")
        return None

    # ----------------------------------------------------------------- result
    def _checked(self, merged: Merged, result: CheckResult, lineage: list[PackSource],
                 folder: Path) -> CheckedPack:
        assert merged.effective is not None
        warnings = tuple(d for d in sorted_diagnostics(self.diags) if d.severity != "error")
        return CheckedPack(
            name=merged.name, title=merged.title, version=merged.version,
            payers=merged.payers, effective=merged.effective, about=merged.about,
            unit_method=result.unit_method, timed_by=result.timed_by,
            parameters=MappingProxyType(result.parameters),
            tables=MappingProxyType(result.tables), rules=result.rules,
            lineage=tuple(merged.lineage), folder=str(folder),
            sources=MappingProxyType(dict(self.sources)), diagnostics=warnings,
            digest=_digest(lineage, self.sources, result),
        )


def _digest(lineage: list[PackSource], sources: Mapping[str, str], result: CheckResult) -> str:
    """sha256 over every source and table of the lineage: equal digests, equal packs."""
    h = hashlib.sha256()
    for pack in lineage:
        for file in sorted(pack.files, key=lambda f: os.path.basename(f.path)):
            text = sources.get(file.path, "")
            h.update(f"{pack.name}/{os.path.basename(file.path)}\0{len(text)}\0".encode())
            h.update(text.encode("utf-8"))
    for declared, data in result.loaded:
        digest = data.digest if data is not None else ""
        h.update(f"{declared.pack}/{declared.decl.name}\0{digest}\0".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------- helpers


def _shown_folder(pack: PackSource) -> str:
    if pack.files:
        return os.path.dirname(pack.files[0].path) or "."
    return str(pack.folder)


def _where(span: Span | None) -> str:
    return f"{span.file}:{span.line}:{span.column}" if span is not None else "elsewhere"


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


def _bundled(name: str) -> Path | None:
    try:
        folder = rulepacks_dir() / name
    except FileNotFoundError:
        return None
    return folder if folder.is_dir() else None


def _bundled_names() -> list[str]:
    try:
        return sorted(p.name for p in rulepacks_dir().iterdir() if p.is_dir())
    except (FileNotFoundError, OSError):
        return []


def _disk_lines(diags: list[Diagnostic], sources: Mapping[str, str], folders: list[Path]
                ) -> dict[tuple[str, int], str]:
    """The source lines that diagnostics point to in files not among ``sources`` (CSV
    tables), each file streamed once."""
    wanted: dict[str, set[int]] = {}
    for d in diags:
        if d.span is not None and d.span.file not in sources:
            wanted.setdefault(d.span.file, set()).add(d.span.line)
    found: dict[tuple[str, int], str] = {}
    for file, lines in wanted.items():
        path = _on_disk(file, folders)
        if path is None:
            continue
        try:
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                last = max(lines)
                for number, text in enumerate(handle, start=1):
                    if number in lines:
                        found[(file, number)] = text.rstrip("\r\n")
                    if number >= last:
                        break
        except OSError:
            continue
    return found


def _on_disk(file: str, folders: list[Path]) -> Path | None:
    for path in (Path(file), *(folder / file for folder in folders)):
        try:
            if path.is_file():
                return path
        except (OSError, ValueError):
            continue
    return None


def _one_line_source(d: Diagnostic, sources: Mapping[str, str],
                     disk: Mapping[tuple[str, int], str]) -> Mapping[str, str]:
    span = d.span
    if span is None or span.file in sources:
        return sources
    line = disk.get((span.file, span.line))
    if line is None:
        return {}
    return {span.file: "\n" * (span.line - 1) + line}
