"""Default parameters that the command line shows before it imports the engine."""

from __future__ import annotations

__all__ = ["DEFAULT_BUFFER_M", "DEFAULT_MAX_SNAP_M"]

DEFAULT_MAX_SNAP_M = 200.0
"""Default largest access leg (metres) between a point and the street it joins."""

DEFAULT_BUFFER_M = 30.0
"""Default half-width (metres) of the band around reached streets that forms a polygon."""
