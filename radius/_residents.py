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
from radius.i18n import MESSAGES_FILE, Message, RadiusWarning, load_strings, message

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
    residential_landuse : tuple of str
        ``landuse=*`` values of the areas inside which an untyped building (``building=yes``)
        is treated as residential; empty: none is.
    non_residential_areas : tuple of str
        ``key=value`` (or bare ``key``, any value) tags of areas that keep an untyped
        building out of the residential land-use rule (a school or shopping area in a 小区).
    non_residential_building_keys : tuple of str
        Keys that, on an untyped building itself (``amenity``, ``shop`` …), keep it out of
        the rule.
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
    residential_landuse: tuple[str, ...] = ()
    non_residential_areas: tuple[str, ...] = ()
    non_residential_building_keys: tuple[str, ...] = ()
    plot_point_spacing_m: float = Field(gt=0, le=10_000)
    sources: dict[str, str]

    @model_validator(mode="after")
    def _tags_are_key_value(self) -> PopulationDefaults:
        bad = [t for t in self.non_residential_areas if not _tag_parts(t)]
        if bad:
            raise ValueError(f"non_residential_areas: give key=value or key, not {bad}")
        return self

    @model_validator(mode="after")
    def _every_number_has_a_source(self) -> PopulationDefaults:
        needed = ("household_size", "floor_area_per_person_m2", "default_levels")
        missing = [key for key in needed if not self.sources.get(key, "").strip()]
        if missing:
            raise ValueError(f"sources must give the source of: {', '.join(missing)}")
        return self


