"""Image analysis the strokes are planned from: stroke-direction fields, bristle texture,
colour regions and a weight-free back-to-front (depth) order.

All maps are full-resolution float32 arrays; heavy work (k-means) runs on a small copy.
"""

from __future__ import annotations

import cv2
import numpy as np

# A right-handed painter's default hatching direction (radians, image coordinates, y down) used
# where the picture itself has no clear direction (flat sky, walls).
DEFAULT_ANGLE = -0.9


def luminance(img: np.ndarray) -> np.ndarray:
    """Rec.601 luma of an (H, W, 3) float or uint8 RGB image, float32 in the image's range."""
    img = img.astype(np.float32)
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def smooth_noise(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise in [-1, 1] with features about ``scale`` pixels wide (no grid artefacts:
    a blurred, bicubic-upsampled random field)."""
    h, w = shape
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.standard_normal((sh, sw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    big = cv2.GaussianBlur(big, (0, 0), scale / 3)
    return big / (np.abs(big).max() + 1e-6)


def tangent_field(lum: np.ndarray, sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stroke directions: perpendicular to the smoothed structure-tensor gradient (strokes follow
    contours, as Hertzmann's do), relaxed towards a gently wandering default where the picture is
    flat. Returns (cos, sin) maps."""
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    j11 = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    j22 = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    j12 = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    # Double-angle vectors average orientations without the 180° ambiguity.
    c2, s2 = j11 - j22, 2 * j12
    strength = np.sqrt(c2 * c2 + s2 * s2)
    scale = np.percentile(strength, 90) + 1e-6
    weight = np.clip(strength / scale, 0, 1)
    wander = DEFAULT_ANGLE + 0.5 * smooth_noise(lum.shape, max(lum.shape) / 3, rng)
    # The tangent is the gradient angle + 90°, i.e. the double angle + 180°.
    dc = -c2 / (strength + 1e-6) * weight + np.cos(2 * wander) * (1 - weight)
    ds = -s2 / (strength + 1e-6) * weight + np.sin(2 * wander) * (1 - weight)
    theta = 0.5 * np.arctan2(ds, dc)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)


def bristle_texture(
    cos: np.ndarray, sin: np.ndarray, rng: np.random.Generator, length: int = 10
) -> np.ndarray:
    """Streaks of a brush's bristles: white noise smeared along the stroke field (line-integral
    convolution), so the texture inside every stroke runs with the stroke, in [0, 1]."""
    h, w = cos.shape
    noise = rng.random((h, w), dtype=np.float32)
    acc = noise.copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for sign in (1.0, -1.0):
        px, py = xx.copy(), yy.copy()
        for _ in range(length // 2):
            dx = cv2.remap(cos, px, py, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
            dy = cv2.remap(sin, px, py, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
            px += sign * dx
            py += sign * dy
            acc += cv2.remap(noise, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    acc /= 1 + 2 * (length // 2)
    acc = (acc - acc.mean()) / (acc.std() + 1e-6)
    return np.clip(0.5 + 0.25 * acc, 0, 1).astype(np.float32)


def colour_regions(img: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Segment by colour and position (k-means in Lab + xy on a ~96 px copy), as a painter sees
    'the sky', 'the hill', 'the tree'. Returns (H, W) int32 labels 0..k-1."""
    h, w = img.shape[:2]
    s = 96 / max(h, w)
    small = cv2.resize(img, (max(4, round(w * s)), max(4, round(h * s))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 1.5)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    sh, sw = lab.shape[:2]
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    feats = np.concatenate(
        [lab.reshape(-1, 3), (np.stack([yy, xx], -1).reshape(-1, 2) * (110.0 / max(sh, sw)))], 1
    )
    k = max(1, min(k, len(feats)))
    cv2.setRNGSeed(int(rng.integers(1 << 30)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, _ = cv2.kmeans(feats, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.reshape(sh, sw).astype(np.uint8)
    labels = cv2.medianBlur(labels, 3)
    return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST).astype(np.int32)


def depth_proxy(img: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    """Nearness in [0, 1] (1 = near) without weights: lower in the frame and sharper/more
    contrasted means nearer (aerial perspective). A given depth map (larger = nearer) dominates."""
    h, w = img.shape[:2]
    lum = luminance(img) / 255.0
    vertical = np.linspace(0, 1, h, dtype=np.float32)[:, None].repeat(w, 1)
    sigma = max(h, w) / 40
    mean = cv2.GaussianBlur(lum, (0, 0), sigma)
    contrast = np.sqrt(np.maximum(cv2.GaussianBlur(lum * lum, (0, 0), sigma) - mean * mean, 0))
    contrast = contrast / (np.percentile(contrast, 95) + 1e-6)
    near = 0.65 * vertical + 0.35 * np.clip(contrast, 0, 1)
    if depth is not None:
        d = np.asarray(depth, np.float32)
        if d.ndim == 3:
            d = d[..., :3].mean(-1)
        d = cv2.resize(d, (w, h), interpolation=cv2.INTER_LINEAR)
        d = (d - d.min()) / (np.ptp(d) + 1e-6)
        near = 0.8 * d + 0.2 * near
    return near.astype(np.float32)


def region_rank(labels: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Per-pixel painting rank in [0, 1] of its region: far regions (sky) 0, nearest 1."""
    k = int(labels.max()) + 1
    sums = np.bincount(labels.ravel(), weights=near.ravel(), minlength=k)
    counts = np.maximum(np.bincount(labels.ravel(), minlength=k), 1)
    order = np.argsort(np.argsort(sums / counts))
    rank = order / max(1, k - 1)
    return rank[labels].astype(np.float32)


def subject_map(img: np.ndarray) -> tuple[np.ndarray, bool]:
    """Where the picture's subject is, weight-free: (H, W) float32 0..1 (1 = subject) and whether
    a figure stands out at all.

    Boundary prior (a picture's background touches its border; its subject rarely does): how far
    each pixel's Lab colour is from the nearest of the border's colour clusters, on a ~64 px copy,
    smoothed, with a mild centre bias. A figure "stands out" when a compact, clearly distinct part
    (10-70 % of the picture) exists; otherwise (a landscape) the map is not used for ordering."""
    h, w = img.shape[:2]
    s = 64 / max(h, w)
    small = cv2.resize(img, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(np.ascontiguousarray(small, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    sh, sw = lab.shape[:2]
    band = np.zeros((sh, sw), bool)
    b = max(1, round(0.04 * max(sh, sw)))
    band[:b], band[-b:], band[:, :b], band[:, -b:] = True, True, True, True
    border = lab[band]
    k = min(6, len(border))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(border, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    dist = np.min(np.linalg.norm(lab[:, :, None, :] - centres[None, None], axis=-1), axis=-1)
    sal = cv2.GaussianBlur(dist, (0, 0), 1.5)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    centre = 1 - 0.5 * np.hypot((xx - sw / 2) / sw, (yy - sh / 2) / sh)
    sal = sal * centre
    sal = np.clip(sal / (np.percentile(sal, 98) + 1e-6), 0, 1)
    fg = sal > 0.5
    share = float(fg.mean())
    contrast = float(sal[fg].mean() - sal[~fg].mean()) if fg.any() and (~fg).any() else 0.0
    figure = 0.1 <= share <= 0.7 and contrast > 0.45
    out = cv2.resize(sal, (w, h), interpolation=cv2.INTER_LINEAR)
    return out.astype(np.float32), figure
