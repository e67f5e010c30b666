"""Temporal trimming: keep the part of the video where painting happens.

Weight-free evidence per sample is the fraction of canvas pixels that changed clearly since the
previous sample — a moving hand or brush, or new paint. Intros and outros of a filmed tutorial
show a still canvas (or nothing changes on it), so the painting interval is the first to the last
sample with sustained activity (two of three consecutive samples active, so a single flash or a
bumped camera does not count). A learned hand/brush detector can supply the evidence instead.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.errors import InputError


def activity(canvas_samples: np.ndarray, threshold: int = 25, scale: int = 4) -> np.ndarray:
    """Per-sample fraction of (downscaled) canvas pixels that changed by more than ``threshold``."""
    n = len(canvas_samples)
    out = np.zeros(n, np.float32)
    prev = None
    for i in range(n):
        f = canvas_samples[i]
        small = cv2.resize(
            f, (max(2, f.shape[1] // scale), max(2, f.shape[0] // scale)), interpolation=cv2.INTER_AREA
        )
        small = small.astype(np.int16)
        if prev is not None:
            out[i] = float((np.abs(small - prev).max(-1) > threshold).mean())
        prev = small
    return out


def painting_interval(act: np.ndarray, min_fraction: float = 0.002) -> tuple[int, int]:
    """(first, last) sample index of sustained activity; InputError when there is none."""
    on = act > min_fraction
    n = len(on)
    sustained = np.array([on[i : i + 3].sum() >= 2 for i in range(n)])
    sustained_back = np.array([on[max(0, i - 2) : i + 1].sum() >= 2 for i in range(n)])
    if not sustained.any():
        raise InputError("no painting activity found (the canvas never changes and nothing moves over it)")
    first = int(np.argmax(sustained & on))
    last = int(n - 1 - np.argmax((sustained_back & on)[::-1]))
    # activity at i is the change between i-1 and i: painting starts just after the last still sample
    return max(0, first - 1), last
