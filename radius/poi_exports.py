"""POI exports of Chinese map services (高德/Amap, 百度/Baidu) read as facility inventories.

Chinese planners rarely bring OSM facilities: they bring what a place search returned.

- **Amap** (高德): the place-search JSON of the web service (v3 ``/v3/place/text`` or
  ``/around``, v5 ``/v5/place/...``: an object with a ``pois`` array), or its CSV/XLSX with
  ``name``, ``type`` ("购物服务;便民商店/便利店;便民商店/便利店"), ``typecode`` ("060200") and
  ``location`` "lon,lat" (or ``lon``/``lat`` columns), in GCJ-02.
- **Baidu** (百度): the place-search JSON (``results`` with ``location`` {lat, lng} and
  ``detail_info.tag``), or its CSV/XLSX with ``name``, ``tag`` ("购物;便利店") and
  ``lng``/``lat`` (or ``location``), in BD-09.

Categories come from ``configs/poi_types.yaml`` (the type codes of the published tables, with
their versions); coordinates are converted to WGS-84 with :mod:`radius.coords`. POIs whose
type maps to no category are counted and listed (a warning, and
``frame.attrs["unmapped_types"]``), never silently dropped.
"""

from __future__ import annotations

import json
import math
import unicodedata
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from pydantic import Field, field_validator

from radius._errors import ConfigError, InputError
from radius._files import check_workbook, parse_number
from radius.config import CONFIG_DIR, Category, _Frozen, validate_file
from radius.coords import to_wgs84
from radius.i18n import Message, message, warn

__all__ = [
    "DEFAULT_POI_TYPES",
    "PoiTypes",
    "Provider",
    "classify_poi",
    "load_poi_types",
    "poi_export_kind",
    "read_poi_export",
]

Provider = Literal["amap", "baidu"]

DEFAULT_POI_TYPES = CONFIG_DIR / "poi_types.yaml"
"""The type-code table shipped with radius."""

WGS84 = "EPSG:4326"
MAX_LISTED = 20
"""How many unmapped types or bad rows a message lists before "... and N more"."""

_SYSTEM_OF: Mapping[Provider, str] = {"amap": "gcj02", "baidu": "bd09"}
_JSON_SUFFIXES = (".json", ".geojson")
_TABLE_SUFFIXES = (".csv", ".txt")
_SHEET_SUFFIXES = (".xlsx",)
_HEAD_BYTES = 65536

_ALIASES: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "uid", "poi_id", "poiid", "编号", "poi编号"),
    "name": ("name", "名称", "poi名称"),
    "type": ("type", "类型", "类别", "分类", "poi类型"),
    "typecode": (
        "typecode",
        "type_code",
        "类型编码",
        "分类编码",
        "类别编码",
        "类型代码",
        "poi编码",
    ),
    "tag": ("tag", "tags", "标签", "行业标签", "行业分类"),
    "location": ("location", "经纬度", "坐标", "lnglat", "lonlat"),
    "lon": ("lon", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
}


# --------------------------------------------------------------------------------------
# The type table
# --------------------------------------------------------------------------------------


class PoiRule(_Frozen):
    """One mapping rule: POIs of these codes/tags (and, if given, names) -> a category.

    ``category`` is one id or several in order of preference (the first known one is
    taken: a GB 50180 tier where the categories split it, else the broader category).
    """

    category: tuple[str, ...]
    amap_codes: tuple[str, ...] = ()
    baidu_tags: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    def chosen(self, known: set[str] | None) -> str | None:
        """The first of the rule's categories that is known (any, without ``known``)."""
        if known is None:
            return self.category[0]
        return next((c for c in self.category if c in known), None)


class PoiTypes(_Frozen):
    """The POI type table of ``configs/poi_types.yaml``."""

    amap_table: str
    amap_version: str
    baidu_table: str
    baidu_version: str
    optional_categories: tuple[str, ...] = ()
    rules: tuple[PoiRule, ...] = Field(min_length=1)


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> PoiTypes:
    return validate_file(PoiTypes, path)


