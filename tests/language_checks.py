"""Checks that a text a user reads is in one language (issue #14), shared by the test files.

An error raised for a bad input must carry a :class:`radius.i18n.Message` (a message id with
zh and en texts); :func:`chinese_error` gives its Chinese text and fails for an English one.
:func:`english_words` lists the English words left in a Chinese text, apart from paths, ids,
numbers with units, and the few names and formats a Chinese user reads as they are.
"""

from __future__ import annotations

import re

from radius.i18n import Message

#: Names, formats and units a Chinese text shows as they are (whole words only).
ALLOWED_IN_CHINESE = frozenset(
    {
        *("radius", "OSM", "OpenStreetMap", "ODbL", "GB", "CRS", "EPSG", "UTM", "WGS", "CGCS"),
        *("GCJ", "BD", "CSV", "XLSX", "XLS", "GBK", "UTF", "Excel", "WPS", "GeoPackage", "GPKG"),
        *("GeoJSON", "Shapefile", "ZIP", "PBF", "PDF", "HTML", "YAML", "JSON", "ID", "POI"),
        *("MultiPolygon", "Polygon", "Point", "LineString", "MultiLineString", "GDAL", "Dask"),
        *("MILP", "HiGHS", "GeoTIFF", "GraphML", "WKT", "QGIS", "Python", "osmnx", "dask"),
        *("Overpass", "Geofabrik", "README", "XML", "gzip", "SQLite"),
        *("km", "min", "m²", "B", "KB", "MB", "GiB", "MiB", "s", "m", "N", "E", "GPS"),
    }
)


def english_words(text: str, allowed: frozenset[str] | set[str] = ALLOWED_IN_CHINESE) -> list[str]:
    """The English words of ``text`` that are not in ``allowed``.

    Tokens holding a path or id mark (``/ _ . = :``), a flag (``--``), a bracket or a digit
    are passed over: file names, column ids, tags and numbers with units; so are text in
    backticks, a command or key to type as it is (```dask worker ADDRESS```), and a quoted
    word, a value as typed or as the file holds it (``'auto'``, ``'geometry'``).
    """
    words = []
    for token in re.sub(r"`[^`]*`|'[^'\s]*'", " ", text).split():
        if any(
            mark in token for mark in ("/", "_", ".", "=", ":", "--", "[", "]", "\\")
        ) or re.search(r"\d", token):
            continue
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]", token):
            if word not in allowed:
                words.append(word)
    return words


def chinese_error(exc: BaseException) -> str:
    """The Chinese text of an error raised with a message id; fails for an English text."""
    note = exc.args[0] if exc.args else None
    assert isinstance(note, Message), f"an English error text, not a message id: {exc}"
    return note.text("zh")


def assert_chinese_error(
    exc: BaseException, allowed: frozenset[str] | set[str] = frozenset()
) -> str:
    """Assert that ``exc`` reads as Chinese (no English words but ``allowed`` and the
    :data:`ALLOWED_IN_CHINESE` names); return its Chinese text."""
    text = chinese_error(exc)
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert english_words(text, ALLOWED_IN_CHINESE | set(allowed)) == [], text
    return text
