"""Read walkable ways from OSM files with pyosmium and split them at junctions."""

from __future__ import annotations

import bz2
import functools
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import shapely

from radius._errors import InputError
from radius._files import check_unpacked, compressed_osm_limits
from radius._limits import regular_file
from radius.config import WalkRules

__all__ = [
    "OSM_ERRORS",
    "WalkableWays",
    "open_osm",
    "osm_data_date",
    "read_walkable_ways",
    "split_ways_at_junctions",
    "unreadable_osm",
]


@dataclass
class WalkableWays:
    """Walkable ways as flat arrays, one entry per way node.

    ``refs``, ``lon`` and ``lat`` hold the nodes of every way one after the other;
    ``way_start`` the offset of each way's first node; ``way_id`` and ``highway`` one
    value per way.
    """

    refs: list[int] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    way_start: list[int] = field(default_factory=list)
    way_id: list[int] = field(default_factory=list)
    highway: list[str] = field(default_factory=list)

    def add_run(self, way_id: int, highway: str, run: list[tuple[int, float, float]]) -> None:
        """Append one run of consecutive located nodes of a way."""
        if len(run) < 2:
            return
        self.way_start.append(len(self.refs))
        self.way_id.append(way_id)
        self.highway.append(highway)
        for ref, lon, lat in run:
            self.refs.append(ref)
            self.lon.append(lon)
            self.lat.append(lat)


def open_osm(
    path: Path, entities: osmium.osm.osm_entity_bits | None = None
) -> osmium.FileProcessor:
    """An ``osmium.FileProcessor`` on ``path`` with clear errors for unreadable files.

    Parameters
    ----------
    path : Path
        An OSM XML (optionally bz2/gz compressed) or PBF file.
    entities : osmium.osm.osm_entity_bits, optional
        Which object types to read.

    Raises
    ------
    InputError
        If the file does not exist, or is bzip2/gzip-compressed and its first 64 MiB
        unpack like a decompression bomb.
    """
    import osmium

    regular_file(path, "OSM file")
    if path.name.lower().endswith((".bz2", ".gz")):
        version = path.stat()
        _check_compressed(str(path), version.st_size, version.st_mtime_ns)
    if entities is None:
        return osmium.FileProcessor(str(path))
    return osmium.FileProcessor(str(path), entities)


CHECKED_UNPACKED_BYTES = 64 * 1024 * 1024
"""How much of a local .osm.bz2/.osm.gz is unpacked to look for a decompression bomb.

A bomb packs thousands of times and shows it in its first megabytes; OSM XML packs 10–20
times. Stopping there keeps a large genuine file from being unpacked twice.
"""


@functools.lru_cache(maxsize=16)
def _check_compressed(path: str, size: int, modified_ns: int) -> None:
    """:func:`radius._files.check_unpacked` on a file's head, once per file version.

    ``size`` and ``modified_ns`` only key the cache: a file changed on disk is checked again.
    """
    with open(path, "rb") as handle:
        # The ratio is judged on the bytes read so far, not on the whole file: in a large
        # file, the head alone could never unpack to 100 times the whole file's size.
        check_unpacked(
            path,
            handle,
            None,
            compressed_osm_limits(),
            stop_after=CHECKED_UNPACKED_BYTES,
            fix="export the area again from openstreetmap.org, Overpass or Geofabrik",
        )


_HEADER_DATE = re.compile(rb'<(?:osm|meta)\b[^>]*?\b(?:osm_base|timestamp)="(\d{4}-\d\d-\d\d)[T"]')


def osm_data_date(path: Path) -> str | None:
    """The date the data of an OSM file was taken, when its header states it.

    Overpass exports carry ``<meta osm_base="...">``, planet extracts an ``<osm timestamp>``
    attribute, PBF files the ``osmosis_replication_timestamp`` header option.

    Returns
    -------
    str or None
        ``YYYY-MM-DD``, or None when the header gives no date or the file is unreadable.
    """
    name = path.name.lower()
    try:
        if name.endswith(".pbf"):
            reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
            try:
                stamp = reader.header().get("osmosis_replication_timestamp")
            finally:
                reader.close()
            return stamp[:10] if stamp else None
        opener = bz2.open if name.endswith(".bz2") else gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            head = handle.read(4096)
    except (OSError, RuntimeError, EOFError):
        return None
    found = _HEADER_DATE.search(head)
    return found.group(1).decode() if found else None


