"""Split-screen portrait tutorials (Loomis method videos): reference photo left, drawing right.

The split is the column of maximal horizontal-gradient energy within 40–60 % of the width,
measured on the temporal median of the samples (the hand moves, the divider does not).
"""

from __future__ import annotations

import cv2
import numpy as np


def find_split_column(frames: np.ndarray, lo: float = 0.4, hi: float = 0.6) -> int:
    """Column index of the split between the photo (left) and the drawing (right)."""
    n = len(frames)
    pick = np.linspace(0, n - 1, min(n, 15)).round().astype(int)
    med = np.median(np.asarray(frames[pick]), axis=0).astype(np.float32)
    gray = cv2.cvtColor(med, cv2.COLOR_RGB2GRAY)
    energy = np.abs(np.diff(gray, axis=1)).sum(axis=0)  # energy[x] is between columns x and x+1
    w = gray.shape[1]
    a, b = int(w * lo), int(np.ceil(w * hi))
    return a + int(np.argmax(energy[a:b])) + 1


def reference_photo(frames: np.ndarray, split_x: int) -> np.ndarray:
    """Temporal median of the left panel, cropped to its non-black content."""
    n = len(frames)
    pick = np.linspace(0, n - 1, min(n, 31)).round().astype(int)
    left = np.median(np.asarray(frames[pick])[:, :, :split_x], axis=0).astype(np.uint8)
    lit = left.max(axis=2) > 40  # letterbox bars are near black
    rows = np.nonzero(lit.mean(axis=1) > 0.5)[0]
    cols = np.nonzero(lit.mean(axis=0) > 0.5)[0]
    if len(rows) < 8 or len(cols) < 8:
        return left
    return left[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
