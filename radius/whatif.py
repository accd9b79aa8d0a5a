"""What-if facilities: the settings, the proposals, their analysis and the page's figures.

Everything the app computes for a what-if lives here, without Streamlit, so it can be tested
directly: :class:`Settings` (the sidebar's analysis parameters, hashable), :class:`Proposal`
(a facility placed on the map or suggested), :func:`proposals_frame` (proposals in the
:mod:`radius.facilities` layout), :func:`whatif_analysis` (the analysis with the proposals,
recomputing only the categories they belong to), :func:`suggest_sites` (maximal covering
of :mod:`radius.siting` as proposals), and the headline figures (:func:`coverage`,
:func:`failing_districts`, :func:`shortfall_table`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from radius._warnings import collect
from radius.config import Category, load_categories
from radius.facilities import CAPACITY_COLUMNS, empty_facilities
from radius.groups import load_demand_groups
from radius.i18n import Message, localize, name_of, t
from radius.pipeline import (
    AnalysisInputs,
    AnalysisResult,
    AnalyzeConfig,
    ReachConfig,
    analyze,
    append_facilities,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "Proposal",
    "Settings",
    "Tile",
    "analyze_config",
    "attainment_lines",
    "coverage",
    "failing_districts",
    "headline_tiles",
    "page_notes",
    "proposals_frame",
    "shortfall_table",
    "suggest_sites",
    "suggestion_message",
    "threshold_label",
    "whatif_analysis",
]

DEFAULT_CAPACITY = {"floor_area_m2": 1000.0, "land_area_m2": 2000.0, "beds": 50.0, "places": 60.0}
"""The size a what-if facility gets unless the planner enters another (per capacity field)."""


class Settings(NamedTuple):
    """The analysis parameters chosen in the sidebar (hashable: a cache key)."""

    categories: tuple[str, ...]
    threshold_basis: str
    speed_profile: str
    standard: str
    area_type: str | None
    method: str


class Proposal(NamedTuple):
    """A what-if facility placed on the map (or suggested): where, what, and its size."""

    pid: int
    category: str
    lon: float
    lat: float
    name: str
    capacity: tuple[tuple[str, float], ...]


def analyze_config(settings: Settings, network: Path) -> AnalyzeConfig:
    """The pipeline configuration of the sidebar settings (file paths are not read again)."""
    return AnalyzeConfig(
        reach=ReachConfig(
            network=network,
            categories=settings.categories,
            speed_profile=settings.speed_profile,
            threshold_basis="distance" if settings.threshold_basis == "distance" else "time",
            service_areas=False,
        ),
        standard=settings.standard,
        area_type="new" if settings.area_type == "new" else "old" if settings.area_type else None,
        method="inside" if settings.method == "inside" else "2sfca",
    )


def whatif_analysis(
    inputs: AnalysisInputs,
    settings: Settings,
    proposals: Sequence[Proposal],
    network_label: str,
    *,
    base: AnalysisResult | None = None,
) -> AnalysisResult:
    """The analysis of ``inputs`` with the proposed facilities added (they count as built).

    With ``base`` (the analysis of the same inputs and settings without proposals) only what
    the proposals change is computed: the reach of their categories (with the existing
    facilities of those categories) and the rules of those categories; every other
    category's figures are taken from ``base``. The figures are those of a full analysis
    (``tests/test_service.py`` compares them). Units whose verdict depends on several
    categories (unit-share rules, sub-districts) make it fall back to the full analysis.

    Warnings are collected for this call only (:func:`radius._warnings.collect`); their
    text is in the result's ``notes``.
    """
    config = analyze_config(settings, Path(network_label))
    frame = proposals_frame(proposals) if proposals else None
    affected = tuple(c for c in settings.categories if c in {p.category for p in proposals})
    if (
        base is None
        or not proposals
        or len(base.unit_shares)
        or base.subdistricts is not None
        or len(affected) != len({p.category for p in proposals})
    ):
        with collect():
            return analyze(inputs, config, proposals=frame)
    partial = analyze_config(settings._replace(categories=affected), Path(network_label))
    with collect():
        part = analyze(inputs, partial, proposals=frame)
    return _merged(base, part, affected, inputs)


def _replaced(frame: Any, new: Any, columns: Sequence[str]) -> Any:
    """``frame`` with ``columns`` taken from ``new`` (same rows), in one concatenation."""
    kept = frame.drop(columns=[c for c in columns if c in frame.columns])
    added = pd.DataFrame({c: new[c].to_numpy() for c in columns}, index=frame.index)
    order = [c for c in frame.columns] + [c for c in columns if c not in frame.columns]
    merged = pd.concat([kept, added], axis=1)[order]
    return gpd.GeoDataFrame(merged, geometry=frame.geometry.name, crs=frame.crs)


def _merged(
    base: AnalysisResult, part: AnalysisResult, affected: tuple[str, ...], inputs: AnalysisInputs
) -> AnalysisResult:
    """``base`` with the categories ``affected`` (and their rules) taken from ``part``."""
    input_columns = set(inputs.residents.columns) | {"district_id"}
    resident_columns = [c for c in part.residents.columns if c not in input_columns]
    district_columns = [c for c in part.districts.columns if c != part.districts.geometry.name]
    shortfall = base.shortfall
    if "category" in shortfall.columns:
        shortfall = shortfall[~shortfall["category"].isin(affected)]
    shortfall = gpd.GeoDataFrame(
        pd.concat([shortfall, part.shortfall], ignore_index=True), crs=base.shortfall.crs
    )

    reach = base.reach
    facilities = reach.facilities
    kept_rows = np.flatnonzero(~facilities["category"].isin(affected).to_numpy())
    new_position = np.full(len(facilities), -1, dtype=np.int64)
    new_position[kept_rows] = np.arange(len(kept_rows))
    merged_facilities = gpd.GeoDataFrame(
        pd.concat([facilities.iloc[kept_rows], part.reach.facilities], ignore_index=True),
        geometry="geometry",
        crs=facilities.crs,
    )
    from_part = {c.category.id: c for c in part.reach.categories}
    categories = tuple(
        dataclasses.replace(
            from_part[c.category.id],
            facility_rows=from_part[c.category.id].facility_rows + len(kept_rows),
        )
        if c.category.id in from_part
        else dataclasses.replace(c, facility_rows=new_position[c.facility_rows])
        for c in reach.categories
    )
    unroutable = reach.unroutable
    unroutable = gpd.GeoDataFrame(
        pd.concat(
            [unroutable[~unroutable["category"].isin(affected)], part.reach.unroutable],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=unroutable.crs,
    )
    merged_reach = dataclasses.replace(
        reach,
        categories=categories,
        facilities=merged_facilities,
        # Made from the merged categories when asked for (the base's table is stale).
        node_table=None,
        unroutable=unroutable,
    )
    skipped = "rules not checked because their category was not computed"
    notes = list(base.notes) + [
        n for n in part.notes if n not in base.notes and not n.startswith(skipped)
    ]
    return dataclasses.replace(
        base,
        reach=merged_reach,
        residents=_replaced(base.residents, part.residents, resident_columns),
        districts=_replaced(base.districts, part.districts, district_columns),
        shortfall=shortfall,
        notes=notes,
    )


def suggest_sites(
    inputs: AnalysisInputs,
    network_label: str,
    settings: Settings,
    proposals: Sequence[Proposal],
    *,
    category: str,
    count: int,
    capacity: tuple[tuple[str, float], ...],
    first_pid: int,
    name: Callable[[int], str],
) -> tuple[list[Proposal], dict[str, Any]]:
    """New sites for a category by maximal covering (:mod:`radius.siting`), as proposals.

    The what-if facilities already placed count as built, so the suggestions go where they
    still leave residents unserved. The threshold is the one of the standard's coverage
    rule for the category.

    Returns
    -------
    list of Proposal
        One per chosen site, numbered from ``first_pid`` and named ``name(pid)``.
    dict
        The siting summary (coverage before and after, residents gained, solver).
    """
    # Imported on first use: the MILP solver would slow every start of the app.
    from radius.siting import site_facilities

    if proposals:
        placed = append_facilities(inputs.facilities, proposals_frame(proposals))
        inputs = replace(inputs, facilities=placed)
    config = analyze_config(settings, Path(network_label))
    with collect():
        siting = site_facilities(inputs, config, category=category, count=count)
    pids = range(first_pid, first_pid + len(siting.sites))
    added = [
        Proposal(pid, category, float(point.x), float(point.y), name(pid), capacity)
        for pid, point in zip(pids, siting.sites.geometry, strict=True)
    ]
    return added, siting.summary


def proposals_frame(proposals: Sequence[Proposal]) -> gpd.GeoDataFrame:
    """Proposed facilities in the :mod:`radius.facilities` layout (``source == "proposed"``)."""
    if not proposals:
        return empty_facilities()
    capacities = {column: [math.nan] * len(proposals) for column in CAPACITY_COLUMNS}
    for row, proposal in enumerate(proposals):
        for column, value in proposal.capacity:
            capacities[column][row] = float(value)
    entrances = np.empty(len(proposals), dtype=object)
    data: dict[str, Any] = {
        "facility_id": [f"{p.category}:proposed/{p.pid}" for p in proposals],
        "name": [p.name for p in proposals],
        "category": [p.category for p in proposals],
        "source": ["proposed"] * len(proposals),
        **{column: pd.Series(values, dtype="float64") for column, values in capacities.items()},
        "entrances": pd.Series(entrances, dtype=object),
    }
    frame = pd.DataFrame(data).astype(
        {"facility_id": "str", "name": "str", "category": "str", "source": "str"}
    )
    geometry = gpd.GeoSeries(
        shapely.points([p.lon for p in proposals], [p.lat for p in proposals]), crs="EPSG:4326"
    )
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def coverage(result: AnalysisResult) -> dict[tuple[str, str], float]:
    """Share of residents (0–1) within each category's thresholds, by (category, label)."""
    shares = result.summary()["share_of_residents_within"]
    return {
        (cid, label): float(v) for cid, by_label in shares.items() for label, v in by_label.items()
    }


