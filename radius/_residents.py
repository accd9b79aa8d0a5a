"""Residents plumbing shared by the loaders of :mod:`radius.population` and :mod:`radius.units`.

The defaults (``configs/population.yaml``), where rows come from (file, row numbering),
problems collected and raised once, column names (Chinese and English headers, the demand
groups of ``configs/demand_groups.yaml``), numbers, and the assembly of the residents frame.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from pydantic import BaseModel, ConfigDict, Field, model_validator

from radius._errors import CRSError, InputError
from radius._files import parse_number
from radius.config import CONFIG_DIR, validate_file
from radius.groups import load_demand_groups
from radius.i18n import Message, RadiusWarning

MAX_LISTED_PROBLEMS = 20
WGS84 = "EPSG:4326"

PathLike = str | os.PathLike[str]
RowStyle = Literal["sheet", "feature", "index"]
FrameT = TypeVar("FrameT", bound=pd.DataFrame)

# --- Configuration -----------------------------------------------------------------------------


class PopulationDefaults(BaseModel):
    """Defaults of the residents loaders (``configs/population.yaml``).

    Attributes
    ----------
    household_size : float
        Persons per household.
    floor_area_per_person_m2 : float
        Residential floor area per person (m²).
    default_levels : float
        Storeys assumed for a residential building without ``building:levels``.
    residential_building_tags : tuple of str
        OSM ``building=*`` values treated as residential.
    plot_point_spacing_m : float
        Spacing of the grid of points spreading a plot's residents (metres).
    sources : dict of str to str
        Source of each value, by key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    household_size: float = Field(gt=0, le=20)
    floor_area_per_person_m2: float = Field(gt=0, le=1000)
    default_levels: float = Field(gt=0, le=300)
    residential_building_tags: tuple[str, ...] = Field(min_length=1)
    plot_point_spacing_m: float = Field(gt=0, le=10_000)
    sources: dict[str, str]

    @model_validator(mode="after")
    def _every_number_has_a_source(self) -> PopulationDefaults:
        needed = ("household_size", "floor_area_per_person_m2", "default_levels")
        missing = [key for key in needed if not self.sources.get(key, "").strip()]
        if missing:
            raise ValueError(f"sources must give the source of: {', '.join(missing)}")
        return self


@lru_cache(maxsize=8)
def _load_defaults_cached(path: Path) -> PopulationDefaults:
    return validate_file(PopulationDefaults, path)


def load_population_defaults(path: PathLike | None = None) -> PopulationDefaults:
    """Load and validate the residents defaults.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file; defaults to ``configs/population.yaml``.

    Returns
    -------
    PopulationDefaults

    Raises
    ------
    ConfigError
        If the file is missing or invalid; the message names the file and each bad key.
    """
    resolved = Path(path) if path is not None else CONFIG_DIR / "population.yaml"
    return _load_defaults_cached(resolved.resolve())


def _positive(name: str, value: float | None, default: float, unit: str) -> float:
    """An explicit keyword value (checked) or the configured default."""
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name}={value!r} is not a number; give a positive number ({unit})")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"{name}={value!r} must be a positive number ({unit})")
    return number


# --- Validation plumbing: where rows come from, collected problems, columns, numbers -----------


@dataclass(frozen=True)
class _Origin:
    """Where a table came from, so that problems name the file and the row as users see it.

    ``rows="sheet"``: a CSV/XLSX read with a default index; row = index + 2 (header is row 1).
    ``rows="feature"``: a vector file; feature = index + 1. ``rows="index"``: an in-memory
    frame; rows are named by their index label.
    """

    name: str
    rows: RowStyle = "index"

    def row(self, label: Hashable) -> str:
        if self.rows == "sheet":
            return f"row {self.key(label)}"
        if self.rows == "feature":
            return f"feature {self.key(label)}"
        return f"index {label!r}"

    def key(self, label: Hashable) -> str:
        if self.rows == "sheet":
            return str(int(label) + 2)  # type: ignore[call-overload]
        if self.rows == "feature":
            return str(int(label) + 1)  # type: ignore[call-overload]
        return str(label)


@dataclass
class _Problems:
    """Problems found in one input, raised together as one InputError."""

    origin: _Origin
    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        count = len(self.items)
        lines = [f"{self.origin.name}: {count} problem(s) in the residents data:"]
        lines += [f"  - {item}" for item in self.items[:MAX_LISTED_PROBLEMS]]
        if count > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {count - MAX_LISTED_PROBLEMS} more")
        lines.append("Fix these cells and run again.")
        raise InputError("\n".join(lines))


