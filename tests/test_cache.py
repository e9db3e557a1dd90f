"""The compiled-pack cache: hits skip the front end, any change to a file the pack used is a
miss, and nothing that another user could have written is ever unpickled."""

from __future__ import annotations

import os
import pickle
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

import otrules.cache as cache
from otrules.api import load_pack
from otrules.cache import default_cache_dir, load_cached, load_cached_checked
from otrules.errors import PackError
from otrules.resources import package_data_dir, rulepacks_dir
from otrules.visit_json import read_visits

EXAMPLES = [r.visit for r in read_visits(package_data_dir() / "example-visits.jsonl")]


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """Copies of medicare-ot and of medicaid-example, which extends it as a sibling."""
    root = tmp_path / "packs"
    for name in ("medicare-ot", "medicaid-example"):
        shutil.copytree(rulepacks_dir() / name, root / name)
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every call the cache makes to the real loader."""
    calls: list[Any] = []
    real = cache.load_checked_pack

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "load_checked_pack", counting)
    return calls


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pack"))


def reason(pack: Path | str, cache_dir: Path) -> str:
    return load_cached_checked(pack, cache_dir=cache_dir).reason


# ---------------------------------------------------------------------------- hits


def test_second_load_is_a_hit_without_the_front_end(packs: Path, cache_dir: Path,
                                                     loads: list[Any]) -> None:
    first = load_cached_checked(packs / "medicaid-example", cache_dir=cache_dir)
    second = load_cached_checked(packs / "medicaid-example", cache_dir=cache_dir)
    assert (first.hit, first.reason) == (False, "no entry")
    assert (second.hit, second.reason) == (True, "hit")
    assert len(loads) == 1
    assert second.pack.digest == first.pack.digest
    assert second.pack.lineage == ("medicare-ot", "medicaid-example")


def test_cached_pack_evaluates_like_a_fresh_one(packs: Path, cache_dir: Path) -> None:
    for name in ("medicare-ot", "medicaid-example"):
        load_cached(packs / name, cache_dir=cache_dir)  # fills the cache
        cached = load_cached(packs / name, cache_dir=cache_dir)
        fresh = load_pack(packs / name)
        for visit in EXAMPLES:
            assert cached.evaluate(visit) == fresh.evaluate(visit)


def test_a_bundled_name_a_folder_and_an_otr_file_share_one_entry(cache_dir: Path) -> None:
    folder = rulepacks_dir() / "commercial-example"
    assert reason("commercial-example", cache_dir) == "no entry"
    assert reason(folder, cache_dir) == "hit"
    assert reason(folder / "pack.otr", cache_dir) == "hit"
    assert len(entries(cache_dir)) == 1


def test_interpreter_backend_from_the_cache(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    pack = load_cached(packs / "medicare-ot", cache_dir=cache_dir, backend="interpreter")
    assert type(pack.backend).__name__ == "InterpreterBackend"
    assert pack.evaluate(EXAMPLES[0]) == load_pack(packs / "medicare-ot").evaluate(EXAMPLES[0])


# ---------------------------------------------------------------------------- misses


def test_an_edited_source_is_a_miss(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    source = packs / "medicare-ot" / "rules-visit.otr"
    source.write_text(source.read_text() + "\n# a new comment\n")
    assert reason(packs / "medicare-ot", cache_dir) == "a pack source changed"
    assert reason(packs / "medicare-ot", cache_dir) == "hit"  # rewritten


def test_an_edited_base_pack_is_a_miss(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicaid-example", cache_dir=cache_dir)
    base = packs / "medicare-ot" / "pack.otr"
    base.write_text(base.read_text().replace("version 2026.1", "version 2026.9", 1))
    assert reason(packs / "medicaid-example", cache_dir) == "a pack source changed"


def test_an_added_otr_file_is_a_miss(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicaid-example", cache_dir=cache_dir)
    (packs / "medicare-ot" / "zz-extra.otr").write_text("# nothing yet\n")
    assert reason(packs / "medicaid-example", cache_dir) == (
        "an .otr file was added to or removed from a pack folder")


def test_an_edited_table_is_a_miss(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicaid-example", cache_dir=cache_dir)
    table = packs / "medicare-ot" / "tables" / "ot-codes.csv"
    table.write_bytes(table.read_bytes() + b"\n")
    assert reason(packs / "medicaid-example", cache_dir) == "a table file changed"


def test_an_edited_overridden_table_is_a_miss(packs: Path, cache_dir: Path) -> None:
    # medicaid-example overrides `covered`: the base's file is not in the merged pack, but
    # its codes were checked against, so it is part of what the cache watches.
    load_cached(packs / "medicaid-example", cache_dir=cache_dir)
    table = packs / "medicare-ot" / "tables" / "covered.csv"
    table.write_bytes(table.read_bytes() + b"\n")
    assert reason(packs / "medicaid-example", cache_dir) == "a table file changed"


def test_a_retargeted_table_symlink_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "linked"
    (folder / "tables").mkdir(parents=True)
    for name in ("a.csv", "b.csv"):
        (folder / "tables" / name).write_text("code\n97110\n")
    (folder / "tables" / "codes.csv").symlink_to("a.csv")
    (folder / "pack.otr").write_text('pack linked "x"\n  effective 2026-01-01 to 2026-12-31\n'
                                     '\ntable codes from "tables/codes.csv"\n  key code : code\n')
    load_cached(folder, cache_dir=cache_dir)
    (folder / "tables" / "codes.csv").unlink()
    (folder / "tables" / "codes.csv").symlink_to("b.csv")  # same bytes, another file
    assert reason(folder, cache_dir) == "a table file changed"


def test_a_new_sibling_base_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    # Without a sibling folder, `extends medicare-ot` finds the bundled pack; once a sibling
    # of that name appears, a fresh load would use it instead.
    child = tmp_path / "packs" / "medicaid-example"
    shutil.copytree(rulepacks_dir() / "medicaid-example", child)
    load_cached(child, cache_dir=cache_dir)
    assert reason(child, cache_dir) == "hit"
    shutil.copytree(rulepacks_dir() / "medicare-ot", tmp_path / "packs" / "medicare-ot")
    assert reason(child, cache_dir) == "an `extends` would now find another base pack"


def test_another_otrules_version_is_a_miss(packs: Path, cache_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    monkeypatch.setattr(cache, "_version_tag", lambda: "9.9.9+py3.11+0")
    assert reason(packs / "medicare-ot", cache_dir) == "no entry"


def test_a_pack_with_errors_is_not_cached(tmp_path: Path, cache_dir: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "pack.otr").write_text("pack broken\n  effective 2026-01-01 to\n")
    with pytest.raises(PackError):
        load_cached(folder, cache_dir=cache_dir)
    assert entries(cache_dir) == []
    with pytest.raises(PackError):
        load_cached(tmp_path / "missing", cache_dir=cache_dir)


# ---------------------------------------------------------------------------- trust


class Planted:
    """Unpickling this touches a file: proof that an untrusted entry was unpickled."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.sentinel,))


