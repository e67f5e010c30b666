"""A synthetic painting process with known stages, for the lesson tests.

drawing (thin dark lines) → block-in (big flat areas) → layers (medium strokes) → details (dots);
``BOUNDS`` are the frames where each stage ends (the next one starts).
"""

from __future__ import annotations

import cv2
import numpy as np

W, H = 160, 120
STAGE_FRAMES = {"drawing": 8, "block-in": 8, "layers": 10, "details": 10}
BOUNDS = [8, 16, 26, 36]  # last frame of each stage
BLOCK_COLOURS = [(70, 110, 170), (60, 130, 60), (200, 170, 90), (150, 60, 50)]


def process(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    canvas = np.full((H, W, 3), 245, np.uint8)
    frames = [canvas.copy()]
    for _ in range(STAGE_FRAMES["drawing"]):
        for _ in range(3):
            p = rng.integers([0, 0], [W, H], 2)
            q = p + rng.integers(-40, 40, 2)
            cv2.line(canvas, tuple(int(v) for v in p), tuple(int(v) for v in q), (70, 60, 55), 1)
        frames.append(canvas.copy())
    for i in range(STAGE_FRAMES["block-in"]):
        x0, y0 = (i % 4) * 40, (i // 4) * 60
        cv2.rectangle(canvas, (x0, y0), (x0 + 39, y0 + 59), BLOCK_COLOURS[i % 4], -1)
        frames.append(canvas.copy())
    for _ in range(STAGE_FRAMES["layers"]):
        for _ in range(4):
            p = rng.integers([0, 0], [W, H], 2)
            q = p + rng.integers(-25, 25, 2)
            c = tuple(int(v) for v in rng.integers(40, 220, 3))
            cv2.line(canvas, tuple(int(v) for v in p), tuple(int(v) for v in q), c, 9)
        frames.append(canvas.copy())
    for _ in range(STAGE_FRAMES["details"]):
        for _ in range(12):
            p = rng.integers([0, 0], [W, H], 2)
            cv2.circle(canvas, tuple(int(v) for v in p), 1, (250, 250, 240), -1)
        frames.append(canvas.copy())
    return frames
