"""Reading user vector files and cells the same way in every loader."""

from __future__ import annotations

import math
import unicodedata
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from radius._errors import InputError

__all__ = ["parse_number", "read_vector_layer", "shapefile_in_zip"]


def shapefile_in_zip(path: Path, layer: str | None, what: str) -> str:
    """The GDAL path of the Shapefile inside a zip archive.

    Parameters
    ----------
    path : Path
        The zip archive.
    layer : str, optional
        Name (without ``.shp``) of the Shapefile to take when the zip holds several.
    what : str
        What the file holds, for messages (e.g. ``"road lines"``).

    Raises
    ------
    InputError
        If the file is not a zip, holds no Shapefile, or several and none was chosen.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"{path}: not a valid zip archive ({exc}); zip the Shapefile again"
        ) from None
    members = sorted(
        n for n in names if n.lower().endswith(".shp") and not n.startswith("__MACOSX/")
    )
    if not members:
        raise InputError(
            f"{path}: the zip archive holds no Shapefile (.shp); zip the {what}' .shp together "
            "with its .shx, .dbf, .prj (and .cpg) files"
        )
    if layer is not None:
        chosen = [m for m in members if Path(m).stem == layer]
        if not chosen:
            stems = ", ".join(Path(m).stem for m in members)
            raise InputError(f"{path}: no Shapefile named {layer}.shp in the zip; it holds {stems}")
        members = chosen
    if len(members) > 1:
        stems = ", ".join(Path(m).stem for m in members)
        raise InputError(
            f"{path}: the zip archive holds {len(members)} Shapefiles ({stems}); choose one "
            "with layer=<name without .shp>"
        )
    return f"/vsizip/{path.resolve().as_posix()}/{members[0]}"


def read_vector_layer(
    path: Path,
    layer: str | None,
    *,
    what: str,
    geometry_kind: str | None = None,
    first_by_default: bool = False,
) -> gpd.GeoDataFrame:
    """Read one layer of a GeoPackage, GeoJSON, Shapefile or zipped Shapefile.

    Parameters
    ----------
    path : Path
        The file.
    layer : str, optional
        Layer (GeoPackage) or Shapefile name (zip) to read.
    what : str
        What the file holds, for messages (e.g. ``"districts"``).
    geometry_kind : str, optional
        With several layers and none chosen, the one layer whose geometry type contains
        this word (e.g. ``"Polygon"``) is taken.
    first_by_default : bool, optional
        With several layers and none chosen or fitting, take the first instead of failing.

    Raises
    ------
    InputError
        If the file cannot be read, holds no layer, or the layer is ambiguous or absent.
    """
    dataset = str(path)
    if path.suffix.lower() == ".zip":
        dataset = shapefile_in_zip(path, layer, what)
        layer = None
    fix = f"save the {what} as GeoPackage, GeoJSON or a zipped Shapefile"
    try:
        layers = pyogrio.list_layers(dataset)
    except pyogrio.errors.DataSourceError as exc:
        raise InputError(f"{path}: not a readable vector file ({exc}); {fix}") from None
    names = [str(name) for name, _ in layers]
    if not names:
        raise InputError(f"{path}: the file holds no layer; {fix}")
    if layer is None and len(names) > 1:
        fitting = [
            str(n)
            for n, kind in layers
            if geometry_kind is not None and kind is not None and geometry_kind in kind
        ]
        if len(fitting) == 1:
            layer = fitting[0]
        elif first_by_default:
            layer = names[0]
        else:
            raise InputError(
                f"{path}: holds {len(names)} layers ({', '.join(names)}); choose the {what} "
                "layer with layer=..."
            )
    elif layer is not None and layer not in names:
        raise InputError(f"{path}: has no layer {layer!r}; its layers are {', '.join(names)}")
    try:
        return gpd.read_file(dataset, layer=layer or names[0], engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc}); {fix}") from None


def parse_number(value: object) -> float | None:
    """A table cell as a number: NaN when empty, None when it is not a number.

    Full-width digits (１２３), surrounding spaces and thousands separators are accepted;
    booleans and infinities are not numbers.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return math.nan
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if math.isnan(number):
            return math.nan
        return number if math.isfinite(number) else None
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace("_", "")
    if not text:
        return math.nan
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