def load_poi_types(
    path: str | Path | None = None, categories: Sequence[Category] | None = None
) -> PoiTypes:
    """Load and validate the POI type table.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file like ``configs/poi_types.yaml`` (the default).
    categories : sequence of Category, optional
        When given, every rule's category must be one of them.

    Returns
    -------
    PoiTypes

    Raises
    ------
    ConfigError
        If the file is invalid or names an unknown category.
    """
    file = Path(path) if path is not None else DEFAULT_POI_TYPES
    table = _load_cached(file.resolve())
    if categories is not None:
        known = {c.id for c in categories}
        allowed = known | set(table.optional_categories)
        unknown = sorted({c for r in table.rules for c in r.category} - allowed)
        if unknown:
            raise ConfigError(
                message(
                    "poi_types_unknown_categories",
                    file=str(file),
                    unknown=", ".join(unknown),
                    known=", ".join(sorted(known)),
                )
            )
    return table


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def classify_poi(
    provider: Provider,
    code_or_tag: str,
    name: str,
    table: PoiTypes,
    type_text: str = "",
    known: set[str] | None = None,
) -> str | None:
    """The category of one POI, or None when no rule takes it.

    Parameters
    ----------
    provider : {"amap", "baidu"}
        Whose classification ``code_or_tag`` is in.
    code_or_tag : str
        Amap: the 6-digit typecode ("060200"; several joined by "|" are tried in turn).
        Baidu: the industry tag ("购物;便利店").
    name : str
        The POI's name (for the keyword rules).
    table : PoiTypes
        The type table.
    type_text : str, optional
        Amap's type text, used for a keyword match when there is no typecode.
    known : set of str, optional
        The category ids in use; rules whose categories are all unknown are skipped.

    Returns
    -------
    str or None
        A category id.
    """
    parts = [p.strip() for p in _normal(code_or_tag).split("|") if p.strip()]
    name = _normal(name)
    for part in parts or [""]:
        for rule in table.rules:
            chosen = rule.chosen(known)
            keyword = any(k in name for k in rule.keywords)
            if chosen and keyword and _rule_matches(provider, rule, part):
                return chosen
        best: tuple[int, str] | None = None
        for rule in table.rules:
            chosen = rule.chosen(known)
            if rule.keywords or chosen is None:
                continue
            length = _match_length(provider, rule, part)
            if length and (best is None or length > best[0]):
                best = (length, chosen)
        if best is not None:
            return best[1]
    return None


def _rule_matches(provider: Provider, rule: PoiRule, part: str) -> bool:
    return _match_length(provider, rule, part) > 0


def _match_length(provider: Provider, rule: PoiRule, part: str) -> int:
    if not part:
        return 0
    if provider == "amap":
        return max((len(c) for c in rule.amap_codes if part.startswith(c)), default=0)
    levels = [p.strip() for p in part.replace("；", ";").split(";") if p.strip()]
    best = 0
    for tag in rule.baidu_tags:
        wanted = [p.strip() for p in tag.split(";")]
        if levels[: len(wanted)] == wanted:
            best = max(best, len(wanted))
    return best


# --------------------------------------------------------------------------------------
# Recognising an export
# --------------------------------------------------------------------------------------


def _match_columns(columns: Sequence[object]) -> dict[str, str]:
    """Canonical field -> the file's column name (case-insensitive, NFKC)."""
    by_text: dict[str, str] = {}
    for column in columns:
        by_text.setdefault(_normal(str(column)).casefold(), str(column))
    found: dict[str, str] = {}
    for canonical, aliases in _ALIASES.items():
        for alias in aliases:
            if alias.casefold() in by_text:
                found[canonical] = by_text[alias.casefold()]
                break
    return found


def _provider_of_columns(columns: Sequence[object]) -> Provider | None:
    found = _match_columns(columns)
    names = {_normal(str(c)).casefold() for c in columns}
    located = "location" in found or ("lon" in found and "lat" in found)
    if not located:
        return None
    if "typecode" in found:
        return "amap"
    if "tag" in found and not names & {"category", "类别"}:
        return "baidu"
    return None


def _provider_of_json(data: Any) -> Provider | None:
    if isinstance(data, dict):
        if isinstance(data.get("pois"), list):
            return "amap"
        results = data.get("results")
        if isinstance(results, list) and any(
            isinstance(r, dict) and isinstance(r.get("location"), dict) for r in results
        ):
            return "baidu"
        return None
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        if any("typecode" in r for r in data):
            return "amap"
        if any(isinstance(r.get("location"), dict) for r in data):
            return "baidu"
    return None


def _read_json(path: Path) -> Any:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return json.loads(raw.decode(encoding))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
    return None


def _head_columns(path: Path) -> list[str]:
    """The header of a CSV/TXT (first line) or XLSX (first row) file."""
    suffix = path.suffix.lower()
    if suffix in _TABLE_SUFFIXES:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = head.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            text = head.decode("utf-8", errors="ignore")
        line = text.removeprefix("\ufeff").split("\n", 1)[0].strip("\r")
        separator = max([",", "\t", ";"], key=line.count)
        return [c.strip().strip('"') for c in line.split(separator)]
    if suffix in _SHEET_SUFFIXES:
        import openpyxl

        check_workbook(path)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception:
            return []
        try:
            sheet = book.worksheets[0]
            first = next(sheet.iter_rows(max_row=1, values_only=True), ())
            return ["" if v is None else str(v).strip() for v in first]
        finally:
            book.close()
    return []


