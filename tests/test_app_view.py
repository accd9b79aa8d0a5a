"""What the app's page shows (:mod:`radius.app_view`) and how it takes its uploads
(:func:`radius.app_inputs.received`, :func:`radius.app_state.inputs_for`), without Streamlit.

``tests/test_app.py`` runs the page itself (AppTest); here each decision is checked on its
own: which value a choice shows, which settings the sidebar makes, what the headline and
the what-if panel say, which uploads are read and what a failing one says.
"""

from __future__ import annotations

import re
import sys
from typing import Any, cast

import pandas as pd
import pytest

from radius import app_view as view
from radius._errors import InputError
from radius.app_inputs import Loaded, Upload, limit_message, received, upload_types
from radius.app_state import Failure, inputs_for, seconds_ticker, upload_key
from radius.app_view import (
    AREA_TYPES,
    COORD_SYSTEMS,
    TILES_PER_ROW,
    Choice,
    Said,
    capacity_inputs,
    coord_system_choice,
    headline,
    input_messages,
    kept_downloads,
    notes,
    panel_messages,
    rule_choice,
    setting_choices,
    settings_from,
    standard_names,
    uploader_css,
    whatif_category_choice,
)
from radius.bounded import LimitError
from radius.config import load_categories
from radius.i18n import error_in, keys, message, t
from radius.sample import default_network_path
from radius.whatif import Proposal, Settings, page_notes, whatif_analysis
from tests.language_checks import ALLOWED_IN_CHINESE, english_words

CJK = re.compile(r"[\u3400-\u9fff]")
LON, LAT = 118.7894, 32.0407  # beside the residents of the default district
ALL = tuple(c.id for c in load_categories())


def _choice(kind: str = "selectbox", default: Any = "b") -> Choice:
    labels = {"a": "A", "b": "B", "c": "C"}
    return Choice("x", kind, "X", tuple(labels), labels, default)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Choices
# --------------------------------------------------------------------------------------


def test_a_choice_shows_the_value_kept_while_it_is_still_offered():
    choice = _choice()
    assert choice.current({}) == "b"  # nothing chosen yet: the default
    assert choice.current({"x": "c"}) == "c"
    assert choice.current({"x": "gone"}) == "b"  # no longer offered: the default
    assert _choice(default="gone").current({"x": "gone"}) == "a"  # nor the default: the first
    many = _choice("multiselect", default=["a", "b"])
    assert many.current({}) == ["a", "b"]
    assert many.current({"x": ["c", "gone", "a"]}) == ["c", "a"]


def test_a_choice_has_one_widget_per_language_and_may_be_disabled_by_another():
    choice = _choice()
    args = choice.widget_args({"x": "c"}, "en", {})
    assert args["key"] == "x.en"
    assert args["index"] == 2
    assert "default" not in args
    assert args["format_func"]("a") == "A"
    assert args["disabled"] is False
    many = _choice("multiselect", default=["a"]).widget_args({}, "zh", {})
    assert (many["key"], many["default"]) == ("x.zh", ["a"])
    assert "index" not in many
    gated = Choice("y", "radio", "Y", ("p",), {"p": "P"}, "p", disabled_if=("x", "off"))
    assert gated.disabled({"x": "off"}) is True
    assert gated.disabled({"x": "on"}) is False
    assert gated.disabled({}) is False


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_setting_offers_labelled_options_in_the_language(lang):
    choices = setting_choices(lang, standard_names())
    assert [c.name for c in choices] == [
        "categories",
        "threshold_basis",
        "speed_profile",
        "standard",
        "area_type",
        "method",
        "basemap",
    ]
    known = set(keys())
    for choice in [*choices, coord_system_choice(lang)]:
        texts = [choice.label, *(choice.label_of(o) for o in choice.options)]
        for text in texts:
            assert text, choice.name
            assert text not in known, (choice.name, text)
            assert not re.search(r"\{[a-z_]+\}", text), (choice.name, text)
            if lang == "en":
                assert not CJK.search(text), (choice.name, text)
        default = choice.default if choice.kind == "multiselect" else [choice.default]
        assert set(default) <= set(choice.options), choice.name
        assert choice.key(lang) == f"{choice.name}.{lang}"
    by_name = {c.name: c for c in choices}
    assert by_name["categories"].options == ALL
    assert by_name["area_type"].options == AREA_TYPES
    assert coord_system_choice(lang).options == COORD_SYSTEMS
    # The walking speed means nothing while thresholds are distances.
    assert by_name["speed_profile"].disabled({"threshold_basis": "distance"})
    assert not by_name["speed_profile"].disabled({"threshold_basis": "time"})