def _tag_parts(text: str) -> tuple[str, str | None] | None:
    """``"landuse=retail"`` -> ``("landuse", "retail")``, ``"amenity"`` -> ``("amenity", None)``;
    None for an empty key or value."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not key or (sep and not value):
        return None
    return key, (value if sep else None)


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


Unit = Literal["persons", "m2_per_person", "storeys", "metres"]


def _positive(name: str, value: float | None, default: float, unit: Unit) -> float:
    """An explicit keyword value (checked) or the configured default; ``unit`` names the
    ``residents_unit_*`` message the error shows."""
    if value is None:
        return float(default)
    shown = message(f"residents_unit_{unit}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(
            message("residents_value_not_number", name=name, value=repr(value), unit=shown)
        )
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InputError(
            message("residents_value_not_positive", name=name, value=repr(value), unit=shown)
        )
    return number


# --- Validation plumbing: where rows come from, collected problems, columns, numbers -----------


@dataclass(frozen=True)
class _Origin:
    """Where a table came from, so that problems name the file and the row as users see it.

    ``rows="sheet"``: a CSV/XLSX read with a default index; row = index + 2 (header is row 1).
    ``rows="feature"``: a vector file; feature = index + 1. ``rows="index"``: an in-memory
    frame; rows are named by their index label. ``name`` is a file name, or a
    :class:`~radius.i18n.Message` naming an in-memory frame.
    """

    name: str
    rows: RowStyle = "index"

    def row(self, label: Hashable) -> Message:
        """The row as the user sees it ("row 5", "feature 3", "index 'a'"), in any language."""
        if self.rows == "index":
            return message("residents_row_index", label=repr(label))
        return message(f"residents_row_{self.rows}", n=self.key(label))

    def key(self, label: Hashable) -> str:
        if self.rows == "sheet":
            return str(int(label) + 2)  # type: ignore[call-overload]
        if self.rows == "feature":
            return str(int(label) + 1)  # type: ignore[call-overload]
        return str(label)


@dataclass
class _Problems:
    """Problems found in one input (each a :class:`~radius.i18n.Message`), raised together
    as one InputError."""

    origin: _Origin
    items: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.items.append(problem)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        count = len(self.items)
        lines = [message("problem_line", text=item) for item in self.items[:MAX_LISTED_PROBLEMS]]
        if count > MAX_LISTED_PROBLEMS:
            lines.append(message("residents_problems_more", n=count - MAX_LISTED_PROBLEMS))
        raise InputError(
            message("residents_problems", source=self.origin.name, n=count, lines=tuple(lines))
        )


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
            problems.add(
                message(
                    "residents_columns_clash",
                    first=", ".join(repr(n) for n in names[:-1]),
                    last=repr(names[-1]),
                    meaning=_meaning(canonical),
                )
            )
        problems.raise_if_any()
    original = {canonical: names[0] for canonical, names in wanted.items()}
    renamed = frame.rename(columns={names[0]: c for c, names in wanted.items()})
    return renamed, original


def _columns_found(frame: pd.DataFrame) -> str:
    geometry_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    names = [repr(str(c)) for c in frame.columns if c != geometry_name]
    return ", ".join(names) if names else message("residents_no_columns")


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


def _meaning(canonical: str) -> str:
    """What a canonical column holds, in any language: its ``residents_column_*`` message
    (人口 / population), else the column name itself."""
    key = f"residents_column_{canonical}"
    return message(key) if key in load_strings(MESSAGES_FILE) else repr(canonical)


def _column_label(canonical: str, original: dict[str, str]) -> str:
    """The column as the file names it, and what it holds when the header is another word:
    ``'Households' (households)``, in Chinese ``'Households'（户数）``."""
    name = original.get(canonical, canonical)
    if name == canonical:
        return repr(name)
    meaning = _meaning(canonical)
    # A Chinese header that is the meaning's own word ('户数') is not followed by it again.
    same = isinstance(meaning, Message) and meaning.text("zh") == name
    key = "residents_column_chinese" if same else "residents_column_named"
    return message(key, name=repr(name), meaning=meaning)


def _quantity_fix(column: str) -> Message:
    """How to fill a population or households cell (``residents_fix_*``)."""
    return message(f"residents_fix_{column}")


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
                message(
                    "residents_group_not_number",
                    row=origin.row(labels[i]),
                    column=label,
                    value=_show(parsed.raw[i]),
                )
            )
        for i in np.flatnonzero(parsed.values < 0):
            problems.add(
                message(
                    "residents_group_negative",
                    row=origin.row(labels[i]),
                    column=label,
                    value=_show(parsed.values[i]),
                )
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
                message(
                    "residents_quantity_not_number",
                    row=origin.row(labels[i]),
                    column=label,
                    value=_show(numbers_.raw[i]),
                    fix=_quantity_fix(column),
                )
            )
        for i in np.flatnonzero(numbers_.values < 0):
            problems.add(
                message(
                    "residents_quantity_negative",
                    row=origin.row(labels[i]),
                    column=label,
                    value=_show(numbers_.values[i]),
                    fix=_quantity_fix(column),
                )
            )
    population = parsed["population"].values if "population" in parsed else np.full(n, np.nan)
    households = parsed["households"].values if "households" in parsed else np.full(n, np.nan)
    missing = np.ones(n, dtype=bool)
    for numbers_ in parsed.values():
        missing &= numbers_.missing
    for i in np.flatnonzero(missing):
        row = origin.row(labels[i])
        if len(parsed) == 2:
            first, second = (_column_label(c, original) for c in parsed)
            problems.add(message("residents_quantities_empty", row=row, first=first, last=second))
        else:
            (column,) = parsed
            problems.add(
                message(
                    "residents_quantity_empty",
                    row=row,
                    column=_column_label(column, original),
                    fix=_quantity_fix(column),
                )
            )
    filled_population = np.where(np.isnan(population), households * household_size, population)
    filled_households = np.where(np.isnan(households), population / household_size, households)
    return filled_population, filled_households


def _require_quantity_column(frame: pd.DataFrame, given: pd.DataFrame, origin: _Origin) -> None:
    """Raise unless ``frame`` (renamed) has population or households; list ``given``'s columns."""
    if "population" in frame.columns or "households" in frame.columns:
        return
    raise InputError(
        message("residents_no_quantity_column", source=origin.name, found=_columns_found(given))
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
                message(
                    "residents_area_type_unknown",
                    row=origin.row(labels[i]),
                    column=label,
                    value=repr(value),
                )
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
            problems.add(message("residents_index_repeated"))
        return keys
    label = _column_label("id", original)
    texts = [_id_text(v) for v in frame["id"].to_numpy(dtype=object)]
    seen: dict[str, Hashable] = {}
    for i, text in enumerate(texts):
        if text is None:
            problems.add(message("residents_id_empty", row=origin.row(labels[i]), column=label))
            continue
        if text in seen:
            problems.add(
                message(
                    "residents_id_repeated",
                    row=origin.row(labels[i]),
                    column=label,
                    value=repr(text),
                    first=origin.row(seen[text]),
                )
            )
        else:
            seen[text] = labels[i]
    return [text if text is not None else origin.key(labels[i]) for i, text in enumerate(texts)]


RowKind = Literal["building", "point", "plot"]


def _require_rows(frame: pd.DataFrame, origin: _Origin, what: RowKind) -> None:
    """Raise unless ``frame`` has a row; ``what`` names the ``residents_one_*`` message."""
    if len(frame) == 0:
        raise InputError(
            message("residents_no_rows", source=origin.name, what=message(f"residents_one_{what}"))
        )


def _require_crs(frame: gpd.GeoDataFrame, origin: _Origin) -> None:
    if frame.crs is None:
        raise CRSError(message("residents_no_crs", source=origin.name))


def _check_geometries(
    frame: gpd.GeoDataFrame, origin: _Origin, problems: _Problems, kinds: tuple[str, ...]
) -> np.ndarray:
    """Flag rows whose geometry is missing, empty or not one of ``kinds``; return OK mask."""
    geometry = frame.geometry
    types = geometry.geom_type.to_numpy(dtype=object)
    empty = geometry.isna().to_numpy() | geometry.is_empty.to_numpy()
    ok = np.ones(len(frame), dtype=bool)
    wanted = (
        kinds[0]
        if len(kinds) == 1
        else message("residents_either", first=", ".join(kinds[:-1]), last=kinds[-1])
    )
    labels = frame.index.tolist()
    for i in range(len(frame)):
        if empty[i]:
            problems.add(
                message("residents_geometry_empty", row=origin.row(labels[i]), wanted=wanted)
            )
            ok[i] = False
        elif types[i] not in kinds:
            problems.add(
                message(
                    "residents_geometry_kind",
                    row=origin.row(labels[i]),
                    kind=types[i],
                    wanted=wanted,
                )
            )
            ok[i] = False
    return ok


def _expect_geodataframe(frame: object, what: Literal["buildings", "plots"]) -> gpd.GeoDataFrame:
    """``frame`` when it is a GeoDataFrame; ``what`` names the ``residents_frame_of_*`` message."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            message(
                "residents_not_geodataframe",
                what=message(f"residents_frame_of_{what}"),
                kind=type(frame).__name__,
            )
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
