"""Provision: supply reaching residents, shared between districts by two-step floating catchment.

Ratio rules (m² per resident, m² per 100 households, places per 1,000 residents) compare
the supply that residents can reach within the rule's threshold with what the standard
requires for them. Supply is shared by 2SFCA (Luo & Wang 2003), so no facility is counted
twice:

1. each facility's capacity ``S_j`` is divided by the demand ``W_j`` within its catchment
   (residents or households within the threshold on the network): ``R_j = S_j / W_j``;
2. each resident point ``i`` gets ``A_i = Σ R_j`` over the facilities it reaches, and
   receives ``A_i × w_i`` of supply; a district's supply is the sum over its points.

Every facility's capacity is then handed out exactly once (to the residents in its
catchment). The simple count of capacity *inside* each district is available as
``method="inside"``, and is always used for a rule of ``scope: jurisdiction`` (a plan's
jurisdiction-wide figure such as 人均体育场地面积, which no walking catchment bounds).
Coverage rules count the rule's group within the threshold. A rule's ``min_site`` leaves out
facilities smaller than a single site must be (noted by id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from radius.i18n import message, warn
from radius.paths import CostMatrix
from radius.standards import Rule

__all__ = [
    "NOT_APPLICABLE",
    "UNIT_SHARE_COLUMNS",
    "ProvisionMethod",
    "SupplyShare",
    "attainment",
    "district_provision",
    "group_column",
    "two_step_fca",
    "unit_share_verdicts",
]

ProvisionMethod = Literal["2sfca", "inside"]
NOT_APPLICABLE = "not_applicable"
"""The verdict of a unit without any of the rule's group (不适用): never a pass."""
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class SupplyShare:
    """The 2SFCA result of one rule.

    Attributes
    ----------
    facility_ratio : numpy.ndarray
        ``R_j``: supply per unit of demand in each facility's catchment (0 when nobody is
        in reach).
    facility_demand : numpy.ndarray
        ``W_j``: demand (persons or households) within each facility's catchment.
    access : numpy.ndarray
        ``A_i``: supply per unit of demand reaching each resident point.
    received : numpy.ndarray
        ``A_i × w_i``: supply each resident point receives.
    unused_supply : float
        Capacity of facilities with no resident in reach.
    """

    facility_ratio: np.ndarray
    facility_demand: np.ndarray
    access: np.ndarray
    received: np.ndarray
    unused_supply: float


def two_step_fca(
    pairs: CostMatrix, capacity: np.ndarray, demand: np.ndarray, threshold_m: float
) -> SupplyShare:
    """Share facilities' capacity among the demand points within the threshold.

    Parameters
    ----------
    pairs : CostMatrix
        Facilities × demand points walking distances (metres), access legs included.
    capacity : numpy.ndarray
        ``S_j`` per facility, in the rule's unit (NaN counts as 0).
    demand : numpy.ndarray
        ``w_i`` per demand point (persons or households).
    threshold_m : float
        Catchment size (metres).

    Returns
    -------
    SupplyShare
    """
    supply = np.nan_to_num(np.asarray(capacity, dtype=np.float64), nan=0.0)
    weight = np.asarray(demand, dtype=np.float64)
    within = pairs.distance_m <= threshold_m + _EPS
    source = pairs.source[within]
    point = pairs.node[within]
    facility_demand = np.bincount(source, weights=weight[point], minlength=pairs.n_sources)
    ratio = np.divide(
        supply, facility_demand, out=np.zeros_like(supply), where=facility_demand > _EPS
    )
    access = np.bincount(point, weights=ratio[source], minlength=pairs.n_nodes)
    return SupplyShare(
        facility_ratio=ratio,
        facility_demand=facility_demand,
        access=access,
        received=access * weight,
        unused_supply=float(supply[facility_demand <= _EPS].sum()),
    )


def group_column(rule: Rule, frame: pd.DataFrame) -> str:
    """The column of ``frame`` that counts the rule's demand group.

    ``residents`` are the ``population`` column; every other group is the column named by its
    id. Until a frame holds that column, a household rule falls back to ``households`` and
    any other group to ``population`` (all residents).
    """
    if rule.group == "residents":
        return "population"
    if rule.group in frame.columns:
        return rule.group
    return "households" if rule.group == "households" else "population"


def _rule_demand(rule: Rule, residents: pd.DataFrame) -> np.ndarray:
    return residents[group_column(rule, residents)].to_numpy(dtype=np.float64)


