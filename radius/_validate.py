"""Parameters checked at the boundary: finite, in range, with their units in the message.

A number a user types (``--buffer``, ``--max-snap``, a speed, a threshold) is checked
before any file is read, so ``--buffer nan`` or ``--max-snap -5`` never reach the engine,
where they would give empty service areas or an internal error. A projected CRS chosen by
hand is checked against the data it will measure: a wrong UTM or Gauss–Krüger zone
stretches every distance, so it is refused (or, just outside its zone, warned about) with
the zones that fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import pyproj

from radius._errors import CRSError, InputError
from radius.i18n import Message, message, warn

__all__ = [
    "PARAMETERS",
    "Bounds",
    "check_crs_fits",
    "check_number",
    "fitting_crs",
]


@dataclass(frozen=True)
class Bounds:
    """The valid range of one parameter.

    Attributes
    ----------
    low, high : float
        The range.
    unit : str
        Its unit, for messages: a key of ``configs/messages.yaml`` (``"unit_metres"``).
    low_open : bool
        Whether ``low`` itself is refused (``> low`` rather than ``>= low``).
    integer : bool
        Whether only whole numbers are valid.
    default : float, optional
        The default value, named in messages.
    hint : str
        What a usual value is, for messages: a key of ``configs/messages.yaml``, or "".
    """

    low: float
    high: float
    unit: str
    low_open: bool = False
    integer: bool = False
    default: float | None = None
    hint: str = ""


PARAMETERS: Final[dict[str, Bounds]] = {
    "buffer": Bounds(0.0, 1000.0, "unit_metres", low_open=True, default=30),
    "max_snap": Bounds(0.0, 5000.0, "unit_metres", low_open=True, default=200),
    "speed": Bounds(0.1, 5.0, "unit_m_s", low_open=True, hint="hint_walking_speed"),
    "hexagon_size": Bounds(10.0, 20_000.0, "unit_metres", default=500),
    "household_size": Bounds(0.5, 20.0, "unit_persons_per_household", hint="hint_household_size"),
    "count": Bounds(1, 10_000, "unit_sites", integer=True),
    "per_resident": Bounds(0.0, 1e6, "unit_per_resident", low_open=True),
    "min_spacing": Bounds(0.0, 100_000.0, "unit_metres"),
    "time_limit": Bounds(0.0, 86_400.0, "unit_seconds", low_open=True, default=30),
    "workers": Bounds(1, 1024, "unit_workers", integer=True),
    "threshold_m": Bounds(0.0, 100_000.0, "unit_metres", low_open=True),
    "threshold_min": Bounds(0.0, 1440.0, "unit_minutes", low_open=True),
}
"""Every numeric parameter of the command line and jobs, by name."""


def check_number(label: str, value: float | int | None, name: str) -> float | int | None:
    """The value, once it is finite and within the parameter's range.

    Parameters
    ----------
    label : str
        How the user wrote the parameter (``"--buffer"``, ``"max_snap_m"``).
    value : float, int or None
        The value; None (not given) passes.
    name : str
        The parameter's key in :data:`PARAMETERS`.

    Raises
    ------
    InputError
        ``"--buffer nan: not a finite number; give metres greater than 0 and at most
        1,000 (the default is 30)"``.
    """
    if value is None:
        return None
    bounds = PARAMETERS[name]
    unit = message(bounds.unit)
    hint: str = ""
    if bounds.default is not None:
        hint = message("hint_in_brackets", text=message("hint_default", value=bounds.default))
    elif bounds.hint:
        hint = message("hint_in_brackets", text=message(bounds.hint))
    wanted = message(
        "number_wanted_above" if bounds.low_open else "number_wanted_between",
        unit=unit,
        low=f"{bounds.low:,g}",
        high=f"{bounds.high:,g}",
        hint=hint,
    )
    if isinstance(value, bool):
        raise InputError(
            message("number_not_a_number", label=label, value=str(value), wanted=wanted)
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            message("number_not_a_number", label=label, value=repr(value), wanted=wanted)
        ) from None
    if not math.isfinite(number):
        raise InputError(message("number_not_finite", label=label, value=value, wanted=wanted))
    if bounds.integer and number != int(number):
        raise InputError(message("number_not_whole", label=label, value=value, wanted=wanted))
    too_low = number <= bounds.low if bounds.low_open else number < bounds.low
    if too_low or number > bounds.high:
        raise InputError(
            message("number_out_of_range", label=label, value=number, unit=unit, wanted=wanted)
        )
    return value


# --------------------------------------------------------------------------- CRS

_REFUSED_SCALE_ERROR: Final = 0.01
"""A CRS that stretches or shrinks distances by more than 1 % at the data is refused."""
_WARNED_SCALE_ERROR: Final = 0.001
"""Outside its area of use and off by more than 0.1 %: a warning."""


def fitting_crs(lon: float, lat: float) -> Message:
    """The CRSs that fit data at ``(lon, lat)``: its UTM zone and, in China, its CGCS2000 zone."""
    zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    utm = message("crs_fitting_utm", epsg=epsg, zone=f"{zone}{'N' if lat >= 0 else 'S'}")
    central = 3 * round(lon / 3.0)
    cgcs: str = ""
    if 75 <= central <= 135 and lat > 0:
        cgcs = message("crs_fitting_cgcs2000", epsg=4534 + (central - 75) // 3, central=central)
    return message("crs_fitting", utm=utm, cgcs2000=cgcs)


def check_crs_fits(crs: pyproj.CRS, lon: float, lat: float, given: str) -> None:
    """Refuse a projected CRS whose distances at the data are off by more than 1 %.

    The scale is the projection's own (meridional and parallel scale factors at the data's
    centre), so any projected CRS is judged the same way; one just outside its area of use
    but still true to 0.1 % passes, one beyond that is warned about.

    Parameters
    ----------
    crs : pyproj.CRS
        The projected CRS chosen.
    lon, lat : float
        The data's centre (WGS-84 degrees).
    given : str
        How the user named it, for messages.

    Raises
    ------
    CRSError
        Naming the CRS, the distortion, where it is meant for and the zones that fit.

    Warns
    -----
    UserWarning
        When the data lie outside the CRS's area of use but distances are off by less
        than 1 %.
    """
    try:
        factors = pyproj.Proj(crs).get_factors(lon, lat)
        scale = max(abs(factors.meridional_scale - 1.0), abs(factors.parallel_scale - 1.0))
    except (pyproj.exceptions.ProjError, ValueError, RuntimeError):
        scale = math.inf
    if not math.isfinite(scale):
        scale = math.inf
    area = crs.area_of_use
    inside = area is None or (area.west <= lon <= area.east and area.south <= lat <= area.north)
    meant: str = (
        message("crs_meant_for", west=area.west, east=area.east) if area is not None else ""
    )
    if scale > _REFUSED_SCALE_ERROR:
        raise CRSError(
            message(
                "crs_refused",
                given=given,
                name=crs.name,
                stretch=message("crs_distorts")
                if math.isinf(scale)
                else message("crs_stretches", scale=scale),
                where=message("crs_at_data_east" if lon >= 0 else "crs_at_data", lon=lon, lat=lat),
                meant=meant,
                fitting=fitting_crs(lon, lat),
            )
        )
    if not inside and scale > _WARNED_SCALE_ERROR:
        warn(
            "crs_outside_area",
            stacklevel=3,
            given=given,
            name=crs.name,
            lon=lon,
            lat=lat,
            meant=meant,
            scale=scale,
            fitting=fitting_crs(lon, lat),
        )