def poi_export_kind(path: str | Path) -> Provider | None:
    """Whether a file is an Amap or Baidu POI export, and whose.

    Parameters
    ----------
    path : str or Path
        A ``.json`` (place-search response), ``.csv``/``.txt`` or ``.xlsx`` file.

    Returns
    -------
    {"amap", "baidu"} or None
        None for any other file (a GeoJSON, a radius inventory with a ``category`` column).
    """
    file = Path(path)
    if not file.is_file():
        return None
    suffix = file.suffix.lower()
    if suffix in _JSON_SUFFIXES:
        with file.open("rb") as handle:
            start = handle.read(_HEAD_BYTES)
        if b'"FeatureCollection"' in start or b'"Feature"' in start:
            return None
        return _provider_of_json(_read_json(file))
    if suffix in _TABLE_SUFFIXES or suffix in _SHEET_SUFFIXES:
        return _provider_of_columns(_head_columns(file))
    return None


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


@dataclass
class _Records:
    rows: list[dict[str, Any]]
    labels: list[Message]
    from_json: bool = False


def _text(value: object) -> str:
    """A cell as text; the JSON API writes empty fields as ``[]``."""
    if value is None or (isinstance(value, list | dict) and not value):
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _json_records(data: Any, provider: Provider) -> _Records:
    items = (
        data if isinstance(data, list) else data.get("pois" if provider == "amap" else "results")
    )
    rows: list[dict[str, Any]] = []
    for item in items or []:
        if not isinstance(item, dict):
            rows.append({})
            continue
        if provider == "amap":
            rows.append(
                {
                    "id": item.get("id"),
                    "name": item.get("name"),
                    "type": item.get("type"),
                    "typecode": item.get("typecode"),
                    "location": item.get("location"),
                }
            )
        else:
            found = item.get("location")
            location: dict[str, Any] = found if isinstance(found, dict) else {}
            found = item.get("detail_info")
            detail: dict[str, Any] = found if isinstance(found, dict) else {}
            rows.append(
                {
                    "id": item.get("uid"),
                    "name": item.get("name"),
                    "tag": detail.get("tag") or item.get("tag"),
                    "lon": location.get("lng"),
                    "lat": location.get("lat"),
                }
            )
    return _Records(rows, [message("poi_label", n=i + 1) for i in range(len(rows))], True)


def _table_records(path: Path, encoding: str | None, layer: str | None) -> _Records:
    from radius.facilities import _read_csv, _read_xlsx

    table = (
        _read_xlsx(path, layer)
        if path.suffix.lower() in _SHEET_SUFFIXES
        else _read_csv(path, encoding)
    )
    columns = _match_columns(list(table.frame.columns))
    records = [
        {canonical: row[column] for canonical, column in columns.items()}
        for row in table.frame.to_dict("records")
    ]
    return _Records(records, list(table.labels))


def _position(row: Mapping[str, Any]) -> tuple[float, float] | Message:
    """(lon, lat) of a record, or the reason it has none."""
    location = row.get("location")
    if isinstance(location, list | tuple) and len(location) == 2:
        lon, lat = parse_number(location[0]), parse_number(location[1])
    elif _text(location):
        parts = _text(location).replace("，", ",").split(",")
        if len(parts) != 2:
            return message("poi_location_format", value=repr(_text(location)))
        lon, lat = parse_number(parts[0]), parse_number(parts[1])
    else:
        lon, lat = parse_number(row.get("lon")), parse_number(row.get("lat"))
    if lon is None or lat is None or math.isnan(lon) or math.isnan(lat):
        return message("poi_coordinates_missing")
    if not (73 <= lon <= 136 and 3 <= lat <= 54):
        if 73 <= lat <= 136 and 3 <= lon <= 54:
            return message("poi_lon_lat_swapped", lon=f"{lon:g}", lat=f"{lat:g}")
        return message("poi_outside_china", lon=f"{lon:g}", lat=f"{lat:g}")
    return lon, lat


