"""Synthetic street lattices and facilities, for tests with hand-worked answers and benchmarks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from radius.network import StreetNetwork, network_from_segments

__all__ = ["lattice_network", "random_facilities"]

LATTICE_CRS = "EPSG:32651"
"""Lattices are laid out in UTM zone 51N (Shanghai), so they project to themselves."""
LATTICE_ORIGIN = (350_000.0, 3_450_000.0)


def lattice_network(columns: int, rows: int, spacing_m: float = 100.0) -> StreetNetwork:
    """A street grid of ``columns × rows`` nodes with blocks of ``spacing_m`` metres.

    Node ``(i, j)`` (column ``i``, row ``j``) sits at ``origin + (i, j) * spacing_m`` and
    has position ``i * rows + j`` in ``network.nodes``.

    Parameters
    ----------
    columns, rows : int
        Number of nodes along x and y (each at least 2).
    spacing_m : float, optional
        Block size in metres.

    Returns
    -------
    StreetNetwork
    """
    if columns < 2 or rows < 2:
        raise ValueError("a lattice needs at least 2 × 2 nodes")
    x0, y0 = LATTICE_ORIGIN
    ids = np.arange(columns * rows, dtype=np.int64).reshape(columns, rows)
    horizontal_u = ids[:-1, :].ravel()
    horizontal_v = ids[1:, :].ravel()
    vertical_u = ids[:, :-1].ravel()
    vertical_v = ids[:, 1:].ravel()
    u = np.concatenate([horizontal_u, vertical_u])
    v = np.concatenate([horizontal_v, vertical_v])
    xy = np.column_stack(
        [
            x0 + (np.arange(columns * rows) // rows) * spacing_m,
            y0 + (np.arange(columns * rows) % rows) * spacing_m,
        ]
    )
    coords = np.stack([xy[u], xy[v]], axis=1).reshape(-1, 2)
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(u)), 2))
    segments = gpd.GeoDataFrame(
        {"highway": np.full(len(u), "residential", dtype=object), "osmid": np.full(len(u), -1)},
        geometry=lines,
        crs=LATTICE_CRS,
    )
    return network_from_segments(
        segments,
        source=f"lattice {columns}x{rows} @ {spacing_m:g} m",
        crs=LATTICE_CRS,
        u_keys=u,
        v_keys=v,
    )


def random_facilities(
    network: StreetNetwork,
    per_category: dict[str, int],
    *,
    seed: int = 0,
    jitter_m: float = 20.0,
) -> gpd.GeoDataFrame:
    """Facilities placed at random points near the network's streets.

    Each facility sits at a random point of a random edge, moved up to ``jitter_m``
    metres off the street, so it must be snapped.

    Parameters
    ----------
    network : StreetNetwork
        The network to place facilities on.
    per_category : dict of str to int
        Number of facilities per category id.
    seed : int, optional
        Random seed (the result is deterministic).
    jitter_m : float, optional
        Largest offset (metres) from the street.

    Returns
    -------
    geopandas.GeoDataFrame
        In the :mod:`radius.facilities` layout, WGS-84.
    """
    rng = np.random.default_rng(seed)
    rows = []
    edges = network.edges.geometry.to_numpy()
    for category, count in per_category.items():
        chosen = rng.integers(0, len(edges), count)
        along = shapely.line_interpolate_point(
            edges[chosen], rng.uniform(0, 1, count), normalized=True
        )
        x = shapely.get_x(along) + rng.uniform(-jitter_m, jitter_m, count)
        y = shapely.get_y(along) + rng.uniform(-jitter_m, jitter_m, count)
        for k in range(count):
            rows.append((f"{category}:synthetic/{k}", f"{category} {k}", category, x[k], y[k]))
    frame = pd.DataFrame(rows, columns=["facility_id", "name", "category", "x", "y"])
    transformer = pyproj.Transformer.from_crs(network.crs, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(frame["x"].to_numpy(), frame["y"].to_numpy())
    return gpd.GeoDataFrame(
        {
            "facility_id": frame["facility_id"],
            "name": frame["name"],
            "category": frame["category"],
            "source": "synthetic",
            "floor_area_m2": np.nan,
            "land_area_m2": np.nan,
            "beds": np.nan,
            "places": np.nan,
            "entrances": pd.Series([None] * len(frame), dtype=object),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
