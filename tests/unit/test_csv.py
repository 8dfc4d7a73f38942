"""The CSV helpers every export shares: no formulas, a BOM, chunks of a bounded size."""

from __future__ import annotations

import csv
import io

import pytest

from app.services.csvfile import FLUSH_ROWS, csv_chunks, neutralise, restore


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"])
def test_a_formula_is_shown_as_text_and_reads_back_unchanged(cell: str) -> None:
    shown = neutralise(cell)
    assert shown == "'" + cell
    assert restore(shown) == cell


@pytest.mark.parametrize("cell", ["Blue mug", "'quoted", "12", ""])
def test_plain_text_passes_through(cell: str) -> None:
    assert neutralise(cell) == cell
    assert restore(cell) == cell


def test_none_is_an_empty_cell() -> None:
    assert neutralise(None) == ""


def test_chunks_hold_at_most_flush_rows_and_the_whole_is_one_valid_file() -> None:
    rows = [(n, f"name {n}", "a,b") for n in range(FLUSH_ROWS * 2 + 7)]
    chunks = list(csv_chunks(("id", "name", "note"), rows))

    assert len(chunks) == 3
    assert chunks[0].startswith("\ufeffid,name,note\r\n")
    parsed = list(csv.reader(io.StringIO("".join(chunks).lstrip("\ufeff"))))
    assert parsed[0] == ["id", "name", "note"]
    assert parsed[1:] == [[str(a), b, c] for a, b, c in rows]
