"""Read walkable ways from OSM files with pyosmium and split them at junctions."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pyproj
import shapely

from radius._errors import InputError
from radius._files import check_unpacked, compressed_osm_limits
from radius._limits import regular_file
from radius.config import WalkRules
from radius.i18n import message

WGS84 = pyproj.CRS.from_epsg(4326)

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
    value per way. The per-node columns are lists while read node by node and numpy
    arrays when read whole (:func:`read_walkable_ways`).
    """

    refs: list[int] | np.ndarray = field(default_factory=list)
    lon: list[float] | np.ndarray = field(default_factory=list)
    lat: list[float] | np.ndarray = field(default_factory=list)
    way_start: list[int] | np.ndarray = field(default_factory=list)
    way_id: list[int] = field(default_factory=list)
    highway: list[str] = field(default_factory=list)

    def add_run(self, way_id: int, highway: str, run: list[tuple[int, float, float]]) -> None:
        """Append one run of consecutive located nodes of a way."""
        if len(run) < 2:
            return
        if not isinstance(self.refs, list) or not isinstance(self.way_start, list):
            raise TypeError("add_run appends to ways read node by node (list columns)")
        if not isinstance(self.lon, list) or not isinstance(self.lat, list):
            raise TypeError("add_run appends to ways read node by node (list columns)")
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
            fix="compressed_export_osm_again",
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
    key = "osm_bad_location" if isinstance(exc, osmium.InvalidLocationError) else "osm_unreadable"
    return InputError(message(key, file=str(path), reason=str(exc)))


