"""Demand groups (服务对象): residents, households, the elderly, young children, the disabled.

The groups are data (``configs/demand_groups.yaml``): an id, zh/en names, the column of the
residents frame that holds the group's count, the headers accepted for it in users' files
(常住人口, 户数, 60岁及以上人口, 0-3岁人口 …), a default share of residents with its source
(census figures) and the walking-speed profile of the group.

The residents frame of :mod:`radius.population` keeps ``population`` (residents) and
``households`` and gains one column per other group, named by its id (``aged_60_plus``, …).
A group's count comes, in this order, from a column of the user's unit, plot, building or
point file, from age/sex rasters given for it (bands summed), and last from its share of
residents; :func:`complete_groups` fills what is missing and says, per group, where its count
came from (:class:`GroupSource`), so that every output can say "estimated from a share".

Examples
--------
>>> from radius.groups import load_demand_groups
>>> groups = load_demand_groups()
>>> groups.group("aged_60_plus").share
18.7
>>> groups.group("households").column
'households'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from radius._errors import InputError
from radius.config import CONFIG_DIR, load_speed_profiles, validate_file
from radius.i18n import message

__all__ = [
    "GROUP_IDS",
    "DemandGroup",
    "DemandGroups",
    "GroupSource",
    "complete_groups",
    "group_column",
    "load_demand_groups",
]

GROUP_IDS = (
    "residents",
    "households",
    "aged_60_plus",
    "aged_65_plus",
    "aged_0_3",
    "aged_3_6",
    "disabled",
)
"""The demand group ids every profile may name (the planning-model interface)."""

Origin = Literal["input", "raster", "share", "partly_share", "household_size"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DemandGroup(_Frozen):
    """One demand group.

    Attributes
    ----------
    id : str
        One of :data:`GROUP_IDS`.
    name_zh, name_en : str
        Names in Chinese and English.
    column : str
        Column of the residents frame holding its count.
    unit_zh, unit_en : str
        Unit of the count (人 / persons, 户 / households).
    aliases : tuple of str
        Headers accepted for the column in users' files (matched stripped, lower-cased).
    share : float or None
        Default share of residents (per cent) used when no count is given; None for
        residents and households.
    share_source : str or None
    share_source_zh : str or None
        The same source in Chinese, for Chinese outputs (default: ``share_source``).
        Where the share comes from.
    speed_profile : str
        Walking-speed profile of the group (``configs/speed_profiles.yaml``).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    column: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    unit_zh: str = Field(min_length=1)
    unit_en: str = Field(min_length=1)
    aliases: tuple[str, ...] = Field(min_length=1)
    share: float | None = Field(default=None, gt=0, le=100)
    share_source: str | None = None
    share_source_zh: str | None = None
    speed_profile: str

    @model_validator(mode="after")
    def _share_has_source(self) -> DemandGroup:
        if self.share is not None and not (self.share_source or "").strip():
            raise ValueError(message("groups_share_needs_source", id=self.id))
        return self


class DemandGroups(_Frozen):
    """All demand groups of ``configs/demand_groups.yaml``."""

    groups: tuple[DemandGroup, ...]

    @model_validator(mode="after")
    def _complete(self) -> DemandGroups:
        ids = [g.id for g in self.groups]
        missing = [g for g in GROUP_IDS if g not in ids]
        if missing:
            raise ValueError(message("groups_missing_ids", ids=", ".join(missing)))
        if len(set(ids)) != len(ids):
            raise ValueError(message("groups_id_repeated"))
        seen: dict[str, str] = {}
        for group in self.groups:
            for alias in group.aliases:
                key = alias.strip().lower()
                if key in seen and seen[key] != group.id:
                    raise ValueError(
                        message(
                            "groups_header_twice",
                            header=repr(alias),
                            first=seen[key],
                            second=group.id,
                        )
                    )
                seen[key] = group.id
        profiles = load_speed_profiles().profiles
        for group in self.groups:
            if group.speed_profile not in profiles:
                raise ValueError(
                    message(
                        "groups_unknown_speed_profile",
                        id=group.id,
                        value=repr(group.speed_profile),
                        known=", ".join(profiles),
                    )
                )
        for fixed, column in (("residents", "population"), ("households", "households")):
            if self.group(fixed).column != column:
                raise ValueError(message("groups_fixed_column", id=fixed, column=repr(column)))
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        """Group ids, in file order."""
        return tuple(g.id for g in self.groups)

    def group(self, group_id: str) -> DemandGroup:
        """The group of this id.

        Raises
        ------
        InputError
            For an unknown id (the known ids are listed).
        """
        for group in self.groups:
            if group.id == group_id:
                return group
        raise InputError(
            message("groups_unknown_group", value=repr(group_id), known=", ".join(self.ids))
        )

    def aliases(self) -> dict[str, str]:
        """Every accepted header (stripped, lower-cased) -> the group's column."""
        return {
            alias.strip().lower(): group.column for group in self.groups for alias in group.aliases
        }

    def extra_columns(self) -> tuple[str, ...]:
        """Columns of the groups other than residents and households, in file order."""
        return tuple(g.column for g in self.groups if g.id not in ("residents", "households"))


