"""Frame selection: drop duplicates, measure progress, optionally spread change evenly.

Progress is the cumulative perceptual change (mean absolute difference of blurred, downscaled
frames) normalised to [0, 1]. Real painting changes fast early and slowly late, so evenly spaced
*times* over-sample the slow end; progress-aware sampling picks frames at evenly spaced *progress*.
"""

from __future__ import annotations

import cv2
import numpy as np


def _small(f: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    s = 64 / max(h, w)
    small = cv2.resize(f, (max(2, int(w * s)), max(2, int(h * s))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)


def changes(frames: list[np.ndarray]) -> np.ndarray:
    """Perceptual change between consecutive frames (first entry 0)."""
    small = [_small(f) for f in frames]
    return np.array([0.0] + [float(np.abs(a - b).mean()) for a, b in zip(small, small[1:])])


def drop_duplicates(frames: list[np.ndarray], min_change: float = 0.5) -> list[int]:
    """Indices to keep: a frame whose change from the last kept frame is below ``min_change``
    (grey levels, mean) is a duplicate; the last frame (the finished painting) always stays and
    replaces a duplicate predecessor."""
    small = [_small(f) for f in frames]
    keep = [0]
    for i in range(1, len(frames)):
        if float(np.abs(small[i] - small[keep[-1]]).mean()) >= min_change:
            keep.append(i)
    if keep[-1] != len(frames) - 1:
        if len(keep) > 1:
            keep[-1] = len(frames) - 1
        else:
            keep.append(len(frames) - 1)
    return keep


def progress(frames: list[np.ndarray]) -> np.ndarray:
    c = np.cumsum(changes(frames))
    return c / c[-1] if c[-1] > 0 else np.linspace(0.0, 1.0, len(frames))


def pick(progress_values: np.ndarray, times: np.ndarray, n: int, progress_aware: bool) -> list[int]:
    """``n`` indices (first and last included) evenly spread in progress or in time."""
    m = len(progress_values)
    if n >= m:
        return list(range(m))
    axis = np.asarray(progress_values if progress_aware else times, float)
    targets = np.linspace(axis[0], axis[-1], n)
    chosen: list[int] = []
    for t in targets:
        order = np.argsort(np.abs(axis - t))
        for j in order:
            if int(j) not in chosen:
                chosen.append(int(j))
                break
    return sorted(chosen)
