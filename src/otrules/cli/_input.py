"""Visit input for ``eval``, ``fix``, ``explain`` and ``diff``: a file or stdin, holding one
JSON visit, a JSON array, JSON Lines or CSV; the bundled example visits by default.

A file that cannot be used at all (unreadable, not UTF-8 as a whole, a JSON document with a
syntax error, a CSV header without the needed columns) raises :class:`BadInput`: one line
naming the file and the position. A bad *record* in a stream is an error record; the caller
reports it and carries on.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from otrules.cli._common import BadInput, console, scrub
from otrules.cli._csv import read_csv_visits
from otrules.resources import package_data_dir
from otrules.visit_json import MAX_RECORD_CHARS, VisitRecord, read_visits

FORMATS: Final = ("auto", "json", "jsonl", "csv")
MAX_SHOWN_INVALID: Final = 100  # bad records printed one by one; the rest are counted
_SNIFF: Final = 64 * 1024
_WIDE_BOMS: Final = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                     (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def example_visits() -> Path:
    return package_data_dir() / "example-visits.jsonl"


class _Prefixed:
    """A binary reader that gives back the bytes read to sniff the format, then the rest, and
    counts bytes for the progress bar. Reads return what is available (``read1``), so that a
    stream piped in is checked as it arrives rather than 64 kB at a time."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self._read = getattr(rest, "read1", rest.read)
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
        else:
            data = self._read(size)
        self.consumed += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:  # line by line, for CSV
        pending = b""
        while chunk := self.read(_SNIFF):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending


class VisitInput:
    """An opened visit source. Iterate it for VisitRecords; ``invalid`` counts bad records
    (each one is printed on stderr as it passes, up to MAX_SHOWN_INVALID)."""

    def __init__(self, path: str | None, fmt: str = "auto") -> None:
        self.label = "<stdin>" if path == "-" else str(path or example_visits())
        self._path = path
        self._fmt = fmt
        self._stack = contextlib.ExitStack()
        handle = self._open()
        self.size = self._size(handle)
        self.reader = _Prefixed(self._head(handle), handle)
        self.kind = self._kind()
        self.invalid = 0

    # ------------------------------------------------------------------ opening

    def _open(self) -> IO[bytes]:
        if self._path == "-":
            return sys.stdin.buffer
        target = Path(self._path) if self._path else example_visits()
        if target.is_dir():
            raise BadInput(f"{self.label}: is a folder, not a file of visits")
        try:
            return self._stack.enter_context(open(target, "rb"))
        except OSError as error:
            raise BadInput(f"cannot read {self.label}: {error.strerror or error}") from None

    def _size(self, handle: IO[bytes]) -> int | None:
        try:
            return os.fstat(handle.fileno()).st_size if self._path != "-" else None
        except (OSError, ValueError):
            return None

    def _head(self, handle: IO[bytes]) -> bytes:
        """The first bytes, up to the first that is not white space (or 64 kB)."""
        read = getattr(handle, "read1", handle.read)
        head = b""
        try:
            while (len(head) < _SNIFF and not head.strip(b" \t\r\n")
                   and (chunk := read(_SNIFF))):
                head += chunk
        except OSError as error:
            raise BadInput(f"cannot read {self.label}: {error.strerror or error}") from None
        for bom, name in _WIDE_BOMS:
            if head.startswith(bom):
                raise BadInput(f"{self.label}: not UTF-8 text (it is {name}); save it as "
                               "UTF-8")
        return head

    def _kind(self) -> str:
        """"csv", "array", "lines" (JSON Lines or one object) or "document" (a .json file
        holding one object, parsed whole for a precise error)."""
        first = self.reader.head.lstrip(codecs.BOM_UTF8 + b" \t\r\n")[:1]
        suffix = Path(self.label).suffix.lower()
        if self._fmt == "csv" or (self._fmt == "auto" and suffix == ".csv"):
            return "csv"
        if self._fmt == "auto" and suffix not in (".json", ".jsonl", ".ndjson") \
                and first not in (b"{", b"[", b""):
            return "csv"  # stdin or an unknown extension that does not start like JSON
        if first == b"[":
            return "array"
        if first == b"{" and (self._fmt == "json" or suffix == ".json"):
            return "document"
        return "lines"

    # ------------------------------------------------------------------ reading

    def __iter__(self) -> Iterator[VisitRecord]:
        try:
            for record in self._records():
                if not record.ok:
                    self._report(record)
                yield record
        finally:
            self._stack.close()

    def _records(self) -> Iterator[VisitRecord]:
        if self.kind == "csv":
            return read_csv_visits(self.reader, self.label)  # type: ignore[arg-type]
        if self.kind == "document":
            return self._document()
        return read_visits(self.reader)  # type: ignore[arg-type]

    def _document(self) -> Iterator[VisitRecord]:
        limit = MAX_RECORD_CHARS * 4  # bytes: a character takes at most 4
        data = b""
        while len(data) <= limit and (chunk := self.reader.read(_SNIFF)):
            data += chunk
        if len(data) > limit:  # too large for one visit: JSON Lines in a .json file
            return read_visits(_Prefixed(data, self.reader))  # type: ignore[arg-type]
        try:
            json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            line = data[:error.start].count(b"\n") + 1
            raise BadInput(f"{self.label}:{line}: not UTF-8 text (byte "
                           f"0x{data[error.start]:02x}); save it as UTF-8") from None
        except json.JSONDecodeError as error:
            if not error.msg.startswith("Extra data"):
                raise BadInput(f"{self.label}:{error.lineno}:{error.colno}: not valid JSON: "
                               f"{error.msg}") from None
        except RecursionError:
            raise BadInput(f"{self.label}: not valid JSON: nested too deeply") from None
        # Valid JSON (one visit), or JSON Lines in a .json file ("Extra data"): either way
        # the stream reader gives the records.
        return read_visits(_Prefixed(data, _Empty()))  # type: ignore[arg-type]

    def where(self, record: VisitRecord) -> str:
        if self.kind == "array":
            return f"{self.label}: element {record.number}"
        return f"{self.label}:{record.number}"

    def _report(self, record: VisitRecord) -> None:
        self.invalid += 1
        if self.invalid > MAX_SHOWN_INVALID:
            return
        assert record.error is not None
        error = record.error
        problems = "; ".join(f"{p.path}: {scrub(p.message, p.path)}" if p.path else p.message
                             for p in error.problems)
        visit = f" {error.visit_id}" if error.visit_id else ""
        console().err(f"{self.where(record)}: invalid visit{visit}: {problems}")

    def report_hidden(self) -> None:
        hidden = self.invalid - MAX_SHOWN_INVALID
        if hidden > 0:
            console().err(f"... and {hidden} more invalid records not shown")


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""
