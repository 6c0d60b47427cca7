"""Accuracy with a Wilson score interval (sound at small n and near 0 or 1, unlike the normal one)."""

from __future__ import annotations

import math


def wilson_interval(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def share_interval(share: float, n: int) -> tuple[float, float]:
    """The interval of a share of n examples recorded as a fraction (an accuracy before calibration, say)."""
    return wilson_interval(round(share * n), n)
