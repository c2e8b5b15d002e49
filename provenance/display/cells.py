"""Spreadsheet-safe CSV cells (OWASP's advice on CSV injection).

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula (``=HYPERLINK(...)``, ``@SUM(...)``, DDE commands); such a
cell gets a leading apostrophe, which spreadsheets show as text and which a reader of the raw file
sees. Numbers are written as they are (``-3`` stays a number). Control characters are shown as
escapes first (:func:`~provenance.display.text.visible`), so a cell is also one line when the
file is viewed in a terminal. A cell longer than spreadsheets hold (32,767 characters) is
shortened with a marker saying how much was left out, so it does not spill into other cells.
"""

from __future__ import annotations

from typing import Any

from provenance.display.text import shorten, visible

CELL_LIMIT = 32_767  # characters in one spreadsheet cell (Excel, LibreOffice)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """``value`` made safe as one CSV cell: ``None`` → ``""``, numbers unchanged, text escaped."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = shorten(visible(value), CELL_LIMIT - 40)  # room for the marker
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text
