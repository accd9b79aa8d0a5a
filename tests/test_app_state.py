"""The app's session logic without Streamlit (:mod:`radius.app_state`), on a plain dict."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, cast

import pytest

from radius.app_inputs import limit_message
from radius.app_state import (
    MAX_PROPOSALS,
    MAX_SUGGESTIONS,
    add_proposal_at,
    error_text,
    follow_language,
    map_center,
    map_clicked,
    proposal_lines,
    remove_all_proposals,
    remove_proposal,
    request_suggestion,
    reset_for_inputs,
    run_suggestion,
    session_watch,
    take_pending_click,
    upload_key,
)
from radius.bounded import LimitError, run_bounded
from radius.i18n import t
from tests.language_checks import english_words

LON, LAT = 118.7894, 32.0407


def _state(**more):
    return {"lang": "zh", "whatif_category.zh": "elderly_care", "capacity_beds": 80.0, **more}


def test_a_click_adds_a_facility_of_the_chosen_category_and_size():
    state = _state()
    add_proposal_at(state, LAT, LON)
    (proposal,) = state["proposals"]
    assert (proposal.category, proposal.name) == ("elderly_care", "P1")
    assert ("beds", 80.0) in proposal.capacity
    assert (proposal.lon, proposal.lat) == (LON, LAT)
    add_proposal_at(state, LAT, LON)  # the same click reported again
    assert len(state["proposals"]) == 1
    state["whatif_place"] = False
    add_proposal_at(state, LAT + 0.001, LON)
    assert len(state["proposals"]) == 1


def test_a_map_click_goes_through_pending_click_in_the_basemap_system():
    state = _state(basemap="gaode")
    map_clicked(state, {"last_clicked": {"lat": LAT, "lng": LON}})
    assert state["pending_click"]["system"] == "gcj02"
    take_pending_click(state)
    assert "pending_click" not in state
    (proposal,) = state["proposals"]
    assert abs(proposal.lon - LON) > 1e-4  # GCJ-02 converted to WGS-84
    center = map_center(state["proposals"], "gaode")  # centred back in GCJ-02
    assert center is not None
    lat, lng = center
    assert abs(lat - LAT) < 1e-5
    assert abs(lng - LON) < 1e-5
    assert map_center([], "osm") is None


def test_what_ifs_are_bounded_in_number_with_a_message():
    state = _state()
    for k in range(MAX_PROPOSALS + 3):
        add_proposal_at(state, LAT + k * 1e-4, LON)
    assert len(state["proposals"]) == MAX_PROPOSALS
    assert state["whatif_message"] == {
        lang: t("whatif_too_many", lang, n=MAX_PROPOSALS) for lang in ("zh", "en")
    }
    remove_proposal(state, state["proposals"][0].pid)
    assert "whatif_message" not in state
    state["suggest_count"] = 10_000
    request_suggestion(state)
    assert state["suggest_request"] == ("elderly_care", MAX_SUGGESTIONS)
    remove_all_proposals(state)
    assert state["proposals"] == []


def test_after_a_switch_of_language_the_panel_and_suggested_names_speak_it():
    """The what-if panel's messages are kept in each language and shown in the page's;
    a suggested site's name follows the language, a typed name or a click's P1 does not."""
    from radius.app_view import Said, panel_messages
    from radius.whatif import Proposal

    state = _state()
    for k in range(MAX_PROPOSALS + 1):
        add_proposal_at(state, LAT + k * 1e-4, LON)
    for lang in ("zh", "en"):
        wanted = Said("error", t("whatif_too_many", lang, n=MAX_PROPOSALS))
        assert panel_messages(state, lang) == [wanted]
    suggested = Proposal(7, "childcare", LON, LAT, t("suggest_name", "zh", pid=7), ())
    typed = Proposal(8, "childcare", LON, LAT, "新街口托育点", ())
    clicked = Proposal(9, "childcare", LON, LAT, "P9", ())
    state["proposals"] = [suggested, typed, clicked]
    follow_language(state, "en")
    assert [p.name for p in state["proposals"]] == ["Suggested site 7", "新街口托育点", "P9"]
    kept = state["proposals"]
    follow_language(state, "en")
    assert state["proposals"] is kept  # nothing to rename: the what-if is not recomputed
    follow_language(state, "zh")
    assert state["proposals"][0].name == t("suggest_name", "zh", pid=7)
    assert state["proposals"][0]._replace(name="x") == suggested._replace(name="x")


def test_a_failing_suggestion_is_kept_in_each_language(monkeypatch):
    """A suggestion that fails says why in the what-if panel, in either language."""
    from radius._errors import InfeasibleError
    from radius.app_inputs import Loaded
    from radius.i18n import message
    from radius.whatif import Settings

    reason = message("inventory_empty_table", file="x.csv")  # any message id will do

    def infeasible(*args, **kwargs):
        raise InfeasibleError(reason)

    monkeypatch.setattr("radius.app_state.suggest_sites", infeasible)
    state = _state(suggest_request=("elderly_care", 2))
    settings = Settings(("elderly_care",), "time", "adult", "national", None, "2sfca")
    loaded = Loaded(inputs=cast(Any, None), network_label="OSM")
    run_suggestion(state, loaded, settings, "zh")
    assert state["suggest_error"] == {
        lang: t("error_suggest", lang, message=reason.text(lang)) for lang in ("zh", "en")
    }
    assert "suggest_request" not in state
    assert state.get("proposals", []) == []


def test_an_analysis_that_fails_is_kept_as_the_uploads_failure():
    from radius._errors import InputError
    from radius.app_state import Failure, analysis_failed
    from radius.i18n import message

    failed: dict[Any, Failure] = {"older": Failure(ValueError("x"))}
    reason = InputError(message("inventory_empty_table", file="a.csv"))
    assert analysis_failed(failed, "key", reason)
    assert list(failed) == ["key"]
    for lang in ("zh", "en"):
        wanted = t(
            "error_upload_analysis",
            lang,
            message=message("inventory_empty_table", file="a.csv").text(lang),
        )
        assert failed["key"].text(lang) == wanted
    stopped = LimitError("cancelled", "cancelled")
    assert not analysis_failed(failed, "other", stopped)
    assert list(failed) == ["key"]


def test_other_inputs_start_the_what_ifs_afresh():
    state = _state()
    key = upload_key("default.pbf", (), "wgs84", False)
    reset_for_inputs(state, key)
    add_proposal_at(state, LAT, LON)
    reset_for_inputs(state, key)
    assert len(state["proposals"]) == 1
    reset_for_inputs(state, ("upload", "x"))
    assert state["proposals"] == []
    assert proposal_lines([], "en") == []


def test_errors_are_told_in_the_users_language_never_as_a_traceback():
    limit = LimitError("reading the uploads took longer than the limit of 1 s", "seconds")
    assert error_text(limit, "zh", "error_upload").startswith(
        t("error_limit", "zh", message="")[:4]
    )
    assert error_text(ValueError("boom"), "en") == t("error_unexpected", "en")
    bug = error_text(ValueError("boom"), "en", "error_upload")
    assert bug == t("error_upload", "en", message=t("error_bug", "en"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_error_raised_with_a_message_is_told_in_the_users_language(lang):
    """The page tells a radius error in its language (the error's message id), not in the
    English its ``str`` is; ``clean`` then names the upload, and the sentence around it
    closes it once (no 。。)."""
    from radius._errors import InputError
    from radius.i18n import message

    exc = InputError(message("inventory_empty_table", file="/tmp/radius-upload-x/a.csv"))
    shown = error_text(exc, lang, "error_upload", lambda text: text.replace("/tmp/", ""))
    wanted = message("inventory_empty_table", file="radius-upload-x/a.csv").text(lang)
    assert shown == t("error_upload", lang, message=wanted)
    assert "/tmp/" not in shown
    if lang == "zh":
        assert english_words(shown) == [], shown
    else:
        assert not re.search(r"[\u4e00-\u9fff]", shown), shown
    closed = InputError(message("inventory_problems_rows", file="a.csv", count=1, lines="x"))
    assert "。。" not in error_text(closed, "zh", "error_upload")
    assert ".." not in error_text(closed, "en", "error_upload")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_limit_or_a_bug_is_told_in_the_users_language(lang):
    """A limit says which under the key of the step that hit it (only an upload goes on
    with the default district); an unexpected error is a bug in ``lang``, no traceback."""
    limit = LimitError("the analysis took longer than the limit of 1 s", "seconds")
    told = limit_message(limit, lang)
    assert error_text(limit, lang, "error_upload") == t("error_limit", lang, message=told)
    assert error_text(limit, lang) == t("error_input", lang, message=told)
    assert error_text(limit, lang, "error_suggest") == t("error_suggest", lang, message=told)
    boom = KeyError("geometry")
    assert error_text(boom, lang) == t("error_unexpected", lang)
    assert error_text(boom, lang, "error_map") == t("error_map", lang, message=t("error_bug", lang))
    for text in (error_text(limit, lang), error_text(boom, lang, "error_suggest")):
        assert "geometry" not in text
        assert "limit of 1 s" not in text
        if lang == "zh":
            assert english_words(text) == [], text


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_job_is_cancelled_when_its_session_ends():
    """The browser tab closes (the session is no longer active): its running job is killed
    at the next poll, without the page drawing anything."""
    active = threading.Event()
    active.set()
    ticks = []
    outcome: list[BaseException] = []

    def job() -> None:
        try:
            run_bounded(
                _sleep, 60.0, cancelled=session_watch(active.is_set, lambda: ticks.append(1))
            )
        except LimitError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(1.0)
    ended = time.monotonic()
    active.clear()  # the session ends
    thread.join(30)
    assert not thread.is_alive()
    assert time.monotonic() - ended < 10
    (error,) = outcome
    assert isinstance(error, LimitError)
    assert error.limit == "cancelled"
    assert ticks


def test_an_unknown_session_end_does_not_cancel():
    assert session_watch(lambda: True)() is False
    assert session_watch(lambda: False)() is True


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cap_message_exists_in_both_languages(lang):
    assert str(MAX_PROPOSALS) in t("whatif_too_many", lang, n=MAX_PROPOSALS)


def test_a_download_that_fails_says_so_in_its_own_words():
    from radius._errors import InputError
    from radius.downloads import Download, prepared

    def bad_input() -> bytes:
        raise InputError("no font for Chinese text")

    def bug() -> bytes:
        raise ValueError("boom")

    what = t("download_pdf", "zh")
    assert prepared(Download("pdf", "r.pdf", "application/pdf", lambda: b"%PDF"), "zh") == (
        b"%PDF",
        None,
    )
    made, error = prepared(Download("pdf", "r.pdf", "application/pdf", bad_input), "zh")
    assert made is None
    assert error == t("error_download", "zh", what=what, message="no font for Chinese text")
    _, error = prepared(Download("pdf", "r.pdf", "application/pdf", bug), "zh")
    assert error == t("error_download", "zh", what=what, message=t("error_bug", "zh"))
    from radius.i18n import message

    def no_font() -> bytes:  # an error raised with a message id: told in the page's language
        raise InputError(message("inventory_empty_table", file="a.csv"))

    for lang in ("zh", "en"):
        _, error = prepared(Download("pdf", "r.pdf", "application/pdf", no_font), lang)
        text = message("inventory_empty_table", file="a.csv").text(lang)
        assert error == t("error_download", lang, what=t("download_pdf", lang), message=text)


def test_a_session_keeps_one_cache_bounded_by_the_setting(monkeypatch):
    from radius.app_state import session_cache

    monkeypatch.setenv("RADIUS_SESSION_CACHE_MB", "2")
    state: dict = {"_cache": "not a cache"}
    cache = session_cache(state)
    assert state["_cache"] is cache
    assert session_cache(state) is cache  # the same on the next run
    assert cache.max_bytes == 2 * 1024 * 1024
    assert cache.get("key", lambda: 7) == 7
    assert cache.get("key", lambda: 8) == 7  # kept


def test_each_analysis_runs_where_it_belongs(monkeypatch):
    """The default district: shared without what-ifs, this session's in this process with
    them (recomputed against the base); uploaded data: this session's, in a bounded job."""
    from typing import Any, cast

    from radius.app_inputs import Loaded
    from radius.app_state import analysis_for
    from radius.whatif import Proposal, Settings

    calls: list[tuple[Any, ...]] = []

    def here(*args, base=None):
        calls.append(("here", args, base))
        return "what-if"

    def job(function, *args, cancelled, what):
        calls.append(("job", args, cancelled))
        return "uploaded"

    monkeypatch.setattr("radius.app_state.whatif_analysis", here)
    monkeypatch.setattr("radius.app_state.run_bounded", job)
    kept: dict[Any, Any] = {}

    def keep(key, compute):
        if key not in kept:
            kept[key] = compute()
        return kept[key]

    loaded = Loaded(inputs=cast(Any, "inputs"), network_label="OSM")
    settings = Settings(("elderly_care",), "time", "adult", "national", None, "2sfca")
    proposal = (Proposal(1, "elderly_care", LON, LAT, "P1", (("beds", 50.0),)),)
    default = upload_key("d.osm", (), "wgs84", False)
    stop = lambda: False  # noqa: E731
    run: dict[str, Any] = {
        "shared": lambda path, s: ("shared", path, s),
        "keep": keep,
        "watch": lambda: stop,
    }
    base = cast(Any, "base")

    shared: Any = analysis_for(loaded, default, settings, (), None, **run)
    assert shared == ("shared", "d.osm", settings)
    assert calls == []
    assert cast(Any, analysis_for(loaded, default, settings, proposal, base, **run)) == "what-if"
    assert calls == [("here", ("inputs", settings, proposal, "OSM"), "base")]
    assert cast(Any, analysis_for(loaded, default, settings, proposal, base, **run)) == "what-if"
    assert len(calls) == 1  # kept in the session's cache
    uploaded = ("upload", "d.osm", (("facilities", "a.csv", "d1"),), "wgs84", False)
    assert cast(Any, analysis_for(loaded, uploaded, settings, (), None, **run)) == "uploaded"
    assert calls[-1] == ("job", ("inputs", settings, (), "OSM"), stop)
    assert set(kept) == {(default, settings, proposal), (uploaded, settings, ())}
