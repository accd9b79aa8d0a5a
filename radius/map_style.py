"""Colours and symbols of maps and GIS styles (``configs/map_style.yaml``), without folium.

The style is read by the web maps (:mod:`radius.maps`), the report figures and the
GeoPackage layer styles; it lives apart from :mod:`radius.maps` so that writing a
GeoPackage does not import folium.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from radius.config import CONFIG_DIR, validate_file

__all__ = ["MapStyle", "load_map_style"]

_HEX = r"^#[0-9a-fA-F]{6}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _FacilityStyle(_Frozen):
    radius_px: float = Field(gt=0)
    outline: str = Field(pattern=_HEX)
    weight_px: float = Field(ge=0)
    fill_opacity: float = Field(ge=0, le=1)
    unroutable_outline: str = Field(pattern=_HEX)


class _ProposedStyle(_Frozen):
    symbol: str = Field(min_length=1)
    size_px: int = Field(gt=0)
    outline: str = Field(pattern=_HEX)


class _AreaStyle(_Frozen):
    fill_opacity: float = Field(ge=0, le=1)
    weight_px: float = Field(ge=0)


class _UncoveredStyle(_Frozen):
    colour: str = Field(pattern=_HEX)
    fill_opacity: float = Field(ge=0, le=1)
    min_radius_px: float = Field(gt=0)
    max_radius_px: float = Field(gt=0)
    px_per_sqrt_person: float = Field(gt=0)


class _DistrictStyle(_Frozen):
    pass_colour: str = Field(pattern=_HEX)
    no_residents_colour: str = Field(pattern=_HEX)
    fail_colours: tuple[str, ...] = Field(min_length=2)
    fill_opacity: float = Field(ge=0, le=1)
    outline: str = Field(pattern=_HEX)
    weight_px: float = Field(ge=0)

    @field_validator("fail_colours")
    @classmethod
    def _hex(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not re.match(_HEX, c)]
        if bad:
            raise ValueError(f"colours must be #rrggbb: {', '.join(bad)}")
        return value


class MapStyle(_Frozen):
    """Colours and symbols of the maps (see ``configs/map_style.yaml``)."""

    categories: dict[str, str] = Field(default_factory=dict)
    palette: tuple[str, ...] = Field(min_length=1)
    facility: _FacilityStyle
    proposed: _ProposedStyle
    service_area: _AreaStyle
    uncovered: _UncoveredStyle
    districts: _DistrictStyle
    data_attribution: str = Field(min_length=1)

    @field_validator("categories", "palette")
    @classmethod
    def _hex_colours(cls, value: Any) -> Any:
        colours = value.values() if isinstance(value, dict) else value
        bad = [c for c in colours if not re.match(_HEX, c)]
        if bad:
            raise ValueError(f"colours must be #rrggbb: {', '.join(bad)}")
        return value

    def category_colours(self, ids: Sequence[str]) -> dict[str, str]:
        """A colour per category id: the configured one, else the palette in turn."""
        colours: dict[str, str] = {}
        spare = iter(c for c in self.palette if c not in self.categories.values())
        fallback = list(self.palette)
        for index, cid in enumerate(ids):
            if cid in self.categories:
                colours[cid] = self.categories[cid]
            else:
                colours[cid] = next(spare, fallback[index % len(fallback)])
        return colours


@lru_cache(maxsize=8)
def _load_map_style_cached(path: Path) -> MapStyle:
    return validate_file(MapStyle, path)


def load_map_style(path: str | Path | None = None) -> MapStyle:
    """The map colours and symbols of ``configs/map_style.yaml`` (or ``path``).

    Raises
    ------
    ConfigError
        If the file is invalid (the message names the file and keys).
    """
    resolved = Path(path) if path is not None else CONFIG_DIR / "map_style.yaml"
    return _load_map_style_cached(resolved.resolve())