def failing_districts(result: AnalysisResult) -> int:
    """Number of districts with residents that miss at least one rule."""
    districts = result.districts
    if len(result.rules) == 0 or len(districts) == 0:
        return 0
    passes = np.column_stack(
        [districts[f"{rid}_pass"].to_numpy(dtype=bool) for rid in result.rules["id"]]
    )
    inhabited = districts["population"].to_numpy(dtype=float) > 0
    return int((~passes.all(axis=1) & inhabited).sum())


def attainment_lines(result: AnalysisResult, lang: str) -> list[str]:
    """Per rule: units meeting it of those applicable, the rate, and the not applicable."""
    rules = {rule.id: rule for rule in result.standard.rules}
    lines = []
    for rid, item in result.summary()["rules"].items():
        if "districts_applicable" not in item:
            continue
        rate = item["attainment_rate"]
        lines.append(
            t(
                "attainment_line",
                lang,
                rule=name_of(rules[rid], lang) if rid in rules else rid,
                passing=item["districts_passing"],
                applicable=item["districts_applicable"],
                rate="-" if rate is None else f"{rate:g} %",
                na=item["districts_not_applicable"],
            )
        )
    return lines


def threshold_label(category: Category, label: str, basis: str, lang: str) -> str:
    """A threshold as people read it: ``"5 分钟"`` / ``"5 min"``, or ``"300 米"`` / ``"300 m"``."""
    for threshold in category.thresholds:
        if threshold.label == label:
            if basis == "distance":
                return t("within_metres", lang, metres=threshold.metres)
            return t("within_minutes", lang, minutes=threshold.minutes)
    return label


