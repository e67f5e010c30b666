"""Rasterising strokes onto a canvas, one stroke at a time, each touching only its bounding box.

A stroke's footprint is an anti-aliased thick polyline (OpenCV), optionally softened (oil),
modulated by the bristle texture that runs along the stroke field, and clipped by the stroke's
mask. The renderer can keep a running distance to the finished picture (for the speed profile)
and snapshot the canvas after chosen strokes (the video frames).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from loomis.procedural.strokes import Stroke


class Canvas:
    """A float32 RGB canvas plus the target it is painted towards."""

    def __init__(
        self,
        ground: np.ndarray,
        target: np.ndarray,
        texture: np.ndarray,
        regions: np.ndarray | None = None,
        layers: list[np.ndarray] | None = None,
    ) -> None:
        self.ground = ground.astype(np.float32)
        self.target = target.astype(np.float32)
        self.texture = texture
        self.regions = regions  # (H, W) int region ids for strokes with ``region >= 0``
        self.layers = layers or []  # (H, W, 3) value maps that ``glaze`` strokes darken towards
        self.pixels = self.ground.copy()
        self.h, self.w = target.shape[:2]

    def reset(self) -> None:
        self.pixels = self.ground.copy()

    def distance_sum(self) -> float:
        return float(np.abs(self.pixels - self.target).sum())

    def draw(self, s: Stroke, track: bool = False) -> float:
        """Deposit one stroke; returns the change in summed |canvas - target| when ``track``."""
        pad = s.radius + 2 + int(np.ceil(2 * s.softness))
        x0 = max(int(s.pts[:, 0].min()) - pad, 0)
        y0 = max(int(s.pts[:, 1].min()) - pad, 0)
        x1 = min(int(s.pts[:, 0].max()) + pad + 1, self.w)
        y1 = min(int(s.pts[:, 1].max()) + pad + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local = (s.pts - (x0, y0)).reshape(-1, 1, 2)
        if len(s.pts) == 1 or np.ptp(s.pts, axis=0).max() == 0:
            cv2.circle(mask, tuple(int(v) for v in local[0, 0]), s.radius, 255, -1, cv2.LINE_AA)
        elif s.pressure is not None:
            # Segment by segment, each as dark as the hand pressed there.
            pts = local.reshape(-1, 2)
            level = 255.0 * 0.5 * (s.pressure[:-1] + s.pressure[1:])
            for a, b, v in zip(pts[:-1], pts[1:], level):
                cv2.line(
                    mask,
                    (int(a[0]), int(a[1])),
                    (int(b[0]), int(b[1])),
                    float(v),
                    max(1, 2 * s.radius),
                    cv2.LINE_AA,
                )
        else:
            cv2.polylines(mask, [local], False, 255, max(1, 2 * s.radius), cv2.LINE_AA)
        a = mask.astype(np.float32) * (s.alpha / 255.0)
        if s.softness > 0:
            a = cv2.GaussianBlur(a, (0, 0), s.softness)
        if s.rim > 0:
            # Pigment flows to the drying edge of a wash: more of it just inside the border.
            inner = a - cv2.GaussianBlur(a, (0, 0), max(1.0, 0.35 * s.radius))
            a = a + s.rim * np.clip(inner, 0, None)
        if s.texture > 0:
            tex = self.texture[y0:y1, x0:x1]
            a *= (1.0 - s.texture) + s.texture * 2.0 * tex
            np.clip(a, 0.0, 1.0, out=a)
        if s.clip is not None:
            a *= s.clip[y0:y1, x0:x1]
        if s.region >= 0 and self.regions is not None:
            a *= self.regions[y0:y1, x0:x1] == s.region
        roi = self.pixels[y0:y1, x0:x1]
        if track:
            tgt = self.target[y0:y1, x0:x1]
            before = float(np.abs(roi - tgt).sum())
        if s.glaze >= 0:
            # Transparent pigment only darkens: each channel is multiplied by a transmittance
            # that takes it towards the layer's value (a rim may pool a little beyond it).
            layer = self.layers[s.glaze][y0:y1, x0:x1]
            roi *= np.maximum(1.0 - a[..., None] * np.clip(1.0 - layer / np.maximum(roi, 1.0), 0.0, 1.0), 0.0)
        else:
            if s.toward >= 0:
                paint = self.layers[s.toward][y0:y1, x0:x1]
            else:
                paint = self.target[y0:y1, x0:x1] if s.colour is None else s.colour
            roi += a[..., None] * (paint - roi)
        if track:
            return float(np.abs(roi - tgt).sum()) - before
        return 0.0


def measure(canvas: Canvas, strokes: Sequence[Stroke]) -> np.ndarray:
    """Mean |canvas - target| after each stroke (index 0 = bare ground, then one per stroke)."""
    canvas.reset()
    total = canvas.distance_sum()
    out = np.empty(len(strokes) + 1, np.float64)
    out[0] = total
    for i, s in enumerate(strokes):
        total += canvas.draw(s, track=True)
        out[i + 1] = total
    return out / canvas.target.size


def film(
    canvas: Canvas,
    strokes: Sequence[Stroke],
    cuts: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    on_stroke: Callable[[Stroke, int, Canvas], None] | None = None,
) -> list[np.ndarray]:
    """Render ``strokes`` in order, snapshotting the canvas after ``cuts[i]`` strokes (non-
    decreasing; 0 = bare ground). The last snapshot is replaced by the target itself when the
    caller asks for an exact finish (see painter). ``on_stroke(stroke, frame, canvas)`` hears of
    every stroke as it is drawn, with the frame it first shows in (stroke export, ``record.py``)."""
    canvas.reset()
    frames: list[np.ndarray] = []
    done = 0
    for i, cut in enumerate(cuts):
        while done < cut:
            canvas.draw(strokes[done])
            if on_stroke is not None:
                on_stroke(strokes[done], i, canvas)
            done += 1
        frames.append(np.clip(canvas.pixels + 0.5, 0, 255).astype(np.uint8))
        if progress is not None:
            progress(i + 1, len(cuts))
    return frames
