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
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["display_width", "format_sheet", "number_format"]

MAX_WIDTH = 60
"""Widest column (characters of the default font)."""

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


def format_sheet(worksheet: Any, frame: pd.DataFrame) -> None:
    """Freeze and bold the header row, set number formats and widths that fit.

    Parameters
    ----------
    worksheet : openpyxl.worksheet.worksheet.Worksheet
        The sheet ``frame`` was written to (header in row 1, no index column).
    frame : pandas.DataFrame
        The data written.
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    worksheet.freeze_panes = "A2"
    bold = Font(bold=True)
    for cell in worksheet[1]:
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for position, column in enumerate(frame.columns, start=1):
        header = str(column)
        fmt = number_format(header, frame[column])
        letter = get_column_letter(position)
        if fmt is not None:
            for row in range(2, len(frame) + 2):
                worksheet.cell(row=row, column=position).number_format = fmt
        sample = frame[column].head(2000).tolist()
        widest = max([display_width(_cell_text(v, fmt)) for v in sample] or [0])
        header_width = (
            max(display_width(part) for part in header.split(" ") if part) if header else 0
        )
        width = max(widest, min(display_width(header), 24), header_width) + 2
        worksheet.column_dimensions[letter].width = float(min(max(width, 8), MAX_WIDTH))