_OTHER_COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "area_type": ("area_type", "类型", "区域类型"),
    "id": ("id", "编号"),
    "levels": ("levels", "building:levels", "building_levels", "层数"),
}


def _column_names() -> dict[str, tuple[str, ...]]:
    """Canonical column -> the names accepted for it: the demand groups, then the others."""
    names: dict[str, tuple[str, ...]] = {}
    for group in load_demand_groups().groups:
        names[group.column] = (group.column, *group.aliases)
    names.update(_OTHER_COLUMN_NAMES)
    return names


_COLUMN_NAMES = _column_names()
"""Canonical column -> the names accepted for it (compared stripped and lower-cased)."""
_ALIASES = {
    name.strip().lower(): canonical for canonical, names in _COLUMN_NAMES.items() for name in names
}
GROUP_COLUMNS = load_demand_groups().extra_columns()
"""Columns of the demand groups besides population and households (aged_60_plus, …)."""

_AREA_NAMES: dict[str, tuple[str, ...]] = {
    "new": ("new", "新", "新区", "新建", "新城"),
    "old": ("old", "旧", "旧区", "老区", "老旧", "老旧小区", "老城", "老城区", "旧城", "旧城区"),
}
_AREA_TYPES = {name: area for area, names in _AREA_NAMES.items() for name in names}


def _canonical_columns(frame: FrameT, origin: _Origin) -> tuple[FrameT, dict[str, str]]:
    """Rename known columns (人口, 户数, 经度, building:levels, ...) to canonical names.

    Returns the renamed frame and canonical name -> the column's name in the input.
    """
    geometry_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    wanted: dict[str, list[str]] = {}
    for column in frame.columns:
        if column == geometry_name:
            continue
        key = str(column).strip().lstrip("\ufeff").lower()
        canonical = _ALIASES.get(key)
        if canonical is not None:
            wanted.setdefault(canonical, []).append(str(column))
    clashes = {c: names for c, names in wanted.items() if len(names) > 1}
    if clashes:
        problems = _Problems(origin)
        for canonical, names in clashes.items():
            listed = " and ".join(repr(n) for n in names)
            problems.add(f"columns {listed} all mean {canonical!r}; keep one of them")
        problems.raise_if_any()
    original = {canonical: names[0] for canonical, names in wanted.items()}
    renamed = frame.rename(columns={names[0]: c for c, names in wanted.items()})
    return renamed, original


def _columns_found(frame: pd.DataFrame) -> str:
    geometry_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    names = [repr(str(c)) for c in frame.columns if c != geometry_name]
    return ", ".join(names) if names else "(none)"


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


@dataclass
class _Numbers:
    """A column parsed to float64: NaN where missing or not a number."""

    values: np.ndarray
    missing: np.ndarray
    bad: np.ndarray
    raw: np.ndarray


def _numbers(series: pd.Series) -> _Numbers:
    raw = series.to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isinf(values)
        missing = np.isnan(values)
        values = np.where(bad, np.nan, values)
        return _Numbers(values, missing, bad, raw)
    parsed = [parse_number(v) for v in raw]
    bad = np.array([p is None for p in parsed], dtype=bool)
    values = np.array([math.nan if p is None else p for p in parsed], dtype=np.float64)
    missing = np.isnan(values) & ~bad
    return _Numbers(values, missing, bad, raw)


def _column_label(canonical: str, original: dict[str, str]) -> str:
    name = original.get(canonical, canonical)
    return repr(name) if name == canonical else f"{name!r} ({canonical})"


_QUANTITY_FIX = {
    "population": "enter the number of residents (persons), 0 or more",
    "households": "enter the number of households, 0 or more",
}


