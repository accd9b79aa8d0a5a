"""Maps: build them from real results on the Nanjing extract and assert on the rendered HTML.

Nothing is fetched: the maps are only rendered (``m.get_root().render()``), never opened.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from radius._errors import ConfigError, CRSError, InputError, RadiusError
from radius.config import load_categories
from radius.coords import wgs84_to_gcj02
from radius.maps import (
    analysis_map,
    available_basemaps,
    basemap_notes,
    default_rule,
    load_basemaps,
    load_map_style,
    reach_map,
    save_map,
    uncovered_layers,
)
from radius.pipeline import (
    AnalysisResult,
    AnalyzeConfig,
    ReachConfig,
    ReachResult,
    analyze,
    load_analysis_inputs,
    run_reach,
)
from tests.conftest import shared_file
from tests.language_checks import assert_chinese_error

# --- real results, computed once per module ----------------------------------------------------


@pytest.fixture(scope="module")
def nanjing_config() -> AnalyzeConfig:
    path = shared_file("cn_nanjing_xinjiekou.osm")
    return AnalyzeConfig(reach=ReachConfig(network=path, service_areas=True))


@pytest.fixture(scope="module")
def nanjing_inputs(nanjing_config: AnalyzeConfig):
    with warnings.catch_warnings():
        # The extract's islands, empty categories and missing building levels are noted.
        warnings.simplefilter("ignore")
        return load_analysis_inputs(nanjing_config)


@pytest.fixture(scope="module")
def analysis(nanjing_inputs, nanjing_config: AnalyzeConfig) -> AnalysisResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyze(nanjing_inputs, nanjing_config)


@pytest.fixture(scope="module")
def reach(nanjing_config: AnalyzeConfig) -> ReachResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_reach(nanjing_config.reach)


@pytest.fixture(autouse=True)
def no_tianditu_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Maps depend on TIANDITU_KEY; tests set it only when they want it."""
    monkeypatch.delenv("TIANDITU_KEY", raising=False)


# --- reading the rendered HTML ---------------------------------------------------------------


def render(fmap: Any) -> str:
    return fmap.get_root().render()


def overlays(html: str) -> dict[str, str]:
    """Layer-control overlay name -> JavaScript variable of the layer."""
    block = html.split("overlays :  {", 1)[1].split("},", 1)[0]
    pairs = re.findall(r'"((?:[^"\\]|\\.)*)" : (\w+),', block)
    return {json.loads(f'"{name}"'): var for name, var in pairs}


def base_layers(html: str) -> dict[str, str]:
    block = html.split("base_layers : {", 1)[1].split("},", 1)[0]
    pairs = re.findall(r'"((?:[^"\\]|\\.)*)" : (\w+),', block)
    return {json.loads(f'"{name}"'): var for name, var in pairs}


def circle_markers(html: str, layer: str) -> list[tuple[float, float]]:
    """(lat, lon) of every circle marker added to the layer variable ``layer``."""
    found = re.findall(
        r"L\.circleMarker\(\s*\[([-0-9.e]+), ([-0-9.e]+)\],\s*\{[^}]*\}\s*\)\.addTo\((\w+)\)", html
    )
    return [(float(lat), float(lon)) for lat, lon, parent in found if parent == layer]


def star_markers(html: str, layer: str) -> list[tuple[float, float]]:
    found = re.findall(
        r"L\.marker\(\s*\[([-0-9.e]+), ([-0-9.e]+)\],\s*\{[^}]*\}\s*\)\.addTo\((\w+)\)", html
    )
    return [(float(lat), float(lon)) for lat, lon, parent in found if parent == layer]


def geojson_data(html: str, layer: str) -> list[dict[str, Any]]:
    """The GeoJSON features of every GeoJson object added to the layer variable ``layer``."""
    children = re.findall(rf"(geo_json_\w+)\.addTo\({layer}\);", html)
    features: list[dict[str, Any]] = []
    for child in children:
        line = re.search(rf"^\s*{child}_add\((.*)\);\s*$", html, flags=re.MULTILINE)
        assert line is not None
        features.extend(json.loads(line.group(1))["features"])
    return features