def plant(entry: Path, sentinel: Path, *, keep_manifest_of: bytes | None = None) -> None:
    """Replace an entry's pickle with one that runs code, keeping its magic and layout."""
    data = keep_manifest_of or entry.read_bytes()
    head = len(cache._MAGIC) + cache._MAC_SIZE
    size = int.from_bytes(data[head:head + cache._LENGTH_SIZE], "big")
    body_start = head + cache._LENGTH_SIZE + size
    entry.write_bytes(data[:body_start] + pickle.dumps(Planted(sentinel)))
    entry.chmod(0o600)


def test_a_tampered_entry_is_never_unpickled(packs: Path, cache_dir: Path,
                                             tmp_path: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    [entry] = entries(cache_dir)
    sentinel = tmp_path / "sentinel"
    plant(entry, sentinel)
    result = load_cached_checked(packs / "medicare-ot", cache_dir=cache_dir)
    assert result.reason == "entry discarded: corrupt or tampered (HMAC mismatch)"
    assert not sentinel.exists()
    assert result.pack.name == "medicare-ot"
    assert reason(packs / "medicare-ot", cache_dir) == "hit"  # rebuilt and rewritten


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "magic"])
def test_a_corrupt_entry_is_rebuilt(packs: Path, cache_dir: Path, damage: str) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    [entry] = entries(cache_dir)
    data = bytearray(entry.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-10] ^= 0x01
    elif damage == "empty":
        data = bytearray()
    else:
        data[:5] = b"XXXXX"
    entry.write_bytes(bytes(data))
    assert reason(packs / "medicare-ot", cache_dir) == (
        "entry discarded: corrupt or tampered (HMAC mismatch)")
    assert reason(packs / "medicare-ot", cache_dir) == "hit"