def _group_counts(
    frame: pd.DataFrame, original: dict[str, str], origin: _Origin, problems: _Problems
) -> dict[str, np.ndarray]:
    """The demand-group columns present (aged_60_plus, …): counts per row, NaN where empty.

    Text that is not a number and negative counts are added to ``problems``; an empty cell
    is left NaN, to be estimated from the group's share (:func:`radius.groups.complete_groups`).
    """
    counts: dict[str, np.ndarray] = {}
    labels = frame.index.tolist()
    for column in GROUP_COLUMNS:
        if column not in frame.columns:
            continue
        parsed = _numbers(frame[column])
        label = _column_label(column, original)
        for i in np.flatnonzero(parsed.bad):
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {_show(parsed.raw[i])} is not a "
                "number; enter the number of persons as a plain number, or leave the cell "
                "empty to estimate it from the group's share"
            )
        for i in np.flatnonzero(parsed.values < 0):
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {_show(parsed.values[i])} is "
                "negative; enter the number of persons, 0 or more"
            )
        counts[column] = parsed.values
    return counts


def _quantities(
    frame: pd.DataFrame,
    original: dict[str, str],
    origin: _Origin,
    problems: _Problems,
    household_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Population and households per row, each filled from the other where missing.

    The frame must have a ``population`` or a ``households`` column (checked by the caller).
    Bad, negative or doubly-missing cells are added to ``problems``.
    """
    n = len(frame)
    labels = frame.index.tolist()
    parsed: dict[str, _Numbers] = {}
    for column in ("population", "households"):
        if column not in frame.columns:
            continue
        numbers_ = _numbers(frame[column])
        parsed[column] = numbers_
        label = _column_label(column, original)
        for i in np.flatnonzero(numbers_.bad):
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {_show(numbers_.raw[i])} is not a "
                f"number; {_QUANTITY_FIX[column]} as a plain number (no units or text)"
            )
        for i in np.flatnonzero(numbers_.values < 0):
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {_show(numbers_.values[i])} is "
                f"negative; {_QUANTITY_FIX[column]}"
            )
    population = parsed["population"].values if "population" in parsed else np.full(n, np.nan)
    households = parsed["households"].values if "households" in parsed else np.full(n, np.nan)
    missing = np.ones(n, dtype=bool)
    for numbers_ in parsed.values():
        missing &= numbers_.missing
    if len(parsed) == 2:
        where = "columns " + " and ".join(_column_label(c, original) for c in parsed)
        fix = "both cells are empty; fill in at least one, 0 where nobody lives"
    else:
        (column,) = parsed
        where = f"column {_column_label(column, original)}"
        fix = f"the cell is empty; {_QUANTITY_FIX[column]} (0 where nobody lives)"
    for i in np.flatnonzero(missing):
        problems.add(f"{origin.row(labels[i])}, {where}: {fix}")
    filled_population = np.where(np.isnan(population), households * household_size, population)
    filled_households = np.where(np.isnan(households), population / household_size, households)
    return filled_population, filled_households


def _require_quantity_column(frame: pd.DataFrame, given: pd.DataFrame, origin: _Origin) -> None:
    """Raise unless ``frame`` (renamed) has population or households; list ``given``'s columns."""
    if "population" in frame.columns or "households" in frame.columns:
        return
    raise InputError(
        f"{origin.name}: no population and no households column; columns found: "
        f"{_columns_found(given)}. Add a 'population' (人口, persons) and/or 'households' "
        "(户数) column."
    )


def _area_types(
    frame: pd.DataFrame, original: dict[str, str], origin: _Origin, problems: _Problems
) -> np.ndarray:
    n = len(frame)
    if "area_type" not in frame.columns:
        return np.full(n, "", dtype=object)
    result = np.full(n, "", dtype=object)
    label = _column_label("area_type", original)
    labels = frame.index.tolist()
    for i, value in enumerate(frame["area_type"].to_numpy(dtype=object)):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            continue
        text = str(value).strip()
        if not text:
            continue
        mapped = _AREA_TYPES.get(text.lower())
        if mapped is None:
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {value!r} is not an area type; "
                "use new or old (新区/老区), or leave the cell empty"
            )
            continue
        result[i] = mapped
    return result


