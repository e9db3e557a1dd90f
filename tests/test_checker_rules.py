"""Rules and their clauses, dates and messages: E036–E048."""

from __future__ import annotations

from pathlib import Path

from checker_support import PRELUDE, RULES_LINE, brief, check, one, rule, write_pack
from otrules.lang.loader import check_pack

R = RULES_LINE
OK = 'say "x"\nsource "s"'


# ---------------------------------------------------------------------------- E036–E039 dates


def test_reversed_ranges_in_header_period_and_rule() -> None:
    prelude = PRELUDE.replace("effective 2026-01-01 to 2026-12-31",
                              "effective 2026-12-31 to 2026-01-01")
    diags = check("parameter p : number\n  from 2026-06-30 to 2026-01-01 = 1\n\n"
                  + rule(f"effective 2026-03-01 to 2026-02-01\nwhen p > 0\n{OK}"), prelude)
    assert brief([d for d in diags if d.code == "E036"]) == [
        ("E036", "the range 2026-12-31 to 2026-01-01 ends before it starts", 2, 3),
        ("E036", "the period 2026-06-30 to 2026-01-01 ends before it starts", R + 1, 3),
        ("E036", "the range 2026-03-01 to 2026-02-01 ends before it starts", R + 4, 3),
    ]


def test_periods_that_overlap_or_leave_a_gap() -> None:
    diags = check("parameter p : number\n"
                  "  from 2026-01-01 to 2026-04-30 = 1\n"
                  "  from 2026-04-01 to 2026-08-31 = 2\n"
                  "  from 2026-09-10 to 2026-12-31 = 3\n\n"
                  + rule(f"when p > 0\n{OK}"))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E037", "periods of 'p' overlap from 2026-04-01 to 2026-04-30", R + 2, 3,
         "start this period on 2026-05-01"),
        ("E037", "periods of 'p' leave a gap: no value from 2026-09-01 to 2026-09-09", R + 3, 3,
         "start this period on 2026-09-01"),
    ]


def test_periods_out_of_order_in_the_file_are_fine() -> None:
    assert check("parameter p : number\n"
                 "  from 2026-07-01 to 2026-12-31 = 2\n"
                 "  from 2026-01-01 to 2026-06-30 = 1\n\n" + rule(f"when p > 0\n{OK}")) == []


def test_date_effective_parameter_must_cover_the_pack_range() -> None:
    diags = check("parameter p : number\n"
                  "  from 2026-02-01 to 2026-11-30 = 1\n\n" + rule(f"when p > 0\n{OK}"))
    d = one(diags, "E038")
    assert (d.message, d.span.line, d.span.column, d.span.end_column) == (
        "parameter 'p' has no value from 2026-01-01 to 2026-01-31 and 2026-12-01 to "
        "2026-12-31, inside the pack's range 2026-01-01 to 2026-12-31", R, 11, 12)
    assert d.help == "add periods for those days"


def test_rule_effective_range_inside_the_packs() -> None:
    d = one(check(rule(f"effective 2025-07-01 to 2026-06-30\nwhen claim_type = \"x\"\n{OK}")),
            "E039")
    assert (d.message, d.span.line, d.span.column) == (
        "rule 'r' is effective 2025-07-01 to 2026-06-30, outside the pack's range 2026-01-01 "
        "to 2026-12-31", R + 1, 3)


def test_missing_pack_effective_range() -> None:
    diags = check(rule(f'when claim_type = "x"\n{OK}'), "pack t\n\n")
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E019", "pack 't' has no effective range", 1, 6,
         "add `effective 2026-01-01 to 2026-12-31` to the pack header")]


# ---------------------------------------------------------------------------- E040–E041 say


def test_placeholders_that_name_nothing_or_no_single_value() -> None:
    diags = check(rule('for each line\nwhen line has GO\n'
                       'say "{line} {patient} {totl} {line.minuts} {line.code.x} {codes}"\n'
                       'source "s"'))
    assert [(d.code, d.message, d.span.column, d.help) for d in diags] == [
        ("E040", "{line} is a line, not a single value", 8,
         "name one of its fields, such as {line.code}"),
        ("E040", "{patient} is the patient, not a single value", 15,
         "name one of its fields, such as {patient.ytd_ot_allowed}"),
        ("E040", "{totl} names nothing: unknown name 'totl'", 25, None),
        ("E040", "{line.minuts} names nothing: line has no field 'minuts'", 32,
         "did you mean 'minutes'?"),
        ("E040", "{line.code.x} names nothing: a code has no field 'x'", 46, None),
        ("E040", "{codes} names nothing: unknown name 'codes'", 60, None),
    ]
    assert {d.span.line for d in diags} == {R + 3}