def shown_at_first(html: str, layer: str) -> bool:
    return re.search(rf"\b{layer}\.addTo\(map_\w+\);", html) is not None


def rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def category_counts(facilities: gpd.GeoDataFrame) -> dict[str, int]:
    return facilities["category"].value_counts().to_dict()


# --- layers ------------------------------------------------------------------------------------


def test_reach_map_layers_in_chinese(reach: ReachResult) -> None:
    html = render(reach_map(reach))
    names = overlays(html)
    expected = {
        "设施 · 便利店",
        "设施 · 菜市场",
        "设施 · 超市",
        "设施 · 健身设施",
        "设施 · 阅读设施",
        "服务范围 · 便利店 5分钟",
        "服务范围 · 健身设施 10分钟",
        "服务范围 · 健身设施 15分钟",
    }
    assert expected <= set(names)
    # Categories without facilities get no facility layer.
    assert "设施 · 养老服务设施" not in names
    assert list(base_layers(html)) == ["OpenStreetMap"]


def test_reach_map_layers_in_english(reach: ReachResult) -> None:
    names = overlays(render(reach_map(reach, lang="en")))
    assert {
        "Facilities · Convenience store",
        "Facilities · Farmers' market",
        "Service area · Fitness 15 min",
        "Service area · Reading 15 min",
    } <= set(names)


def test_analysis_map_layers(analysis: AnalysisResult) -> None:
    zh = overlays(render(analysis_map(analysis)))
    assert "片区达标 · 养老服务设施人均用地" in zh
    assert "未覆盖居民 · 便利店 5分钟" in zh
    assert "未覆盖居民 · 养老院、老年养护院 15分钟" in zh
    assert "服务范围 · 超市 15分钟" in zh
    assert "设施 · 健身设施" in zh
    en = overlays(render(analysis_map(analysis, lang="en", rule="fitness_within_10min")))
    assert "Districts · Residents within a 10-minute walk of a sports ground" in en
    assert "Uncovered residents · Convenience store 5 min" in en
    assert "Facilities · Supermarket" in en


def test_facility_markers_per_category(analysis: AnalysisResult) -> None:
    html = render(analysis_map(analysis))
    names = overlays(html)
    categories = {c.id: c for c in load_categories()}
    counts = category_counts(analysis.reach.facilities)
    assert sum(counts.values()) == len(analysis.reach.facilities) > 0
    for cid, count in counts.items():
        layer = names[f"设施 · {categories[cid].name_zh}"]
        assert len(circle_markers(html, layer)) == count, cid
    # Every marker's popup names its category, bound as a string: Leaflet builds its DOM
    # when it opens (folium.Popup built all of them at load, with jQuery).
    popups = re.findall(r"\.bindPopup\((\"(?:[^\"\\]|\\.)*\"), \{\"maxWidth\": 320\}\);", html)
    assert len(popups) == len(analysis.reach.facilities)
    assert all("<th>类别</th>" in json.loads(p) for p in popups)
    assert "L.popup(" not in html
    assert "$(`" not in html


def test_facility_colours_are_distinct_and_from_the_style(reach: ReachResult) -> None:
    style = load_map_style()
    html = render(reach_map(reach))
    names = overlays(html)
    seen: set[str] = set()
    for cid in category_counts(reach.facilities):
        name = next(c.name_zh for c in load_categories() if c.id == cid)
        layer = names[f"设施 · {name}"]
        colour = style.categories[cid]
        pattern = rf'"fillColor": "{colour}"[^}}]*\}}\s*\)\.addTo\({layer}\)'
        assert len(re.findall(pattern, html)) == len(circle_markers(html, layer))
        seen.add(colour)
    assert len(seen) == len(category_counts(reach.facilities))


