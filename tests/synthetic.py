"""Synthetic painting processes with a known order, shared by the tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def reveal_process(final: np.ndarray, n: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """A white canvas filling in top to bottom over ``n`` frames (painting order), optionally
    resized to ``size`` = (w, h)."""
    img = final if size is None else np.asarray(Image.fromarray(final).resize(size))
    h = img.shape[0]
    frames = []
    for k in range(n):
        f = np.full_like(img, 255)
        rows = round(h * k / (n - 1))
        f[:rows] = img[:rows]
        frames.append(f)
    return frames