def test_the_sidebar_defaults_make_the_default_settings():
    values = {c.name: c.current({}) for c in setting_choices("zh", standard_names())}
    assert settings_from(values) == Settings(ALL, "distance", "adult", "national", None, "2sfca")
    assert values["basemap"] == "osm"
    values.update(threshold_basis="time", area_type="old", categories=["library"])
    settings = settings_from(values)
    assert settings.categories == ("library",)
    assert (settings.threshold_basis, settings.area_type) == ("time", "old")


def test_standard_names_name_every_profile_in_both_languages():
    names = standard_names()
    assert "national" in names
    for zh, en in names.values():
        assert CJK.search(zh)
        assert not CJK.search(en)


def test_the_whatif_panel_offers_the_categories_analysed_with_their_size_fields():
    settings = Settings(("elderly_care", "childcare"), "time", "adult", "national", None, "2sfca")
    choice = whatif_category_choice(settings, "en")
    assert choice.options == ("elderly_care", "childcare")
    assert choice.default == "elderly_care"
    assert choice.label_of("elderly_care") == "Nursing home"
    fields = capacity_inputs("elderly_care", "en")
    assert [f.key for f in fields] == [
        "capacity_beds",
        "capacity_floor_area_m2",
        "capacity_land_area_m2",
    ]
    assert fields[0].label == t("capacity_beds", "en")
    assert fields[0].default == 50.0
    assert capacity_inputs(None, "zh") == []


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------


def test_the_whatif_panel_says_what_the_last_suggestion_did_and_what_failed():
    assert panel_messages({}) == []
    state = {"suggest_message": "2 sites", "whatif_message": "too many", "suggest_error": ""}
    assert panel_messages(state) == [Said("success", "2 sites"), Said("error", "too many")]
    both = {"suggest_message": {"zh": "已建议 2 处", "en": "2 sites"}}  # follows the language
    assert panel_messages(both, "en") == [Said("success", "2 sites")]
    assert panel_messages(both, "zh") == [Said("success", "已建议 2 处")]


def _loaded(network_label: str = "OSM", **fields: Any) -> Loaded:
    return Loaded(inputs=cast(Any, None), network_label=network_label, **fields)


def test_the_page_says_when_uploaded_facilities_look_shifted_or_replace_osm_ones():
    assert input_messages(_loaded(), "zh") == []
    shifted = input_messages(_loaded(likely_system="gcj02"), "en")
    assert shifted == [Said("warning", t("coord_hint", "en", system=t("coord_gcj02", "en")))]
    (replaced,) = input_messages(_loaded(replaced=("supermarket",), kept=("reading",)), "zh")
    assert replaced.kind == "info"
    assert "超市" in replaced.text
    assert "阅读设施" in replaced.text


def test_prepared_downloads_of_other_inputs_are_dropped():
    prepared = {"pdf": ("old", b"1"), "xlsx": ("now", b"2")}
    assert kept_downloads(prepared, "now") == {"xlsx": ("now", b"2")}
    assert kept_downloads(None, "now") == {}


def test_the_uploader_speaks_chinese_only_where_streamlit_does_not():
    css = uploader_css("zh")
    assert css is not None
    assert t("uploader_button", "zh") in css
    assert t("uploader_limit", "zh") in css
    assert uploader_css("en") is None


# --------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------


class _File:
    """An uploaded file as Streamlit hands it over."""

    def __init__(self, name: str, data: bytes, file_id: str | None = None) -> None:
        self.name = name
        self.data = data
        self.reads = 0
        if file_id is not None:
            self.file_id = file_id

    def getvalue(self) -> bytes:
        self.reads += 1
        return self.data


def test_an_uploaded_file_is_hashed_once_per_upload():
    digests: dict[str, str] = {}
    upload = received("facilities", _File("a.csv", b"x", "id-1"), digests)
    assert upload == Upload("facilities", "a.csv", digests["id-1"], b"")  # data not compared
    assert upload.data == b"x"
    assert re.fullmatch(r"[0-9a-f]{64}", upload.digest)
    digests["id-1"] = "kept"  # the same upload on the next run: not hashed again
    assert received("facilities", _File("a.csv", b"x", "id-1"), digests).digest == "kept"
    assert received("facilities", _File("b.csv", b"x"), digests).digest == upload.digest
    assert "b.csv" in digests  # without an upload id: by name


