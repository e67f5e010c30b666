"""Camera drift: samples registered to the first (similarity transform from scene features)."""

from __future__ import annotations

import cv2
import numpy as np
from loomis_data import register


def _scene(h=180, w=320, seed=0):
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.normal(120, 40, (h, w)).astype(np.float32), (0, 0), 1.2)
    img = np.clip(np.stack([tex, tex * 0.8, tex * 0.6], -1), 0, 255).astype(np.uint8)
    img[50:130, 100:220] = 240  # a blank canvas in the middle
    return img


def test_pan_is_registered_back_to_the_first_sample():
    base = _scene()
    n = 30
    frames = []
    for i in range(n):  # a slow pan: 12 px right, 6 px down over the clip
        m = np.float32([[1, 0, 12 * i / (n - 1)], [0, 1, 6 * i / (n - 1)]])
        frames.append(cv2.warpAffine(base, m, (320, 180), borderMode=cv2.BORDER_REFLECT))
    out, drift = register.stabilise(np.stack(frames), rate=3.0, window_s=1.0)
    assert drift.registered and 11 <= drift.max_px <= 15, drift
    inner = (slice(20, 160), slice(30, 290))
    err = np.abs(out[-1][inner].astype(int) - base[inner].astype(int)).mean()
    raw = np.abs(frames[-1][inner].astype(int) - base[inner].astype(int)).mean()
    assert err < 0.25 * raw, (err, raw)


def test_still_camera_is_left_alone():
    base = _scene()
    rng = np.random.default_rng(1)
    frames = np.stack(
        [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(24)]
    )
    frames[10:, 60:120, 140:200] = (210, 160, 130)  # a hand comes in and stays
    out, drift = register.stabilise(frames, rate=3.0)
    assert out is frames and not drift.registered and drift.max_px == 0.0