def shortfall_table(result: AnalysisResult, lang: str, *, only_failing: bool) -> pd.DataFrame:
    """District × rule table of required, supplied and shortfall, labelled in ``lang``."""
    districts = result.districts
    standard_rules = {rule.id: rule for rule in result.standard.rules}
    frames = []
    for rule in result.rules.itertuples():
        rid = str(rule.id)
        passed = districts[f"{rid}_pass"].to_numpy(dtype=bool)
        verdict = f"{rid}_verdict"
        applicable = (
            districts[verdict].to_numpy() != "not_applicable"
            if verdict in districts.columns
            else np.ones(len(districts), dtype=bool)
        )
        frames.append(
            pd.DataFrame(
                {
                    "district": districts["district_id"].astype(str).to_numpy(),
                    "name": districts["name"].fillna("").astype(str).to_numpy(),
                    "rule": name_of(standard_rules[rid], lang),
                    "area_type": districts["area_type"].map(
                        {"new": t("area_new", lang), "old": t("area_old", lang)}
                    ),
                    "residents": districts["population"].to_numpy(dtype=float).round(0),
                    "required": districts[f"{rid}_required"].to_numpy(dtype=float).round(1),
                    "supplied": districts[f"{rid}_supplied"].to_numpy(dtype=float).round(1),
                    "shortfall": districts[f"{rid}_shortfall"].to_numpy(dtype=float).round(1),
                    "unit": t(f"unit_{rule.supply}", lang),
                    "pass": np.where(
                        applicable,
                        np.where(passed, t("pass_yes", lang), t("pass_no", lang)),
                        t("pass_na", lang),
                    ),
                    "_passed": passed | ~applicable,
                }
            )
        )
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    if only_failing:
        table = table[~table["_passed"]]
    table = table.sort_values("shortfall", ascending=False, kind="stable").drop(columns="_passed")
    if not table["name"].str.strip().any():
        table = table.drop(columns="name")
    return table.rename(columns=lambda c: t(f"col_{c}", lang)).reset_index(drop=True)


