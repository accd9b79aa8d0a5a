"""Layout of the workbooks radius writes: frozen bold headers, widths that fit, units.

A column's number format follows its header: a unit in brackets (``需求 Required (m²)``,
``(beds)``, ``(places)``, ``(residents)``) is printed after every number of the column;
ratios (``供需比 Ratio``, ``*_ratio``, ``share``) as per cent; residents and households as
whole numbers with thousands separators; distances (``*_m``, ``access_m``) in metres;
minutes (``*_min``); longitude/latitude with six decimals. Widths count a Chinese character
as two, so "未达标 fail" fits without being cut.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["cell_values", "column_width", "display_width", "number_format", "write_workbook"]

MAX_WIDTH = 60
"""Widest column (characters of the default font)."""

EXCEL_ROWS = 1_048_576
"""Rows of an Excel sheet (the header row included)."""
EXCEL_COLUMNS = 16_384
"""Columns of an Excel sheet."""

_UNIT_IN_HEADER = re.compile(r"[(（]([^()（）]{1,24})[)）]\s*$")
_UNIT_WORDS = {
    "m²": "m²",
    "m2": "m²",
    "平方米": "m²",
    "beds": "床",
    "床位": "床",
    "places": "托位",
    "托位": "托位",
    "residents": "人",
    "人": "人",
    "households": "户",
    "户": "户",
    "m": "m",
    "metres": "m",
    "米": "m",
    "min": "min",
    "minutes": "min",
    "分钟": "min",
    "%": "%",
}


def display_width(text: str) -> int:
    """Width of ``text`` in a spreadsheet cell: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _quoted(unit: str) -> str:
    return '" ' + unit.replace('"', "") + '"'


def number_format(header: str, values: pd.Series) -> str | None:
    """The Excel number format of a numeric column, from its header (None: leave as is).

    Parameters
    ----------
    header : str
        The column header.
    values : pandas.Series
        The column (only numeric columns get a format).

    Returns
    -------
    str or None
    """
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    text = header.strip()
    lower = text.casefold()
    integral = bool(len(values.dropna())) and bool(
        np.all(np.mod(values.dropna().to_numpy(dtype=float), 1) == 0)
    )
    base = "#,##0" if integral else "#,##0.0"
    found = _UNIT_IN_HEADER.search(text)
    if found:
        unit = _UNIT_WORDS.get(found.group(1).strip().casefold(), found.group(1).strip())
        if unit == "%":
            return "0.0%"
        return base + _quoted(unit)
    if "ratio" in lower or "供需比" in text or "share" in lower or "比例" in text:
        return "0%"
    if lower in ("lon", "lat", "longitude", "latitude", "经度", "纬度"):
        return "0.000000"
    if "residents" in lower or "常住人口" in text or lower == "population":
        return "#,##0" + _quoted("人")
    if "households" in lower or "户数" in text:
        return "#,##0" + _quoted("户")
    if lower.endswith("_m2") or "m²" in text:
        return base + _quoted("m²")
    if lower.endswith("_m") or lower.endswith("_dist_m") or lower == "access_m":
        return "#,##0" + _quoted("m")
    if lower.endswith("_min"):
        return "0.0" + _quoted("min")
    return None


def _cell_text(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if fmt is not None and isinstance(value, int | float | np.integer | np.floating):
        suffix = fmt.split('"')[1] if '"' in fmt else ""
        return f"{float(value):,.1f}{suffix}"
    return str(value)


def column_width(header: str, values: list[Any], fmt: str | None) -> float:
    """Width (characters) that fits the header's longest word and the first 2,000 values."""
    widest = max([display_width(_cell_text(v, fmt)) for v in values[:2000]] or [0])
    header_width = max(display_width(part) for part in header.split(" ") if part) if header else 0
    width = max(widest, min(display_width(header), 24), header_width) + 2
    return float(min(max(width, 8), MAX_WIDTH))


def cell_values(values: pd.Series) -> list[Any]:
    """The column as Python values for cells: missing and non-finite numbers as None."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return [None if pd.isna(v) else bool(v) for v in values.tolist()]
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        cells: list[Any] = (
            values.tolist() if pd.api.types.is_integer_dtype(values.dtype) else numbers.tolist()
        )
        for index in np.flatnonzero(~np.isfinite(numbers)):
            cells[index] = None
        return cells
    return [None if _missing(v) else v for v in values.tolist()]


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and np.isnan(value)


def write_workbook(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write a workbook with a sheet per frame, row by row (XlsxWriter, constant memory).

    Each sheet has a frozen, bold, wrapped header row, a number format per numeric column
    (:func:`number_format`) and widths that fit (:func:`column_width`). Missing values are
    empty cells; text is written as text (never read as a number, formula or link).

    Parameters
    ----------
    path : Path
        The ``.xlsx`` file to create.
    sheets : mapping of str to pandas.DataFrame
        Sheet name (already Excel-safe, at most 31 characters) -> rows (no index).
    """
    for name, frame in sheets.items():
        if len(frame) >= EXCEL_ROWS or len(frame.columns) > EXCEL_COLUMNS:
            raise ValueError(
                f"sheet {name}: {len(frame)} rows x {len(frame.columns)} columns exceed "
                f"Excel's {EXCEL_ROWS - 1} rows x {EXCEL_COLUMNS} columns"
            )
    try:
        import xlsxwriter
    except ImportError:  # an environment installed before XlsxWriter was a dependency
        _write_with_openpyxl(path, sheets)
        return

    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        header_format = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        formats: dict[str, Any] = {}
        for name, frame in sheets.items():
            sheet = book.add_worksheet(name)
            sheet.freeze_panes(1, 0)
            headers = [str(c) for c in frame.columns]
            columns = [cell_values(frame[c]) for c in frame.columns]
            codes = [
                number_format(h, frame[c]) for h, c in zip(headers, frame.columns, strict=True)
            ]
            cell_formats = [
                None
                if code is None
                else formats.setdefault(code, book.add_format({"num_format": code}))
                for code in codes
            ]
            for position, (header, values, code) in enumerate(
                zip(headers, columns, codes, strict=True)
            ):
                sheet.set_column(position, position, column_width(header, values, code))
                sheet.write_string(0, position, header, header_format)
            write = sheet.write
            for row, cells in enumerate(zip(*columns, strict=True), start=1):
                for position, value in enumerate(cells):
                    if value is not None:
                        write(row, position, value, cell_formats[position])
    finally:
        book.close()


def _write_with_openpyxl(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    """The same workbook through openpyxl's write-only mode (slower)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold, top = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    for name, frame in sheets.items():
        sheet = book.create_sheet(name)
        sheet.freeze_panes = "A2"
        headers = [str(c) for c in frame.columns]
        columns = [cell_values(frame[c]) for c in frame.columns]
        codes = [number_format(h, frame[c]) for h, c in zip(headers, frame.columns, strict=True)]
        for position, (header, values, code) in enumerate(
            zip(headers, columns, codes, strict=True), start=1
        ):
            width = column_width(header, values, code)
            sheet.column_dimensions[get_column_letter(position)].width = width
        header_cells = []
        for header in headers:
            cell = WriteOnlyCell(sheet, value=header)
            cell.font, cell.alignment = bold, top
            header_cells.append(cell)
        sheet.append(header_cells)
        for cells in zip(*columns, strict=True):
            row: list[Any] = []
            for value, code in zip(cells, codes, strict=True):
                if value is None or code is None:
                    row.append(value)
                    continue
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = code
                row.append(cell)
            sheet.append(row)
    book.save(path)