def test_an_entry_others_can_read_or_write_is_discarded(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    [entry] = entries(cache_dir)
    entry.chmod(0o644)
    assert reason(packs / "medicare-ot", cache_dir) == (
        "entry discarded: mode 644 lets other users read or write it")
    [entry] = entries(cache_dir)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


def test_a_symlinked_entry_is_discarded(packs: Path, cache_dir: Path, tmp_path: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    [entry] = entries(cache_dir)
    elsewhere = tmp_path / "elsewhere.pack"
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere)
    assert reason(packs / "medicare-ot", cache_dir).startswith("entry discarded:")


def test_a_folder_others_can_write_to_is_not_used(packs: Path, cache_dir: Path,
                                                  tmp_path: Path, loads: list[Any]) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    [entry] = entries(cache_dir)
    sentinel = tmp_path / "sentinel"
    plant(entry, sentinel)
    cache_dir.chmod(0o777)
    result = load_cached_checked(packs / "medicare-ot", cache_dir=cache_dir)
    assert result.reason == ("cache not used: the folder's mode 777 lets other users write in "
                             "it (chmod 700 it)")
    assert result.pack.name == "medicare-ot"
    assert not sentinel.exists()
    assert len(loads) == 2


def test_a_folder_of_another_user_is_not_used(packs: Path, cache_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    monkeypatch.setattr(cache, "_uid", lambda: os.geteuid() + 1)
    assert reason(packs / "medicare-ot", cache_dir) == (
        "cache not used: the folder is owned by another user")


def test_a_key_others_can_read_makes_the_cache_unusable(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    (cache_dir / "hmac.key").chmod(0o644)
    assert reason(packs / "medicare-ot", cache_dir) == (
        "cache not used: the key file is mode 644 lets other users read or write it")


def test_a_new_key_invalidates_every_entry(packs: Path, cache_dir: Path) -> None:
    load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    (cache_dir / "hmac.key").unlink()
    assert reason(packs / "medicare-ot", cache_dir) == (
        "entry discarded: corrupt or tampered (HMAC mismatch)")


def test_trust_checks_of_a_file() -> None:
    me = os.geteuid()

    def info(mode: int, uid: int) -> os.stat_result:
        return os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))

    assert cache._private_file(info(stat.S_IFREG | 0o600, me)) is None
    assert cache._private_file(info(stat.S_IFREG | 0o400, me)) is None
    assert cache._private_file(info(stat.S_IFREG | 0o600, me + 1)) == "owned by another user"
    assert cache._private_file(info(stat.S_IFREG | 0o640, me)) == (
        "mode 640 lets other users read or write it")
    assert cache._private_file(info(stat.S_IFDIR | 0o700, me)) == "not a regular file"


def test_new_files_are_private(packs: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "deep" / "cache"
    old = os.umask(0)  # the most permissive umask must not matter
    try:
        load_cached(packs / "medicare-ot", cache_dir=cache_dir)
    finally:
        os.umask(old)
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    [entry] = entries(cache_dir)
    for file in (entry, cache_dir / "hmac.key"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert file.stat().st_uid == os.geteuid()
    assert len((cache_dir / "hmac.key").read_bytes()) == 32
    assert [p.name for p in cache_dir.iterdir() if p.name.startswith(".tmp")] == []


# ---------------------------------------------------------------------------- where


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OTRULES_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("OTRULES_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "otrules"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: absolute only
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "otrules"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "otrules"


def test_load_cached_uses_the_default_dir(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("OTRULES_CACHE_DIR", str(tmp_path / "env-cache"))
    load_cached("commercial-example")
    assert len(entries(tmp_path / "env-cache")) == 1


def test_load_pack_with_cache(packs: Path, cache_dir: Path, loads: list[Any]) -> None:
    first = load_pack(packs / "medicare-ot", cache=True, cache_dir=cache_dir)
    second = load_pack(packs / "medicare-ot", cache=True, cache_dir=cache_dir)
    assert len(loads) == 1
    assert second.evaluate(EXAMPLES[1]) == first.evaluate(EXAMPLES[1])
