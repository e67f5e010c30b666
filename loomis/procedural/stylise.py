"""Media-transfer targets: the picture restyled (weight-free, OpenCV) before it is painted.

``pencil-mono``   graphite drawing: colour-dodge sketch of the luminance, with pencil tone
``children``      crayon drawing: few flat waxy colours, thick wobbly dark outlines
``coloring-book`` clean black outlines on white, coloured in with flat quantised colours
``watercolor``    edge-preserving washes, light palette, darker pigment at the wash edges
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from loomis.procedural.fields import smooth_noise


def _quantise(img: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means colour quantisation (on a small copy for speed, applied to every pixel)."""
    h, w = img.shape[:2]
    s = min(1.0, 160 / max(h, w))
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    cv2.setRNGSeed(int(rng.integers(1 << 30)))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, _, centres = cv2.kmeans(
        small.reshape(-1, 3).astype(np.float32), k, None, crit, 2, cv2.KMEANS_PP_CENTERS
    )
    flat = img.reshape(-1, 3).astype(np.float32)
    d = ((flat[:, None, :] - centres[None]) ** 2).sum(-1)
    return centres[d.argmin(1)].reshape(img.shape).astype(np.uint8)


def _outlines(img: np.ndarray, sigma: float, thickness: int) -> np.ndarray:
    """Bool map of the main outlines (Canny on a smoothed copy, thickened)."""
    grey = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (0, 0), sigma)
    v = float(np.median(grey))
    edges = cv2.Canny(grey, 0.5 * v, 1.2 * v + 20)
    if thickness > 1:
        edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness)))
    return edges > 0


def pencil_mono(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    side = max(img.shape[:2])
    blur = cv2.GaussianBlur(255 - grey, (0, 0), max(2.0, side / 120))
    dodge = np.clip(grey * 255.0 / (255.0 - blur + 1.0), 0, 255)
    # Multiply in some of the original tone so darks stay dark (a drawing, not only outlines).
    tone = dodge * (0.55 + 0.45 * grey / 255.0)
    tone += 3.0 * smooth_noise(grey.shape, side / 40, rng)
    out = np.clip(tone, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def children(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = max(img.shape[:2])
    flat = _quantise(cv2.GaussianBlur(img, (0, 0), max(1.0, side / 150)), 6, rng).astype(np.float32)
    # Brighter, more saturated crayon colours; wax leaves paper showing through.
    hsv = cv2.cvtColor(flat.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.5 + 30, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * 1.1 + 20, 0, 255)
    flat = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    grain = (rng.random(img.shape[:2]) < 0.12)[..., None]
    flat = np.where(grain, 0.3 * flat + 0.7 * 252, flat)
    lines = _outlines(img, max(1.5, side / 120), max(2, side // 180))
    flat[lines] = (40, 36, 60)
    return np.clip(flat, 0, 255).astype(np.uint8)


def coloring_book(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = max(img.shape[:2])
    flat = _quantise(cv2.bilateralFilter(img, 9, 60, 9), 8, rng)
    flat = cv2.medianBlur(flat, 5)
    lines = _outlines(flat, 1.0, max(2, side // 300))
    out = flat.copy()
    out[lines] = (20, 20, 20)
    return out


def watercolor(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = max(img.shape[:2])
    wash = cv2.edgePreservingFilter(img, flags=cv2.RECURS_FILTER, sigma_s=max(20.0, side / 12), sigma_r=0.45)
    wash = wash.astype(np.float32)
    wash = 255 - (255 - wash) * 0.8  # transparent pigment: lighter than the original
    edges = cv2.Laplacian(cv2.GaussianBlur(wash.mean(-1), (0, 0), 2.0), cv2.CV_32F)
    wash -= np.clip(edges, 0, None)[..., None] * 1.5  # pigment pools at the wash edges
    wash *= (1.0 + 0.03 * smooth_noise(img.shape[:2], side / 25, rng))[..., None]
    return np.clip(wash, 0, 255).astype(np.uint8)


STYLES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "pencil-mono": pencil_mono,
    "children": children,
    "coloring-book": coloring_book,
    "watercolor": watercolor,
}


def stylise(img: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """Restyle ``img`` (uint8 RGB) as ``style``; unknown styles are a registry error."""
    if style not in STYLES:
        raise ValueError(f"mediums.yaml: unknown stylise {style!r}; known: {', '.join(STYLES)}")
    return STYLES[style](img, rng)
