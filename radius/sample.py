"""The embedded default data: the district every command and the app analyse by default."""

from __future__ import annotations

import os
from pathlib import Path

from radius._errors import InputError
from radius.i18n import message

__all__ = [
    "DATA_DIR",
    "DEFAULT_DISTRICT",
    "SHARED_DATA_ENV",
    "default_network_path",
    "shared_data_dir",
]

SHARED_DATA_ENV = "RADIUS_SHARED_DATA"
"""Environment variable naming a folder of OSM extracts (default ``../shared/data``)."""
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
"""The repository's ``data/`` folder (see ``data/README.md``)."""
DEFAULT_DISTRICT = DATA_DIR / "cn_nanjing_xinjiekou.osm.pbf"
"""Xinjiekou, Nanjing (© OpenStreetMap contributors, ODbL), shipped in ``data/``."""


def shared_data_dir() -> Path | None:
    """The folder of shared real extracts, if present.

    ``$RADIUS_SHARED_DATA`` when set, else ``shared/data`` beside the repository
    checkout (``../shared/data`` seen from the repository root). Only tests and
    benchmarks read it; the default district never depends on it.
    """
    explicit = os.environ.get(SHARED_DATA_ENV)
    if explicit:
        return Path(explicit) if Path(explicit).is_dir() else None
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def default_network_path() -> Path:
    """The default district: Xinjiekou, Nanjing, shipped in ``data/``.

    The same on every machine, with or without the shared extracts: the file is the
    OpenStreetMap extract ``cn_nanjing_xinjiekou.osm`` written out as PBF (same
    elements and tags; © OpenStreetMap contributors, ODbL; see ``data/README.md``).

    Raises
    ------
    InputError
        If the file is missing from the checkout.
    """
    if DEFAULT_DISTRICT.is_file():
        return DEFAULT_DISTRICT
    raise InputError(message("sample_default_missing", file=str(DEFAULT_DISTRICT)))
