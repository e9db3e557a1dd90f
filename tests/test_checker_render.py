"""The rendered text of a pack with many errors, asserted to the character."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker_support import write_pack
from otrules.lang.loader import check_pack, render_diagnostics

SNAPSHOT = Path(__file__).parent / "snapshots" / "checker_render.txt"

PACK = """\
pack billing "A pack with mistakes"
  effective 2026-01-01 to 2026-12-31

parameter kx_threshold : money = 2480.00

table codes from "codes.csv"
  key code : code
  column timed : flag

table mods
  key modifier : modifier
  row GO
  row KX

rule kx : error
  let total = patient.ytd_ot_allowed + sum of line.charge over lines
  for each line where line.code in codes
  when total > kx_threshold and line lacks KX
  say "over {kx_threshold}"
  source "CMS"
"""

RULES = """\
rule go : error
  for each line where line.minuts >= 8
  when line lacks G0 and line.code = 97111
  say "{line.code} needs GO for {patient.birth_date}"
  fix add modifier GO

rule never : warning
  for each line
  when line.minutes > 30 minutes and line.minutes < 10 minutes
  say "impossible"
  source "none"
"""


def test_rendered_diagnostics_of_a_multi_error_pack(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    write_pack(tmp_path / "billing", {
        "pack.otr": PACK,
        "rules.otr": RULES,
        "codes.csv": "code,timed\n97110,yes\n97140,maybe\n",
    })
    monkeypatch.chdir(tmp_path)
    rendered = render_diagnostics(check_pack("./billing"))
    assert rendered + "\n" == SNAPSHOT.read_text(encoding="utf-8")
