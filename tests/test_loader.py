"""Finding, reading and loading packs: folders, files, headers, extends, digests, rendering,
and inputs that are not packs at all (E006, E010–E014, E099)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checker_support import write_pack
from otrules.diagnostics import Diagnostic, Span
from otrules.errors import PackError
from otrules.lang import loader
from otrules.lang.checked import CheckedPack
from otrules.lang.loader import (
    PackLimits,
    check_pack,
    check_source,
    load_checked_pack,
    render_diagnostics,
)
from otrules.lang.parser import Limits

HEADER = "pack p\n  effective 2026-01-01 to 2026-12-31\n"
RULE = 'rule r : info\n  when claim_type = "x"\n  say "x"\n  source "s"\n'


def codes_of(diags: list) -> list[str]:
    return [d.code for d in diags]


# ---------------------------------------------------------------------------- E010


def test_missing_folder(tmp_path: Path) -> None:
    where = str(tmp_path / "nope")
    (d,) = check_pack(where)
    assert (d.code, d.message) == ("E010", f"the pack folder '{where}' does not exist")
    assert (d.span.file, d.span.line, d.span.column) == (where, 1, 1)
    with pytest.raises(PackError) as caught:
        load_checked_pack(where)
    assert caught.value.rendered == f"{where}:1:1: error[E010]: {d.message}"


def test_empty_folder(tmp_path: Path) -> None:
    (d,) = check_pack(tmp_path)
    assert (d.code, d.message, d.help) == (
        "E010", f"the pack folder '{tmp_path}' holds no .otr file",
        "a pack is a folder of .otr files, one of them starting with `pack NAME`")


def test_a_path_that_is_neither_folder_nor_otr_file(tmp_path: Path) -> None:
    csv = write_pack(tmp_path, {"x.csv": "a,b\n"}) / "x.csv"
    (d,) = check_pack(csv)
    assert (d.code, d.message) == ("E010", f"'{csv}' is neither a pack folder nor an .otr file")
    (d,) = check_pack(tmp_path / "missing.otr")
    assert d.message == f"the pack file '{tmp_path / 'missing.otr'}' does not exist"


def test_binary_garbage_file(tmp_path: Path) -> None:
    (tmp_path / "pack.otr").write_bytes(b"pack p\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    (d,) = check_pack(tmp_path)
    shown = str(tmp_path / "pack.otr")
    assert (d.code, d.message, d.span.line, d.span.column) == (
        "E010", f"'{shown}' is not a text file (it contains NUL bytes)", 4, 1)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "pack.otr").write_bytes("pack p\n  about \"caf\xe9\"\n".encode("latin-1"))
    (d,) = check_pack(tmp_path)
    shown = str(tmp_path / "pack.otr")
    assert (d.code, d.message, d.span.line, d.span.column, d.help) == (
        "E010", f"'{shown}' is not UTF-8 text: byte 0xe9 cannot be read", 2, 13,
        "save the file as UTF-8")


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root reads everything: make the "file" a folder instead
        (tmp_path / "pack.otr").mkdir()
        write_pack(tmp_path, {"a.otr": HEADER + RULE})
        assert check_pack(tmp_path) == []  # a folder named *.otr is not a file of the pack
        return
    write_pack(tmp_path, {"pack.otr": HEADER})
    (tmp_path / "pack.otr").chmod(0)
    (d,) = check_pack(tmp_path)
    assert d.code == "E010"
    assert d.message.startswith(f"cannot read '{tmp_path / 'pack.otr'}'")


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    (tmp_path / "pack.otr").write_bytes(b"\xef\xbb\xbf" + (HEADER + RULE).encode())
    assert check_pack(tmp_path) == []


def test_bundled_pack_names(tmp_path: Path) -> None:
    (d,) = check_pack("language-tuor")
    assert (d.code, d.message, d.span, d.help) == (
        "E010", "there is no bundled pack named 'language-tuor'", None,
        "did you mean 'language-tour'?")
    assert load_checked_pack("language-tour").name == "language-tour"
    write_pack(tmp_path / "mine", {"pack.otr": HEADER + RULE})
    os.chdir(tmp_path)
    try:
        (d,) = check_pack("mine")
        assert (d.message, d.help) == ("there is no bundled pack named 'mine'",
                                       "to check the folder ./mine, write ./mine")
        assert check_pack("./mine") == []
    finally:
        os.chdir(Path(__file__).parent)


# ---------------------------------------------------------------------------- E006, depth


def test_a_10_mb_file_is_refused_by_size_without_parsing(tmp_path: Path) -> None:
    (tmp_path / "pack.otr").write_bytes(HEADER.encode() + b"#" * (10 * 1024 * 1024))
    (d,) = check_pack(tmp_path)
    assert (d.code, d.message) == (
        "E006", f"the pack source is {len(HEADER) + 10 * 1024 * 1024:,} bytes, over the limit "
        "of 2,000,000 bytes")
    big = HEADER + "#" * (10 * 1024 * 1024)
    assert codes_of(check_source(big, "big.otr")) == ["E006"]  # the parser's own check


def test_an_expression_nested_10000_deep() -> None:
    # Parentheses build no node, but they count toward the limit through the parse stack.
    deep = "(" * 10_000 + "line.units" + ")" * 10_000
    assert codes_of(check_source(HEADER + f'rule r : info\n  for each line\n  when {deep} > 1\n'
                                 '  say "x"\n  source "s"\n')) == ["E007"]
    shallow = "(" * 100 + "line.units" + ")" * 100
    assert check_source(HEADER + f'rule r : info\n  for each line\n  when {shallow} > 1\n'
                        '  say "x"\n  source "s"\n') == []
    nots = "not " * 10_000 + "yes"
    assert codes_of(check_source(HEADER + f'rule r : info\n  when {nots}\n  say "x"\n'
                                 '  source "s"\n')) == ["E007"]


def test_deep_expressions_under_raised_limits_do_not_exhaust_the_stack() -> None:
    # With the parser's depth limit raised, the checker's own passes must still cope.
    limits = PackLimits(source=Limits(max_depth=20_000))
    chain = " + ".join(["line.minutes"] * 3000)
    text = HEADER + f'rule r : info\n  for each line\n  when {chain} > 8 minutes and '
    text += "not " * 3000 + 'line.timed\n  say "x"\n  source "s"\n'
    assert check_source(text, limits=limits) == []
    # An odd number of `not`s before `yes` is always no: the analysis folds it, iteratively.
    text = HEADER + 'rule r : info\n  when claim_type = "x" and ' + "not " * 3001 + 'yes\n'
    text += '  say "x"\n  source "s"\n'
    (d,) = check_source(text, limits=limits)
    assert (d.code, d.message) == ("W001", "rule 'r' can never fire: `" + "not " * 19
                                   + "n…` is always no")


# ---------------------------------------------------------------------------- E011, E012


def test_no_header() -> None:
    (d,) = check_source(RULE, "rules.otr")
    assert (d.code, d.message, d.span.line, d.span.column, d.help) == (
        "E011", "'rules.otr' has no `pack` header", 1, 1,
        "start the pack's main file with `pack NAME` and its effective dates")


def test_no_header_in_any_file_of_a_folder(tmp_path: Path) -> None:
    write_pack(tmp_path, {"a.otr": RULE, "b.otr": "# nothing\n"})
    (d,) = check_pack(tmp_path)
    assert (d.code, d.message, d.span.file) == (
        "E011", f"no file of the pack folder '{tmp_path}' has a `pack` header",
        str(tmp_path / "a.otr"))


def test_two_headers(tmp_path: Path) -> None:
    write_pack(tmp_path, {"a.otr": HEADER + RULE, "b.otr": "# second\npack q\n"})
    (d,) = check_pack(tmp_path)
    assert (d.code, d.message, d.span.file, d.span.line, d.span.column, d.help) == (
        "E012", "a second `pack` header ('q'); a pack has exactly one", str(tmp_path / "b.otr"),
        2, 6, f"the first is at {tmp_path / 'a.otr'}:1:6")


def test_files_are_read_in_name_order_and_tests_folder_is_ignored(tmp_path: Path) -> None:
    write_pack(tmp_path, {
        "b.otr": RULE.replace("rule r", "rule second"),
        "a.otr": HEADER + RULE.replace("rule r", "rule first"),
        "tests/case.otr": "this is not a pack file at all",
        "notes.txt": "rule ignored : info",
    })
    pack = load_checked_pack(tmp_path / "a.otr")  # the main file names the whole folder
    assert [r.rule.id for r in pack.rules] == ["first", "second"]
    assert sorted(pack.sources) == [str(tmp_path / "a.otr"), str(tmp_path / "b.otr")]


def test_syntax_errors_stop_before_checking() -> None:
    diags = check_source(HEADER + "rule r : info\n  when claim_type =\n  say \"x\"\n"
                         'rule s : info\n  when zzz\n  say "x"\n  source "s"\n')
    assert codes_of(diags) == ["E001"]  # no E020 for zzz: syntax errors first


# ---------------------------------------------------------------------------- extends


def base_and(tmp_path: Path, name: str, text: str) -> Path:
    write_pack(tmp_path / "base", {"pack.otr": "pack base\n  effective 2026-01-01 to "
                                   "2026-12-31\n\n" + RULE})
    return write_pack(tmp_path / name, {"pack.otr": text})


def test_unknown_base(tmp_path: Path) -> None:
    folder = base_and(tmp_path, "p", "pack p\n  extends bsae\n")
    (d,) = check_pack(folder)
    assert (d.code, d.message, d.span.line, d.span.column, d.help) == (
        "E013", "unknown base pack 'bsae'", 2, 11, "did you mean 'base'?")
    folder = base_and(tmp_path, "q", "pack q\n  extends zzzzzz\n")
    (d,) = check_pack(folder)
    assert d.help == ("there is no folder ../zzzzzz next to this pack and no bundled pack of "
                      "that name")


def test_sibling_first_then_bundled(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "mine", {"pack.otr": "pack mine\n  extends language-tour\n"})
    pack = load_checked_pack(folder)
    assert pack.lineage == ("language-tour", "mine")
    assert len(pack.rules) == len(load_checked_pack("language-tour").rules)
    # A sibling folder of the same name wins over the bundled pack.
    write_pack(tmp_path / "language-tour", {"pack.otr": "pack language-tour\n  effective "
                                            "2026-01-01 to 2026-12-31\n\n" + RULE})
    pack = load_checked_pack(folder)
    assert [r.rule.id for r in pack.rules] == ["r"]


def test_extends_cycle(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", {"pack.otr": "pack a\n  extends b\n"})
    write_pack(tmp_path / "b", {"pack.otr": "pack b\n  extends a\n"})
    (d,) = check_pack(tmp_path / "a")
    assert (d.code, d.message, d.span.file, d.span.line, d.span.column, d.help) == (
        "E014", "packs extend each other in a cycle: a → b → a", str(tmp_path / "b" / "pack.otr"),
        2, 11, "a pack cannot be its own base")


def test_extends_itself(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", {"pack.otr": "pack a\n  extends a\n"})
    (d,) = check_pack(tmp_path / "a")
    assert (d.code, d.message) == ("E014", "packs extend each other in a cycle: a → a")


def test_extends_depth_limit(tmp_path: Path) -> None:
    write_pack(tmp_path / "p0", {"pack.otr": "pack p0\n  effective 2026-01-01 to 2026-12-31\n"
                                 + RULE})
    for i in range(1, 10):
        write_pack(tmp_path / f"p{i}", {"pack.otr": f"pack p{i}\n  extends p{i - 1}\n"})
    assert load_checked_pack(tmp_path / "p8").lineage == tuple(f"p{i}" for i in range(9))
    (d,) = check_pack(tmp_path / "p9")
    assert (d.code, d.message, d.span.file) == (
        "E014", "the chain of `extends` is deeper than 8 packs",
        str(tmp_path / "p1" / "pack.otr"))


def test_errors_in_a_base_pack_are_reported_in_its_files(tmp_path: Path) -> None:
    write_pack(tmp_path / "base", {"pack.otr": "pack base\n  effective 2026-01-01 to "
                                   "2026-12-31\nrule r : info\n  when\n"})
    write_pack(tmp_path / "p", {"pack.otr": "pack p\n  extends base\n"})
    (d,) = check_pack(tmp_path / "p")
    assert (d.code, d.span.file) == ("E003", str(tmp_path / "base" / "pack.otr"))


# ---------------------------------------------------------------------------- results


def test_relative_paths_are_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    write_pack(tmp_path / "packs" / "base", {"pack.otr": HEADER.replace("pack p", "pack base")
                                             + RULE})
    write_pack(tmp_path / "packs" / "p", {"pack.otr": "pack p\n  extends base\n\n"
                                          "parameter unused : number = 1\n"})
    monkeypatch.chdir(tmp_path)
    pack = load_checked_pack("packs/p")
    assert sorted(pack.sources) == ["packs/base/pack.otr", "packs/p/pack.otr"]
    assert [(d.code, d.span.file) for d in pack.diagnostics] == [("W003", "packs/p/pack.otr")]
    assert (pack.folder, pack.rules[0].file) == ("packs/p", "packs/base/pack.otr")


def test_digest_covers_sources_and_tables_of_every_pack(tmp_path: Path) -> None:
    files = {"pack.otr": HEADER + 'table t from "t.csv"\n  key k : code\n\n' + RULE,
             "t.csv": "k\n97110\n"}
    one = load_checked_pack(write_pack(tmp_path / "one", files))
    two = load_checked_pack(write_pack(tmp_path / "two", files))
    assert len(one.digest) == 64
    assert one.digest == two.digest  # where the pack lives does not matter
    (tmp_path / "two" / "t.csv").write_text("k\n97140\n")
    assert load_checked_pack(tmp_path / "two").digest != one.digest
    (tmp_path / "two" / "t.csv").write_text("k\n97110\n")
    (tmp_path / "two" / "pack.otr").write_text(files["pack.otr"] + "# a comment\n")
    assert load_checked_pack(tmp_path / "two").digest != one.digest
    # The base's sources count too.
    write_pack(tmp_path / "ext", {"pack.otr": "pack ext\n  extends one\n"})
    before = load_checked_pack(tmp_path / "ext").digest
    (tmp_path / "one" / "pack.otr").write_text(files["pack.otr"] + "# changed\n")
    assert load_checked_pack(tmp_path / "ext").digest != before


def test_checked_pack_is_immutable_and_picklable(tmp_path: Path) -> None:
    import pickle

    pack = load_checked_pack("language-tour")
    again = pickle.loads(pickle.dumps(pack))
    assert isinstance(again, CheckedPack)
    assert (again.digest, [r.rule for r in again.rules]) == (pack.digest,
                                                             [r.rule for r in pack.rules])
    with pytest.raises(TypeError):
        pack.parameters["x"] = None  # type: ignore[index]


def test_an_internal_error_is_one_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(loader, "check_merged", broken)
    (d,) = check_source(HEADER + RULE)
    assert (d.code, d.severity, d.span) == ("E099", "error", None)
    assert d.message == ("internal error in the checker (KeyError); this is a bug in otrules, "
                         "not in the pack: please report it")
    with pytest.raises(PackError) as caught:
        load_checked_pack("language-tour")
    assert codes_of(list(caught.value.diagnostics)) == ["E099"]


# ---------------------------------------------------------------------------- rendering


def test_render_shows_csv_lines_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    write_pack(tmp_path / "p", {
        "pack.otr": HEADER + 'table t from "t.csv"\n  key k : code\n  column n : number\n\n'
        + RULE,
        "t.csv": "k,n\n97110,1\n97140,lots\n",
    })
    monkeypatch.chdir(tmp_path)
    diags = check_pack("./p")
    assert [(d.code, d.span.file, d.span.line) for d in diags] == [("E058", "p/t.csv", 3)]
    text = render_diagnostics(diags, {})
    lines = text.split("\n")
    assert lines[0].startswith("p/t.csv:3:7: error[E058]: ")
    assert lines[1:3] == ["3 | 97140,lots", "          ^^^^"]


def test_render_limits_the_list() -> None:
    text = HEADER + "".join(f'rule r{i} : info\n  when zz{i}\n  say "x"\n  source "s"\n'
                            for i in range(60))
    diags = check_source(text, "many.otr")
    rendered = render_diagnostics(diags, {"many.otr": text}, limit=50)
    assert rendered.count("error[E020]") == 50
    assert rendered.endswith("\n\n... and 10 more")


def test_render_with_a_checked_pack_shows_lines_of_every_pack_file() -> None:
    pack = load_checked_pack("language-tour-extended")
    base_rules = next(f for f in pack.sources if f.endswith("language-tour/rules.otr"))
    line = pack.sources[base_rules].split("\n")[4]
    assert line.startswith("rule go-modifier-required")
    warning = Diagnostic("W003", "warning", "example", Span(base_rules, 5, 6, 5, 26))
    assert render_diagnostics([warning], pack).split("\n") == [
        f"{base_rules}:5:6: warning[W003]: example", f"5 | {line}",
        "         " + "^" * 20]
