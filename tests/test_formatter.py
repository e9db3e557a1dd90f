"""The formatter: hand-written before/after fixtures, one behaviour per test, and the guards
that keep it from ever losing or changing what the author wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from otrules.errors import InternalError, OtrulesError, PackError
from otrules.lang import ast as A
from otrules.lang import formatter as F
from otrules.lang.formatter import format_expression, format_file, format_source
from otrules.lang.parser import parse_expression, parse_source

FIXTURES = Path(__file__).parent / "data" / "formatter"
PAIRS = sorted(p.name.removesuffix(".before.otr") for p in FIXTURES.glob("*.before.otr"))


def test_every_node_type_has_a_printer() -> None:
    assert set(F.EXPR_PRINTERS) == set(A.EXPR_NODES)
    assert set(F.DECL_PRINTERS) == set(A.DECL_NODES)


def test_fixture_pairs_are_complete() -> None:
    assert len(PAIRS) >= 5
    for name in PAIRS:
        assert (FIXTURES / f"{name}.after.otr").is_file(), name


@pytest.mark.parametrize("name", PAIRS)
def test_fixture_before_formats_to_after(name: str) -> None:
    before = (FIXTURES / f"{name}.before.otr").read_text(encoding="utf-8")
    after = (FIXTURES / f"{name}.after.otr").read_text(encoding="utf-8")
    assert format_source(before, verify=False) == after
    assert format_source(after, verify=False) == after
    assert parse_source(after)[0] == parse_source(before)[0]


# ---------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("((a + b) * c)", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("(a < b) = c", "(a < b) = c"),
        ("not (a = b)", "not a = b"),
        ("not (a or b)", "not (a or b)"),
        ("(a and b) or c", "a and b or c"),
        ("a and (b or c)", "a and (b or c)"),
        ("(if a then b else c) * 2", "(if a then b else c) * 2"),
        ("-(line.minutes)", "-line.minutes"),
        ("(count of lines where a) + 1", "(count of lines where a) + 1"),
        ("1 + (count of lines where a)", "1 + count of lines where a"),
        ("(count of lines) + 1", "count of lines + 1"),
        ("x in ((count of lines where a), 2)", "x in ((count of lines where a), 2)"),
        ("any diagnosis as diagnosis where diagnosis matches (F90.*, F84.0)",
         "any diagnosis matches F90.*, F84.0"),
        ("any diagnosis as d where d matches F90.*", "any diagnosis as d where d matches F90.*"),
        ("line lacks any of ( GO,GP )", "line lacks any of (GO, GP)"),
        ("(line) has GO", "line has GO"),
        ("ptp[ (a.code) , b.code ].modifier", "ptp[a.code, b.code].modifier"),
        ("year( date_of_service )", "year(date_of_service)"),
    ],
)
def test_expression_parentheses(written: str, canonical: str) -> None:
    node = parse_expression(written)
    assert format_expression(node) == canonical
    assert parse_expression(canonical) == node


def test_literals_are_printed_as_written() -> None:
    # Literal text is part of the AST, so money keeps its commas (or lack of them).
    assert format_expression(parse_expression("x = $2480.5")) == "x = $2480.5"
    assert format_expression(parse_expression("x = $2,480.50")) == "x = $2,480.50"
    assert format_expression(parse_expression('x = "a\\{b"')) == 'x = "a\\{b"'
    assert format_expression(parse_expression("x >= 1 minute")) == "x >= 1 minute"


def test_nested_expressions_at_the_depth_limit() -> None:
    deep = "(" * 190 + "a" + ")" * 190
    nots = "not " * 190 + "a"
    chain = " and ".join(f"a{i}" for i in range(190))
    for text in (deep, nots, chain):
        source = f"rule r : info\n  when {text}\n  say \"s\"\n  source \"s\"\n"
        out = format_source(source)
        assert format_source(out) == out
    assert "when a\n" in format_source(f"rule r : info\n  when {deep}\n")


# ---------------------------------------------------------------------------- text values


def test_strings_are_re_escaped() -> None:
    out = format_source('rule r : info\n  about "a\\{b\\}\tc"\n  say "{ x }\\{y\\}"\n')
    assert out == 'rule r : info\n  about "a{b}\\tc"\n  say "{x}\\{y\\}"\n'


def test_version_is_bare_when_it_can_be() -> None:
    assert format_source('pack p\n  version "2026.1"\n') == "pack p\n  version 2026.1\n"
    assert format_source('pack p\n  version "v2 beta"\n') == 'pack p\n  version "v2 beta"\n'


# ---------------------------------------------------------------------------- layout


def test_line_endings_and_blank_lines_are_normalized() -> None:
    text = "units cms\r\n\r\n\r\n\r\nunits ama\r\n"
    assert format_source(text) == "units cms\n\nunits ama\n"


def test_empty_and_comment_only_files() -> None:
    assert format_source("") == ""
    assert format_source("\n\n  \n") == ""
    assert format_source("  # only\n\n\n# comments  \n") == "# only\n\n# comments\n"


def test_comments_inside_a_multi_line_clause_stay_in_order() -> None:
    text = "rule r : info\n  when a  # one\n    # two\n    and b  # three\n"
    out = "rule r : info\n  # one\n  # two\n  when a and b  # three\n"
    assert format_source(text) == out


def test_a_long_condition_that_is_not_a_chain_stays_on_one_line() -> None:
    long = " + ".join(["line.minutes"] * 8) + " > 100 minutes"
    out = format_source(f"rule r : info\n  when {long}\n")
    assert out == f"rule r : info\n  when {long}\n"
    assert len(out.split("\n")[1]) > F.MAX_WIDTH


# ---------------------------------------------------------------------------- refusals


def test_syntax_errors_raise_pack_error_with_the_parser_diagnostics() -> None:
    with pytest.raises(PackError) as info:
        format_source("rule r : info\n  when a b\n", "bad.otr")
    codes = [d.code for d in info.value.diagnostics]
    assert codes == ["E001"]
    assert "bad.otr:2" in str(info.value)


def test_too_deep_input_is_a_pack_error_not_a_crash() -> None:
    text = "rule r : info\n  when " + "not " * 300 + "a\n"
    with pytest.raises(PackError) as info:
        format_source(text)
    assert [d.code for d in info.value.diagnostics] == ["E007"]


def test_the_formatter_reads_the_text_only_through_the_parser(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Every clause has a span, so the formatter needs no Lark tree of its own: it reads the
    # text exactly as often as the parser does (on its own; the self-check parses once more).
    import lark

    calls: list[str] = []
    original = lark.Lark.parse

    def counting(self: lark.Lark, text: str, *args: object, **kwargs: object) -> object:
        calls.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(lark.Lark, "parse", counting)
    text = (FIXTURES / "repeated.before.otr").read_text(encoding="utf-8")
    parse_source(text)
    by_parser = len(calls)
    calls.clear()
    format_source(text, verify=False)
    assert len(calls) == by_parser
    assert not [v for v in vars(F).values() if getattr(v, "__name__", "").startswith("lark")]


def test_verify_refuses_output_that_loses_a_repeated_clause(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'parameter p : number = 1\n  about "a"\n  about "b"\n'
    monkeypatch.setattr(F, "_once", lambda decl, keyword, value, span, printer: F._each(
        [] if value is None else [(printer(value), span)]))
    with pytest.raises(InternalError, match="does not mean what the input meant"):
        format_source(text)


def test_verify_refuses_output_that_changes_the_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parentheses(node: A.Binary, tail: bool) -> str:
        return f"{F._expr(node.left, 0)} {node.op} {F._expr(node.right, 0)}"

    monkeypatch.setitem(F.EXPR_PRINTERS, A.Binary, no_parentheses)
    text = "rule r : info\n  when x = (a + b) * c\n"
    with pytest.raises(InternalError):
        format_source(text)
    assert format_source(text, verify=False) == "rule r : info\n  when x = a + b * c\n"


def test_verify_refuses_output_that_loses_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "_comment_block", lambda *args: [])
    with pytest.raises(InternalError):
        format_source("# lost\nunits cms\n")
    assert issubclass(InternalError, OtrulesError)


# ---------------------------------------------------------------------------- files


def test_format_file_reports_whether_the_text_changes(tmp_path: Path) -> None:
    messy = tmp_path / "messy.otr"
    messy.write_text("units   cms\n", encoding="utf-8")
    clean = tmp_path / "clean.otr"
    clean.write_text("units cms\n", encoding="utf-8")
    assert format_file(messy) == ("units cms\n", True)
    assert format_file(clean) == ("units cms\n", False)
    assert messy.read_text(encoding="utf-8") == "units   cms\n"  # never writes


def test_format_file_rejects_text_that_is_not_utf8(tmp_path: Path) -> None:
    bad = tmp_path / "bad.otr"
    bad.write_bytes(b"units cms\n# caf\xe9\n")
    with pytest.raises(PackError) as info:
        format_file(bad)
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.span.line, diag.span.column) == ("E002", 2, 6)  # type: ignore[union-attr]
    assert "0xe9" in diag.message