def test_placeholders_of_a_pair_rule_and_its_table_row() -> None:
    assert check(rule('for each pair a, b in ptp\nwhen ptp.modifier = 1\n'
                      'say "{b.code} after {a.code}: indicator {ptp.modifier}"\nsource "s"')) == []
    d = one(check(rule('for each pair a, b in ptp\nwhen ptp.modifier = 1\n'
                       'say "{ptp.modifer}"\nsource "s"')), "E040")
    assert (d.message, d.help) == ("{ptp.modifer} names nothing: table 'ptp' has no column "
                                   "'modifer'", "did you mean 'modifier'?")


def test_placeholders_must_not_show_the_patients_identity() -> None:
    diags = check(rule('let born = patient.birth_date\nlet days_old = date_of_service - born\n'
                       'when days_old > 0 days\n'
                       'say "{patient.birth_date} {visit.patient.id} {days_old} {patient.age}"'
                       '\nsource "s"'))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E041", "the message shows patient.birth_date, which identifies the patient", R + 4,
         8),
        ("E041", "the message shows patient.id, which identifies the patient", R + 4, 29),
        ("E041", "the message shows 'days_old', which is computed from patient data that "
         "identifies the patient", R + 4, 48),
    ]
    assert diags[0].help == "show codes, dates of service and amounts, never who the patient is"


# ---------------------------------------------------------------------------- E042–E043 clauses


def test_a_clause_given_twice() -> None:
    diags = check(rule(f'when claim_type = "a"\nwhen claim_type = "b"\n{OK}\nsay "y"'))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E042", "`when` is given twice in rule 'r'", R + 2, 3,
         "join the conditions with `and`"),
        ("E042", "`say` is given twice in rule 'r'", R + 5, 3, "keep one"),
    ]
    # The span is the whole repeated clause, from its keyword to its end.
    assert [(d.span.end_line, d.span.end_column) for d in diags] == [(R + 2, 24), (R + 5, 10)]


def test_every_clause_of_a_rule_given_twice_is_reported_at_its_repeat() -> None:
    diags = check(rule('about "a"\nsource "s"\nabout "b"\n'
                       'effective 2026-01-01 to 2026-12-31\neffective 2026-01-01 to 2026-06-30\n'
                       'for each line\nfor each line as other\nwhen line lacks GO\nsay "x"\n'
                       'fix add modifier GO\nfix add modifier KX\nsource "t"\nabout "c"'))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E042", "`about` is given twice in rule 'r'", R + 3, 3, "keep one"),
        ("E042", "`effective` is given twice in rule 'r'", R + 5, 3, "keep one"),
        ("E042", "`for each` is given twice in rule 'r'", R + 7, 3, "a rule iterates once"),
        ("E042", "`fix` is given twice in rule 'r'", R + 11, 3, "keep one"),
        ("E042", "`source` is given twice in rule 'r'", R + 12, 3, "keep one"),
        ("E042", "`about` is given twice in rule 'r'", R + 13, 3, "keep one"),
    ]


HEADER_TWICE = """\
pack t
  version 2026.1
  payer medicare
  effective 2026-01-01 to 2026-12-31
  about "first"
  version "2026.2"
  payer medicaid
  effective 2025-01-01 to 2025-12-31
  about "second"

"""


def test_header_clauses_given_twice() -> None:
    tables = PRELUDE.split("\n\n", 1)[1]
    diags = check(rule(f"when claim_type = \"a\"\n{OK}"), HEADER_TWICE + tables)
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E042", "`version` is given twice in the header of pack 't'", 6, 3, "keep one"),
        ("E042", "`payer` is given twice in the header of pack 't'", 7, 3,
         "list every payer in one clause: `payer medicare, medicaid`"),
        ("E042", "`effective` is given twice in the header of pack 't'", 8, 3, "keep one"),
        ("E042", "`about` is given twice in the header of pack 't'", 9, 3, "keep one"),
    ]


