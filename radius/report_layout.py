"""Pieces of the consultant report's layout: the verdict matrix, unit labels, street names.

- :func:`verdict_matrix`: the one-page summary a client reads first, a row per unit
  (社区/街道, named as in the user's districts file) and a column per rule: 达标, 未达标 or
  不适用 (a unit without any of the rule's group).
- :func:`unit_label`: a unit's name from the user's file, with its id when they differ.
- :func:`street_names`: the nearest named street of each point (a suggested site), from the
  network file's own names (OSM ``name:zh``/``name`` of the ways, or a name column of road
  lines).
- :func:`file_names_only`: a text with every absolute path cut to the file's name, so a
  report never prints the server's folders.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["file_names_only", "street_names", "unit_label", "verdict_matrix"]

_ABSOLUTE_PATH = re.compile(
    r"(?:(?<=^)|(?<=[\s'\"(（:=]))(?:/|[A-Za-z]:\\)(?:[^\s'\"()（）:;,，；]*[/\\])+"
)
_NAME_COLUMNS = ("name:zh", "name", "名称", "道路名称", "路名", "road_name")
MAX_STREET_M = 150.0
"""A site farther than this (metres) from every named street gets no street name."""


def file_names_only(text: str) -> str:
    """``text`` with the folders of every absolute path removed (``/srv/x/a.osm`` -> ``a.osm``)."""
    return _ABSOLUTE_PATH.sub("", text)


def unit_label(district_id: object, name: object) -> str:
    """A unit as the planner named it: ``name`` (``id``), or the id alone without a name."""
    ident = "" if district_id is None else str(district_id)
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    text = text.strip()
    if not text or text == ident:
        return ident
    return f"{text}（{ident}）" if re.search(r"[\u4e00-\u9fff]", text) else f"{text} ({ident})"


def verdict_matrix(
    districts: pd.DataFrame, rules: pd.DataFrame, words: Mapping[str, str], lang: str
) -> tuple[list[str], list[list[str]], list[list[str]], list[tuple[str, str]]]:
    """The verdict of every unit (rows) on every rule (columns).

    Parameters
    ----------
    districts : pandas.DataFrame
        ``district_id``, optional ``name``, ``population`` and ``{rule}_pass`` columns.
    rules : pandas.DataFrame
        The rules (``id``, ``name_zh``, ``name_en``, optional ``group``).
    words : mapping
        ``pass``, ``fail``, ``na``, ``unit`` texts in the report's language.
    lang : {"zh", "en"}
        Which rule name to list in the key.

    Returns
    -------
    header : list of str
        The unit column, then the rule codes R1, R2, …
    rows : list of list of str
        One per unit with residents (units without anyone are left out).
    classes : list of list of str
        Per cell ``"pass"``, ``"fail"`` or ``"na"`` (styling).
    key : list of (str, str)
        Rule code and rule name.
    """
    records = rules.to_dict("records")
    codes = [f"R{i + 1}" for i in range(len(records))]
    key = [
        (code, str(r["name_zh"] if lang == "zh" else r["name_en"]))
        for code, r in zip(codes, records, strict=True)
    ]
    header = [words["unit"], *codes]
    rows: list[list[str]] = []
    classes: list[list[str]] = []
    for record in districts.to_dict("records"):
        population = float(record.get("population", 0) or 0)
        if not population > 0:
            continue
        cells = [unit_label(record.get("district_id"), record.get("name"))]
        kinds = [""]
        for rule in records:
            rid = str(rule["id"])
            group = str(rule.get("group") or "")
            count = record.get(group) if group and group in record else population
            verdict = record.get(f"{rid}_verdict")
            if isinstance(verdict, str) and verdict in ("pass", "fail", "not_applicable"):
                kind = "na" if verdict == "not_applicable" else verdict
                cells.append(words[kind])
                kinds.append(kind)
                continue
            value = record.get(f"{rid}_pass")
            if (
                value is None
                or (isinstance(value, float) and np.isnan(value))
                or not (count is None or float(count) > 0)
            ):
                cells.append(words["na"])
                kinds.append("na")
            elif bool(value):
                cells.append(words["pass"])
                kinds.append("pass")
            else:
                cells.append(words["fail"])
                kinds.append("fail")
        rows.append(cells)
        classes.append(kinds)
    return header, rows, classes, key


def _osm_way_names(path: Path) -> dict[int, str]:
    import osmium

    from radius._osm import open_osm

    names: dict[int, str] = {}
    processor = open_osm(path, osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
    for way in processor:
        tags = way.tags
        name = next((tags.get(k) for k in ("name:zh", "name", "name:en") if tags.get(k)), None)
        if name:
            names[int(way.id)] = str(name)
    return names


def _named_lines(network: Any) -> gpd.GeoSeries | None:
    """The network's edges with a street name (index: the name), in the network's CRS."""
    source = Path(str(network.source))
    edges = network.edges
    if not source.is_file():
        return None
    lowered = source.name.lower()
    try:
        if any(s in lowered for s in (".osm", ".pbf")):
            names = _osm_way_names(source)
            if "osmid" not in edges.columns or not names:
                return None

            def first(value: Any) -> str | None:
                ids = value if isinstance(value, list | tuple | np.ndarray) else [value]
                for item in ids:
                    try:
                        found = names.get(int(item))
                    except (TypeError, ValueError):
                        continue
                    if found:
                        return found
                return None

            labels = edges["osmid"].map(first)
            keep = labels.notna().to_numpy()
            return gpd.GeoSeries(
                edges.geometry.to_numpy()[keep], index=labels[keep].to_numpy(), crs=edges.crs
            )
        import pyogrio

        frame = pyogrio.read_dataframe(source)
        column = next((c for c in _NAME_COLUMNS if c in frame.columns), None)
        if column is None:
            return None
        frame = frame[frame[column].notna() & (frame[column].astype(str).str.strip() != "")]
        lines = frame.geometry.to_crs(edges.crs)
        return gpd.GeoSeries(
            lines.to_numpy(), index=frame[column].astype(str).to_numpy(), crs=edges.crs
        )
    except Exception as exc:
        warnings.warn(f"{source.name}: street names not read ({exc})", stacklevel=2)
        return None


def street_names(network: Any, points: gpd.GeoSeries) -> list[str]:
    """The name of the nearest named street of each point ("" when none within 150 m).

    Parameters
    ----------
    network : StreetNetwork
        The analysed network (its ``source`` file gives the names).
    points : geopandas.GeoSeries
        Points in any CRS.

    Returns
    -------
    list of str
    """
    if len(points) == 0:
        return []
    lines = _named_lines(network)
    if lines is None or len(lines) == 0:
        return [""] * len(points)
    located = points.to_crs(lines.crs)
    tree = shapely.STRtree(lines.to_numpy())
    found = tree.query_nearest(located.to_numpy(), max_distance=MAX_STREET_M, all_matches=False)
    names = [""] * len(points)
    labels = list(lines.index)
    for point_index, line_index in zip(found[0].tolist(), found[1].tolist(), strict=True):
        names[point_index] = str(labels[line_index])
    return names


def sequence_text(values: Sequence[str], separator: str) -> str:
    """Non-empty values joined."""
    return separator.join(v for v in values if v)
