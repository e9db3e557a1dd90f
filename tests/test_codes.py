"""otrules.codes: the bundled code table and its loader's validation."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import yaml

from otrules.codes import CodeInfo, CodeTableError, code_table, is_timed, load_code_table

HEADER = "code,timed,discipline,description,source\n"

# Hand-listed from the domain notes §3, with §12.4's upgrades (97750 and 97761 timed).
TIMED = {
    "97032", "97035", "97110", "97112", "97116", "97129", "97130", "97140", "97530", "97533",
    "97535", "97542", "97750", "97760", "97761", "97763",
}
UNTIMED = {
    "97010", "97018", "97150", "97161", "97162", "97163", "97164", "97165", "97166", "97167",
    "97168", "G0283",
}


def test_table_has_exactly_the_notes_codes() -> None:
    assert set(code_table()) == TIMED | UNTIMED
    assert len(code_table()) == 28


@pytest.mark.parametrize("code", sorted(TIMED))
def test_timed(code: str) -> None:
    assert is_timed(code) is True


@pytest.mark.parametrize("code", sorted(UNTIMED))
def test_untimed(code: str) -> None:
    assert is_timed(code) is False


@pytest.mark.parametrize("code", ["97532", "97127", "G0515", "97014", "99999", "", "97110 "])
def test_unknown_and_deleted_codes(code: str) -> None:
    assert is_timed(code) is None


def test_disciplines() -> None:
    table = code_table()
    assert {c for c, info in table.items() if info.discipline == "OT"} == {
        "97165", "97166", "97167", "97168",
    }
    assert {c for c, info in table.items() if info.discipline == "PT"} == {
        "97161", "97162", "97163", "97164",
    }
    assert table["97530"] == CodeInfo(
        "97530", True, "therapy", "therapeutic activities: practice of dynamic functional tasks"
    )


def test_table_is_cached_and_read_only() -> None:
    assert code_table() is code_table()
    with pytest.raises(TypeError):
        code_table()["97110"] = CodeInfo("97110", False, "OT", "x")  # type: ignore[index]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        code_table()["97110"].timed = False  # type: ignore[misc]


def test_worked_examples_use_the_table_consistently() -> None:
    examples = yaml.safe_load(
        (Path(__file__).parent / "data" / "unit_examples.yaml").read_text(encoding="utf-8")
    )["examples"]
    for example in examples:
        for code in example["minutes"]:
            assert is_timed(code) is True, (example["id"], code)
        for code in example["untimed"]:
            assert is_timed(code) is False, (example["id"], code)


# ---- the loader's validation ---------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codes.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_a_good_table(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + '97110,yes,therapy,"exercise, of a kind",S19 S110-note\n')
    assert load_code_table(path) == {
        "97110": CodeInfo("97110", True, "therapy", "exercise, of a kind")
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("97110,maybe,therapy,exercise,S19", "timed must be 'yes' or 'no', got 'maybe'"),
        ("9711,yes,therapy,exercise,S19", "code must be five digits"),
        ("g0283,no,therapy,stim,S19", "code must be five digits"),
        ("97110,yes,SLP,exercise,S19", "discipline must be OT, PT or therapy, got 'SLP'"),
        ("97110,yes,therapy,,S19", "description must be non-empty"),
        ("97110,yes,therapy, exercise,S19", "description must be non-empty"),
        ("97110,yes,therapy,exercise,", "source must be ids"),
        ("97110,yes,therapy,exercise,S19,S29", "expected 5 fields"),
        ("97110,yes,therapy,exercise", "expected 5 fields"),
        ("97110,yes,therapy,exercise,[S19]", "source must be ids"),
    ],
)
def test_bad_row_names_the_row(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, HEADER + "97112,yes,therapy,balance,S1\n" + row + "\n")
    with pytest.raises(CodeTableError, match=r"codes\.csv line 3") as caught:
        load_code_table(path)
    assert message in str(caught.value)


def test_duplicate_code(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "97110,yes,therapy,a,S1\n97110,yes,therapy,b,S1\n")
    with pytest.raises(CodeTableError, match=r"line 3 \(code '97110'\): duplicate code"):
        load_code_table(path)


def test_every_bad_row_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "97110,maybe,therapy,a,S1\n97112,yes,XX,b,S1\n")
    with pytest.raises(CodeTableError) as caught:
        load_code_table(path)
    assert "line 2 (code '97110')" in str(caught.value)
    assert "line 3 (code '97112')" in str(caught.value)


def test_bad_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "code,timed,description\n97110,yes,exercise\n")
    with pytest.raises(CodeTableError, match="header must be code,timed,discipline"):
        load_code_table(path)
