"""CSV for spreadsheet programs (plugin/core/spreadsheet.py): what a manager opening an export in Excel sees."""
from __future__ import annotations

import csv
import io

from plugin.core import spreadsheet
from plugin.core.spreadsheet import BOM, csv_chunks, csv_text


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix(BOM))))


def test_cells_that_look_like_formulas_are_quoted_and_numbers_stay_numbers():
    out = csv_text(["h"], [["=SUM(A1)", "+1", "-x", "@cmd", "\tx", "\nx", "plain", -3, 2.5]])
    assert _rows(out)[1] == ["'=SUM(A1)", "'+1", "'-x", "'@cmd", "'\tx", "'\nx", "plain", "-3", "2.5"]


def test_nothing_yes_no_and_structures_read_as_a_person_expects():
    assert _rows(csv_text(["a", "b", "c", "d"], [[None, True, False, {"tool": "Şirket GPT"}]]))[1] == [
        "", "yes", "no", '{"tool": "Şirket GPT"}']


def test_a_download_starts_with_a_byte_order_mark_so_excel_reads_turkish_letters():
    out = csv_text(["ad"], [["İpek Şahin Güneş"]])
    assert out.startswith(BOM + "ad\r\n") and out.encode("utf-8").startswith(b"\xef\xbb\xbfad")
    assert _rows(out)[1] == ["İpek Şahin Güneş"]
    assert csv_text(["ad"], [], bom=False) == "ad\r\n"


def test_a_large_file_comes_in_chunks_that_add_up_to_every_row(monkeypatch):
    monkeypatch.setattr(spreadsheet, "CHUNK", 1000)
    chunks = list(csv_chunks(["n", "name"], ([n, f"person {n}"] for n in range(500))))
    assert len(chunks) > 5 and all(len(c) < 1100 for c in chunks)
    rows = _rows("".join(chunks))
    assert rows[0] == ["n", "name"] and len(rows) == 501 and rows[-1] == ["499", "person 499"]
