"""``otrules eval`` end to end: outputs, input formats, bad input.

Expected values for the tiny pack (test_cli_main.TINY_PACK), by hand:
  V-1  97530 24 min stated 1, GO; 97110 23 min stated 2, no GO. 47 timed minutes -> 3 units;
       97530 has 1 whole unit + 9 min, 97110 1 whole unit + 8 min, so the third unit goes
       to 97530: 2 and 1. Both stated counts differ (units-mismatch on lines 0 and 1) and
       97110 lacks GO (go-modifier-required on line 1): fail.
  V-2  97530 38 min stated 3, GO -> 3 units: pass.
  V-3  97530 70 min, GO -> 70 > 60 minutes: long-visit (a warning): warn.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_main import EXAMPLE_VISITS, run, visit_json, write_pack

V1 = visit_json("V-1", '[{"code": "97530", "minutes": 24, "units": 1, "modifiers": ["GO"]}, '
                       '{"code": "97110", "minutes": 23, "units": 2}]')
V2 = visit_json("V-2", '[{"code": "97530", "minutes": 38, "units": 3, "modifiers": ["GO"]}]')
V3 = visit_json("V-3", '[{"code": "97530", "minutes": 70, "modifiers": ["GO"]}]')
SUMMARY = ["3 visits: 1 pass, 1 warn, 1 fail; 0 invalid records",
           "most frequent findings: units-mismatch (2), go-modifier-required (1), "
           "long-visit (1)"]


@pytest.fixture
def pack(tmp_path: Path) -> str:
    return str(write_pack(tmp_path / "tiny"))


def _write(path: Path, text: str | bytes) -> str:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return str(path)


def _results(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def _findings(result: dict) -> list[tuple[str, int | None]]:
    return [(f["rule"], f["line"]) for f in result["findings"]]


# ---------------------------------------------------------------------------- output


def test_jsonl_is_the_default_when_piped(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.jsonl", "\n".join([V1, V2, V3]) + "\n")
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 1  # V-1 fails
    results = _results(ran.out)
    assert [(r["visit_id"], r["status"]) for r in results] == [
        ("V-1", "fail"), ("V-2", "pass"), ("V-3", "warn")]
    assert [(line["code"], line["units"]) for line in results[0]["lines"]] == [
        ("97530", 2), ("97110", 1)]
    assert _findings(results[0]) == [("units-mismatch", 0), ("units-mismatch", 1),
                                     ("go-modifier-required", 1)]
    assert _findings(results[2]) == [("long-visit", None)]
    assert results[2]["findings"][0]["message"] == "The visit has 70 timed minutes."
    assert "trace" not in results[0]
    assert ran.err.splitlines() == SUMMARY


def test_table_output(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.jsonl", "\n".join([V1, V2, V3]) + "\n")
    ran = run("eval", "--pack", pack, "--output", "table", visits)
    assert ran.code == 1
    assert ran.out.splitlines() == [
        "visit       status  line  code   units  findings",
        "V-1         fail    1     97530  2      error units-mismatch: 97530 states 1 unit(s); "
        "the 8-minute rule gives 2.",
        "                    2     97110  1      error units-mismatch: 97110 states 2 unit(s); "
        "the 8-minute rule gives 1.",
        "                                        error go-modifier-required: 97110 needs GO.",
        "V-2         pass    1     97530  3",
        "V-3         warn    1     97530  5",
        "                    -                   warning long-visit: The visit has 70 timed "
        "minutes.",
        *SUMMARY,
    ]
    assert ran.err == ""


def test_trace_adds_the_trace_to_jsonl(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.jsonl", V2 + "\n")
    ran = run("eval", "--pack", pack, "--trace", visits)
    assert ran.code == 0  # every visit passes
    [result] = _results(ran.out)
    outcomes = [(t["rule"], t["element"], t["outcome"]) for t in result["trace"]]
    assert outcomes == [("units-mismatch", "line 1 (97530)", "not fired"),
                        ("go-modifier-required", "line 1 (97530)", "not fired"),
                        ("long-visit", "visit", "not fired")]


def test_no_argument_evaluates_the_bundled_examples_with_medicare_ot() -> None:
    ran = run("eval")
    results = _results(ran.out)
    assert [r["visit_id"] for r in results] == [f"V-20{n:02}" for n in range(1, 11)]
    assert {r["pack"] for r in results} == {"medicare-ot"}
    # V-2001: 97166 is untimed (1 unit), 97530 23 minutes is 2 units.
    assert [(x["code"], x["units"]) for x in results[0]["lines"]] == [("97166", 1), ("97530", 2)]
    # V-2010 lists no diagnosis and neither line points at one.
    assert results[9]["status"] == "fail"
    assert [f["message"] for f in results[9]["findings"]] == [
        "97165 (line 1) points at no diagnosis; the visit lists 0.",
        "97760 (line 2) points at no diagnosis; the visit lists 0."]
    assert ran.code == 1
    assert ran.err.startswith("10 visits: ")


def test_json_array_one_object_and_stdin(tmp_path: Path, pack: str) -> None:
    array = _write(tmp_path / "v.json", f"[{V2},\n {V3}]")
    assert [r["visit_id"] for r in _results(run("eval", "-p", pack, array).out)] == [
        "V-2", "V-3"]
    pretty = json.dumps(json.loads(V2), indent=2)
    single = _write(tmp_path / "one.json", pretty)
    ran = run("eval", "-p", pack, single)
    assert (ran.code, [r["visit_id"] for r in _results(ran.out)]) == (0, ["V-2"])
    piped = run("eval", "-p", pack, "-", stdin=(V3 + "\n").encode())
    assert (piped.code, [r["status"] for r in _results(piped.out)]) == (0, ["warn"])


def test_an_unknown_pack_is_bad_input(tmp_path: Path) -> None:
    ran = run("eval", "--pack", "no-such-pack", str(EXAMPLE_VISITS))
    assert ran.code == 2
    assert ran.err.splitlines()[0] == "error[E010]: there is no bundled pack named 'no-such-pack'"
    assert ran.err.splitlines()[-1] == ("error: the pack 'no-such-pack' has errors; run "
                                        "`otrules check no-such-pack`")


# ---------------------------------------------------------------------------- bad input


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = run("eval", str(tmp_path / "nope.jsonl"))
    assert (missing.code, missing.out) == (2, "")
    assert missing.err == f"error: cannot read {tmp_path / 'nope.jsonl'}: No such file or " \
                          "directory\n"
    plain = _write(tmp_path / "file", "x")
    below = run("eval", str(Path(plain) / "v.jsonl"))
    assert below.code == 2
    assert below.err == f"error: cannot read {plain}/v.jsonl: Not a directory\n"
    folder = run("eval", str(tmp_path))
    assert folder.err == f"error: {tmp_path}: is a folder, not a file of visits\n"


def test_a_json_document_with_a_syntax_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "doc.json", '{\n  "id": "V-1",\n  "payer" "x"\n}\n')
    ran = run("eval", bad)
    assert (ran.code, ran.out) == (2, "")
    # Line 3 is `  "payer" "x"`: the value starts in column 11, where ':' was expected.
    assert ran.err == f"error: {bad}:3:11: not valid JSON: Expecting ':' delimiter\n"


def test_wrong_encodings(tmp_path: Path) -> None:
    utf16 = _write(tmp_path / "v.jsonl", V2.encode("utf-16"))
    ran = run("eval", utf16)
    assert (ran.code, ran.err) == (2, f"error: {utf16}: not UTF-8 text (it is UTF-16); save "
                                      "it as UTF-8\n")
    latin = _write(tmp_path / "doc.json", '{\n "id": "V-\xe9"\n}'.encode("latin-1"))
    ran = run("eval", latin)
    assert (ran.code, ran.err) == (2, f"error: {latin}:2: not UTF-8 text (byte 0xe9); save it "
                                      "as UTF-8\n")


def test_truncated_json_lines_keep_the_good_records(tmp_path: Path, pack: str) -> None:
    cut = V1[:60]  # a line cut off in the middle, as by an interrupted copy
    visits = _write(tmp_path / "v.jsonl", "\n".join([V2, cut, V3, '{"id": "V-9"}', ""]))
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 2
    assert [r["visit_id"] for r in _results(ran.out)] == ["V-2", "V-3"]
    errors = ran.err.splitlines()
    assert errors[0] == (f"{visits}:2: invalid visit: not valid JSON: Unterminated string "
                         "starting at at line 2, column 57")
    assert errors[1] == (f"{visits}:4: invalid visit V-9: date_of_service: is required; "
                         "payer: is required; patient: is required; diagnoses: is required; "
                         "lines: is required")
    assert errors[2:] == ["2 visits: 1 pass, 1 warn, 0 fail; 2 invalid records",
                          "most frequent findings: long-visit (1)"]


def test_bad_utf8_in_one_json_lines_record(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.jsonl", V2.encode() + b"\n" + b'{"id": "V-\xff"}\n'
                    + V3.encode() + b"\n")
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 2
    assert [r["visit_id"] for r in _results(ran.out)] == ["V-2", "V-3"]
    # 0xff is the 11th byte of its line (counted from 1): {"id": "V- is 10 bytes.
    assert ran.err.splitlines()[0] == (f"{visits}:2: invalid visit: not valid UTF-8 text: "
                                       "invalid start byte at byte 11")


def test_a_bad_birth_date_is_reported_without_its_value(tmp_path: Path, pack: str) -> None:
    record = json.loads(V2)
    record["patient"]["birth_date"] = "1948-13-30"
    visits = _write(tmp_path / "v.jsonl", json.dumps(record) + "\n")
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 2
    assert ran.err.splitlines()[0] == (f"{visits}:1: invalid visit V-2: patient.birth_date: "
                                       "must be a calendar date written YYYY-MM-DD")
    assert "1948" not in ran.err


# ---------------------------------------------------------------------------- CSV

CSV_HEAD = ("visit_id,date_of_service,payer,patient_id,diagnoses,code,minutes,units,modifiers,"
            "diagnosis_pointers\n")


def test_csv_rows_of_one_visit_make_one_visit(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.csv", CSV_HEAD
                    + "V-1,2026-03-02,medicare,P-1,M62.81,97530,24,1,GO,1\n"
                    + "V-1,2026-03-02,medicare,P-1,M62.81,97110,23,2,,1\n"
                    + "V-2,2026-03-02,medicare,P-2,M62.81 R27.8,97530,38,3,GO 59,1 2\n")
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 1
    first, second = _results(ran.out)
    assert _findings(first) == [("units-mismatch", 0), ("units-mismatch", 1),
                                ("go-modifier-required", 1)]
    assert second["status"] == "pass"
    assert second["lines"][0]["modifiers"] == ["GO", "59"]
    assert second["lines"][0]["diagnosis_pointers"] == [1, 2]


def test_csv_from_stdin_is_recognised(pack: str) -> None:
    data = CSV_HEAD + "V-2,2026-03-02,medicare,P-2,M62.81,97530,38,3,GO,1\n"
    ran = run("eval", "--pack", pack, "-", stdin=data.encode())
    assert (ran.code, [r["visit_id"] for r in _results(ran.out)]) == (0, ["V-2"])


def test_csv_bad_visits_are_records_the_rest_goes_on(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.csv", CSV_HEAD
                    + "V-1,2026-03-02,medicare,P-1,M62.81,97530,thirty,2,GO,1\n"
                    + "V-2,2026-03-02,medicare,P-2,M62.81,97530,38,3,GO,1\n"
                    + "V-3,2026-03-02,medicare,P-3,M62.81,97530,30,2,GO,1\n"
                    + "V-3,2026-03-03,medicare,P-3,M62.81,97110,30,2,GO,1\n"
                    + "V-2,2026-03-02,medicare,P-2,M62.81,97110,8,1,GO,1\n")
    ran = run("eval", "--pack", pack, visits)
    assert ran.code == 2
    assert [r["visit_id"] for r in _results(ran.out)] == ["V-2"]
    assert ran.err.splitlines()[:3] == [
        f'{visits}:2: invalid visit V-1: lines[0].minutes: must be a whole number of minutes '
        '0..1440, got "thirty"',
        f"{visits}:4: invalid visit V-3: date_of_service: differs between the rows of one "
        "visit",
        f"{visits}:6: invalid visit V-2: visit_id: the visit's rows must be consecutive; it "
        "appeared before",
    ]


def test_csv_header_problems_stop_the_command(tmp_path: Path) -> None:
    short = _write(tmp_path / "short.csv", "visit_id,date_of_service,code\nV-1,2026-03-02,97530\n")
    ran = run("eval", short)
    assert (ran.code, ran.out) == (2, "")
    assert ran.err == (f"error: {short}:1: the CSV header lacks the required column(s) payer, "
                       "patient_id\n")
    typo = _write(tmp_path / "typo.csv", CSV_HEAD.replace("minutes", "minuts"))
    assert run("eval", typo).err == (f"error: {typo}:1: unknown CSV column(s): minuts "
                                     "(docs/cli.md lists the columns)\n")
    quote = _write(tmp_path / "quote.csv", CSV_HEAD
                   + 'V-1,2026-03-02,medicare,P-1,M62.81,"975"30,38,3,GO,1\n')
    assert run("eval", quote).err == (f"error: {quote}:2: not valid CSV: ',' expected after "
                                      "'\"'\n")
    empty = _write(tmp_path / "empty.csv", "")
    assert run("eval", empty).err == (f"error: {empty}: the CSV file is empty; it needs a "
                                      "header row\n")


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    bad = _write(tmp_path / "v.csv", CSV_HEAD.encode()
                 + b"V-1,2026-03-02,medicare,P-\xe9,M62.81,97530,30,2,GO,1\n")
    ran = run("eval", bad)
    assert ran.code == 2
    # Row 2, byte 0xe9 right after "V-1,2026-03-02,medicare,P-" (26 bytes).
    assert ran.err == (f"error: {bad}:2: not UTF-8 text (byte 0xe9 at column 27); save the "
                       "file as UTF-8\n")


# ---------------------------------------------------------------------------- back ends, progress


def test_both_back_ends_give_the_same_output(tmp_path: Path, pack: str) -> None:
    visits = _write(tmp_path / "v.jsonl", "\n".join([V1, V2, V3]) + "\n")
    compiled = run("eval", "--pack", pack, visits)
    interpreted = run("eval", "--pack", pack, "--backend", "interpreter", visits)
    assert (compiled.code, compiled.out, compiled.err) == (
        interpreted.code, interpreted.out, interpreted.err)


def _run_with_terminal_stderr(*args: str) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal (stdout stays a pipe); its exit
    status and what the terminal showed."""
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "otrules.cli", *args],
                          stdout=subprocess.DEVNULL, stderr=terminal) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=300)
    os.close(controller)
    return code, shown.decode("utf-8", "replace")


def test_a_progress_bar_only_for_a_large_input_on_a_terminal(tmp_path: Path, pack: str) -> None:
    line = V2 + "\n"
    large = _write(tmp_path / "large.jsonl", line * (1_000_000 // len(line) + 1))
    small = _write(tmp_path / "small.jsonl", line)
    code, shown = _run_with_terminal_stderr("eval", "--pack", pack, large)
    assert code == 0
    assert "checking visits" in shown
    code, shown = _run_with_terminal_stderr("eval", "--pack", pack, small)
    assert (code, "checking visits" in shown) == (0, False)
    piped = run("eval", "--pack", pack, large)
    assert "checking visits" not in piped.err
