"""Atomic output: every file is written under a temporary name, then renamed into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from radius._errors import InputError

__all__ = ["Writer", "gpkg_writer", "json_writer", "write_outputs", "xlsx_writer"]

Writer = Callable[[Path], None]


def gpkg_writer(layers: Mapping[str, gpd.GeoDataFrame]) -> Writer:
    """A writer that puts each frame in its own layer of one GeoPackage."""

    def write(path: Path) -> None:
        for name, frame in layers.items():
            frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")

    return write


def xlsx_writer(sheets: Mapping[str, pd.DataFrame]) -> Writer:
    """A writer of one Excel workbook with a sheet per frame (names cut to 31 characters)."""

    def write(path: Path) -> None:
        used: set[str] = set()
        with pd.ExcelWriter(path, engine="openpyxl") as book:
            for name, frame in sheets.items():
                sheet = _sheet_name(name, used)
                frame.to_excel(book, sheet_name=sheet, index=False)
                worksheet = book.sheets[sheet]
                worksheet.freeze_panes = "A2"
                for column_cells in worksheet.columns:
                    width = max(len(str(cell.value or "")) for cell in column_cells)
                    letter = column_cells[0].column_letter
                    worksheet.column_dimensions[letter].width = min(max(width * 1.3, 8), 60)

    return write


def _sheet_name(name: str, used: set[str]) -> str:
    """An Excel-safe, unique sheet name of at most 31 characters."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    candidate = cleaned
    counter = 2
    while candidate.lower() in used:
        suffix = f"~{counter}"
        candidate = cleaned[: 31 - len(suffix)] + suffix
        counter += 1
    used.add(candidate.lower())
    return candidate


def json_writer(data: Any) -> Writer:
    """A writer of UTF-8 JSON (Chinese kept readable)."""

    def write(path: Path) -> None:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")

    return write


def write_outputs(out_dir: Path, files: Mapping[str, Writer]) -> list[Path]:
    """Write several files into ``out_dir`` so that none is ever half-written.

    Every file is first written to a temporary name in ``out_dir``; only when all of
    them are complete are they renamed into place. On any error the temporary files are
    removed and the existing outputs are left as they were.

    Parameters
    ----------
    out_dir : Path
        Output folder (created if missing).
    files : mapping of str to callable
        File name -> function writing that file at the path it is given.

    Returns
    -------
    list of Path
        The written files.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the output folder ({exc})") from None
    temporaries: dict[str, Path] = {}
    try:
        for name, writer in files.items():
            suffix = "".join(Path(name).suffixes)
            handle, temp_name = tempfile.mkstemp(
                prefix=f".{Path(name).stem}.", suffix=f".partial{suffix}", dir=out_dir
            )
            os.close(handle)
            temp_path = Path(temp_name)
            temp_path.unlink()  # GDAL drivers want to create the file themselves
            temporaries[name] = temp_path
            writer(temp_path)
        written = []
        for name, temp_path in temporaries.items():
            final = out_dir / name
            os.replace(temp_path, final)
            written.append(final)
        return written
    finally:
        for temp_path in temporaries.values():
            if temp_path.exists():
                temp_path.unlink()