def read_poi_export(
    path: str | Path,
    categories: Sequence[Category],
    *,
    system: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    types: PoiTypes | None = None,
) -> gpd.GeoDataFrame:
    """Read an Amap or Baidu POI export as facilities.

    Parameters
    ----------
    path : str or Path
        The export (see the module docstring); :func:`poi_export_kind` must recognise it.
    categories : sequence of Category
        The known categories; POIs mapped to a category not among them count as unmapped.
    system : str, optional
        Coordinate system of the file when it is not the provider's own (GCJ-02 for Amap,
        BD-09 for Baidu), e.g. ``"wgs84"`` for an export already converted.
    layer : str, optional
        XLSX sheet (the first one by default).
    encoding : str, optional
        Text encoding of a CSV (default UTF-8, then GB18030).
    types : PoiTypes, optional
        The type table (default ``configs/poi_types.yaml``).

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities layout of :mod:`radius.facilities` in WGS-84, ``source`` "amap" or
        "baidu", ``facility_id`` ``"{category}:{provider}/{POI id or row}"``. ``attrs``
        holds ``provider``, ``coordinate_system``, ``type_table`` (the table and version),
        ``pois`` (POIs read) and ``unmapped_types`` ({type: count}).

    Raises
    ------
    InputError
        If the file is not a POI export, or rows lack usable coordinates (every such row is
        listed with the fix).

    Warns
    -----
    UserWarning
        Listing the types (with counts) that map to no category.
    """
    from radius.facilities import _facility_frame, _Row

    file = Path(path)
    provider = poi_export_kind(file)
    if provider is None:
        raise InputError(message("poi_not_an_export", file=str(file)))
    table = types if types is not None else load_poi_types()
    if file.suffix.lower() in _JSON_SUFFIXES:
        records = _json_records(_read_json(file), provider)
    else:
        records = _table_records(file, encoding, layer)
    if not records.rows:
        raise InputError(
            message("poi_export_empty", file=str(file), provider=message(f"poi_{provider}"))
        )
    known = {c.id for c in categories}
    positions: list[tuple[float, float]] = []
    keep: list[tuple[int, str]] = []
    problems: list[Message] = []
    unmapped: Counter[str] = Counter()
    for i, row in enumerate(records.rows):
        name = _text(row.get("name"))
        code = _text(row.get("typecode") if provider == "amap" else row.get("tag"))
        type_text = _text(row.get("type"))
        category = classify_poi(provider, code, name, table, type_text, known)
        if category is None or category not in known:
            label = f"{type_text} ({code})" if type_text and code else (type_text or code)
            unmapped[label or "(no type)"] += 1
            continue
        position = _position(row)
        if isinstance(position, Message):
            problems.append(message("poi_problem", where=records.labels[i], text=position))
            continue
        keep.append((i, category))
        positions.append(position)
    if problems:
        lines = [message("problem_line", text=problem) for problem in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(message("inventory_problems_more", n=len(problems) - MAX_LISTED))
        raise InputError(
            message(
                "poi_problems_json" if records.from_json else "poi_problems_rows",
                file=str(file),
                count=len(problems),
                provider=message(f"poi_{provider}"),
                lines=tuple(lines),
            )
        )
    source_system = system or _SYSTEM_OF[provider]
    if positions:
        lon, lat = to_wgs84(
            np.array([p[0] for p in positions]), np.array([p[1] for p in positions]), source_system
        )
    else:
        lon, lat = np.array([]), np.array([])
    seen: Counter[str] = Counter()
    out_rows = []
    for k, (i, category) in enumerate(keep):
        row = records.rows[i]
        poi_id = _text(row.get("id")) or str(records.labels[i].params["n"])
        seen[poi_id] += 1
        if seen[poi_id] > 1:
            poi_id = f"{poi_id}~{seen[poi_id]}"
        out_rows.append(
            _Row(
                facility_id=f"{category}:{provider}/{poi_id}",
                name=_text(row.get("name")),
                category=category,
                source=provider,
                geometry=shapely.Point(float(lon[k]), float(lat[k])),
            )
        )
    frame = _facility_frame(out_rows)
    frame.attrs.update(
        provider=provider,
        coordinate_system=source_system,
        type_table=(
            f"{table.amap_table} {table.amap_version}"
            if provider == "amap"
            else f"{table.baidu_table} {table.baidu_version}"
        ),
        pois=len(records.rows),
        unmapped_types=dict(unmapped.most_common()),
    )
    if unmapped:
        warn(
            "poi_types_unmapped",
            source=file.name,
            provider=provider,
            total=len(records.rows),
            n=sum(unmapped.values()),
            listed=unmapped_listing(unmapped),
        )
    return frame


def unmapped_listing(unmapped: Mapping[str, int]) -> str:
    """The unmapped types of an export with their counts, most frequent first."""
    items = sorted(unmapped.items(), key=lambda item: (-item[1], item[0]))
    listed = ", ".join(f"{label} x{n}" for label, n in items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        listed += f" ... and {len(items) - MAX_LISTED} more types"
    return listed
