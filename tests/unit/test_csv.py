"""The CSV helpers every export shares: no formulas, a BOM, chunks of a bounded size."""

from __future__ import annotations

import csv
import io

import pytest

from app.services.csvfile import (
    FLUSH_ROWS,
    BadLine,
    EmptyFile,
    MissingColumns,
    NotUtf8,
    TooManyRows,
    csv_chunks,
    neutralise,
    read_rows,
    restore,
)


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


def test_an_export_reads_back_by_column_name() -> None:
    written = "".join(csv_chunks(("Store", "SKU", "note", "qty"),
                                 [("main", neutralise("=HYPERLINK()"), "x", 3), ("", "", "", "")]))
    rows = list(read_rows(written.encode(), required=("sku", "store"), optional=("qty", "gone")))
    assert rows == [(2, {"sku": "=HYPERLINK()", "store": "main", "qty": "3"})]


def test_semicolons_and_short_rows_are_read() -> None:
    rows = list(read_rows(b"a;b\r\n1\r\n", required=("a",), optional=("b",)))
    assert rows == [(2, {"a": "1", "b": ""})]


@pytest.mark.parametrize(("data", "problem", "message"), [
    (b"", EmptyFile, "The file is empty."),
    (b"a,b\r\n\xff\r\n", NotUtf8, "The file is not UTF-8 text (byte 6)."),
    (b"b,c\r\n", MissingColumns, "Missing required column: a. The first line must name the "
     "columns, e.g. a,z."),
    (b"a\r\n" + b"x" * 200_000, BadLine, "Line 2 is not valid CSV: field larger than"),
    (b"a\r\n1\r\n2\r\n", TooManyRows, "The file has more than 1 rows."),
])
def test_a_file_that_cannot_be_read_says_why(data: bytes, problem: type, message: str) -> None:
    with pytest.raises(problem) as raised:
        list(read_rows(data, required=("a",), optional=("z",), max_rows=1))
    assert str(raised.value).startswith(message)

