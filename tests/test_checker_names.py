"""Names, fields, tables, functions, codes and modifiers: E020–E029."""

from __future__ import annotations

from checker_support import RULES_LINE, brief, check, one, rule

R = RULES_LINE  # the line of `rule r : error`; its clauses follow on R + 1, R + 2, …


def line_rule(when: str, say: str = "x", extra: str = "") -> str:
    return rule(f'for each line\nwhen {when}\nsay "{say}"\nsource "s"\n{extra}')


# ---------------------------------------------------------------------------- E020 names


def test_unknown_name_suggests_the_closest_visible_name() -> None:
    d = one(check(rule('when date_of_servise > 2026-01-01\nsay "x"\nsource "s"')), "E020")
    assert (d.message, d.span.line, d.span.column) == (
        "unknown name 'date_of_servise'", R + 1, 8)
    assert d.span.end_column == 8 + len("date_of_servise")
    assert d.help == "did you mean 'date_of_service'?"


def test_a_table_name_is_not_a_value() -> None:
    d = one(check(rule('when codes = 97110\nsay "x"\nsource "s"')), "E020")
    assert (d.message, d.span.line, d.span.column) == ("'codes' is a table, not a value",
                                                       R + 1, 8)
    assert d.help == "write codes[KEY].COLUMN, or `… in codes`"


def test_derived_visit_fields_need_visit_prefix() -> None:
    d = one(check(rule('when timed_minutes > 8 minutes\nsay "x"\nsource "s"')), "E020")
    assert d.message == "unknown name 'timed_minutes'"
    assert d.help == "did you mean 'visit.timed_minutes'?"


def test_line_outside_for_each_is_unknown() -> None:
    d = one(check(rule('when line.minutes > 8 minutes\nsay "x"\nsource "s"')), "E020")
    assert (d.message, d.span.line, d.span.column) == ("unknown name 'line'", R + 1, 8)
    assert d.help == ("'line' is the element of `for each line` or of an aggregate such as "
                      "`any line where …`")


def test_line_in_a_pair_rule_points_to_the_pair_names() -> None:
    d = one(check(rule('for each pair a, b\nwhen line has GO\nsay "x"\nsource "s"')), "E020")
    assert (d.message, d.span.line, d.span.column) == ("unknown name 'line'", R + 2, 8)
    assert d.help == "in a `for each pair` rule the lines have the names given after `pair`"


def test_an_unknown_name_does_not_cascade_into_type_errors() -> None:
    # `totl` is unknown: the comparison with minutes and the `and` must not add errors.
    diags = check(line_rule("totl > 8 minutes and totl + 1 = 2 and not totl"))
    assert [d.code for d in diags] == ["E020", "E020", "E020"]


# ---------------------------------------------------------------------------- E021 fields


def test_unknown_line_field() -> None:
    d = one(check(line_rule("line.minuts > 8 minutes")), "E021")
    assert (d.message, d.span.line, d.span.column, d.span.end_column) == (
        "line has no field 'minuts'", R + 2, 8, 19)
    assert d.help == "did you mean 'minutes'?"


def test_unknown_patient_field() -> None:
    d = one(check(rule('when patient.ytd_ot_alowed > $0\nsay "x"\nsource "s"')), "E021")
    assert (d.message, d.span.line, d.span.column) == (
        "patient has no field 'ytd_ot_alowed'", R + 1, 8)
    assert d.help == "did you mean 'ytd_ot_allowed'?"


def test_unknown_field_lists_the_fields_when_few_and_none_is_close() -> None:
    d = one(check(rule('when authorization.zzz = 1\nsay "x"\nsource "s"')), "E021")
    assert d.message == "authorization has no field 'zzz'"
    assert d.help == ("valid fields: number, valid_from, valid_to, visits_authorized, "
                      "visits_used")


def test_patient_id_is_not_available_to_rules() -> None:
    d = one(check(rule('when patient.id = "p1"\nsay "x"\nsource "s"')), "E021")
    assert d.message == "patient has no field 'id'"
    assert d.help == "patient.id identifies the patient and is not available to rules"


def test_unknown_table_column() -> None:
    d = one(check(line_rule("codes[line.code].timd")), "E021")
    assert (d.message, d.span.line, d.span.column) == (
        "table 'codes' has no column 'timd'", R + 2, 8)
    assert d.help == "did you mean 'timed'?"


def test_a_value_has_no_fields() -> None:
    d = one(check(line_rule("line.code.digits = 5")), "E021")
    assert (d.message, d.span.column) == ("a code has no fields", 8)


def test_visit_prefix_reaches_fields_and_derived_fields() -> None:
    assert check(rule(
        'when visit.payer = "acme" and visit.timed_minutes > 8 minutes '
        'and visit.patient.age > 64\nsay "x"\nsource "s"')) == []


# ---------------------------------------------------------------------------- E022 tables


def test_unknown_table_in_membership_lookup_pair_and_timed_by() -> None:
    diags = check(
        "units cms timed by codez.timed\n\n"
        + rule('for each pair a, b in ptq\nwhen a.code in codez and codes[b.code] is present'
               '\nsay "x"\nsource "s"'))
    found = [(d.message, d.span.line, d.span.column, d.help) for d in diags
             if d.code == "E022"]
    assert found == [
        ("unknown table 'codez'", R, 1, "did you mean 'codes'?"),
        ("unknown table 'ptq'", R + 3, 3, "did you mean 'ptp'?"),
        ("unknown table 'codez'", R + 4, 8, "did you mean 'codes'?"),
    ]
    assert [d.code for d in diags] == ["E022", "E022", "E022"]  # no cascade into the pair names


