"""Per-session results kept in a least-recently-used cache bounded by bytes.

The app keeps one :class:`ByteLRU` in each session's state: the inputs a session uploaded
and the analyses of its what-ifs live there, not in a process-wide cache, so they go when
the session ends, and a session holds at most ``max_bytes`` (the setting
``RADIUS_SESSION_CACHE_MB``, :func:`session_cache_bytes`). Sizes are estimated by
:func:`size_of` (arrays, frames and geometries counted, shared parts once).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_SESSION_CACHE_MB", "ByteLRU", "session_cache_bytes", "size_of"]

T = TypeVar("T")
DEFAULT_SESSION_CACHE_MB = 256
_GEOMETRY_BYTES = 120
"""About what one small shapely geometry (a point, a short line) takes in memory."""


def session_cache_bytes(environ: dict[str, str] | None = None) -> int:
    """The byte bound of one session's cache: ``RADIUS_SESSION_CACHE_MB`` (default 256)."""
    env = os.environ if environ is None else environ
    text = env.get("RADIUS_SESSION_CACHE_MB", "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_SESSION_CACHE_MB
    except ValueError:
        megabytes = DEFAULT_SESSION_CACHE_MB
    return int(max(megabytes, 0.0) * 1024 * 1024)


def size_of(value: Any) -> int:
    """Estimated bytes held by ``value``: arrays, frames, geometries, containers, dataclasses.

    Objects reached twice are counted once, so results sharing a network count it once.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            base = item.base if isinstance(item.base, np.ndarray) else None
            if base is not None:
                stack.append(base)
                continue
            total += int(item.nbytes)
            if item.dtype == object:
                total += _GEOMETRY_BYTES * int(item.size)
        elif isinstance(item, pd.DataFrame | pd.Series):
            usage = item.memory_usage(index=True, deep=False)
            total += int(np.sum(usage))
            frame = item.to_frame() if isinstance(item, pd.Series) else item
            objects = sum(1 for dtype in frame.dtypes if str(dtype) in ("object", "geometry"))
            total += _GEOMETRY_BYTES * objects * len(frame)
        elif isinstance(item, str | bytes | bytearray):
            total += sys.getsizeof(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        else:
            total += sys.getsizeof(item)
        if hasattr(item, "data") and hasattr(item, "indices") and hasattr(item, "indptr"):
            stack.extend((item.data, item.indices, item.indptr))  # scipy sparse matrices
    return total


class ByteLRU:
    """A least-recently-used cache holding at most ``max_bytes`` (as :func:`size_of` counts).

    A value larger than the whole bound is returned but not kept. Thread-safe.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        """Bytes held now."""
        with self._lock:
            return sum(size for _, size in self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept under ``key``, or ``compute()`` (kept if it fits)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = compute()
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used to make room."""
        size = size_of(value)
        with self._lock:
            self._items.pop(key, None)
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            held = sum(s for _, s in self._items.values())
            while held > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                held -= dropped

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
