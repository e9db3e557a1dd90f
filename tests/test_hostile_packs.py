"""Hostile packs: text that tries to become code, paths that try to leave the pack folder,
and inputs that try to exhaust resources. Each is rejected with a diagnostic (or a
LimitError / VisitError) or ends up as inert data; none ever runs.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from otrules.api import load_pack
from otrules.errors import LimitError, PackError, VisitError
from otrules.eval.compiler import compile_source
from otrules.lang.loader import PackLimits, check_pack, check_source, load_checked_pack
from otrules.lang.parser import Limits
from otrules.lang.tables import TableLimits
from otrules.limits import DEFAULT_LIMITS, ResourceLimits, VisitLimits, check_visit
from otrules.model import Line, Patient, Visit
from otrules.visit_json import load_visit

HEADER = 'pack hostile "Hostile"\n  effective 2024-01-01 to 2026-12-31\n'


def otr_string(value: str, *, template: bool = False) -> str:
    """``value`` as an .otr string literal (the only escapes are \\\\ \\" \\n \\t \\{ \\})."""
    body = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    body = body.replace("\t", "\\t")
    if template:
        body = body.replace("{", "\\{").replace("}", "\\}")
    return f'"{body}"'


def payloads(sentinel: Path) -> list[str]:
    """Texts that would run code if they were ever spliced into generated Python."""
    touch = f"touch {sentinel}"
    return [
        f"__import__('os').system('{touch}')",
        f'"); import os; os.system("{touch}") #',
        f"'''; __import__('os').system('{touch}'); '''",
        f"\\\"); exec(\"__import__('os').system('{touch}')\") #\\",
        f"line one\nimport os; os.system('{touch}')\n\tindented",
        f"{{__import__('os').system('{touch}')}} {{}} {{0}}",
        f"\u202e\u200f{touch}\u2066 right-to-left",
    ]


def visit(code: str = "97110", **extra: Any) -> Visit:
    return load_visit({
        "id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",
        "patient": {"id": "P-1"}, "diagnoses": ["R26.89"],
        "lines": [{"code": code, "minutes": 30, "units": 2, "modifiers": ["GO"],
                   "diagnosis_pointers": [1]}],
        **extra,
    })


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records any attempt to start a process instead of starting it."""
    calls: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(os, "system", record)
    monkeypatch.setattr(os, "popen", record)
    monkeypatch.setattr(subprocess, "Popen", record)
    return calls


def write_hostile_pack(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "tables").mkdir()
    (folder / "tables" / "notes.csv").write_text(
        "code,note\n" + "".join(f'9711{i},"{p.replace(chr(34), chr(34) * 2)}"\n'
                                for i, p in enumerate(payloads(folder / "csv-sentinel"))),
        encoding="utf-8")
    (folder / "pack.otr").write_text(text, encoding="utf-8")
    return folder


def hostile_pack_text(payload: str) -> str:
    text = otr_string(payload)
    return f"""pack hostile {text}
  version {text}
  effective 2024-01-01 to 2026-12-31
  about {text}

parameter label : text = {text}
  about {text}
  source {text}

table notes {text}
  from "tables/notes.csv"
  key code : code
  column note : text
  source {text}

table inline_notes {text}
  key code : code
  column note : text
  row 97110, {text}

rule hostile-message : warning
  about {text}
  for each line where line.code in notes
  let n = notes[line.code].note
  let m = inline_notes[line.code].note
  when n != {text} and label = {text} and m = label
  say {otr_string(payload, template=True)[:-1]} {{n}} {{label}} {{m}}"
  source {text}
"""


@pytest.mark.parametrize("index", range(7))
def test_hostile_text_is_inert_data(tmp_path: Path, no_processes: list[Any],
                                    index: int) -> None:
    sentinel = tmp_path / "sentinel"
    payload = payloads(sentinel)[index]
    folder = write_hostile_pack(tmp_path / "hostile", hostile_pack_text(payload))
    checked = load_checked_pack(folder)
    generated = compile_source(checked)
    for fragment in ("__import__", "system", "import os", "touch", "exec(", "\u202e"):
        assert fragment not in generated
    note = payloads(folder / "csv-sentinel")[0]  # the CSV row of 97110
    for backend in ("compiled", "interpreter"):
        result = load_pack(folder, backend=backend).evaluate(visit("97110"))
        assert [f.message for f in result.findings] == [f"{payload} {note} {payload} {payload}"]
        assert result.findings[0].source == payload
    assert no_processes == []
    assert not sentinel.exists()
    assert not (folder / "csv-sentinel").exists()


@pytest.mark.parametrize("declaration", [
    'rule "); import os #: error\n  when yes\n  say "x"\n  source "s"\n',
    "rule __import__('os') : error\n  when yes\n  say \"x\"\n  source \"s\"\n",
    'table os.system("x")\n  key code : code\n  row 97110\n',
    'table t\n  key "code" : code\n  row 97110\n',
    'parameter exec("x") : number = 1\n',
    'rule r : error\n  let a"b = 1\n  when yes\n  say "x"\n  source "s"\n',
    'rule r : error\n  when yes\n  say "{__import__(\'os\')}"\n  source "s"\n',
    'rule r : error\n  when yes\n  say "{}"\n  source "s"\n',
    'rule r\u202e : error\n  when yes\n  say "x"\n  source "s"\n',
])
def test_hostile_names_are_rejected(declaration: str) -> None:
    diags = check_source(HEADER + "\n" + declaration, "hostile.otr")
    errors = [d for d in diags if d.severity == "error"]
    assert errors, diags
    assert all(d.code in {"E001", "E002", "E003", "E005"} for d in errors), errors


def test_names_like_generated_ones_stay_the_packs_own() -> None:
    # The compiler's own names (ctx, out, _day, _lines, _c1, _rule_0 ...) are generated; a
    # let or parameter spelled the same must neither see nor change them.
    source = HEADER + """
parameter _c1 : number = 5

rule shadow : info
  let ctx = 1
  let out = 2
  let _day = 3
  let __builtins__ = 4
  let _lines = _c1 + 10
  when ctx + out + _day + __builtins__ + _lines = 25
  say "{ctx} {out} {_day} {__builtins__} {_lines} {_c1}"
  source "s"
"""
    assert [d for d in check_source(source, "shadow.otr") if d.severity == "error"] == []


def test_shadowing_names_evaluate_as_data(tmp_path: Path) -> None:
    folder = tmp_path / "shadow"
    folder.mkdir()
    (folder / "pack.otr").write_text(HEADER + """
parameter _c1 : number = 5

rule shadow : info
  let ctx = 1
  let out = 2
  let _day = 3
  let __builtins__ = 4
  let _lines = _c1 + 10
  when ctx + out + _day + __builtins__ + _lines = 25
  say "{ctx} {out} {_day} {__builtins__} {_lines} {_c1}"
  source "s"
""", encoding="utf-8")
    for backend in ("compiled", "interpreter"):
        result = load_pack(folder, backend=backend).evaluate(visit())
        assert [f.message for f in result.findings] == ["1 2 3 4 15 5"]


# ---------------------------------------------------------------------------- NUL bytes


def test_nul_byte_in_a_pack_file_is_a_diagnostic(tmp_path: Path) -> None:
    folder = tmp_path / "nul"
    folder.mkdir()
    (folder / "pack.otr").write_bytes(HEADER.encode() + b'\nrule r : info\n  when "\x00"\n')
    diags = check_pack(folder)
    # line 5 is `  when "<NUL>"`: the NUL is its 9th character
    assert [(d.code, d.span.line, d.span.column) for d in diags if d.span] == [("E010", 5, 9)]
    assert "NUL" in diags[0].message


def test_nul_byte_in_text_given_directly_stays_a_string() -> None:
    # Files with NUL never get this far (above); text handed to check_source may.
    source = HEADER + '\nparameter p : text = "a\x00b"\n'
    diags = check_source(source)
    assert [d.code for d in diags] == ["W003"]  # unused parameter, and nothing else


def test_nul_byte_in_a_csv_file_is_a_diagnostic(tmp_path: Path) -> None:
    folder = tmp_path / "nulcsv"
    (folder / "tables").mkdir(parents=True)
    (folder / "tables" / "t.csv").write_bytes(b"code,note\n97110,a\x00b\n")
    (folder / "pack.otr").write_text(HEADER + """
table t from "tables/t.csv"
  key code : code
  column note : text
""", encoding="utf-8")
    assert [d.code for d in check_pack(folder) if d.severity == "error"] == ["E063"]


# ---------------------------------------------------------------------------- paths


def pack_with_table(folder: Path, path: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.otr").write_text(HEADER + f"""
table t from {otr_string(path)}
  key code : code
""", encoding="utf-8")
    return folder


@pytest.mark.parametrize("path", [
    "../secret.csv", "tables/../../secret.csv", "/etc/passwd", "..", "./../secret.csv",
    "tables\\..\\..\\secret.csv",
])
def test_table_paths_leaving_the_pack_are_diagnostics(tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.csv").write_text("code\n97110\n", encoding="utf-8")
    diags = check_pack(pack_with_table(tmp_path / "pack", path))
    assert [d.code for d in diags if d.severity == "error"] == ["E061"]


def test_a_symlink_leaving_the_pack_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("code\n97110\n", encoding="utf-8")
    folder = pack_with_table(tmp_path / "pack", "tables/codes.csv")
    (folder / "tables").mkdir()
    (folder / "tables" / "codes.csv").symlink_to(tmp_path / "secret.csv")
    diags = check_pack(folder)
    assert [d.code for d in diags if d.severity == "error"] == ["E061"]
    assert "symbolic link" in diags[0].message


def test_a_symlinked_folder_leaving_the_pack_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "codes.csv").write_text("code\n97110\n", encoding="utf-8")
    folder = pack_with_table(tmp_path / "pack", "tables/codes.csv")
    (folder / "tables").symlink_to(tmp_path / "elsewhere")
    assert [d.code for d in check_pack(folder) if d.severity == "error"] == ["E061"]


def test_a_symlink_inside_the_pack_is_followed(tmp_path: Path) -> None:
    folder = pack_with_table(tmp_path / "pack", "tables/codes.csv")
    (folder / "data").mkdir()
    (folder / "data" / "real.csv").write_text("code\n97110\n", encoding="utf-8")
    (folder / "tables").mkdir()
    (folder / "tables" / "codes.csv").symlink_to(folder / "data" / "real.csv")
    assert [d for d in check_pack(folder) if d.severity == "error"] == []


@pytest.mark.parametrize("name", ["../other", "/etc", "..", "./other", "other/../x",
                                  "~root", "other.otr", '"other"'])
def test_extends_takes_a_name_not_a_path(tmp_path: Path, name: str) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pack.otr").write_text(
        HEADER.replace("hostile", "other"), encoding="utf-8")
    folder = tmp_path / "child"
    folder.mkdir()
    (folder / "pack.otr").write_text(HEADER + f"  extends {name}\n", encoding="utf-8")
    diags = check_pack(folder)
    assert diags
    assert {d.code for d in diags} <= {"E001", "E002"}, diags


def test_a_base_pack_may_not_leave_its_own_folder_either(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("code\n97110\n", encoding="utf-8")
    pack_with_table(tmp_path / "base", "../secret.csv")
    (tmp_path / "base" / "pack.otr").write_text(
        (tmp_path / "base" / "pack.otr").read_text().replace("hostile", "base"))
    child = tmp_path / "child"
    child.mkdir()
    (child / "pack.otr").write_text(HEADER + "  extends base\n", encoding="utf-8")
    diags = check_pack(child)
    assert [d.code for d in diags if d.severity == "error"] == ["E061"]
    assert diags[0].span is not None
    assert diags[0].span.file.endswith(os.path.join("base", "pack.otr"))


def test_an_otr_symlink_leaving_the_pack_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "outside.otr").write_text(
        'rule outside : info\n  when yes\n  say "read from outside"\n  source "s"\n')
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "pack.otr").write_text(HEADER, encoding="utf-8")
    (folder / "extra.otr").symlink_to(tmp_path / "outside.otr")
    assert [d.code for d in check_pack(folder) if d.severity == "error"] == ["E061"]


# ---------------------------------------------------------------------------- limits


def test_the_limits_have_sane_defaults() -> None:
    limits = ResourceLimits()
    assert limits == DEFAULT_LIMITS
    assert (limits.source.max_source_bytes, limits.source.max_depth) == (2_000_000, 200)
    assert limits.tables.max_rows == 5_000_000
    assert limits.pack.max_extends_depth == 8
    assert (limits.visit.max_lines, limits.visit.max_modifiers) == (50, 4)


def test_source_size_limit_is_configurable(tmp_path: Path) -> None:
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "pack.otr").write_text(HEADER + "# " + "x" * 2_000 + "\n", encoding="utf-8")
    limits = PackLimits(source=Limits(max_source_bytes=1_000))
    diags = check_pack(folder, limits=limits)
    assert [d.code for d in diags] == ["E006"]
    assert "over the limit of 1,000 bytes" in diags[0].message
    assert check_pack(folder) == []  # the default admits it


def test_default_source_size_limit_stops_before_reading(tmp_path: Path) -> None:
    folder = tmp_path / "huge"
    folder.mkdir()
    with (folder / "pack.otr").open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.write(("#" + "x" * 1023 + "\n") * 10_000)  # 10,240,000 bytes of comments
    diags = check_pack(folder)
    assert [d.code for d in diags] == ["E006"]


def test_nesting_limit_is_configurable() -> None:
    source = (HEADER + "\nrule r : info\n  when " + "not " * 30
              + 'yes\n  say "x"\n  source "s"\n')
    assert [d for d in check_source(source) if d.severity == "error"] == []
    shallow = PackLimits(source=Limits(max_depth=10))
    diags = check_source(source, limits=shallow)
    assert [d.code for d in diags] == ["E007"]
    assert "more than 10 levels" in diags[0].message


def test_csv_row_limit_is_configurable(tmp_path: Path) -> None:
    folder = pack_with_table(tmp_path / "rows", "tables/codes.csv")
    (folder / "tables").mkdir()
    (folder / "tables" / "codes.csv").write_text(
        "code\n" + "".join(f"9711{i}\n" for i in range(6)), encoding="utf-8")
    limits = PackLimits(tables=TableLimits(max_rows=5))
    diags = check_pack(folder, limits=limits)
    assert [d.code for d in diags if d.severity == "error"] == ["E066"]
    assert [d for d in check_pack(folder) if d.severity == "error"] == []


def test_extends_depth_limit_is_configurable(tmp_path: Path) -> None:
    names = ["a", "b", "c", "d"]
    for name, base in zip(names, [*names[1:], None], strict=True):
        (tmp_path / name).mkdir()
        text = HEADER.replace("hostile", name) + (f"  extends {base}\n" if base else "")
        (tmp_path / name / "pack.otr").write_text(text, encoding="utf-8")
    assert [d for d in check_pack(tmp_path / "a") if d.severity == "error"] == []
    diags = check_pack(tmp_path / "a", limits=PackLimits(max_extends_depth=2))
    assert [d.code for d in diags] == ["E014"]


def big_visit(lines: int, modifiers: int) -> Visit:
    mods = ("GO", "KX", "59", "XU", "XE", "CQ")[:modifiers]
    return Visit(id="V-big", date_of_service=visit().date_of_service, payer="medicare",
                 patient=Patient(id="P-secret"), diagnoses=("R26.89",),
                 lines=[Line(code="97110", minutes=15, modifiers=mods) for _ in range(lines)])


def test_lines_per_visit_limit() -> None:
    check_visit(big_visit(50, 1))
    with pytest.raises(LimitError) as caught:
        check_visit(big_visit(51, 1))
    assert str(caught.value) == "visit V-big: 51 service lines, over the limit of 50"
    check_visit(big_visit(51, 1), VisitLimits(max_lines=60))
    with pytest.raises(LimitError):
        check_visit(big_visit(10, 1), VisitLimits(max_lines=9))


def test_modifiers_per_line_limit() -> None:
    check_visit(big_visit(1, 4))
    with pytest.raises(LimitError) as caught:
        check_visit(big_visit(2, 5))
    assert str(caught.value) == ("visit V-big: line 0 has 5 modifiers, over the limit of 4; "
                                 "line 1 has 5 modifiers, over the limit of 4")
    assert "P-secret" not in str(caught.value)


def test_visit_json_enforces_the_contract_caps() -> None:
    base = {"id": "V-1", "date_of_service": "2026-03-02", "payer": "medicare",
            "patient": {"id": "P-1"}, "diagnoses": []}
    too_many_lines = {**base, "lines": [{"code": "97110"}] * 51}
    too_many_mods = {**base, "lines": [{"code": "97110",
                                        "modifiers": ["GO", "KX", "59", "XU", "XE"]}]}
    for bad, path in ((too_many_lines, "lines"), (too_many_mods, "lines[0].modifiers")):
        with pytest.raises(VisitError) as caught:
            load_visit(bad)
        assert [p.path for p in caught.value.problems][:1] == [path]


def test_pack_error_is_an_otrules_error_never_a_traceback(tmp_path: Path) -> None:
    folder = pack_with_table(tmp_path / "p", "../x.csv")
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    assert "E061" in str(caught.value)
    assert "Traceback" not in str(caught.value)
