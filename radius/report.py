"""Tables for reports: the bilingual provision workbook (and, later, the siting report)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from radius.pipeline import AnalysisResult

__all__ = [
    "AREA_TYPE_LABELS",
    "RULE_HEADERS",
    "UNIT_SHARE_HEADERS",
    "VERDICT_LABELS",
    "attainment_table",
    "displayable_facilities",
    "provision_sheets",
    "rule_sheets",
    "sites_table",
]


def provision_sheets(result: AnalysisResult) -> dict[str, pd.DataFrame]:
    """Workbook sheets: the rules, the attainment rates, then one per rule (zh/en headers)."""
    sheets = rule_sheets(result.rules, result.districts)
    attained = attainment_table(result)
    if len(attained):  # after the rules sheet, before the sheets of each rule
        rules = {k: v for k, v in sheets.items() if k == "规则 Rules"}
        sheets = {**rules, "达标率 Attainment": attained, **sheets}
    if len(result.unit_shares):
        sheets["单位占比 Unit shares"] = result.unit_shares.rename(
            columns=lambda c: UNIT_SHARE_HEADERS.get(c, c)
        )
    return sheets


def attainment_table(result: AnalysisResult) -> pd.DataFrame:
    """Per rule and unit level: the units meeting it, failing, not applicable, and the rate."""
    summary = result.summary()["rules"]
    rows = []
    for rid, item in summary.items():
        levels = [("districts", item)]
        if "subdistricts" in item:
            levels.append(("subdistricts", item["subdistricts"]))
        for level, figures in levels:
            passing = figures.get("passing", figures.get("districts_passing"))
            applicable = figures.get("applicable", figures.get("districts_applicable"))
            missing = figures.get("not_applicable", figures.get("districts_not_applicable"))
            rate = figures.get("rate", figures.get("attainment_rate"))
            rows.append(
                {
                    "规则编号 Rule ID": rid,
                    "单位层级 Unit level": "街道 sub-districts"
                    if level == "subdistricts"
                    else "社区/单元 units",
                    "服务对象 Group": item.get("group", ""),
                    "达标单位 Units meeting": passing,
                    "适用单位 Applicable units": applicable,
                    "不适用 Not applicable": missing,
                    "达标率 Attainment rate (%)": rate,
                }
            )
    return pd.DataFrame(rows)


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
                "是否达标 Pass": _verdicts(districts, rid),
            }
        )
        extra = {
            f"{rid}_supplied_inside": f"单位内配建 Supply inside the unit ({unit})",
            f"{rid}_supplied_access": f"可达供给 Accessible supply, 2SFCA ({unit})",
            f"{rid}_share": "覆盖比例 Share of the group within (%)",
        }
        for column, header in extra.items():
            if column in districts.columns:
                sheets[rid][header] = districts[column].to_numpy()
    return sheets


VERDICT_LABELS = {
    "pass": "达标 pass",
    "fail": "未达标 fail",
    "not_applicable": "不适用 not applicable",
}
"""Labels of the per-unit verdicts; a unit without any of the rule's group is not applicable."""


def _verdicts(districts: pd.DataFrame, rid: str) -> pd.Series:
    if f"{rid}_verdict" in districts.columns:
        return districts[f"{rid}_verdict"].map(VERDICT_LABELS)
    return districts[f"{rid}_pass"].map({True: "达标 pass", False: "未达标 fail"})


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
    "group": "服务对象 Demand group",
    "unit": "需求/供给单位 Unit of required and supplied",
    "level": "生活圈层级 Level",
    "threshold": "步行阈值 Threshold",
    "source": "依据 Source",
    "status": "核实状态 Status",
}
AREA_TYPE_LABELS = {"new": "新区 new", "old": "老区 old"}
UNIT_SHARE_HEADERS = {
    "id": "规则编号 Rule ID",
    "name_zh": "名称 Name (zh)",
    "name_en": "名称 Name (en)",
    "unit_level": "单位层级 Unit level",
    "of_rule": "须达标的规则 Rule to meet",
    "presence": "须配置的设施 Facility to hold",
    "units": "单位数 Units",
    "applicable": "适用单位 Applicable units",
    "meeting": "达标单位 Units meeting",
    "not_applicable": "不适用 Not applicable",
    "share": "比例 Share (%)",
    "target": "目标 Target (%)",
    "verdict": "结论 Verdict",
    "note": "说明 Note",
}