def test_service_areas_one_shown_at_first(reach: ReachResult) -> None:
    html = render(reach_map(reach))
    names = overlays(html)
    areas = {n: v for n, v in names.items() if n.startswith("服务范围")}
    expected = reach.service_areas[reach.service_areas["level"] == "category"]
    assert len(areas) == len(expected)
    assert sum(shown_at_first(html, v) for v in areas.values()) == 1
    assert shown_at_first(html, areas["服务范围 · 便利店 5分钟"])
    features = geojson_data(html, areas["服务范围 · 健身设施 15分钟"])
    assert len(features) == 1
    assert features[0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Semi-transparent.
    assert '"fillOpacity": 0.2' in html


def test_uncovered_residents_layers(analysis: AnalysisResult) -> None:
    html = render(analysis_map(analysis, rule="convenience_store_within_5min"))
    names = overlays(html)
    shortfall = analysis.shortfall
    for (cid, label), rows in shortfall.groupby(["category", "threshold"]):
        name = next(c.name_zh for c in load_categories() if c.id == cid)
        layer = names[f"未覆盖居民 · {name} {label.removesuffix('min')}分钟"]
        features = geojson_data(html, layer)
        assert len(features) == len(rows)
        radii = [f["properties"]["radius"] for f in features]
        style = load_map_style().uncovered
        assert min(radii) >= style.min_radius_px
        assert max(radii) <= style.max_radius_px
    # Bigger populations get bigger circles.
    layer = names["未覆盖居民 · 便利店 5分钟"]
    features = geojson_data(html, layer)
    rows = shortfall[
        (shortfall["category"] == "convenience_store") & (shortfall["threshold"] == "5min")
    ]
    order = np.argsort(rows["population"].to_numpy())
    by_population = np.array([f["properties"]["radius"] for f in features])[order]
    assert (np.diff(by_population) >= 0).all()
    assert by_population[-1] > by_population[0]
    # Red, and the chosen rule's layer is shown at first.
    assert load_map_style().uncovered.colour in html
    assert shown_at_first(html, layer)
    assert not shown_at_first(html, names["未覆盖居民 · 阅读设施 15分钟"])


def test_only_the_uncovered_layers_asked_for(analysis: AnalysisResult) -> None:
    rule = "convenience_store_within_5min"
    every = overlays(render(analysis_map(analysis, rule=rule)))
    assert sum(n.startswith("未覆盖居民") for n in every) == len(uncovered_layers(analysis)) > 2
    # Only the rule's layer, shown, and the map a fraction of the one with every layer
    # (55 % here, with service areas; 25 % of the app's map, which has none).
    html = render(analysis_map(analysis, rule=rule, uncovered=()))
    names = overlays(html)
    assert [n for n in names if n.startswith("未覆盖居民")] == ["未覆盖居民 · 便利店 5分钟"]
    assert shown_at_first(html, names["未覆盖居民 · 便利店 5分钟"])
    assert len(html) < 0.6 * len(render(analysis_map(analysis, rule=rule)))
    # One more asked for: drawn and shown, with all its residents.
    html = render(analysis_map(analysis, rule=rule, uncovered=[("reading", "15min")]))
    names = overlays(html)
    assert {n for n in names if n.startswith("未覆盖居民")} == {
        "未覆盖居民 · 便利店 5分钟",
        "未覆盖居民 · 阅读设施 15分钟",
    }
    layer = names["未覆盖居民 · 阅读设施 15分钟"]
    assert shown_at_first(html, layer)
    reading = analysis.shortfall[
        (analysis.shortfall["category"] == "reading") & (analysis.shortfall["threshold"] == "15min")
    ]
    assert len(geojson_data(html, layer)) == len(reading) > 0
    # The facilities, districts and legend are all still there.
    assert {n for n in names if n.startswith("设施")} == {n for n in every if n.startswith("设施")}
    assert any(n.startswith("片区达标") for n in names)
    with pytest.raises(
        InputError, match=r"no uncovered-residents layer reading/99min.*has: .*reading/15min"
    ) as excinfo:
        analysis_map(analysis, rule=rule, uncovered=[("reading", "99min")])
    text = assert_chinese_error(excinfo.value)
    assert text.startswith("本次分析没有未覆盖居民图层 reading/99min；现有图层为 ")
    assert "reading/15min" in text


def test_uncovered_layers_are_labelled_in_both_languages(analysis: AnalysisResult) -> None:
    zh = uncovered_layers(analysis)
    en = uncovered_layers(analysis, lang="en")
    pairs = list(
        dict.fromkeys(
            zip(analysis.shortfall["category"], analysis.shortfall["threshold"], strict=True)
        )
    )
    assert list(zh) == list(en) == pairs
    assert zh[("convenience_store", "5min")] == "便利店 5分钟"
    assert en[("convenience_store", "5min")] == "Convenience store 5 min"
    with pytest.raises(InputError, match="unknown map language 'fr'; use 'zh' or 'en'") as excinfo:
        uncovered_layers(analysis, lang="fr")  # type: ignore[arg-type]
    # the language codes a user types
    text = assert_chinese_error(excinfo.value, allowed={"fr", "zh", "en"})
    assert text == "未知的地图语言 'fr'；请使用 'zh'（中文）或 'en'（英文）"


def test_the_map_needs_no_jquery_or_d3(analysis: AnalysisResult) -> None:
    from radius.map_assets import rendered_map, served_assets, use_local_assets

    served = served_assets({"leaflet": "L", "jquery": "J", "d3": "D"})
    payload = rendered_map(use_local_assets(analysis_map(analysis), served))
    assert payload.js_links == ("../L/leaflet.js",)
    assert payload.css_links == ("../L/leaflet.css",)
    assert "$(" not in payload.script
    assert not re.search(r"\bd3\.", payload.script)  # a call of d3, not a name ending in d3
    # A map holding a folium.Popup still gets jQuery (it calls $).
    fmap = analysis_map(analysis, uncovered=())
    folium.Marker([32.04, 118.78], popup=folium.Popup("<b>x</b>")).add_to(fmap)
    assert "../J/jquery.min.js" in rendered_map(use_local_assets(fmap, served)).js_links


# --- districts ----------------------------------------------------------------------------------


def test_default_rule_is_the_first_ratio_rule_with_a_shortfall(analysis: AnalysisResult) -> None:
    rule = default_rule(analysis)
    assert rule == "elderly_land_per_capita"
    assert analysis.districts[f"{rule}_shortfall"].sum() > 0


def test_district_colours_follow_the_shortfall(analysis: AnalysisResult) -> None:
    rule = "convenience_store_within_5min"
    html = render(analysis_map(analysis, rule=rule))
    layer = next(v for n, v in overlays(html).items() if n.startswith("片区达标"))
    features = geojson_data(html, layer)
    assert len(features) == len(analysis.districts)
    fill = {f["properties"]["district"]: f["properties"]["fill"] for f in features}
    status = {f["properties"]["district"]: f["properties"]["status"] for f in features}
    districts = analysis.districts.set_index("district_id")
    populated = districts["population"] > 0
    failing = districts.index[populated & ~districts[f"{rule}_pass"]]
    passing = districts.index[populated & districts[f"{rule}_pass"]]
    empty = districts.index[~populated]
    assert len(failing) > 0
    assert len(passing) > 0
    assert len(empty) > 0
    for district in failing:
        red, green, blue = rgb(fill[district])
        assert red > green + 60, fill[district]
        assert red > blue + 60, fill[district]
        assert status[district] == "未达标"
    for district in passing:
        red, green, blue = rgb(fill[district])
        assert green > red + 60, fill[district]
        assert green > blue + 30, fill[district]
        assert status[district] == "达标"
    for district in empty:
        assert fill[district] == load_map_style().districts.no_residents_colour
        assert status[district] == "无居民"
    # The larger the shortfall, the darker the red.
    shortfalls = districts.loc[failing, f"{rule}_shortfall"].sort_values()
    darkness = [sum(rgb(fill[d])) for d in shortfalls.index]
    assert darkness == sorted(darkness, reverse=True)


def test_district_tooltips_and_legend(analysis: AnalysisResult) -> None:
    rule = default_rule(analysis)
    assert rule is not None
    html = render(analysis_map(analysis, rule=rule))
    layer = next(v for n, v in overlays(html).items() if n.startswith("片区达标"))
    features = geojson_data(html, layer)
    by_id = {f["properties"]["district"]: f["properties"] for f in features}
    row = analysis.districts.sort_values(f"{rule}_shortfall").iloc[-1]
    props = by_id[row["district_id"]]
    # A per-capita land rule: required, supplied and shortfall are m² in total.
    assert props["shortfall_text"] == f"{row[f'{rule}_shortfall']:,.0f} m²"
    assert props["required_text"].endswith(" m²")
    assert props["supplied_text"].endswith(" m²")
    assert props["status"] == "未达标"
    for alias in ("片区编号", "名称", "需求", "供给", "缺口", "是否达标"):
        assert json.dumps(alias) in html
    # The colour scale in the legend box: a CSS gradient of the fail colours from no
    # shortfall to the largest one (branca's legend would need d3), and the symbols.
    fail = load_map_style().districts.fail_colours
    assert f"linear-gradient(to right, {', '.join(fail)})" in html
    top = float(analysis.districts[f"{rule}_shortfall"].max())
    assert f"缺口 (m²)：0 – {top:,.0f}</div>" in html
    assert "color_map_" not in html
    assert not re.search(r"\bd3\.", html)
    assert 'class="radius-legend"' in html
    assert "达标</div>" in html
    en = render(analysis_map(analysis, lang="en", rule="convenience_store_within_5min"))
    assert "Shortfall (residents): 0 – " in en
    assert json.dumps("District ID") in en


# --- map furniture -----------------------------------------------------------------------------


def test_scale_bar_attribution_and_layer_control(
    reach: ReachResult, analysis: AnalysisResult
) -> None:
    for fmap in (reach_map(reach), analysis_map(analysis), reach_map(reach, basemap="gaode")):
        html = render(fmap)
        assert 'L.control.scale({"metric": true, "imperial": false' in html
        assert "L.control.layers(" in html
        added = re.findall(r"attributionControl\.addAttribution\((\".*?\")\);", html)
        assert [json.loads(text) for text in added] == [load_map_style().data_attribution]
        assert "OpenStreetMap</a> contributors" in load_map_style().data_attribution
    gaode = render(reach_map(reach, basemap="gaode"))
    assert "autonavi.com/appmaptile" in gaode
    assert "AutoNavi" in gaode


def test_gaode_basemap_shifts_every_overlay(analysis: AnalysisResult) -> None:
    osm = render(analysis_map(analysis))
    gaode = render(analysis_map(analysis, basemap="gaode"))
    store_layer = "设施 · 便利店"
    stores = analysis.reach.facilities[
        (analysis.reach.facilities["category"] == "convenience_store")
        & (analysis.reach.facilities.geom_type == "Point")
    ]
    lon = stores.geometry.x.to_numpy()
    lat = stores.geometry.y.to_numpy()
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    on_osm = circle_markers(osm, overlays(osm)[store_layer])
    on_gaode = circle_markers(gaode, overlays(gaode)[store_layer])
    for i in range(len(stores)):
        assert any(abs(a - lat[i]) < 1e-6 and abs(b - lon[i]) < 1e-6 for a, b in on_osm)
        assert any(abs(a - gcj_lat[i]) < 1e-6 and abs(b - gcj_lon[i]) < 1e-6 for a, b in on_gaode)
        assert not any(abs(a - lat[i]) < 1e-4 and abs(b - lon[i]) < 1e-4 for a, b in on_gaode)
    # Polygons (districts) and points (uncovered residents) move the same way.
    district_layer = next(v for n, v in overlays(gaode).items() if n.startswith("片区达标"))
    district_osm = next(v for n, v in overlays(osm).items() if n.startswith("片区达标"))
    first_gaode = np.array(geojson_data(gaode, district_layer)[0]["geometry"]["coordinates"][0])
    first_osm = np.array(geojson_data(osm, district_osm)[0]["geometry"]["coordinates"][0])
    expected = np.column_stack(wgs84_to_gcj02(first_osm[:, 0], first_osm[:, 1]))
    np.testing.assert_allclose(first_gaode, expected, atol=2e-7)
    resident_layer = overlays(gaode)["未覆盖居民 · 便利店 5分钟"]
    resident_osm = overlays(osm)["未覆盖居民 · 便利店 5分钟"]
    point_gaode = geojson_data(gaode, resident_layer)[0]["geometry"]["coordinates"]
    point_osm = geojson_data(osm, resident_osm)[0]["geometry"]["coordinates"]
    moved = wgs84_to_gcj02(*point_osm)
    assert point_gaode == pytest.approx([float(moved[0]), float(moved[1])], abs=2e-7)
    # Only basemaps drawn in GCJ-02 are offered beside Gaode.
    assert set(base_layers(gaode)) == {"高德地图", "高德影像"}


def test_tianditu_left_out_without_a_key(reach: ReachResult) -> None:
    assert "tianditu" in {b.id for b in load_basemaps()}
    assert "tianditu" not in available_basemaps()
    assert set(available_basemaps()) >= {"osm", "gaode"}
    notes = basemap_notes()
    assert len(notes) == 1
    assert "TIANDITU_KEY" in notes[0]
    assert "TIANDITU_KEY" in basemap_notes(lang="en")[0]
    html = render(reach_map(reach))
    assert "tianditu" not in html
    with pytest.raises(
        InputError, match=r"needs a key in the TIANDITU_KEY environment variable\. Tianditu needs"
    ) as excinfo:
        reach_map(reach, basemap="tianditu")
    # the basemap's id as typed; its Chinese note comes from configs/basemaps.yaml
    text = assert_chinese_error(excinfo.value, allowed={"tianditu"})
    assert "底图 'tianditu' 需要在环境变量 TIANDITU_KEY 中设置密钥。天地图需要密钥" in text


def test_a_basemap_without_notes_names_its_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    import radius.maps

    bare = tuple(b.model_copy(update={"note_zh": "", "note_en": ""}) for b in load_basemaps())
    monkeypatch.setattr(radius.maps, "load_basemaps", lambda: bare)
    assert basemap_notes(lang="zh") == ["天地图：设置环境变量 TIANDITU_KEY 后即可使用"]
    assert basemap_notes(lang="en") == ["Tianditu: set TIANDITU_KEY"]


def test_tianditu_with_a_key(reach: ReachResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIANDITU_KEY", "test-key-123")
    assert "tianditu" in available_basemaps()
    assert basemap_notes() == []
    html = render(reach_map(reach, basemap="tianditu"))
    assert "vec_w/wmts" in html
    assert "cva_w/wmts" in html
    assert "tk=test-key-123" in html
    # CGCS2000 tiles: overlays stay in WGS-84, like on OpenStreetMap.
    osm = render(reach_map(reach))
    layer = "设施 · 超市"
    assert circle_markers(html, overlays(html)[layer]) == circle_markers(osm, overlays(osm)[layer])
    # OpenStreetMap offers Tianditu as another basemap of the same system.
    assert set(base_layers(osm)) == {"OpenStreetMap", "天地图"}


# --- proposals ---------------------------------------------------------------------------------


def proposal_frame() -> gpd.GeoDataFrame:
    """Two proposed convenience stores in the facilities layout (what siting would give)."""
    return gpd.GeoDataFrame(
        {
            "facility_id": ["proposed/1", "proposed/2"],
            "name": ["新便利店 <b>`${x}`</b>", "New store"],
            "category": ["convenience_store", "convenience_store"],
            "source": ["proposed", "proposed"],
            "floor_area_m2": [120.0, np.nan],
            "land_area_m2": [np.nan, np.nan],
            "beds": [np.nan, np.nan],
            "places": [np.nan, np.nan],
            "entrances": [None, None],
        },
        geometry=[shapely.Point(118.7790, 32.0440), shapely.Point(118.7840, 32.0460)],
        crs="EPSG:4326",
    )


def test_proposals_drawn_as_stars(analysis: AnalysisResult) -> None:
    proposals = proposal_frame()
    html = render(analysis_map(analysis, proposals=proposals))
    layer = overlays(html)["设施 · 便利店"]
    stars = star_markers(html, layer)
    assert len(stars) == 2
    assert (32.044, 118.779) in stars
    existing = int((analysis.reach.facilities["category"] == "convenience_store").sum())
    assert len(circle_markers(html, layer)) == existing
    assert html.count("radius-proposed") >= 2
    assert "<td>拟建<\\/td>" in html  # in a popup string (see _js_string)
    # Names are escaped, also for the JavaScript template literals folium writes.
    assert "<b>`${x}`</b>" not in html
    assert "&lt;b&gt;&#96;&#36;{x}&#96;&lt;/b&gt;" in html


def test_analysed_proposals_drawn_once(nanjing_inputs, nanjing_config) -> None:
    proposals = proposal_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = analyze(nanjing_inputs, nanjing_config, proposals=proposals)
    assert (result.reach.facilities["source"] == "proposed").sum() == 2
    html = render(analysis_map(result, proposals=proposals))
    layer = overlays(html)["设施 · 便利店"]
    assert len(star_markers(html, layer)) == 2
    assert len(circle_markers(html, layer)) == int(
        (nanjing_inputs.facilities["category"] == "convenience_store").sum()
    )


def test_proposals_need_a_category_and_a_crs(analysis: AnalysisResult) -> None:
    with pytest.raises(InputError, match="'category' column") as excinfo:
        analysis_map(analysis, proposals=proposal_frame().drop(columns=["category"]))
    assert "'category' 列" in assert_chinese_error(excinfo.value, allowed={"category"})
    with pytest.raises(CRSError, match="proposals have no CRS") as excinfo:
        analysis_map(analysis, proposals=proposal_frame().set_crs(None, allow_override=True))
    assert "拟建设施图层没有坐标参考系" in assert_chinese_error(excinfo.value)


# --- errors and saving ---------------------------------------------------------------------------


def test_bad_arguments(reach: ReachResult, analysis: AnalysisResult) -> None:
    with pytest.raises(
        InputError, match=r"unknown basemap 'baidu'; choose one of osm, gaode"
    ) as excinfo:
        reach_map(reach, basemap="baidu")
    # the basemap ids a user types (osm, gaode, tianditu)
    text = assert_chinese_error(excinfo.value, allowed={"baidu", "osm", "gaode", "tianditu"})
    assert text.startswith("未知的底图 'baidu'；请从 osm, gaode")
    with pytest.raises(InputError, match="unknown map language 'fr'"):
        reach_map(reach, lang="fr")  # type: ignore[arg-type]
    with pytest.raises(
        InputError, match=r"unknown rule 'nope'.*elderly_land_per_capita"
    ) as excinfo:
        analysis_map(analysis, rule="nope")
    text = assert_chinese_error(excinfo.value, allowed={"nope"})
    assert text.startswith("本次分析没有指标 'nope'；已检查的指标为 ")
    assert "elderly_land_per_capita" in text


def test_save_map_writes_standalone_html_atomically(reach: ReachResult, tmp_path: Path) -> None:
    target = tmp_path / "maps" / "reach.html"
    written = save_map(reach_map(reach, lang="en"), target)
    assert written == target
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert json.dumps("Facilities · Supermarket") in text
    assert sorted(p.name for p in target.parent.iterdir()) == ["reach.html"]
    # A failed write leaves the existing file as it was and no temporary file.

    class Broken:
        def get_root(self) -> Broken:
            return self

        def render(self) -> str:
            raise OSError("disk full")

    # The write fails (the command line turns a full disk into an InputError naming it).
    with pytest.raises((OSError, RadiusError), match=r"disk full|no space left"):
        save_map(Broken(), target)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in target.parent.iterdir()) == ["reach.html"]


def test_style_and_basemap_files_are_validated(tmp_path: Path) -> None:
    good = (Path(__file__).resolve().parent.parent / "configs" / "map_style.yaml").read_text(
        encoding="utf-8"
    )
    bad_style = tmp_path / "map_style.yaml"
    bad_style.write_text(good.replace('fitness: "#17becf"', 'fitness: "teal"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"(?s)map_style\.yaml.*categories.*#rrggbb: teal"):
        load_map_style(bad_style)
    basemaps = tmp_path / "basemaps.yaml"
    basemaps.write_text(
        "basemaps:\n"
        "  - {id: osm, name_zh: a, name_en: a, system: wgs84, tiles: x, attribution: y}\n"
        "  - {id: osm, name_zh: b, name_en: b, system: bd09, tiles: x, attribution: y}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"basemaps\[1\]\.system") as error:
        load_basemaps(basemaps)
    assert "basemaps.yaml" in str(error.value)
