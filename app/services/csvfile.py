"""CSV files as a spreadsheet opens them: cells escaped so no formula runs, the file written
in chunks with a byte-order mark, and files read back with named columns.

Writing and reading live here, in the service layer, so that exports and imports share one
rule for cells; app/web/csv.py only streams the chunks as a response.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows per chunk handed to the server: small enough to start at once, large enough to be cheap.
FLUSH_ROWS = 200


def neutralise(value: str | None) -> str:
    """Free text as a spreadsheet shows it, never as a formula. Numbers we write ourselves
    (signed deltas) stay numbers: only text can carry someone else's formula."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def restore(value: str) -> str:
    """Undo `neutralise` on a cell read back from one of our own exports."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def read_cell(value: str) -> str:
    """A cell as the export wrote it, back to its text. Only spaces, tabs and line breaks
    are trimmed: str.strip() would also take a vertical tab or U+0085, and the reader would
    never know the cell held one."""
    return restore(value.strip(" \t\r\n"))


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The file in chunks of FLUSH_ROWS rows, header first, so memory stays constant."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The byte-order mark makes Excel read the file as UTF-8 instead of the local code page.
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow(row)
        if count % FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --------------------------------------------------------------------------- reading


class CsvProblem(Exception):
    """The file as a whole cannot be read; the message says why, for the person who sent it."""


class NotUtf8(CsvProblem):
    def __init__(self, byte: int) -> None:
        super().__init__(
            f"The file is not UTF-8 text (byte {byte}). Save it as “CSV UTF-8” and upload "
            "it again."
        )


class EmptyFile(CsvProblem):
    def __init__(self) -> None:
        super().__init__("The file is empty.")


class BadLine(CsvProblem):
    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(f"Line {line} is not valid CSV: {error}.")


class MissingColumns(CsvProblem):
    def __init__(self, missing: Sequence[str], example: Sequence[str]) -> None:
        plural = "s" if len(missing) > 1 else ""
        super().__init__(
            f"Missing required column{plural}: {', '.join(missing)}. The first line must "
            f"name the columns, e.g. {','.join(example)}."
        )


class TooManyRows(CsvProblem):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The file has more than {limit:,} rows.")
        self.limit = limit


def read_rows(
    data: bytes,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    max_rows: int | None = None,
    example: Sequence[str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cells by column name) for every non-blank data row of a CSV file,
    comma- or semicolon-separated, with or without a byte-order mark. Column names are
    matched without regard to case; other columns are ignored; each cell is read back with
    `read_cell`. `example` is the header a missing column's message suggests (by default
every column). Raises a CsvProblem (NotUtf8, EmptyFile, BadLine, MissingColumns,
    TooManyRows) when the file cannot be read, possibly after some rows were yielded."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(exc.start + 1) from exc
    first_line = content.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise EmptyFile() from None
    except csv.Error as exc:
        raise BadLine(1, exc) from exc
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise MissingColumns(missing, example or (*required, *optional))
    index: dict[str, int] = {}
    for n, name in enumerate(names):
        index.setdefault(name, n)
    wanted = {name: index[name] for name in (*required, *optional) if name in index}
    count = 0
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadLine(start, exc) from exc
        line = reader.line_num
        if not "".join(cells).strip():
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            raise TooManyRows(max_rows)
        yield start, {
            name: read_cell(cells[n]) if n < len(cells) else "" for name, n in wanted.items()
        }
