"""radius: community life-circle (社区生活圈) walking reach on real street networks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