def _id_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _row_keys(
    frame: pd.DataFrame, original: dict[str, str], origin: _Origin, problems: _Problems
) -> list[str]:
    """Per row, the key used in ``resident_id``: the ``id`` column, else the row's name."""
    labels = frame.index.tolist()
    if "id" not in frame.columns:
        keys = [origin.key(label) for label in labels]
        if len(set(keys)) != len(keys):
            problems.add(
                "the rows have repeated index labels, so residents cannot be told apart; "
                "reset the index (frame.reset_index(drop=True)) or add a unique 'id' column"
            )
        return keys
    label = _column_label("id", original)
    texts = [_id_text(v) for v in frame["id"].to_numpy(dtype=object)]
    seen: dict[str, Hashable] = {}
    for i, text in enumerate(texts):
        if text is None:
            problems.add(
                f"{origin.row(labels[i])}, column {label}: the cell is empty; give every row "
                "a unique id"
            )
            continue
        if text in seen:
            problems.add(
                f"{origin.row(labels[i])}, column {label}: {text!r} repeats the id of "
                f"{origin.row(seen[text])}; give every row a unique id"
            )
        else:
            seen[text] = labels[i]
    return [text if text is not None else origin.key(labels[i]) for i, text in enumerate(texts)]


def _require_rows(frame: pd.DataFrame, origin: _Origin, what: str) -> None:
    if len(frame) == 0:
        raise InputError(f"{origin.name}: no rows; expected at least one {what}")


def _require_crs(frame: gpd.GeoDataFrame, origin: _Origin) -> None:
    if frame.crs is None:
        raise CRSError(
            f"{origin.name}: no coordinate reference system (CRS); set it, e.g. "
            "frame.set_crs('EPSG:4326') for lon/lat degrees, or save the file with its CRS "
            "(.prj beside a shapefile)"
        )


def _check_geometries(
    frame: gpd.GeoDataFrame, origin: _Origin, problems: _Problems, kinds: tuple[str, ...]
) -> np.ndarray:
    """Flag rows whose geometry is missing, empty or not one of ``kinds``; return OK mask."""
    geometry = frame.geometry
    types = geometry.geom_type.to_numpy(dtype=object)
    empty = geometry.isna().to_numpy() | geometry.is_empty.to_numpy()
    ok = np.ones(len(frame), dtype=bool)
    wanted = " or ".join(kinds)
    labels = frame.index.tolist()
    for i in range(len(frame)):
        if empty[i]:
            problems.add(
                f"{origin.row(labels[i])}, column 'geometry': the geometry is empty; "
                f"draw a {wanted} or delete the row"
            )
            ok[i] = False
        elif types[i] not in kinds:
            problems.add(
                f"{origin.row(labels[i])}, column 'geometry': a {types[i]}; expected a {wanted}"
            )
            ok[i] = False
    return ok


def _expect_geodataframe(frame: object, what: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"expected a GeoDataFrame of {what}, got {type(frame).__name__}; build one with "
            "geopandas.GeoDataFrame(..., geometry=..., crs=...)"
        )
    return frame


def _metric_crs(frame: gpd.GeoDataFrame) -> pyproj.CRS:
    """The frame's CRS when it is projected in metres, else the UTM zone of its centre."""
    crs = pyproj.CRS.from_user_input(frame.crs)
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter"):
        return crs
    utm = frame.estimate_utm_crs()
    return pyproj.CRS.from_user_input(utm)


def _residents_frame(
    resident_id: Sequence[str],
    population: np.ndarray,
    households: np.ndarray,
    source: str,
    area_type: np.ndarray | str,
    geometry: np.ndarray | gpd.GeoSeries,
    groups: dict[str, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    """Assemble the residents contract (columns, dtypes, EPSG:4326, RangeIndex).

    ``groups`` (column -> counts) adds the demand-group columns given in the input, after
    ``area_type``.
    """
    n = len(resident_id)
    areas = np.full(n, area_type, dtype=object) if isinstance(area_type, str) else area_type
    values = gpd.GeoSeries(geometry).to_numpy() if isinstance(geometry, gpd.GeoSeries) else geometry
    columns: dict[str, Any] = {
        "resident_id": pd.Series(list(resident_id), dtype=str),
        "population": np.asarray(population, dtype=np.float64),
        "households": np.asarray(households, dtype=np.float64),
        "source": pd.Series([source] * n, dtype=str),
        "area_type": pd.Series(list(areas), dtype=str),
    }
    for column in GROUP_COLUMNS:
        if groups and column in groups:
            columns[column] = np.asarray(groups[column], dtype=np.float64)
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(values, crs=WGS84), crs=WGS84)


def _emit(notes: Iterable[str]) -> None:
    """Warn each note at the caller of the public loader (helper -> loader -> caller)."""
    for note in notes:
        warning = RadiusWarning(note) if isinstance(note, Message) else UserWarning(note)
        warnings.warn(warning, stacklevel=3)
