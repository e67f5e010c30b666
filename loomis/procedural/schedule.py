"""Speed profiles: which stroke each video frame is cut after.

The painter first measures the distance to the finished picture after every stroke; a profile
then places the frame cuts so that the distance falls on a chosen curve over time:

``human``   each phase gets its share of the time (recipe ``phases``); inside a phase the
            distance falls fast at first and slower later (ease-out), like a painter who lays in a
            passage quickly and then lingers on it. Drawing phases (which add lines that the
            finished picture does not have) and the recipe's ``paced`` phases (colouring in,
            where time goes with the area covered) advance by stroke count.
``linear``  the distance falls by the same amount every frame (the evaluation's perceptual
            distance when the painter measured it, so half-way is half the distance).
``fast``    fast early, slow late: distance ∝ (1 - t)².
``strokes`` the same number of strokes every frame.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EASE = 2.2  # ease-out exponent inside a phase (1 = linear); fitted with the phase shares


def _cut_for(dmono: np.ndarray, target: float, lo: int, hi: int, nearest: bool = False) -> int:
    """First stroke count in [lo, hi] at which the (non-increasing) distance reaches ``target``
    (``nearest``: or the count just before, when that one is closer to it)."""
    seg = dmono[lo : hi + 1]
    # seg is non-increasing: search on the negated, non-decreasing sequence.
    k = min(int(np.searchsorted(-seg, -target, side="left")), hi - lo)
    if nearest and k > 0 and abs(seg[k - 1] - target) < abs(seg[k] - target):
        k -= 1
    return lo + k


def plan_cuts(
    dist: np.ndarray,
    phases: Sequence[str],
    shares: Mapping[str, float],
    frames: int,
    speed: str,
    paced: Sequence[str] = (),
    perceptual: np.ndarray | None = None,
    ease: float = EASE,
    exponent: float | None = None,
) -> list[int]:
    """Frame cuts (number of strokes painted at each frame), first 0 and last len(phases).
    ``perceptual``: the evaluation's distance after each stroke (``finish.measure_plan``); the
    ``linear`` and ``fast`` curves are placed on it when given, on ``dist`` otherwise.
    ``exponent``: ``human`` is then the curve (1 - t)^exponent of that distance (recipe ``curve``)."""
    n = len(phases)
    t = np.linspace(0.0, 1.0, frames)
    if n == 0:
        return [0] * frames
    if speed == "strokes":
        return [int(round(v * n)) for v in t]
    if speed in ("linear", "fast") or (speed == "human" and exponent is not None):
        dmono = np.minimum.accumulate(dist if perceptual is None else perceptual)
        d0, d1 = dmono[0], dmono[-1]
        power = {"linear": 1.0, "fast": 2.0}.get(speed, exponent)
        curve = (1 - t) ** power
        cuts = [_cut_for(dmono, d1 + (d0 - d1) * c, 0, n, nearest=True) for c in curve]
        return _finish(cuts, n)
    return _finish(_human_cuts(dist, list(phases), shares, t, paced, ease), n)


def _human_cuts(
    dist: np.ndarray,
    phases: list[str],
    shares: Mapping[str, float],
    t: np.ndarray,
    paced: Sequence[str] = (),
    ease: float = EASE,
) -> list[int]:
    # Phase spans in stroke order (strokes are sorted by phase already).
    spans: list[tuple[str, int, int]] = []
    for i, p in enumerate(phases):
        if spans and spans[-1][0] == p:
            spans[-1] = (p, spans[-1][1], i + 1)
        else:
            spans.append((p, i, i + 1))
    weights = np.array([max(float(shares.get(p, 0.1)), 1e-3) for p, _, _ in spans])
    ends = np.cumsum(weights / weights.sum())
    starts = np.concatenate([[0.0], ends[:-1]])
    cuts = []
    for tv in t:
        j = int(min(np.searchsorted(ends, tv, side="right"), len(spans) - 1))
        _, a, b = spans[j]
        u = float(np.clip((tv - starts[j]) / (ends[j] - starts[j]), 0, 1))
        if dist[b] >= dist[a] or spans[j][0] in paced:  # drawing, or hand-paced: by strokes
            cuts.append(a + int(round(u * (b - a))))
            continue
        dmono = np.minimum.accumulate(dist[a : b + 1])
        g = 1 - (1 - u) ** ease
        target = dmono[0] + (dmono[-1] - dmono[0]) * g
        cuts.append(a + _cut_for(dmono, target, 0, b - a))
    return cuts


def _finish(cuts: list[int], n: int) -> list[int]:
    cuts = list(np.maximum.accumulate(np.asarray(cuts, np.int64)).tolist())
    cuts[0], cuts[-1] = 0, n
    return [int(c) for c in cuts]