@lru_cache(maxsize=4)
def _load_cached(path: Path) -> DemandGroups:
    return validate_file(DemandGroups, path)


def load_demand_groups(path: str | Path | None = None) -> DemandGroups:
    """Load and validate the demand groups.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file; defaults to ``configs/demand_groups.yaml``.

    Returns
    -------
    DemandGroups

    Raises
    ------
    ConfigError
        If the file is missing or invalid; the message names the file and each bad key.
    """
    resolved = Path(path) if path is not None else CONFIG_DIR / "demand_groups.yaml"
    return _load_cached(resolved.resolve())


def group_column(group_id: str) -> str:
    """The residents-frame column of a group id (``residents`` -> ``population``)."""
    return load_demand_groups().group(group_id).column


@dataclass(frozen=True)
class GroupSource:
    """Where a group's counts came from.

    Attributes
    ----------
    group : str
        The group id.
    origin : {"input", "raster", "share", "partly_share", "household_size"}
        ``input``: a column of the user's files for every resident point; ``raster``: age/sex
        rasters; ``share``: the default share of residents for every point; ``partly_share``:
        given for some points, the share for the rest; ``household_size``: households from
        residents and the household size (or the reverse).
    share : float or None
        The share used (per cent of residents), when one was.
    note : str
        A sentence for outputs, e.g. "estimated from a share of 18.7 % of residents (…)".
    """

    group: str
    origin: Origin
    share: float | None = None
    note: str = ""

    @property
    def estimated(self) -> bool:
        """True when some counts come from a default share, not from the user's data."""
        return self.origin in ("share", "partly_share")

    def as_dict(self) -> dict[str, object]:
        """For summary.json."""
        return {"origin": self.origin, "share": self.share, "note": self.note}


def complete_groups(
    residents: pd.DataFrame,
    *,
    given: Mapping[str, Origin] | None = None,
    groups: DemandGroups | None = None,
) -> tuple[pd.DataFrame, dict[str, GroupSource]]:
    """Fill every group column of a residents frame, and say where each count came from.

    A group column missing from the frame is ``share`` × ``population``; missing cells (NaN)
    of a column that is present are filled the same way (the group is then ``partly_share``).

    Parameters
    ----------
    residents : pandas.DataFrame
        A residents frame (``population``, ``households`` and any group columns already known).
    given : mapping, optional
        Group id -> origin of the columns already present (default ``input``), e.g.
        ``{"aged_60_plus": "raster"}``.
    groups : DemandGroups, optional
        Default: :func:`load_demand_groups`.

    Returns
    -------
    residents : pandas.DataFrame
        A copy with every group column (float64, ≥ 0).
    sources : dict
        Group id -> :class:`GroupSource`.
    """
    groups = groups or load_demand_groups()
    given = dict(given or {})
    frame = residents.copy()
    population = frame["population"].to_numpy(dtype=np.float64)
    sources: dict[str, GroupSource] = {}
    for group in groups.groups:
        if group.id in ("residents", "households"):
            origin = given.get(group.id, "input")
            sources[group.id] = GroupSource(group.id, origin, note=_fixed_note(group, origin))
            continue
        estimate = population * float(group.share or 0.0) / 100.0
        if group.column in frame.columns:
            values = pd.to_numeric(frame[group.column], errors="coerce").to_numpy(np.float64)
            missing = np.isnan(values)
            origin = given.get(group.id, "input")
            if missing.any():
                values = np.where(missing, estimate, values)
                origin = "share" if missing.all() else "partly_share"
        else:
            values, missing, origin = estimate, np.ones(len(frame), dtype=bool), "share"
        frame[group.column] = values
        note = _share_note(group, origin, int(missing.sum()), len(frame))
        sources[group.id] = GroupSource(
            group.id, origin, group.share if origin in ("share", "partly_share") else None, note
        )
    return frame, sources


def _fixed_note(group: DemandGroup, origin: str) -> str:
    if origin == "household_size":
        return message("group_from_household_size", group=group.id)
    return message("group_from_data", group=group.id)


def _share_note(group: DemandGroup, origin: str, missing: int, total: int) -> str:
    if origin in ("share", "partly_share"):
        return message(
            "group_from_share" if origin == "share" else "group_partly_from_share",
            group=group.id,
            share=f"{group.share:g}",
            source=group.share_source or "",
            source_zh=group.share_source_zh or group.share_source or "",
            given=total - missing,
            total=total,
            missing=missing,
        )
    if origin == "raster":
        return message("group_from_rasters", group=group.id)
    return message("group_from_data", group=group.id)
