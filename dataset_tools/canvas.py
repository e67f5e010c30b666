"""Canvas localisation and rectification, stable over the whole video.

Weight-free default: the canvas is the largest bright quadrilateral. Each of a few windows spread
over the video is reduced to its temporal median (which removes the moving hand), a quad is fitted
in each from the four longest sides of the bright region's outline, and the corners are the
per-corner median of the windows that agree with the largest quad, so one jittery window cannot
move the canvas. A learned detector ("a canvas.") can replace the per-window
fit through :class:`CanvasDetector`. Photometric normalisation (auto exposure, lighting drift)
uses the static background around the canvas.
"""

from __future__ import annotations

import logging
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


class CanvasDetector(Protocol):
    def find_quad(self, image: np.ndarray) -> np.ndarray | None:
        """(4, 2) float32 corners TL, TR, BR, BL in pixels, or None."""


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Any 4 points → TL, TR, BR, BL."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    s, d = pts.sum(1), pts[:, 0] - pts[:, 1]
    return np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]], np.float32)


def quad_from_image(image: np.ndarray, min_area: float = 0.04) -> np.ndarray | None:
    """Largest bright convex quadrilateral in ``image`` (RGB uint8), or None."""
    h, w = image.shape[:2]
    gray = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    k = max(3, int(min(h, w) * 0.015) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best, best_area = None, min_area * h * w
    for c in contours:
        area = cv2.contourArea(c)
        if area < best_area:
            continue
        quad = _fit_quad(c)
        if quad is None:
            continue
        qarea = cv2.contourArea(quad)
        if qarea <= 0 or area / qarea < 0.85 or qarea > 0.98 * h * w:
            continue
        best, best_area = order_corners(quad), area
    return best


def _fit_quad(contour: np.ndarray) -> np.ndarray | None:
    """Quadrilateral from the four longest sides of the contour's outline, intersected pairwise, so
    that a badge or a hand attached to one corner does not move the canvas' corners."""
    peri = cv2.arcLength(contour, True)
    poly = cv2.approxPolyDP(contour, 0.004 * peri, True).reshape(-1, 2).astype(np.float64)
    if len(poly) < 4:
        return None
    if len(poly) == 4:
        return poly.astype(np.float32)
    edges = [(poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))]
    lengths = np.array([np.linalg.norm(b - a) for a, b in edges])
    chosen = sorted(np.argsort(lengths)[::-1][:4])
    pts = contour.reshape(-1, 2).astype(np.float64)
    sides = [_refine(edges[j], pts) for j in chosen]
    corners = []
    for j in range(4):
        p = _intersect(sides[j - 1], sides[j])
        if p is None:
            return None
        corners.append(p)
    quad = np.array(corners, np.float32)
    return quad if cv2.isContourConvex(quad.reshape(-1, 1, 2)) else None


def _refine(edge: tuple[np.ndarray, np.ndarray], pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line through the outline points along the middle 80 % of ``edge``: sub-pixel
    sides (the approximated polygon's vertices are whole pixels)."""
    a, b = edge
    d = b - a
    length = float(np.linalg.norm(d))
    u = d / length
    rel = pts - a
    along = rel @ u
    across = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
    near = pts[(across < 2.5) & (along > 0.1 * length) & (along < 0.9 * length)]
    if len(near) < 5:
        return edge
    vx, vy, x0, y0 = cv2.fitLine(near.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    p = np.array([x0, y0], np.float64)
    return p, p + np.array([vx, vy], np.float64) * length


def _intersect(e1: tuple[np.ndarray, np.ndarray], e2: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    (p, p2), (q, q2) = e1, e2
    r, s = p2 - p, q2 - q
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 0.3 * np.linalg.norm(r) * np.linalg.norm(s):  # nearly parallel: not adjacent sides
        return None
    t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / den
    return p + t * r


def find_canvas(
    frames: np.ndarray, windows: int = 6, detector: CanvasDetector | None = None
) -> np.ndarray | None:
    """Stable canvas quad over ``frames`` (N, H, W, 3) or None when no window finds one."""
    n = len(frames)
    quads = []
    for idx in np.array_split(np.arange(n), min(windows, n)):
        pick = idx[np.linspace(0, len(idx) - 1, min(len(idx), 9)).round().astype(int)]
        med = np.median(np.asarray(frames[pick]), axis=0).astype(np.uint8)
        q = detector.find_quad(med) if detector is not None else quad_from_image(med)
        if q is not None:
            quads.append(order_corners(q))
    if not quads:
        return None
    quads = np.stack(quads)
    # paint darkens the canvas and can only shrink the bright region, never grow it: the largest
    # quad (usually the blank canvas of the intro) anchors, the windows that agree with it vote
    areas = np.array([cv2.contourArea(q) for q in quads])
    anchor = quads[int(np.argmax(areas))]
    err = np.abs(quads - anchor).max(axis=(1, 2))
    tol = max(3.0, 0.02 * float(np.ptp(anchor[:, 0])))
    inliers = quads[err <= tol]
    log.debug("canvas: %d/%d windows agree", len(inliers), len(quads))
    return np.median(inliers, axis=0).astype(np.float32)


def canvas_size(quad: np.ndarray, max_side: int) -> tuple[int, int]:
    """Rectified (width, height) from the quad's side lengths, longest side ≤ ``max_side``."""
    tl, tr, br, bl = quad
    w = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    s = min(1.0, max_side / max(w, h))
    return max(8, int(round(w * s))), max(8, int(round(h * s)))


def rectifier(quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return cv2.getPerspectiveTransform(quad.astype(np.float32), np.float32([[0, 0], [w, 0], [w, h], [0, h]]))


def rectify(frame: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def background_mask(shape: tuple[int, int], quad: np.ndarray, x0: int = 0) -> np.ndarray:
    """Pixels well outside the canvas (and right of ``x0``) for exposure tracking."""
    h, w = shape
    mask = np.full((h, w), 255, np.uint8)
    cv2.fillConvexPoly(mask, quad.astype(np.int32), 0)
    mask = cv2.erode(mask, np.ones((9, 9), np.uint8))
    mask[:, :x0] = 0
    return mask > 0


def exposure_gains(frames: np.ndarray, bg: np.ndarray, step: int = 4) -> np.ndarray:
    """Per-frame brightness gain of the static background relative to the video's median exposure
    (1.0 everywhere when there is too little background to tell)."""
    ys, xs = np.nonzero(bg[::step, ::step])
    if len(ys) < 200:
        return np.ones(len(frames), np.float32)
    ys, xs = ys * step, xs * step
    lum = np.stack([frames[i][ys, xs].mean(-1) for i in range(len(frames))]).astype(np.float32) + 1.0
    ref = np.median(lum, axis=0)
    ok = ref > 20
    gains = np.median(lum[:, ok] / ref[ok], axis=1)
    return (gains / np.median(gains)).astype(np.float32)
