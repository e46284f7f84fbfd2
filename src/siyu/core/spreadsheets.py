"""Excel workbooks (.xlsx) written with openpyxl, the same way for every export.

A header row in bold and frozen, column widths that fit their content (a CJK character counts twice), dates and
times as real Excel dates in the console's time zone, numbers as numbers, and text always as text: a value
starting with ``=`` is a formula to Excel, and a customer named "=HYPERLINK(…)" must stay a name.
Write-only mode streams rows to disk, so a six-figure customer export does not sit in memory.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MIN_WIDTH, MAX_WIDTH = 6, 60
_SHEET_NAME_FORBIDDEN = str.maketrans("", "", "[]:*?/\\")


def display_width(value) -> int:
    """Characters a column needs to show ``value``: wide (CJK) characters take two."""
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def measure(header: Sequence[str], rows: Iterable[Sequence]) -> list[int]:
    """Column widths fitting the header and ``rows`` (pass a sample when the rows are streamed)."""
    widths = [display_width(h) for h in header]
    for row in rows:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], display_width(value))
    return [min(max(w + 2, MIN_WIDTH), MAX_WIDTH) for w in widths]


def _cell(sheet, value, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, dt.datetime):
        # Excel has no time zones: write the console's local wall-clock time.
        value = timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = DATE_FORMAT
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        cell = WriteOnlyCell(sheet, None if value is None else ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        cell.data_type = "s"  # never a formula
    else:
        cell = WriteOnlyCell(sheet, value)
    if bold:
        cell.font = Font(bold=True)
    return cell


def write_xlsx(target: str | BinaryIO, header: Sequence[str], rows: Iterable[Sequence], *, sheet: str,
               widths: Sequence[int] | None = None) -> None:
    """Write one sheet to ``target`` (a path or a binary file). ``widths`` default to fitting a list of ``rows``."""
    book = Workbook(write_only=True)
    _add_sheet(book, sheet, header, rows, widths)
    book.save(target)


def write_sheets(target: str | BinaryIO, sheets: Sequence[tuple[str, tuple[Sequence[str], Sequence[Sequence]]]]) -> None:
    """Write several small sheets, ``[(title, (header, rows)), …]``, each fitted to its content."""
    book = Workbook(write_only=True)
    for title, (header, rows) in sheets:
        _add_sheet(book, title, header, rows, None)
    book.save(target)


def _add_sheet(book: Workbook, sheet: str, header: Sequence[str], rows: Iterable[Sequence],
               widths: Sequence[int] | None) -> None:
    if widths is None:
        rows = list(rows)
        widths = measure(header, rows)
    taken = {ws.title for ws in book.worksheets}
    title = sheet.translate(_SHEET_NAME_FORBIDDEN)[:28] or "Sheet"
    title = next(t for t in [title, *(f"{title}{n}" for n in range(2, 1000))] if t not in taken)
    ws = book.create_sheet(title)
    ws.freeze_panes = "A2"
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append([_cell(ws, h, bold=True) for h in header])
    for row in rows:
        ws.append([_cell(ws, v) for v in row])
