"""Write ``examples/shanghai_facilities.csv``: a SYNTHETIC facility inventory for the sample batch.

The Shanghai centre extract (``../shared/data/cn_shanghai_center_roads.osm.pbf``) holds
streets only: no POIs, no buildings. To run the sample batch (``shanghai_batch.yaml``) with
facilities, this script places made-up facilities at real street nodes of that network.
They are **not real places**: every row is named ``合成 synthetic ...`` and its ``note`` says so.

Deterministic: for each category the nodes of the main network component are ranked by the
SHA-256 of ``"{category}|{osm node id}"`` and the first ``COUNTS[category]`` are taken; the
capacities come from the same hash. Rerunning gives the same file byte for byte.

Run from the repository root::

    python examples/make_shanghai_facilities.py
"""

from __future__ import annotations

import csv
import hashlib
import warnings
from pathlib import Path

from radius.network import load_network

__all__ = ["COUNTS", "main"]

HERE = Path(__file__).resolve().parent
NETWORK = HERE.parent.parent / "shared" / "data" / "cn_shanghai_center_roads.osm.pbf"
OUT = HERE / "shanghai_facilities.csv"

COUNTS = {
    "convenience_store": 150,
    "farmers_market": 30,
    "supermarket": 35,
    "fitness": 45,
    "elderly_care": 25,
    "childcare": 30,
    "reading": 20,
    "rehabilitation": 6,
}
"""Synthetic facilities per category (about 3,700 street nodes in the main component)."""

NAMES = {
    "convenience_store": "便利店 convenience store",
    "farmers_market": "菜市场 farmers' market",
    "supermarket": "超市 supermarket",
    "fitness": "健身场地 fitness ground",
    "elderly_care": "养老服务中心 elderly care centre",
    "childcare": "托育机构 childcare centre",
    "reading": "社区阅览室 reading room",
    "rehabilitation": "康复中心 rehabilitation centre",
}

# Capacity ranges (low, high) by category and column: floor_area_m2 and land_area_m2 in m²,
# beds and places as counts. Made up, of a plausible order for community facilities.
CAPACITY = {
    "farmers_market": {"floor_area_m2": (800, 2500)},
    "supermarket": {"floor_area_m2": (500, 3000)},
    "fitness": {"land_area_m2": (400, 6000)},
    "elderly_care": {"floor_area_m2": (800, 4000), "land_area_m2": (600, 3000), "beds": (20, 150)},
    "childcare": {"places": (30, 150)},
}
COLUMNS = [
    "id",
    "name",
    "category",
    "lon",
    "lat",
    "floor_area_m2",
    "land_area_m2",
    "beds",
    "places",
    "note",
]


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def main() -> None:
    """Write the synthetic inventory next to this script."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extract has disconnected pieces; expected
        network = load_network(NETWORK)
    nodes = network.nodes[["osmid", "lon", "lat"]].to_numpy()
    rows: list[dict[str, object]] = []
    for category, count in COUNTS.items():
        ranked = sorted(nodes, key=lambda n: (_digest(f"{category}|{int(n[0])}"), int(n[0])))
        for k, (osmid, lon, lat) in enumerate(ranked[:count], start=1):
            row: dict[str, object] = {
                "id": f"syn-{category}-{k:03d}",
                "name": f"合成 synthetic {NAMES[category]} {k}",
                "category": category,
                "lon": f"{lon:.6f}",
                "lat": f"{lat:.6f}",
                "note": f"SYNTHETIC facility at OSM street node {int(osmid)}; not a real place",
            }
            for column, (low, high) in CAPACITY.get(category, {}).items():
                value = low + _digest(f"{category}|{int(osmid)}|{column}") % (high - low + 1)
                row[column] = value
            rows.append(row)
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} synthetic facilities to {OUT}")


if __name__ == "__main__":
    main()