def read_walkable_ways(path: Path, rules: WalkRules) -> WalkableWays:
    """Collect the walkable ways of an OSM file with their node locations.

    Nodes whose location is missing from the file (a partial extract) break the way into
    separate runs, so no segment jumps across the gap.

    The node lists are handed to libosmium whole: each walkable way is written as OPL text
    with its node locations (one call per way), and the text is parsed by Arrow's CSV
    reader, instead of one Python object per way node (1.6 s against 0.7 s of CPU for the
    500,000 way nodes of a 500 x 500 lattice). The coordinates are the same numbers: OPL
    prints the 10⁻⁷-degree fixed-point locations exactly and Arrow's parser rounds
    correctly. Without pyarrow the file is read node by node.

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
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover - pyarrow comes with the geopandas/dask stack
        return _read_walkable_ways_by_node(path, rules)
    try:
        folder = tempfile.TemporaryDirectory(prefix="radius-osm-")
    except OSError:  # no writable temporary folder
        return _read_walkable_ways_by_node(path, rules)
    with folder:
        opl = Path(folder.name) / "ways.opl"
        way_id: list[int] = []
        highway: list[str] = []
        n_nodes: list[int] = []
        processor = open_osm(path, osmium.osm.NODE | osmium.osm.WAY)
        writer = osmium.SimpleWriter(
            osmium.io.File(str(opl), "opl,locations_on_ways=true,add_metadata=false")
        )
        try:
            # The writer's buffer is written at close: a node out of range fails there.
            try:
                reader = processor.with_locations().with_filter(osmium.filter.KeyFilter("highway"))
                for obj in reader:
                    if not isinstance(obj, osmium.osm.Way):
                        continue
                    # The way's own tag list, looked up in place: copying each way's tags
                    # into a dict took two thirds of this loop's time (#17).
                    tags = obj.tags
                    if not rules.is_walkable(tags):
                        continue
                    nodes = len(obj.nodes)
                    if nodes < 2:  # no segment (a run of one node is dropped in any case)
                        continue
                    way_id.append(obj.id)
                    highway.append(tags["highway"])
                    n_nodes.append(nodes)
                    writer.add_way(obj)
            finally:
                writer.close()
        except OSM_ERRORS as exc:
            raise unreadable_osm(path, exc) from None
        text = opl.read_text(encoding="utf-8")
    parsed = _opl_way_nodes(text, int(sum(n_nodes)))
    del text
    if parsed is None:  # not the OPL expected (never seen): read again node by node
        return _read_walkable_ways_by_node(path, rules)
    refs, lon, lat = parsed
    # A run is the longest stretch of located nodes of a way; runs of one node are dropped.
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)
    counts = np.asarray(n_nodes, dtype=np.int64)
    way_of_entry = np.repeat(np.arange(len(counts)), counts)
    first_of_way = np.zeros(len(refs), dtype=bool)
    first_of_way[np.cumsum(counts) - counts] = True
    run_starts = valid & (first_of_way | ~np.concatenate([[False], valid[:-1]]))
    run_of_entry = np.cumsum(run_starts) - 1
    run_length = np.bincount(run_of_entry[valid], minlength=int(run_starts.sum()))
    kept = valid & (run_length[run_of_entry] >= 2)
    kept_runs = np.flatnonzero(run_length >= 2)
    run_way = way_of_entry[np.flatnonzero(run_starts)][kept_runs]
    run_size = run_length[kept_runs]
    return WalkableWays(
        refs=refs[kept],
        lon=lon[kept],
        lat=lat[kept],
        way_start=np.cumsum(run_size) - run_size,
        way_id=np.asarray(way_id, dtype=np.int64)[run_way].tolist(),
        highway=np.asarray(highway, dtype=object)[run_way].tolist(),
    )


def _opl_way_nodes(text: str, expected: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Node ids, longitudes and latitudes of OPL way lines (``... Nn1x121.1y31.2,n2x...``).

    A missing location (``n5xy``) is NaN. None when the text does not hold ``expected``
    way nodes.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    if expected == 0:
        empty = np.empty(0)
        return np.empty(0, dtype=np.int64), empty, empty
    # Tags are escaped in OPL (no raw space), so the node list follows the last " N".
    lists = [line[line.rindex(" N") + 2 :] for line in text.split("\n") if line]
    body = ",".join(lists)
    del lists
    if not body.startswith("n"):
        return None
    # One "ref,lon,lat" line per way node.
    csv = body[1:].replace(",n", "\n").replace("x", ",").replace("y", ",").encode("ascii")
    del body
    table = pa_csv.read_csv(
        io.BytesIO(csv),
        read_options=pa_csv.ReadOptions(column_names=["ref", "lon", "lat"]),
        parse_options=pa_csv.ParseOptions(newlines_in_values=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={"ref": pa.int64(), "lon": pa.float64(), "lat": pa.float64()}
        ),
    )
    if table.num_rows != expected or table.column("ref").null_count:
        return None
    refs = table.column("ref").to_numpy()
    lon = table.column("lon").to_numpy(zero_copy_only=False)  # nulls become NaN
    lat = table.column("lat").to_numpy(zero_copy_only=False)
    return refs, lon, lat


def _read_walkable_ways_by_node(path: Path, rules: WalkRules) -> WalkableWays:
    """:func:`read_walkable_ways` one way node at a time (runs split at missing locations)."""
    processor = open_osm(path, osmium.osm.NODE | osmium.osm.WAY)
    ways = WalkableWays()
    try:
        reader = processor.with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        for obj in reader:
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = obj.tags  # looked up in place, as in read_walkable_ways
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
    ways: WalkableWays, *, crs: pyproj.CRS | None = None
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Split ways into segments between junctions and way ends.

    A node is a junction when it is the end of a way or appears more than once among all
    walkable way nodes (shared by two ways, or a way crossing itself).

    Parameters
    ----------
    ways : WalkableWays
        The ways, as read by :func:`read_walkable_ways`.
    crs : pyproj.CRS, optional
        The CRS of the segments (default EPSG:4326). The node coordinates are projected as
        arrays before the lines are made, so no WGS-84 copy of the lines is ever built;
        the numbers are those of ``GeoSeries.to_crs`` (the same transformer).

    Returns
    -------
    segments : geopandas.GeoDataFrame
        LineStrings in ``crs`` with ``highway`` and ``osmid`` (way id).
    u_keys, v_keys : numpy.ndarray
        OSM node id of each segment's start and end.
    """
    refs = np.asarray(ways.refs, dtype=np.int64)
    lon = np.asarray(ways.lon, dtype=np.float64)
    lat = np.asarray(ways.lat, dtype=np.float64)
    if crs is None or crs.is_exact_same(WGS84):
        crs = WGS84
        coords = np.column_stack([lon, lat])
    else:
        x, y = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(lon, lat)
        coords = np.column_stack([x, y])
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
        crs=crs,
    )
    return segments, refs[seg_start], refs[seg_end]