def test_each_uploader_accepts_its_endings():
    assert {"osm", "pbf", "bz2", "zip"} <= set(upload_types("network"))
    assert {"csv", "xlsx"} <= set(upload_types("facilities"))
    assert upload_types("districts") == sorted(upload_types("districts"))


def _inputs_for(uploads, read, lang="en"):
    shared: list[str] = []
    default = _loaded()

    def from_default(path: str) -> Loaded:
        shared.append(path)
        return default

    loaded, key, error = inputs_for(uploads, "gcj02", True, lang, shared=from_default, read=read)
    return loaded is default, key, error, shared


def test_without_uploads_the_shared_default_district_is_used():
    def never(key, load):
        raise AssertionError("nothing to read")

    is_default, key, error, shared = _inputs_for([], never)
    assert is_default
    assert error is None
    assert key == ("default", str(default_network_path()))
    assert shared == [str(default_network_path())]


def test_uploads_are_read_under_their_key():
    upload = Upload("facilities", "a.csv", "d1", b"x")
    mine = _loaded(network_label="mine")
    asked = []

    def read(key, load):
        asked.append(key)
        return mine

    loaded, key, error = inputs_for(
        [upload], "gcj02", True, "en", shared=lambda path: _loaded(), read=read
    )
    assert loaded is mine
    assert error is None
    assert key == upload_key(str(default_network_path()), [upload], "gcj02", True)
    assert asked == [key]


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            InputError("a.csv: no column 'lon'"),
            t("error_upload", "en", message="a.csv: no column 'lon'"),
        ),
        (
            LimitError("too long", "seconds"),
            t("error_limit", "en", message=limit_message(LimitError("", "seconds"), "en")),
        ),
        (ValueError("a bug"), t("error_upload", "en", message=t("error_bug", "en"))),
    ],
)
def test_a_failing_upload_falls_back_to_the_default_district_with_a_message(raised, expected):
    def read(key, load):
        raise raised

    is_default, key, error, _ = _inputs_for([Upload("facilities", "a.csv", "d1", b"x")], read)
    assert is_default
    assert key == upload_key(str(default_network_path()), (), "gcj02", False)
    assert error == expected


def test_a_failed_upload_is_told_again_at_each_rerun_without_being_read_again():
    """The page reruns at every click: the same bad upload says why again, in the page's
    language of the moment, without a new job (which waited for the file anew, up to the
    time limit: 2.3 s a rerun for a 5-byte CSV, 0.2 s now). A cancelled read is not kept;
    other uploads, or the file removed, read again."""
    bad = [Upload("facilities", "a.csv", "d1", b"x")]
    reads = []
    error = InputError(message("inventory_empty_table", file="a.csv"))

    def read(key, load):
        reads.append(key)
        raise error

    failed: dict[Any, Failure] = {}
    texts = []
    for lang in ("zh", "zh", "en"):
        loaded, _, text = inputs_for(
            bad, "wgs84", False, lang, shared=lambda path: _loaded(), read=read, failed=failed
        )
        texts.append(text)
    assert len(reads) == 1
    assert texts[0] == texts[1] == t("error_upload", "zh", message=error_in(error, "zh"))
    assert texts[2] == t("error_upload", "en", message=error_in(error, "en"))

    mine = _loaded(network_label="mine")
    good = [Upload("facilities", "b.csv", "d2", b"y")]
    loaded, _, text = inputs_for(
        good,
        "wgs84",
        False,
        "zh",
        shared=lambda path: _loaded(),
        read=lambda k, f: mine,
        failed=failed,
    )
    assert loaded is mine
    assert text is None
    assert failed == {}

    def cancelled(key, load):
        reads.append(key)
        raise LimitError(
            message("bounded_cancelled", what=message("bounded_what_uploads")), "cancelled"
        )

    for _ in range(2):
        inputs_for(
            bad, "wgs84", False, "zh", shared=lambda path: _loaded(), read=cancelled, failed=failed
        )
    assert len(reads) == 3  # read again: the session, not the file, stopped it
    inputs_for(bad, "wgs84", False, "zh", shared=lambda path: _loaded(), read=read, failed=failed)
    inputs_for([], "wgs84", False, "zh", shared=lambda path: _loaded(), read=read, failed=failed)
    assert failed == {}


