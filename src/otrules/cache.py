"""A cache of checked packs, so that loading a pack it has seen skips parsing and checking.

``load_cached(path_or_name)`` gives the same :class:`~otrules.eval.engine.Pack` as
``otrules.load_pack`` would. An entry holds a manifest (every file the pack used, with its
sha256) and the pickled :class:`~otrules.lang.checked.CheckedPack`; generated code is never
stored, because :class:`~otrules.eval.compiler.CompiledBackend` regenerates it in a few
milliseconds. An entry is used only when all of this holds, checked in this order:

1. the cache folder is owned by the current user and not writable by group or others;
2. the entry file is a regular file owned by the current user, readable by no one else;
3. its HMAC (key in ``hmac.key``, a 0600 file in the folder) matches: this is checked
   **before** anything in the entry is parsed or unpickled;
4. it was written by this otrules (version and code fingerprint) and Python;
5. every listed file (the pack's and its bases' ``.otr`` files and tables) still has its
   sha256, no ``.otr`` file was added to or removed from their folders, and an ``extends``
   still finds the same base.

Anything else is a miss: the pack is loaded from source and the entry rewritten. A corrupt or
tampered entry is discarded, never trusted. A cache folder that fails check 1 (or whose key
fails the same checks) is not used at all: the pack loads as if there were no cache.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import logging
import os
import pickle
import posixpath
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Final, Literal

import attrs

from otrules.eval.compiler import CompiledBackend
from otrules.eval.engine import Pack
from otrules.eval.interpreter import InterpreterBackend
from otrules.lang import ast as A
from otrules.lang.checked import CheckedPack
from otrules.lang.loader import _PACK_NAME, PackLimits, load_checked_pack
from otrules.lang.parser import parse_source
from otrules.resources import rulepacks_dir

__all__ = ["CachedLoad", "default_cache_dir", "load_cached", "load_cached_checked"]

log = logging.getLogger("otrules.cache")

_MAGIC: Final = b"otrules-pack-cache 1\n"
_MAC_SIZE: Final = 32  # HMAC-SHA256
_LENGTH_SIZE: Final = 8
_KEY_FILE: Final = "hmac.key"
_KEY_SIZE: Final = 32
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_PACKAGE_DIR: Final = Path(__file__).resolve().parent


@attrs.frozen
class CachedLoad:
    """A checked pack and how the cache served it: ``hit``, or why it was a miss."""

    pack: CheckedPack
    hit: bool
    reason: str  # "hit", or e.g. "no entry", "a listed file changed", "cache not used: …"


def default_cache_dir() -> Path:
    """``$OTRULES_CACHE_DIR``, else ``$XDG_CACHE_HOME/otrules``, else ``~/.cache/otrules``."""
    explicit = os.environ.get("OTRULES_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "otrules"


def load_cached(path_or_name: str | os.PathLike[str], *,
                cache_dir: str | os.PathLike[str] | None = None,
                backend: Literal["compiled", "interpreter"] = "compiled",
                limits: PackLimits | None = None) -> Pack:
    """Load a pack as ``otrules.load_pack`` does, through the cache in ``cache_dir``
    (default: :func:`default_cache_dir`). Raises PackError for a pack with errors."""
    checked = load_cached_checked(path_or_name, cache_dir=cache_dir, limits=limits).pack
    if backend == "compiled":
        return Pack(checked, CompiledBackend(checked))
    if backend == "interpreter":
        return Pack(checked, InterpreterBackend(checked))
    raise ValueError(f"unknown backend {backend!r}; use 'compiled' or 'interpreter'")


def load_cached_checked(path_or_name: str | os.PathLike[str], *,
                        cache_dir: str | os.PathLike[str] | None = None,
                        limits: PackLimits | None = None) -> CachedLoad:
    """The checked pack, from the cache when a valid entry exists, and how it was served."""
    folder = _pack_folder(path_or_name)
    if folder is None:  # not a pack folder: the loader says why, as a PackError
        return CachedLoad(load_checked_pack(path_or_name, limits=limits), False, "not a pack")
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with _CacheDir.open(directory) as cache:
        if isinstance(cache, str):
            log.warning("pack cache %s not used: %s", directory, cache)
            return CachedLoad(load_checked_pack(folder, limits=limits), False,
                              f"cache not used: {cache}")
        name = _entry_name(folder, limits)
        found, reason = cache.read_entry(name, folder)
        if found is not None:
            log.debug("pack cache hit for %s", folder)
            return CachedLoad(found, True, "hit")
        log.debug("pack cache miss for %s: %s", folder, reason)
        checked = load_checked_pack(folder, limits=limits)
        cache.write_entry(name, _manifest(checked, folder), checked)
        return CachedLoad(checked, False, reason)


# ---------------------------------------------------------------------------- the folder


def _uid() -> int:
    return os.geteuid()


def _private_file(info: os.stat_result) -> str | None:
    """Why a file is not trustworthy (None when it is): regular, ours, 0600 or stricter."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != _uid():
        return "owned by another user"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):o} lets other users read or write it"
    return None


