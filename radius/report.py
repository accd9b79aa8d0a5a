"""Tables for reports: the bilingual provision workbook (and, later, the siting report)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from radius.pipeline import AnalysisResult

__all__ = [
    "AREA_TYPE_LABELS",
    "RULE_HEADERS",
    "displayable_facilities",
    "provision_sheets",
    "rule_sheets",
    "sites_table",
]


def provision_sheets(result: AnalysisResult) -> dict[str, pd.DataFrame]:
    """Workbook sheets: the rules, then one per rule, with headers in Chinese and English."""
    return rule_sheets(result.rules, result.districts)


def rule_sheets(rules: pd.DataFrame, districts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rules sheet, then one sheet per rule of the district rows.

    Parameters
    ----------
    rules : pandas.DataFrame
        The rules checked (``AnalysisResult.rules``), with ``id`` and ``unit``.
    districts : pandas.DataFrame
        District rows with ``{rule}_required`` ... ``{rule}_pass`` columns; rules without
        those columns get no sheet.
    """
    sheets: dict[str, pd.DataFrame] = {}
    if len(rules):
        sheets["规则 Rules"] = rules.rename(columns=lambda c: RULE_HEADERS.get(c, c))
    for rule in rules.to_dict("records"):
        rid, unit = str(rule["id"]), str(rule.get("unit", ""))
        if f"{rid}_required" not in districts.columns:
            continue
        sheets[rid] = pd.DataFrame(
            {
                "区域编号 District ID": districts["district_id"],
                "名称 Name": districts["name"],
                "区域类型 Area type": districts["area_type"].map(AREA_TYPE_LABELS),
                "常住人口 Residents": districts["population"].round(1),
                "户数 Households": districts["households"].round(1),
                f"需求 Required ({unit})": districts[f"{rid}_required"],
                f"供给 Supplied ({unit})": districts[f"{rid}_supplied"],
                "供需比 Ratio": districts[f"{rid}_ratio"],
                f"缺口 Shortfall ({unit})": districts[f"{rid}_shortfall"],
                "是否达标 Pass": districts[f"{rid}_pass"].map(
                    {True: "达标 pass", False: "未达标 fail"}
                ),
            }
        )
    return sheets


def sites_table(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """Suggested sites (WGS-84 points) as a sheet: their columns, then ``lon`` and ``lat``."""
    return pd.DataFrame(
        sites.drop(columns="geometry").assign(lon=sites.geometry.x, lat=sites.geometry.y)
    )


def displayable_facilities(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Facilities with the entrances as WKT text (a GeoPackage layer has one geometry)."""
    frame = facilities.copy()
    if "entrances" in frame.columns:
        frame["entrances"] = [
            e.wkt if e is not None and not e.is_empty else "" for e in frame["entrances"]
        ]
    return frame


RULE_HEADERS = {
    "id": "规则编号 Rule ID",
    "name_zh": "名称 Name (zh)",
    "name_en": "名称 Name (en)",
    "category": "设施类别 Category",
    "metric": "指标 Metric",
    "supply": "供给量 Supply",
    "value_new": "新区标准 Value (new areas)",
    "value_old": "老区标准 Value (old areas)",
    "target_unit": "标准单位 Target unit",
    "unit": "需求/供给单位 Unit of required and supplied",
    "level": "生活圈层级 Level",
    "threshold": "步行阈值 Threshold",
    "source": "依据 Source",
    "status": "核实状态 Status",
}
AREA_TYPE_LABELS = {"new": "新区 new", "old": "老区 old"}