def page_notes(result: AnalysisResult, lang: str) -> list[str]:
    """The data notes as the page shows them, in ``lang``.

    Notes written as message ids (:class:`radius.i18n.Message`) come in ``lang``. In
    Chinese, the plausibility warnings (already shown translated beside the headline
    figures) are left out, and the demand-group and unit notes, which the engine writes in
    English, are told again from their data.
    """
    if lang != "zh":
        return [localize(note, "en") for note in result.notes]
    shown = set(result.plausibility.messages("en")) if result.plausibility is not None else set()
    groups = {group.id: group for group in load_demand_groups().groups}
    notes = []
    for note in result.notes:
        text = str(note)  # a Message is its English text
        if text in shown:
            continue
        localized = note.text("zh") if isinstance(note, Message) else text
        blocks = "block(s) bounded by arterial roads"
        source = next((s for s in result.group_sources.values() if s.note and s.note in text), None)
        if result.units_note and blocks in result.units_note and result.units_note in localized:
            notes.append(t("note_units_blocks", "zh", n=len(result.districts)))
        elif isinstance(note, Message):
            notes.append(localized)
        elif source is not None and source.group in groups:
            name = groups[source.group].name_zh
            if source.origin in ("share", "partly_share") and source.share is not None:
                key = "note_group_share" if source.origin == "share" else "note_group_partly"
                notes.append(t(key, "zh", group=name, share=source.share))
            else:
                notes.append(t("note_group_data", "zh", group=name))
        else:
            notes.append(text)
    return notes


class Tile(NamedTuple):
    """One headline figure: label, value, and its change against the base run."""

    label: str
    value: str
    delta: str | None
    change: float
    lower_is_better: bool = False


def headline_tiles(
    result: AnalysisResult, base: AnalysisResult, settings: Settings, lang: str, *, changed: bool
) -> list[Tile]:
    """Coverage per category and threshold, then the units missing a target, in ``lang``.

    With what-if facilities (``changed``) each figure carries its change against ``base``.
    """
    categories = {c.id: c for c in load_categories()}
    now = coverage(result)
    before = now if base is result else coverage(base)
    tiles: list[Tile] = []
    for (cid, label), share in now.items():
        points = round((share - before.get((cid, label), share)) * 100, 1)
        category = categories[cid]
        tiles.append(
            Tile(
                t(
                    "metric_label",
                    lang,
                    category=name_of(category, lang),
                    threshold=threshold_label(category, label, settings.threshold_basis, lang),
                ),
                f"{share:.1%}",
                t("delta_pp", lang, value=points) if changed else None,
                points,
            )
        )
    failing = failing_districts(result)
    failing_before = failing if base is result else failing_districts(base)
    tiles.append(
        Tile(
            t("metric_failing", lang),
            t("districts_count", lang, n=failing, total=len(result.districts)),
            t("delta_count", lang, value=failing - failing_before) if changed else None,
            failing - failing_before,
            lower_is_better=True,
        )
    )
    return tiles


def suggestion_message(
    summary: dict[str, Any], category: Category, added: int, basis: str, lang: str
) -> str:
    """What a "suggest sites" click did, from the siting summary, in ``lang``."""
    if not added:
        return t("suggest_none", lang, category=name_of(category, lang))
    label = str(summary["threshold"])
    shares = summary["coverage"][label]
    return t(
        "suggest_done",
        lang,
        n=added,
        category=name_of(category, lang),
        threshold=threshold_label(category, label, basis, lang),
        gained=float(summary["residents_gained"]),
        before=100.0 * float(shares["share_before"]),
        after=100.0 * float(shares["share_after"]),
    )