# ---------------------------------------------------------------------------- E023–E024, E028


def test_unknown_function() -> None:
    d = one(check(rule('when yeer(date_of_service) = 2026\nsay "x"\nsource "s"')), "E023")
    assert (d.message, d.span.line, d.span.column, d.help) == (
        "unknown function 'yeer'", R + 1, 8, "did you mean 'year'?")


def test_calling_a_table_suggests_a_lookup() -> None:
    d = one(check(line_rule("codes(line.code) is present")), "E023")
    assert d.help == "'codes' is a table: write codes[KEY]"


def test_wrong_number_of_arguments() -> None:
    d = one(check(rule('when year(date_of_service, 2) = 2026\nsay "x"\nsource "s"')), "E024")
    assert (d.message, d.span.column) == ("year() takes 1 argument, not 2", 8)
    d = one(check(line_rule("max(line.minutes) > 8 minutes")), "E024")
    assert d.message == "max() takes 2 arguments, not 1"


def test_argument_of_the_wrong_type() -> None:
    d = one(check(rule('when year(30) = 2026\nsay "x"\nsource "s"')), "E028")
    assert (d.message, d.span.line, d.span.column) == (
        "year() needs a date, not a number", R + 1, 13)


def test_min_and_max_need_one_type_and_suggest_a_unit() -> None:
    d = one(check(line_rule("max(line.minutes, 8) > 8 minutes")), "E028")
    assert (d.message, d.span.column) == ("max() needs values of one type, not minutes and "
                                          "a number", 8)
    assert d.help == "write 8 minutes"


def test_abs_takes_quantities_only() -> None:
    d = one(check(rule('when abs(claim_type) = "x"\nsay "x"\nsource "s"')), "E028")
    assert d.message == "abs() needs a number, minutes, money or days, not text"


# ---------------------------------------------------------------------------- E025 codes


def test_unknown_code_literal_suggests_a_known_code() -> None:
    d = one(check(line_rule("line.code = 97111")), "E025")
    assert (d.message, d.span.line, d.span.column, d.span.end_column) == (
        "unknown code '97111'", R + 2, 20, 25)
    assert d.help == "did you mean '97110'?"


def test_codes_of_any_code_column_count_and_others_do_not() -> None:
    # 97530 is known only from the pair table's second key: still known.
    assert check(line_rule("line.code in (97530, 97165)")) == []
    d = one(check(line_rule("line.code in (97530, 12345)")), "E025")
    assert d.help == "list the code in a table with a code column"


def test_unknown_code_in_a_parameter() -> None:
    diags = check('parameter eval : code = 97163\n\n' + line_rule("line.code = eval"))
    assert brief(diags) == [("E025", "unknown code '97163'", R, 25)]


# ---------------------------------------------------------------------------- E026 modifiers


def test_unknown_modifier_suggests_the_look_alike() -> None:
    d = one(check(line_rule("line lacks G0")), "E026")
    assert (d.message, d.span.line, d.span.column, d.span.end_column) == (
        "unknown modifier 'G0'", R + 2, 19, 21)
    assert d.help == "did you mean 'GO'?"


def test_unknown_modifiers_in_lists_and_fixes_each_point_at_the_modifier() -> None:
    diags = check(line_rule("line has any of (59, XS) or line lacks all of (KX, GN)",
                            extra="fix add modifier XU"))
    assert brief([d for d in diags if d.code == "E026"]) == [
        ("E026", "unknown modifier 'XS'", R + 2, 29),
        ("E026", "unknown modifier 'GN'", R + 2, 59),
        ("E026", "unknown modifier 'XU'", R + 5, 20),
    ]
    assert {d.help for d in diags} == {"list the modifier in a table with a modifier column"}


# ---------------------------------------------------------------------------- E027 types


def test_unknown_parameter_type() -> None:
    diags = check("parameter limit : mony = $5.00\n\n"
                  + rule('when patient.ytd_ot_allowed > limit\nsay "x"\nsource "s"'))
    d = one(diags, "E027")
    assert (d.message, d.span.line, d.span.column, d.help) == (
        "unknown type 'mony'", R, 19, "did you mean 'money'?")


# ---------------------------------------------------------------------------- E029 keys


def test_lookup_with_the_wrong_number_of_keys() -> None:
    d = one(check(line_rule("ptp[line.code].modifier = 1")), "E029")
    assert (d.message, d.span.column) == (
        "table 'ptp' has 2 key columns (first, second), but 1 key is given", 8)


def test_lookup_key_of_the_wrong_type() -> None:
    d = one(check(line_rule("codes[line.minutes].timed")), "E029")
    assert (d.message, d.span.column) == (
        "key column 'code' of table 'codes' holds a code, not minutes", 14)


def test_membership_needs_a_one_key_table_of_the_right_type() -> None:
    d = one(check(line_rule("line.code in ptp")), "E029")
    assert d.message == "`in ptp` needs a table with one key column; 'ptp' has 2 (first, second)"
    assert d.help == "write ptp[first, second] is present"
    d = one(check(line_rule("line.minutes in codes")), "E029")
    assert d.message == "table 'codes' is keyed by a code, not minutes"