class _CacheDir:
    """An open cache folder: every file is opened relative to its descriptor, without
    following symbolic links, so a path swapped after the checks is never used."""

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self.key = key

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[_CacheDir | str]:
        """The verified folder, or the reason it cannot be used (a str)."""
        if os.open not in os.supports_dir_fd or not _NOFOLLOW:
            yield "this platform cannot open files safely relative to a folder"
            return
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            yield f"cannot open the folder: {exc.strerror or exc}"
            return
        try:
            problem = _folder_problem(os.fstat(fd))
            key = None if problem else _read_or_create_key(fd)
            if isinstance(key, bytes):
                yield cls(fd, key)
            else:
                yield problem or key or "no key"
        finally:
            os.close(fd)

    def read_entry(self, name: str, folder: Path) -> tuple[CheckedPack | None, str]:
        """The entry's pack if it is authentic and fresh, else None and the reason."""
        try:
            data = self._read(name)
        except FileNotFoundError:
            return None, "no entry"
        except (OSError, _Untrusted) as exc:
            self._discard(name)
            return None, f"entry discarded: {exc}"
        payload = _authenticated(data, self.key)
        if payload is None:
            self._discard(name)
            return None, "entry discarded: corrupt or tampered (HMAC mismatch)"
        return _unpack(payload, folder)

    def _read(self, name: str) -> bytes:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=self.fd)
        try:
            problem = _private_file(os.fstat(fd))
            if problem:
                raise _Untrusted(problem)
            with open(fd, "rb", closefd=False) as handle:
                return handle.read()
        finally:
            os.close(fd)

    def _discard(self, name: str) -> None:
        # Already gone, or not ours to remove: either way it is replaced or ignored.
        with suppress(OSError):
            os.unlink(name, dir_fd=self.fd)

    def write_entry(self, name: str, manifest: dict[str, Any], pack: CheckedPack) -> None:
        header = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
        body = (len(header).to_bytes(_LENGTH_SIZE, "big") + header
                + pickle.dumps(pack, protocol=pickle.HIGHEST_PROTOCOL))
        mac = hmac.new(self.key, body, hashlib.sha256).digest()
        try:
            _write_atomically(self.fd, name, _MAGIC + mac + body)
        except OSError as exc:  # a full disk must not stop the pack from loading
            log.warning("pack cache: cannot write an entry: %s", exc.strerror or exc)


class _Untrusted(Exception):
    pass


def _folder_problem(info: os.stat_result) -> str | None:
    if not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if info.st_uid != _uid():
        return "the folder is owned by another user"
    if info.st_mode & 0o022:
        return (f"the folder's mode {stat.S_IMODE(info.st_mode):o} lets other users write "
                "in it (chmod 700 it)")
    return None


