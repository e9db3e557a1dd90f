"""`otrules compile`: the debug view of the compiled back end, run as a real command."""

import subprocess
import sys


def _otrules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otrules.cli", *args], capture_output=True,
                          text=True, check=False)


def test_plan_lists_every_rule_of_the_pack_with_its_guard() -> None:
    done = _otrules("compile", "medicare-ot")
    assert done.returncode == 0, done.stderr
    rules = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("rule ")]
    assert len(rules) == 15
    assert rules[0] == "units-mismatch"
    ncci = next(line for line in done.stdout.splitlines() if "ncci-pair-conflict" in line)
    assert "runs for visits billing one of" in ncci
    assert "97140" in ncci


def test_source_is_the_generated_module() -> None:
    done = _otrules("compile", "--emit", "source", "medicare-ot")
    assert done.returncode == 0, done.stderr
    assert "def _run(ctx, out, _codes):" in done.stdout
    assert "Traceback" not in done.stderr


def test_a_pack_with_errors_exits_2_without_a_traceback() -> None:
    done = _otrules("compile", "./no-such-pack")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