def _required(rule: Rule, group_count: np.ndarray, area_type: np.ndarray) -> np.ndarray:
    """:meth:`Rule.required` for every district (old areas use the old-area value).

    The same arithmetic on arrays (the same operations in the same order, so the same
    numbers; tested against :meth:`Rule.required`), not a call per district.
    """
    counts = np.asarray(group_count, dtype=np.float64)
    bad = ~np.isfinite(counts) | (counts < 0)
    if bad.any():
        rule.required(float(counts[bad][0]), "new")  # raises, naming the rule and the count
    old = np.asarray(area_type) == "old"
    required = np.empty(len(counts), dtype=np.float64)
    for is_old in (False, True):
        rows = old == is_old
        if not rows.any():
            continue
        value = rule.value("old" if is_old else "new")
        count = counts[rows]
        if rule.metric == "per_capita":
            required[rows] = value * count
        elif rule.metric == "per_100_households":
            required[rows] = value * count / 100.0
        elif rule.metric in ("per_1000", "per_1000_residents"):
            required[rows] = value * count / 1000.0
        else:
            required[rows] = value / 100.0 * count
    return required


def district_provision(
    rules: Sequence[Rule],
    districts: gpd.GeoDataFrame,
    residents: pd.DataFrame,
    resident_district: np.ndarray,
    facilities: gpd.GeoDataFrame,
    pairs_by_rule: dict[str, tuple[CostMatrix, np.ndarray, float]],
    *,
    method: ProvisionMethod = "2sfca",
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[str]]:
    """Required and supplied supply, ratio, pass/fail and shortfall per district and rule.

    Parameters
    ----------
    rules : sequence of rules
        The standard's rules to check.
    districts : geopandas.GeoDataFrame
        Districts with ``district_id``, ``area_type``, ``population`` and ``households``.
    residents : pandas.DataFrame
        Resident points with ``population`` and ``households``.
    resident_district : numpy.ndarray
        Position (row) in ``districts`` of each resident point, -1 outside all.
    facilities : geopandas.GeoDataFrame
        Facilities with ``category`` and capacity columns.
    pairs_by_rule : dict
        Rule id -> (facilities × residents cost matrix of the rule's category, the
        facility rows of that matrix's sources, threshold in metres).
    method : {"2sfca", "inside"}
        How supply is counted for ratio rules.

    Returns
    -------
    districts : geopandas.GeoDataFrame
        Input districts plus ``{rule}_required``, ``{rule}_supplied``, ``{rule}_ratio``,
        ``{rule}_shortfall`` and ``{rule}_pass`` for every rule.
    access : pandas.DataFrame
        Per resident point and ratio rule, the 2SFCA accessibility score ``{rule}_access``
        (supply per resident, or per household for per-100-households rules).
    notes : list of str
        Data-quality notes (facilities without capacity, unused supply).
    """
    result = districts.copy()
    notes: list[str] = []
    n_districts = len(districts)
    area_type = districts["area_type"].astype(str).to_numpy()
    inside = resident_district >= 0
    access_columns: dict[str, np.ndarray] = {}
    for rule in rules:
        result = result.copy()  # consolidated before each rule adds its columns
        column = group_column(rule, districts)
        if column != ("population" if rule.group == "residents" else rule.group):
            notes.append(
                message(
                    "group_counted_instead",
                    rule=rule.id,
                    rule_zh=rule.name_zh,
                    group=rule.group,
                    column=column,
                )
            )
        count = districts[column].to_numpy(dtype=np.float64)
        required = _required(rule, count, area_type)
        matrix, facility_rows, threshold_m = pairs_by_rule[rule.id]
        if rule.metric == "coverage":
            covered = np.zeros(len(residents), dtype=bool)
            within = matrix.distance_m <= threshold_m + _EPS
            covered[matrix.node[within]] = True
            person = _rule_demand(rule, residents)
            supplied = np.bincount(
                resident_district[inside & covered],
                weights=person[inside & covered],
                minlength=n_districts,
            )
            # The attainment: the share (per cent) of the unit's group within the threshold.
            result[f"{rule.id}_share"] = np.round(
                np.divide(
                    100.0 * supplied, count, out=np.full(n_districts, np.nan), where=count > _EPS
                ),
                2,
            )
        else:
            capacity = _capacity(facilities, facility_rows, rule, notes)
            inside_supply = _inside_supply(districts, facilities, facility_rows, capacity)
            if rule.scope == "jurisdiction":
                # A jurisdiction-wide figure: no walking catchment, the supply inside counts.
                access_supply = inside_supply
            else:
                share = two_step_fca(matrix, capacity, _rule_demand(rule, residents), threshold_m)
                access_supply = np.bincount(
                    resident_district[inside], weights=share.received[inside], minlength=n_districts
                )
                access_columns[f"{rule.id}_access"] = share.access
                if share.unused_supply > _EPS:
                    notes.append(
                        message(
                            "capacity_unserved",
                            rule=rule.id,
                            rule_zh=rule.name_zh,
                            amount=f"{share.unused_supply:g}",
                            supply=rule.supply,
                            threshold=rule.threshold,
                        )
                    )
            # Both supplies, each labelled: inside the unit (配建) and shared by 2SFCA (access).
            result[f"{rule.id}_supplied_inside"] = np.round(inside_supply, 3)
            result[f"{rule.id}_supplied_access"] = np.round(access_supply, 3)
            supplied = inside_supply if method == "inside" else access_supply
        applicable = count > _EPS
        passed = applicable & (supplied >= required - 1e-6)
        shortfall = np.where(applicable, np.maximum(required - supplied, 0.0), 0.0)
        result[f"{rule.id}_required"] = np.round(required, 3)
        result[f"{rule.id}_supplied"] = np.round(supplied, 3)
        result[f"{rule.id}_ratio"] = np.round(
            np.divide(supplied, required, out=np.full(n_districts, np.nan), where=required > 0), 4
        )
        result[f"{rule.id}_shortfall"] = np.round(shortfall, 3)
        result[f"{rule.id}_pass"] = passed
        result[f"{rule.id}_verdict"] = np.where(
            applicable, np.where(passed, "pass", "fail"), NOT_APPLICABLE
        )
    # Many rules add many columns one by one: copy to hand back one unfragmented frame.
    return result.copy(), pd.DataFrame(access_columns, index=residents.index), notes