def _read_or_create_key(dir_fd: int) -> bytes | str:
    """The folder's HMAC key, created on first use; or why it cannot be trusted."""
    for _ in range(2):
        try:
            fd = os.open(_KEY_FILE, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
        except FileNotFoundError:
            _create_key(dir_fd)
            continue
        except OSError as exc:
            return f"cannot read the key: {exc.strerror or exc}"
        try:
            problem = _private_file(os.fstat(fd))
            key = b"" if problem else os.read(fd, _KEY_SIZE + 1)
        finally:
            os.close(fd)
        if problem:
            return f"the key file is {problem}"
        return key if len(key) == _KEY_SIZE else "the key file is damaged (delete it)"
    return "the key could not be created"


def _create_key(dir_fd: int) -> None:
    """Write a new key under a temporary name and link it in place: two processes racing
    here agree on one key, and nobody ever reads a half-written one."""
    temp = _write_temp(dir_fd, secrets.token_bytes(_KEY_SIZE))
    try:
        os.link(temp, _KEY_FILE, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except FileExistsError:
        pass  # another process won the race; its key is the one
    finally:
        os.unlink(temp, dir_fd=dir_fd)


def _write_temp(dir_fd: int, data: bytes) -> str:
    temp = f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with open(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
    except OSError:
        os.close(fd)
        os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)
    return temp


def _write_atomically(dir_fd: int, name: str, data: bytes) -> None:
    temp = _write_temp(dir_fd, data)
    try:
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        os.unlink(temp, dir_fd=dir_fd)
        raise


# ---------------------------------------------------------------------------- entries


def _authenticated(data: bytes, key: bytes) -> bytes | None:
    """The entry's body if its HMAC is right, else None. Nothing is parsed before this."""
    head = len(_MAGIC) + _MAC_SIZE
    if len(data) < head + _LENGTH_SIZE or not data.startswith(_MAGIC):
        return None
    mac, body = data[len(_MAGIC):head], data[head:]
    expected = hmac.new(key, body, hashlib.sha256).digest()
    return body if hmac.compare_digest(mac, expected) else None


def _unpack(body: bytes, folder: Path) -> tuple[CheckedPack | None, str]:
    """An authenticated body → the pack, unless a file it lists has changed."""
    size = int.from_bytes(body[:_LENGTH_SIZE], "big")
    try:
        manifest = json.loads(body[_LENGTH_SIZE:_LENGTH_SIZE + size])
    except ValueError:
        return None, "entry discarded: unreadable manifest"
    reason = _stale(manifest, folder)
    if reason is not None:
        return None, reason
    try:
        pack = pickle.loads(body[_LENGTH_SIZE + size:])
    except Exception as exc:  # written by this code and authenticated: only a bug gets here
        return None, f"entry discarded: cannot unpickle ({type(exc).__name__})"
    if not isinstance(pack, CheckedPack):
        return None, "entry discarded: not a checked pack"
    return pack, "hit"


def _stale(manifest: Any, folder: Path) -> str | None:
    """Why the entry no longer matches the files on disk (None: it still does)."""
    if not isinstance(manifest, dict) or manifest.get("format") != 1:
        return "entry of another format"
    if manifest.get("version") != _version_tag():
        return "entry written by another otrules or Python"
    if manifest.get("folder") != str(folder):
        return "entry of another pack folder"
    for path, digest in manifest["sources"]:
        if _text_digest(path) != digest:
            return "a pack source changed"
    for path, real, digest in manifest["tables"]:
        if os.path.realpath(path) != real or _file_digest(path) != digest:
            return "a table file changed"
    for where, names in manifest["listings"]:
        if _otr_names(where) != names:
            return "an .otr file was added to or removed from a pack folder"
    for sibling, was_folder in manifest["siblings"]:
        if os.path.isdir(sibling) != was_folder:
            return "an `extends` would now find another base pack"
    return None


# ---------------------------------------------------------------------------- manifests


def _manifest(pack: CheckedPack, folder: Path) -> dict[str, Any]:
    """Every file the pack used. Sources and used tables are hashed from what the loader
    read (so a file edited during the load is caught on the next one)."""
    sources = [[path, _sha256(text.encode("utf-8"))] for path, text in pack.sources.items()]
    folders = list(dict.fromkeys(os.path.dirname(path) for path in pack.sources))
    return {
        "format": 1, "version": _version_tag(), "folder": str(folder), "sources": sources,
        "tables": _tables(pack),
        "listings": [[where, _otr_names(where)] for where in folders],
        "siblings": _siblings(folders),
    }


def _tables(pack: CheckedPack) -> list[list[str]]:
    out: dict[str, list[str]] = {}
    for table in pack.tables.values():
        if table.origin != "inline" and table.span is not None:
            path = os.path.join(os.path.dirname(table.span.file), table.origin)
            out[path] = [path, os.path.realpath(path), table.digest]
    # Tables that an override replaced are not in the pack, but their codes were checked
    # against: find them in the sources.
    for source, text in pack.sources.items():
        for decl in parse_source(text, source)[0].decls:
            if isinstance(decl, A.Table) and decl.file is not None:
                path = os.path.join(os.path.dirname(source), posixpath.normpath(decl.file))
                if path not in out:
                    out[path] = [path, os.path.realpath(path), _file_digest(path) or ""]
    return list(out.values())


def _siblings(folders: list[str]) -> list[list[Any]]:
    """For each pack that extends another (folders run from the pack to its last base): the
    sibling folder ``extends`` looks for first, and whether it existed."""
    out = []
    for child, base in itertools.pairwise(folders):
        sibling = os.path.join(os.path.dirname(child), os.path.basename(base))
        out.append([sibling, os.path.isdir(sibling)])
    return out


def _otr_names(folder: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder)
                      if e.name.endswith(".otr") and e.is_file())
    except OSError:
        return []


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _text_digest(path: str) -> str | None:
    """The digest of the text the loader would read from ``path`` (BOM dropped)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    return _sha256(text.encode("utf-8"))


# ---------------------------------------------------------------------------- keys


def _pack_folder(path_or_name: str | os.PathLike[str]) -> Path | None:
    """The resolved folder the loader would read, or None when it would report an error."""
    if isinstance(path_or_name, str) and _PACK_NAME.fullmatch(path_or_name):
        try:
            folder = rulepacks_dir() / path_or_name
        except FileNotFoundError:
            return None
    else:
        folder = Path(os.fspath(path_or_name))
        if folder.suffix == ".otr":
            if not folder.is_file():
                return None
            folder = folder.parent
    try:
        return folder.resolve() if folder.is_dir() else None
    except (OSError, ValueError):
        return None


def _entry_name(folder: Path, limits: PackLimits | None) -> str:
    text = f"{folder}\0{_version_tag()}\0{limits!r}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40] + ".pack"


@functools.cache
def _version_tag() -> str:
    """otrules' version, Python's, and a fingerprint of otrules' own modules: a development
    checkout keeps its version number while the pickled classes change."""
    import otrules  # here, not at the top: otrules/__init__ may import this module

    h = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        info = path.stat()
        h.update(f"{path.relative_to(_PACKAGE_DIR)}\0{info.st_size}\0{info.st_mtime_ns}\0"
                 .encode())
    python = ".".join(map(str, sys.version_info[:2]))
    return f"{otrules.__version__}+py{python}+{h.hexdigest()[:16]}"