OSM_ERRORS = (RuntimeError, osmium.InvalidLocationError)
"""What osmium raises for a file it cannot read (a bad coordinate is not a RuntimeError)."""


def unreadable_osm(path: Path, exc: BaseException) -> InputError:
    """The error of an OSM file osmium could not read, with the fix."""
    if isinstance(exc, osmium.InvalidLocationError):
        return InputError(
            f"{path}: a node's coordinates are out of range or badly written ({exc}); "
            "latitudes lie within -90 to 90 and longitudes within -180 to 180 degrees: "
            "correct that node, or export the area again from openstreetmap.org, Overpass "
            "or Geofabrik"
        )
    return InputError(
        f"{path}: not a readable OSM XML/PBF file ({exc}); export the area again from "
        "openstreetmap.org, Overpass or Geofabrik as .osm, .osm.bz2 or .osm.pbf"
    )


def read_walkable_ways(path: Path, rules: WalkRules) -> WalkableWays:
    """Collect the walkable ways of an OSM file with their node locations.

    Nodes whose location is missing from the file (a partial extract) break the way into
    separate runs, so no segment jumps across the gap.

    Parameters
    ----------
    path : Path
        The OSM file.
    rules : WalkRules
        Walkability rules.

    Returns
    -------
    WalkableWays
    """
    import osmium

    processor = open_osm(path, osmium.osm.NODE | osmium.osm.WAY)
    ways = WalkableWays()
    try:
        reader = processor.with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        for obj in reader:
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = dict(obj.tags)
            if not rules.is_walkable(tags):
                continue
            run: list[tuple[int, float, float]] = []
            for node in obj.nodes:
                location = node.location
                if location.valid():
                    run.append((node.ref, location.lon, location.lat))
                else:
                    ways.add_run(obj.id, tags["highway"], run)
                    run = []
            ways.add_run(obj.id, tags["highway"], run)
    except OSM_ERRORS as exc:
        raise unreadable_osm(path, exc) from None
    return ways


def split_ways_at_junctions(
    ways: WalkableWays,
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Split ways into segments between junctions and way ends.

    A node is a junction when it is the end of a way or appears more than once among all
    walkable way nodes (shared by two ways, or a way crossing itself).

    Parameters
    ----------
    ways : WalkableWays
        The ways, as read by :func:`read_walkable_ways`.

    Returns
    -------
    segments : geopandas.GeoDataFrame
        LineStrings in EPSG:4326 with ``highway`` and ``osmid`` (way id).
    u_keys, v_keys : numpy.ndarray
        OSM node id of each segment's start and end.
    """
    refs = np.asarray(ways.refs, dtype=np.int64)
    coords = np.column_stack([np.asarray(ways.lon), np.asarray(ways.lat)])
    starts = np.asarray(ways.way_start, dtype=np.int64)
    n_entries = len(refs)
    way_of_entry = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n_entries)))
    is_first = np.zeros(n_entries, dtype=bool)
    is_first[starts] = True
    is_last = np.zeros(n_entries, dtype=bool)
    is_last[np.append(starts[1:], n_entries) - 1] = True

    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    is_junction = is_first | is_last | (counts[inverse] > 1)

    junctions = np.flatnonzero(is_junction)
    seg_start = junctions[:-1]
    seg_end = junctions[1:]
    same_way = way_of_entry[seg_start] == way_of_entry[seg_end]
    seg_start = seg_start[same_way]
    seg_end = seg_end[same_way]

    n_points = seg_end - seg_start + 1
    offsets = np.repeat(seg_start - np.cumsum(np.append(0, n_points[:-1])), n_points)
    entry_index = np.arange(int(n_points.sum())) + offsets
    lines = shapely.linestrings(
        coords[entry_index], indices=np.repeat(np.arange(len(seg_start)), n_points)
    )
    way_index = way_of_entry[seg_start]
    segments = gpd.GeoDataFrame(
        {
            "highway": np.asarray(ways.highway, dtype=object)[way_index],
            "osmid": np.asarray(ways.way_id, dtype=np.int64)[way_index],
        },
        geometry=lines,
        crs="EPSG:4326",
    )
    return segments, refs[seg_start], refs[seg_end]
