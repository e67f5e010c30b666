"""Continuing from the learner's own canvas (``ProceduralConfig.start``, ``loomis-paint --from``).

The partial canvas (a sketch, or a half-finished painting, aligned with the picture) becomes the
ground the strokes are laid on, so frame 0 is exactly that canvas. What is already there and
already matches the picture is kept: every stroke is clipped to where the canvas still differs
from the picture, and strokes that would only touch finished passages are dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.errors import InputError
from loomis.procedural.strokes import Stroke

# Per-pixel mean |canvas - picture| (0..255, after a small blur) under which a passage counts as
# finished: above JPEG/video noise and hand-painted near misses, below a visible colour change.
KEEP_THRESHOLD = 12.0
ASPECT_TOLERANCE = 0.02


def start_ground(start, shape: tuple[int, int]) -> np.ndarray:
    """The partial canvas as a float32 (H, W, 3) ground of the picture's size ``shape``; an
    InputError when it is not an RGB image or its aspect ratio does not match (not aligned)."""
    arr = np.asarray(start)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise InputError(
            f"the canvas to continue from must be an RGB uint8 image, got {arr.shape} {arr.dtype}"
        )
    arr = arr[..., :3]
    h, w = shape
    ph, pw = arr.shape[:2]
    if abs((pw / ph) / (w / h) - 1.0) > ASPECT_TOLERANCE:
        raise InputError(
            f"the canvas to continue from is {pw}x{ph} but the picture is {w}x{h}: "
            "it must show the same view (same aspect ratio, aligned with the picture)"
        )
    if (ph, pw) != (h, w):
        interp = cv2.INTER_AREA if pw > w else cv2.INTER_CUBIC
        arr = cv2.resize(arr, (w, h), interpolation=interp)
    return arr.astype(np.float32)


def needs_paint(start: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(H, W) float32 0..1: where the canvas still has to change (soft-edged, slightly grown so
    strokes reach into the border of an unfinished passage)."""
    diff = cv2.GaussianBlur(np.abs(start - target).mean(-1), (0, 0), 1.0)
    need = (diff > KEEP_THRESHOLD).astype(np.uint8)
    grow = max(1, round(max(start.shape[:2]) / 200))
    need = cv2.dilate(need, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    return cv2.GaussianBlur(need.astype(np.float32), (0, 0), 0.7)


def keep_canvas(strokes: list[Stroke], start: np.ndarray, target: np.ndarray) -> list[Stroke]:
    """``strokes`` clipped to where the canvas ``start`` still differs from ``target``; strokes
    lying wholly in finished passages are dropped."""
    need = needs_paint(start, target)
    h, w = need.shape
    clips: dict[int, np.ndarray] = {}  # a shared clip map is combined with ``need`` once
    out = []
    for s in strokes:
        x = np.clip(s.pts[:, 0], 0, w - 1)
        y = np.clip(s.pts[:, 1], 0, h - 1)
        if not (need[y, x] > 0.05).any():
            continue
        if s.clip is None:
            s.clip = need
        else:
            key = id(s.clip)
            if key not in clips:
                clips[key] = s.clip * need
            s.clip = clips[key]
        out.append(s)
    return out
