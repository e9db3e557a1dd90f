"""The built wheel carries the grammar and the bundled packs: install it in a fresh virtual
environment outside the repository and use it from there (no source checkout on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv, outside the repository, with only the built wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                    str(REPO)], check=True)
    (wheel,) = dist.glob("otrules-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True)
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OTRULES_CACHE_DIR")}
    return subprocess.run([str(python), *args], capture_output=True, text=True,
                          cwd=python.parent.parent, env=env, check=False)


def test_grammar_and_packs_load_from_the_installed_wheel(installed: Path) -> None:
    code = (
        "import json, lark, marshal, otrules, otrules.resources as r\n"
        "from otrules.lang import prebuilt, parser\n"
        "pack = otrules.load_pack('medicare-ot')\n"
        "saved = marshal.loads(prebuilt.tables_file().read_bytes())\n"
        "print(json.dumps({'module': otrules.__file__, 'grammar': str(r.grammar_dir()),\n"
        "                  'packs': str(r.rulepacks_dir()), 'rules': len(pack.rules),\n"
        "                  'tables': str(prebuilt.tables_file()),\n"
        "                  'tables_fit': saved['lark'] == lark.__version__,\n"
        "                  'tables_used': prebuilt.load(parser._grammar_text()) is not None}))\n"
    )
    done = _run(installed, "-c", code)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    site = str(installed.parent.parent)
    assert info["tables_used"] == info["tables_fit"]  # the saved grammar tables ship in it
    for key in ("module", "grammar", "packs", "tables"):
        assert info[key].startswith(site), info  # from the venv, not from the repository
        assert not info[key].startswith(str(REPO))
    assert info["rules"] == 15  # the medicare-ot rule ids of the pack's public table


def test_the_quick_start_command_runs_from_the_installed_wheel(installed: Path) -> None:
    done = _run(installed.parent / "otrules", "eval", "--output", "jsonl")
    assert done.returncode in (0, 1), done.stderr  # 1: some example visits fail, by design
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == 10
    assert {r["pack"] for r in results} == {"medicare-ot"}