def test_the_first_of_a_repeated_header_clause_is_the_one_in_force() -> None:
    from otrules.lang.parser import parse_source

    header = parse_source(HEADER_TWICE)[0].decls[0]
    assert (header.version, header.payers, header.about) == ("2026.1", ("medicare",), "first")
    assert [(r.keyword, r.value) for r in header.repeated][:2] == [
        ("version", "2026.2"), ("payer", ("medicaid",))]


def test_extends_given_twice(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, {"pack.otr": (
        "pack t\n  effective 2026-01-01 to 2026-12-31\n  extends medicare-ot\n"
        "  extends medicare-ot\n")})
    diags = check_pack(folder)
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E042", "`extends` is given twice in the header of pack 't'", 4, 3)]


def test_table_clauses_given_twice() -> None:
    diags = check("table dated\n"
                  "  key code : code\n"
                  "  column starts : date\n"
                  "  column ends : optional date\n"
                  "  source \"a\"\n"
                  "  valid from starts until ends\n"
                  "  row 97110, 2026-01-01, none\n"
                  "  valid from starts until ends\n"
                  "  source \"b\"\n\n"
                  + rule(f"when claim_type = \"a\" and 97110 in dated\n{OK}"))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E042", "`valid` is given twice in table 'dated'", R + 7, 3, "keep one"),
        ("E042", "`source` is given twice in table 'dated'", R + 8, 3, "keep one"),
    ]


def test_two_keys_are_a_composite_key_not_a_repeat() -> None:
    # `ptp` of the prelude has two `key` clauses; two `column`s of one name are E051.
    assert check(rule(f"when claim_type = \"a\"\n{OK}")) == []
    diags = check("table extra\n  key code : code\n  column note : text\n"
                  "  column note : text\n  row 97110, \"a\", \"b\"\n\n"
                  + rule(f"when 97110 in extra\n{OK}"))
    assert brief(diags) == [
        ("E051", "column 'note' is declared twice (first at line 28)", R + 3, 3)]


def test_parameter_clauses_given_twice_in_any_order() -> None:
    diags = check("parameter p : number = 1\n"
                  "  source \"s\"\n"
                  "  about \"a\"\n"
                  "  source \"t\"\n"
                  "  about \"b\"\n\n"
                  + rule(f"when p > 0\n{OK}"))
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E042", "`source` is given twice in parameter 'p'", R + 3, 3, "keep one"),
        ("E042", "`about` is given twice in parameter 'p'", R + 4, 3, "keep one"),
    ]


def test_missing_when_say_and_source() -> None:
    diags = check("rule bare : warning\n  about \"nothing else\"\n")
    assert [(d.code, d.message, d.span.line, d.span.column, d.help) for d in diags] == [
        ("E043", "rule 'bare' has no `say` clause", R, 6,
         'add `say "…"`: the message the biller reads'),
        ("E043", "rule 'bare' has no `source` clause", R, 6,
         'add `source "…"` naming the policy the rule enforces'),
        ("E043", "rule 'bare' has no `when` clause", R, 6,
         "add `when CONDITION`: the rule fires when it is yes"),
    ]


# ---------------------------------------------------------------------------- E044–E046


def test_fix_needs_a_line() -> None:
    diags = check(rule(f'when claim_type = "x"\n{OK}\nfix add modifier GO')
                  + rule(f'for each diagnosis\nwhen diagnosis = "x"\n{OK}\nfix set units to 1',
                         "d"))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E044", "`fix` needs a line: rule 'r' has no `for each line` or `for each pair`",
         R + 4, 3),
        ("E044", "`fix` needs a line: rule 'd' has no `for each line` or `for each pair`",
         R + 10, 3),
    ]
    assert diags[0].help == "add `for each line where …`, or remove the fix"


def test_fix_in_a_pair_rule_is_fine() -> None:
    assert check(rule(f"for each pair a, b in ptp\nwhen b lacks 59\n{OK}\nfix add modifier 59"
                      )) == []


