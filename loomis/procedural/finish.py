"""Measuring a stroke plan, closing it without a pop-in, and the perceptual distance curve.

``measure_plan`` draws every stroke once and returns the per-stroke distance to the finished
picture twice: the painter's own mean |Δ| (exact, per stroke) and the evaluation's default
perceptual distance (``loomis.metrics``, msssim-deltae), measured on snapshots and interpolated
between them along the |Δ| curve. Speed profiles that promise a shape of progress (``linear``,
``fast``) place their cuts on the perceptual curve, so "linear" is linear by the measure that
scores it.

Whatever the recipe's strokes leave different from the picture is closed by a ``finish`` phase
of small dabs that lay the picture's own pixels, in the recipe's painting order, so the last frame
changes little (no pop-in: the finished picture is not pasted over a half-done canvas).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from loomis.procedural.render import Canvas
from loomis.procedural.strokes import Stroke

FINISH_THRESHOLD = 3.0  # mean |Δ| per pixel (0..255) below which a passage counts as done
SNAPSHOTS = 40  # perceptual-distance measurements along the plan


def with_finish(shares: dict[str, float], dist: np.ndarray, phases: Sequence[str]) -> dict[str, float]:
    """Phase shares plus the ``finish`` phase's: as much of the time as it does of the change
    (2-25 %), taken from the last phase's time first (down to half of it)."""
    out = dict(shares)
    if not out or "finish" not in phases or "finish" in out:
        return out
    start = list(phases).index("finish")
    frac = (dist[start] - dist[-1]) / max(dist[0] - dist[-1], 1e-9)
    share = float(np.clip(frac, 0.02, 0.25)) * sum(out.values())
    last = next(reversed(out))
    out[last] = max(out[last] - share, out[last] / 2)
    out["finish"] = share
    return out


def finish_strokes(canvas: Canvas, rank: np.ndarray, detail: float = 1.0) -> list[Stroke]:
    """Dabs of the picture's own pixels wherever the canvas still differs from it (grid of
    overlapping discs that covers every such pixel), ordered by ``rank`` then a sweep."""
    h, w = canvas.h, canvas.w
    r = max(2, int(round(max(h, w) / 70 / detail)))
    err = cv2.dilate(np.abs(canvas.pixels - canvas.target).mean(-1), np.ones((3, 3), np.uint8))
    step = r * 1.35
    ys, xs = np.meshgrid(
        np.arange(step / 2, h + step / 2, step), np.arange(step / 2, w + step / 2, step), indexing="ij"
    )
    xi = np.clip(xs.ravel(), 0, w - 1).astype(np.int32)
    yi = np.clip(ys.ravel(), 0, h - 1).astype(np.int32)
    cell = cv2.dilate(err, np.ones((2 * r + 1, 2 * r + 1), np.uint8))  # worst pixel under the disc
    keep = cell[yi, xi] > FINISH_THRESHOLD
    sweep = (yi // (step * 4)) * w + xi
    keys = rank[yi, xi] + 0.05 * sweep / (sweep.max() + 1)
    return [
        Stroke(np.array([[x, y]], np.int32), r, None, 1.0, "finish", key=float(k))
        for x, y, k in zip(xi[keep], yi[keep], keys[keep])
    ]


def measure_plan(
    canvas: Canvas, strokes: list[Stroke], rank: np.ndarray, detail: float = 1.0, finish: bool = True
) -> tuple[list[Stroke], np.ndarray, np.ndarray]:
    """(strokes incl. the finish phase, mean |Δ| after each, perceptual distance after each);
    index 0 of both curves is the bare ground. One pass: the canvas is snapshotted (at the
    distance's working size) ``SNAPSHOTS`` times along the way."""
    from loomis.io import resize
    from loomis.metrics.distances import get_distance, working_size

    dist = get_distance()
    size = working_size(canvas.target.astype(np.uint8), dist.side)
    canvas.reset()
    snaps: dict[int, np.ndarray] = {}

    def snap(k: int) -> None:
        snaps[k] = resize(np.clip(canvas.pixels + 0.5, 0, 255).astype(np.uint8), size)

    total = canvas.distance_sum()
    l1 = [total]
    for todo in (strokes, None):
        if todo is None:
            todo = finish_strokes(canvas, rank, detail) if finish else []
            strokes = strokes + todo
        base = len(l1) - 1
        at = set(np.linspace(0, len(todo), SNAPSHOTS // (1 if base == 0 else 4)).round().astype(int).tolist())
        for i, s in enumerate(todo):
            if i in at:
                snap(base + i)
            total += canvas.draw(s, track=True)
            l1.append(total)
        snap(base + len(todo))
    l1_arr = np.asarray(l1) / canvas.target.size
    keys = sorted(snaps)
    ref = resize(np.clip(canvas.target + 0.5, 0, 255).astype(np.uint8), size)
    vals = np.asarray(dist.to_reference([snaps[k] for k in keys], ref), np.float64)
    return strokes, l1_arr, along(l1_arr, np.asarray(keys), vals)


def along(l1: np.ndarray, at: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """A curve known at stroke counts ``at`` (``vals``), filled in between two of them in
    proportion to how much the per-stroke |Δ| curve ``l1`` moved (a big stroke moves both by a
    big step; a stroke that changes nothing moves neither)."""
    out = np.empty(len(l1), np.float64)
    out[: at[0] + 1] = vals[0]
    for a, b, va, vb in zip(at[:-1], at[1:], vals[:-1], vals[1:]):
        # How far along the segment's own change each stroke is (0..1, never outside).
        moved = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(l1[a : b + 1])))])
        frac = moved / moved[-1] if moved[-1] > 1e-12 else np.linspace(0, 1, len(moved))
        out[a : b + 1] = va + (vb - va) * frac
    out[at[-1] :] = vals[-1]
    return out