def test_the_reading_the_page_hands_over_loads_the_uploads_in_a_bounded_job():
    page = b"<!DOCTYPE html><html><body>Please log in</body></html>"

    def read(key, load):
        return load(lambda: False)  # the page's cache would call it; never cancelled

    _, _, error, _ = _inputs_for([Upload("network", "district.osm", "d", page)], read)
    assert error is not None
    assert "district.osm: this is a web page (HTML)" in error
    assert "radius-upload-" not in error


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_failing_upload_read_in_its_job_is_told_in_the_users_language(lang):
    """A 5-byte CSV and an inventory without its columns, read in the bounded job as the
    page reads them: the message beside the uploaders is in the page's language (the
    error's message id crosses the job and the renaming of the upload), names the file as
    uploaded, and closes its sentence once."""

    def read(key, load):
        return load(lambda: False)

    for name, data in (("five.csv", b"12345"), ("cols.csv", b"a,b\n1,2\n")):
        is_default, _, error, _ = _inputs_for(
            [Upload("facilities", name, name, data)], read, lang=lang
        )
        assert is_default
        assert error is not None
        assert name in error
        assert "radius-upload-" not in error
        assert "。。" not in error
        assert ".." not in error
        if lang == "zh":
            assert error.startswith("无法读取上传的文件："), error
            # a and b: the columns the file holds, named as it names them
            assert english_words(error, ALLOWED_IN_CHINESE | {"a", "b"}) == [], error
        else:
            assert error.startswith("The uploaded files could not be read: "), error
            # the column names it accepts, Chinese ones too (name/名称), are values to type
            assert not CJK.search(re.sub(r"\S*/\S*", "", error)), error


def test_the_seconds_spent_are_shown_once_each():
    now = [100.0]
    shown: list[int] = []
    tick = seconds_ticker(shown.append, clock=lambda: now[0])
    for step in (0.4, 0.7, 0.1, 2.3, 0.2):  # at 0.4, 1.1, 1.2, 3.5, 3.7 s
        now[0] += step
        tick()
    assert shown == [1, 3]  # each time the whole seconds grew; no poll while at 2 s