def test_fix_set_units_needs_a_number() -> None:
    d = one(check(rule(f'for each line\nwhen line has GO\n{OK}\nfix set units to line.minutes')),
            "E045")
    assert (d.message, d.span.line, d.span.column, d.help) == (
        "`fix set units to` needs a number, not minutes", R + 5, 20,
        "units are a plain number, such as line.computed_units")


def test_pair_table_must_be_keyed_by_two_codes() -> None:
    d = one(check(rule(f"for each pair a, b in codes\nwhen a has GO\n{OK}")), "E046")
    assert (d.message, d.span.line, d.span.column) == (
        "`for each pair … in codes` needs a table keyed by two codes; 'codes' is keyed by "
        "code (code)", R + 1, 3)


def test_timed_by_needs_a_code_key_and_a_flag_column() -> None:
    text = ("table kinds\n  key kind : text\n  column timed : flag\n  row \"x\", yes\n\n"
            "units cms timed by kinds.timed\nunits ama timed by ptp.modifier\n")
    diags = check(text)
    assert [(d.code, d.message, d.span.line) for d in diags] == [
        ("E046", "`timed by kinds.timed` needs a table with one code key column; 'kinds' is "
         "keyed by kind (text)", R + 5),
        ("E015", "`units` is declared twice", R + 6),
    ]
    diags = check("units ama timed by ptp.modifier\n")
    assert [(d.code, d.message) for d in diags] == [  # one place: sorted by message
        ("E046", "`timed by ptp.modifier` needs a flag column; 'modifier' holds a number"),
        ("E046", "`timed by ptp.modifier` needs a table with one code key column; 'ptp' is "
         "keyed by first (code), second (code)"),
    ]
    d = one(check("units ama timed by codes.timd\n"), "E021")
    assert (d.message, d.help) == ("table 'codes' has no column 'timd'", "did you mean 'timed'?")


# ---------------------------------------------------------------------------- E047–E048 lets


def test_lets_may_not_reuse_names() -> None:
    diags = check("parameter limit : number = 3\n\n" + rule(
        "let limit = 1\nlet codes = 2\nlet telehealth = 3\nlet n = 4\nfor each line as n\n"
        f"let n = 5\nwhen limit + codes + n > 0 and telehealth > 0\n{OK}"))
    errors = [d for d in diags if d.severity == "error"]
    assert [(d.code, d.message, d.span.line, d.span.column) for d in errors] == [
        ("E047", "let 'limit' reuses the name of parameter 'limit'", R + 3, 7),
        ("E047", "let 'codes' reuses the name of table 'codes'", R + 4, 7),
        ("E047", "let 'telehealth' reuses the name of the visit field 'telehealth'", R + 5, 7),
        ("E047", "element name 'n' reuses the name of another let of the rule", R + 7, 3),
        ("E047", "let 'n' reuses the name of another let of the rule", R + 8, 7),
    ]
    assert errors[0].help == "choose another name"
    # The let hides the parameter, which is then unused.
    assert [(d.code, d.message) for d in diags if d.severity == "warning"] == [
        ("W003", "parameter 'limit' is never used")]


def test_pair_names_must_differ() -> None:
    d = one(check(rule(f"for each pair a, a\nwhen a has GO\n{OK}")), "E047")
    assert d.message == "element name 'a' reuses the name of an element of `for each`"


def test_per_element_let_before_for_each_and_in_where_and_forward_lets() -> None:
    diags = check(rule("let a = b + 1\nlet b = 2\nlet early = t\nfor each line where t > 0 minutes"
                       f"\nlet t = line.minutes\nwhen a > 0 and early > t\n{OK}"))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E048", "'b' is used before its `let`", R + 1, 11),
        ("E048", "'t' is computed once per element, after `for each`, and cannot be used here",
         R + 3, 15),
        ("E048", "'t' is computed after the `where` of `for each` and cannot be used in it",
         R + 4, 23),
    ]


def test_lets_before_and_after_are_visible_where_they_should_be() -> None:
    assert check(rule("let base = 8 minutes\nfor each line as item where item.minutes > base\n"
                      "let extra = item.minutes - base\nwhen extra > 0 minutes\n"
                      'say "{item.code}: {extra} over {base}"\nsource "s"')) == []
