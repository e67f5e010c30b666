"""The colours laid down in a step: a small palette from the changed pixels, found in CIELAB.

k-means (OpenCV) on the new colours of the changed pixels; each cluster is represented by its
median (robust to the blends along the edges between two colours); clusters closer than
``MERGE_DE`` (CIEDE2000) are merged and those under ``MIN_SHARE`` of the pixels dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage import color

MERGE_DE = 6.0
MIN_SHARE = 0.06
MAX_COLOURS = 5


@dataclass
class Swatch:
    lab: np.ndarray  # (3,) CIELAB (D65)
    share: float  # fraction of the step's changed pixels

    @property
    def rgb(self) -> np.ndarray:
        return lab_to_rgb(self.lab)

    @property
    def hex(self) -> str:
        r, g, b = self.rgb
        return f"#{r:02x}{g:02x}{b:02x}"

    @property
    def name(self) -> str:
        return colour_name(self.lab)


def lab_to_rgb(lab) -> np.ndarray:
    rgb = color.lab2rgb(np.asarray(lab, np.float64).reshape(1, 1, 3)).reshape(3)
    return np.clip(np.round(rgb * 255), 0, 255).astype(int)


def delta_e(a, b) -> np.ndarray:
    """CIEDE2000 between CIELAB arrays (broadcasting)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return color.deltaE_ciede2000(a, b)


def extract_palette(lab: np.ndarray, mask: np.ndarray, k: int = 6, seed: int = 0) -> list[Swatch]:
    """Palette of the pixels of ``lab`` (H, W, 3) under ``mask``; most used colour first."""
    px = lab[mask].astype(np.float32)
    if len(px) == 0:
        return []
    if len(px) > 20000:  # plenty for five colours; keeps k-means fast on big regions
        px = px[np.random.default_rng(seed).choice(len(px), 20000, replace=False)]
    k = max(1, min(k, len(px) // 8 or 1))
    cv2.setRNGSeed(seed)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.2)
    _, labels, _ = cv2.kmeans(px, k, None, crit, 3, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    groups = [px[labels == j] for j in range(k) if (labels == j).any()]
    swatches = [Swatch(np.median(g, 0), len(g) / len(px)) for g in groups]
    swatches = _merge(sorted(swatches, key=lambda s: -s.share))
    kept = [s for s in swatches if s.share >= MIN_SHARE][:MAX_COLOURS]
    return kept or swatches[:1]


def _merge(swatches: list[Swatch]) -> list[Swatch]:
    out: list[Swatch] = []
    for s in swatches:
        for o in out:
            if delta_e(o.lab, s.lab) < MERGE_DE:
                total = o.share + s.share
                o.lab = (o.lab * o.share + s.lab * s.share) / total
                o.share = total
                break
        else:
            out.append(Swatch(np.asarray(s.lab, np.float64), s.share))
    return sorted(out, key=lambda s: -s.share)


# Hue names by CIELAB hue angle (degrees), sRGB primaries for reference: red 40, yellow 103,
# green 136, cyan 196, blue 306, magenta 328.
_HUES = [
    (15, "crimson"),
    (55, "red"),
    (78, "orange"),
    (110, "yellow"),
    (130, "yellow-green"),
    (175, "green"),
    (220, "teal"),
    (315, "blue"),
    (345, "purple"),
    (361, "crimson"),
]


def colour_name(lab) -> str:
    """A plain name a painter would use: lightness + (greyish) + hue, browns and greys included."""
    lum, a, b = (float(v) for v in lab)
    chroma = float(np.hypot(a, b))
    hue = float(np.degrees(np.arctan2(b, a)) % 360)
    if chroma < 8:
        if lum > 92:
            return "white"
        if lum < 12:
            return "black"
        base = "warm grey" if chroma > 3 and 20 < hue < 110 else "grey"
        return _light(lum) + base
    name = next(n for top, n in _HUES if hue < top)
    if name in ("red", "orange", "yellow") and lum < 55 and chroma < 60:
        name = "olive brown" if name == "yellow" else "brown"
    elif name == "yellow" and lum < 75 and chroma < 55:
        name = "ochre"
    elif name in ("crimson", "red") and lum > 70:
        name = "pink"
    tone = "greyish " if chroma < 22 and "brown" not in name else ""
    return _light(lum) + tone + name


def _light(lum: float) -> str:
    if lum < 25:
        return "very dark "
    if lum < 42:
        return "dark "
    if lum > 85:
        return "pale "
    if lum > 70:
        return "light "
    return ""