def attainment(units: pd.DataFrame, rule_id: str) -> dict[str, Any]:
    """How many units meet a rule: passing, failing, not applicable, and the rate.

    Parameters
    ----------
    units : pandas.DataFrame
        Units with the ``{rule}_verdict`` column of :func:`district_provision`.
    rule_id : str
        The rule.

    Returns
    -------
    dict
        ``units`` (all), ``applicable``, ``passing``, ``failing``, ``not_applicable`` (units
        without any of the rule's group, counted apart) and ``rate`` (per cent of the
        applicable units that pass; None when none is applicable).
    """
    verdict = units[f"{rule_id}_verdict"].astype(str).to_numpy()
    passing = int((verdict == "pass").sum())
    failing = int((verdict == "fail").sum())
    applicable = passing + failing
    return {
        "units": len(verdict),
        "applicable": applicable,
        "passing": passing,
        "failing": failing,
        "not_applicable": len(verdict) - applicable,
        "rate": round(100.0 * passing / applicable, 2) if applicable else None,
    }


def unit_share_verdicts(
    rules: Sequence[Rule],
    units_by_level: dict[str, gpd.GeoDataFrame | None],
    facilities: gpd.GeoDataFrame,
) -> pd.DataFrame:
    """Unit-share rules: the share of 社区/街道 units meeting a rule or holding a facility.

    A unit without residents is not applicable and is left out of the share (counted apart).

    Parameters
    ----------
    rules : sequence of Rule
        Rules with ``metric: unit_share``.
    units_by_level : dict
        ``"community"`` / ``"subdistrict"`` -> units with ``population`` and the
        ``{rule}_verdict`` columns of the rules they refer to (None when that level is not
        given).
    facilities : geopandas.GeoDataFrame
        Facilities with ``category`` (for ``presence`` rules).

    Returns
    -------
    pandas.DataFrame
        One row per rule: ``id``, ``unit_level``, ``of_rule``, ``presence``, ``units``,
        ``applicable``, ``meeting``, ``not_applicable``, ``share`` (per cent of the
        applicable units), ``target`` (per cent), ``verdict`` (pass / fail /
        not_applicable) and ``note``.
    """
    rows: list[dict[str, Any]] = []
    for rule in rules:
        level = str(rule.unit_level)
        units = units_by_level.get(level)
        row: dict[str, Any] = {
            "id": rule.id,
            "name_zh": rule.name_zh,
            "name_en": rule.name_en,
            "unit_level": level,
            "of_rule": rule.of_rule or "",
            "presence": rule.presence or "",
            "target": rule.value_new,
        }
        if units is None or len(units) == 0:
            rows.append(
                row
                | {
                    "units": 0,
                    "applicable": 0,
                    "meeting": 0,
                    "not_applicable": 0,
                    "share": None,
                    "verdict": NOT_APPLICABLE,
                    "note": f"no {level} units given",
                }
            )
            continue
        populated = units["population"].to_numpy(dtype=np.float64) > _EPS
        note = ""
        if rule.of_rule is not None:
            column = f"{rule.of_rule}_verdict"
            if column not in units.columns:
                rows.append(
                    row
                    | {
                        "units": len(units),
                        "applicable": 0,
                        "meeting": 0,
                        "not_applicable": len(units),
                        "share": None,
                        "verdict": NOT_APPLICABLE,
                        "note": f"rule {rule.of_rule} was not checked in this run",
                    }
                )
                continue
            verdict = units[column].astype(str).to_numpy()
            applicable = verdict != NOT_APPLICABLE
            meeting = verdict == "pass"
        else:
            held = _units_holding(units, facilities, str(rule.presence))
            applicable = populated
            meeting = populated & held
            note = f"units holding at least one {rule.presence} facility inside them"
        n_applicable = int(applicable.sum())
        n_meeting = int(meeting.sum())
        share = round(100.0 * n_meeting / n_applicable, 2) if n_applicable else None
        verdict_text = (
            NOT_APPLICABLE
            if share is None
            else ("pass" if share >= rule.value_new - 1e-9 else "fail")
        )
        rows.append(
            row
            | {
                "units": len(units),
                "applicable": n_applicable,
                "meeting": n_meeting,
                "not_applicable": len(units) - n_applicable,
                "share": share,
                "verdict": verdict_text,
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=UNIT_SHARE_COLUMNS)


UNIT_SHARE_COLUMNS = (
    "id",
    "name_zh",
    "name_en",
    "unit_level",
    "of_rule",
    "presence",
    "units",
    "applicable",
    "meeting",
    "not_applicable",
    "share",
    "target",
    "verdict",
    "note",
)
"""Columns of :func:`unit_share_verdicts`."""


def _units_holding(
    units: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, category: str
) -> np.ndarray:
    """Per unit, whether at least one facility of ``category`` lies inside it."""
    rows = np.flatnonzero(facilities["category"].astype(str).to_numpy() == category)
    if len(rows) == 0:
        return np.zeros(len(units), dtype=bool)
    count = _inside_supply(units, facilities, rows, np.ones(len(rows)))
    return count > 0


def _capacity(
    facilities: gpd.GeoDataFrame, rows: np.ndarray, rule: Rule, notes: list[str]
) -> np.ndarray:
    if rule.supply not in facilities.columns:
        raise ValueError(f"rule {rule.id}: facilities have no {rule.supply!r} column")
    capacity = facilities[rule.supply].to_numpy(dtype=np.float64)[rows]
    missing = int(np.isnan(capacity).sum())
    if missing:
        note = warn(
            "capacity_missing",
            stacklevel=3,
            rule=rule.id,
            rule_zh=rule.name_zh,
            missing=missing,
            total=len(rows),
            category=rule.category,
            supply=rule.supply,
        )
        notes.append(note)
    capacity = np.nan_to_num(capacity, nan=0.0)
    if rule.min_site is not None:
        small = (capacity > 0) & (capacity < rule.min_site - 1e-9)
        if small.any():
            ids = (
                facilities["facility_id"].to_numpy()[rows[small]]
                if "facility_id" in (facilities.columns)
                else rows[small]
            )
            listed = ", ".join(map(str, ids[:10])) + (" …" if small.sum() > 10 else "")
            notes.append(
                message(
                    "site_below_minimum",
                    rule=rule.id,
                    rule_zh=rule.name_zh,
                    n=int(small.sum()),
                    minimum=f"{rule.min_site:g}",
                    supply=rule.supply,
                    listed=listed,
                )
            )
            capacity = np.where(small, 0.0, capacity)
    return capacity


def _inside_supply(
    districts: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    rows: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    located = gpd.GeoDataFrame(
        {"capacity": capacity},
        geometry=facilities.geometry.iloc[rows].representative_point().to_numpy(),
        crs=facilities.crs,
    ).to_crs(districts.crs)
    joined = gpd.sjoin(
        located, districts[["geometry"]].reset_index(drop=True), predicate="within", how="inner"
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    return np.bincount(
        joined["index_right"].to_numpy(dtype=np.int64),
        weights=joined["capacity"].to_numpy(),
        minlength=len(districts),
    )