# --------------------------------------------------------------------------------------
# The headline, the map's rule and the notes, on the default district
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_district():
    import warnings

    from radius.app_inputs import load_inputs
    from tests.conftest import shared_file

    shared_file("cn_nanjing_xinjiekou.osm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_inputs([])
        settings = Settings(ALL, "distance", "adult", "national", None, "2sfca")
        base = whatif_analysis(loaded.inputs, settings, (), loaded.network_label)
        proposal = Proposal(1, "elderly_care", LON, LAT, "P1", (("beds", 50.0),))
        what_if = whatif_analysis(
            loaded.inputs, settings, (proposal,), loaded.network_label, base=base
        )
    return loaded, settings, base, what_if


@pytest.mark.slow
def test_the_headline_shows_each_figure_and_its_change_in_rows(default_district):
    _, settings, base, what_if = default_district
    plain = headline(base, base, settings, "zh", changed=False, network="OSM")
    figures = [f for row in plain.rows for f in row]
    assert all(len(row) <= TILES_PER_ROW for row in plain.rows)
    assert len(figures) == sum(len(c.thresholds) for c in load_categories()) + 1
    assert all(
        f.delta is None and (f.delta_color, f.delta_arrow) == ("off", "off") for f in figures
    )
    assert plain.help == t("metric_help", "zh")
    assert "OSM" in plain.caption
    # the doubts of the OSM estimate are said: 789 of 1277 buildings not counted as housing
    assert any("789" in w and "1277" in w for w in plain.warnings)
    assert plain.attainment is not None
    assert plain.attainment.startswith("- ")

    changed = headline(what_if, base, settings, "en", changed=True, network="OSM")
    by_label = {f.label: f for row in changed.rows for f in row}
    elderly = by_label["Nursing home · within 1000 m"]
    assert re.fullmatch(r"\+\d+\.\d pp", elderly.delta or "")
    assert (elderly.delta_color, elderly.delta_arrow) == ("normal", "auto")
    failing = by_label[t("metric_failing", "en")]
    if failing.delta_color != "off":  # fewer units failing is better: shown green, inverted
        assert failing.delta_color == "inverse"


@pytest.mark.slow
def test_the_map_offers_every_rule_of_the_standard(default_district):
    _, _, base, _ = default_district
    choice = rule_choice(base, "en")
    assert choice is not None
    assert choice.name == "map_rule"
    assert choice.options == tuple(str(r) for r in base.rules["id"])
    assert choice.default in choice.options
    assert not any(CJK.search(choice.label_of(r)) for r in choice.options)


@pytest.mark.slow
def test_notes_name_uploads_not_the_servers_folders(default_district):
    _, _, base, _ = default_district
    from radius.app_state import as_on_the_page

    assert notes(base, "zh") == [as_on_the_page(note, "zh") for note in page_notes(base, "zh")]
    assert notes(base, "zh", lambda text: "x") == ["x"] * len(page_notes(base, "zh"))


def test_notes_name_a_rule_by_its_name_in_chinese(default_district):
    """A note about one rule names it in Chinese (人均体育场地面积：…), not by its id
    (sports_ground_per_capita：…); in English it keeps its id."""
    from radius.standards import load_standard

    _, _, base, _ = default_district
    rules = {rule.id: rule for rule in load_standard("national").rules}
    zh, en = page_notes(base, "zh"), page_notes(base, "en")
    about = {note.split(":")[0] for note in en} & set(rules)
    assert about, en  # the default district has such notes (capacity missing)
    for rule_id in about:
        assert any(note.startswith(f"{rules[rule_id].name_zh}：") for note in zh), zh
    assert not [note for note in zh if any(rule_id in note for rule_id in rules)]


def test_the_page_names_its_uploaders_where_the_core_names_options(default_district):
    """The core's notes and warnings say where to give an input as the command line does
    (--districts, --population); the page names its own uploaders instead."""
    from radius.app_state import as_on_the_page

    text = "（--districts，含“常住人口”列）、居住地块（--population）；--facilities-crs"
    assert as_on_the_page(text, "zh") == (
        f"（“{t('upload_districts', 'zh')}”上传，含“常住人口”列）、"
        f"居住地块（“{t('upload_residents', 'zh')}”上传）；--facilities-crs"
    )
    assert as_on_the_page("(--districts, --subdistricts)", "en") == (
        "(the Districts upload, --subdistricts)"
    )
    _, settings, base, _ = default_district
    for lang in ("zh", "en"):
        shown = headline(base, base, settings, lang, changed=False, network="x").warnings
        shown += notes(base, lang)
        assert shown
        assert not [line for line in shown if re.search(r"--(districts|population)\b", line)]
        if lang == "zh":
            assert any(f"“{t('upload_districts', 'zh')}”上传" in line for line in shown)


def test_the_modules_behind_the_page_need_no_streamlit():
    """A fresh interpreter imports them all without loading Streamlit (ruff's banned-api
    rule stops a direct import; this also catches one through another library)."""
    import subprocess

    probe = (
        "import sys, radius.app_view, radius.app_state, radius.app_inputs, radius.downloads; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert completed.stdout.strip() == "[]"


def test_table_html_escapes_cells_aligns_numbers_and_caps_rows() -> None:
    table = pd.DataFrame(
        {
            "区域编号": ["<b>1</b>", "2", "3"],
            "需求": [43552.0, 12.25, float("nan")],
            "缺口": [1234567.0, 0.0, 3.0],
        }
    )
    html = view.table_html(table, "zh", max_rows=2)
    assert "<b>1</b>" not in html
    assert "&lt;b&gt;1&lt;/b&gt;" in html
    assert '<td class="number">43,552.0</td>' in html  # a column of one decimal
    assert "12.2" in html or "12.3" in html  # one decimal (half to even or not)
    assert '<td class="number">1,234,567</td>' in html  # a column of whole numbers
    assert '<th class="number">需求</th>' in html
    assert "<th>区域编号</th>" in html
    assert html.count("<tr>") == 3  # the header and the first two rows
    assert t("table_rows_shown", "zh", shown=2, total=3) in html
    assert "XLSX" in t("table_rows_shown", "zh", shown=2, total=3)


def test_table_html_of_every_row_says_nothing_more() -> None:
    table = pd.DataFrame({"District": ["a"], "Shortfall": [1.5]})
    html = view.table_html(table, "en")
    assert '<td class="number">1.5</td>' in html
    assert "are shown" not in html
