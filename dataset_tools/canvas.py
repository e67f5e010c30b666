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
from dataclasses import dataclass, field
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


@dataclass
class CanvasFit:
    """The canvas quad and how sure the finder is of it (``notes`` say why not)."""

    quad: np.ndarray | None
    sure: bool = True
    notes: list[str] = field(default_factory=list)
    windows_agreeing: int = 0
    windows: int = 0
    sides_moved: list[str] = field(default_factory=list)
    fills_frame: bool = False


def find_canvas(
    frames: np.ndarray, windows: int = 6, detector: CanvasDetector | None = None
) -> np.ndarray | None:
    """Stable canvas quad over ``frames`` (N, H, W, 3) or None when no window finds one."""
    return locate_canvas(frames, windows, detector).quad


def locate_canvas(frames: np.ndarray, windows: int = 6, detector: CanvasDetector | None = None) -> CanvasFit:
    """Canvas over ``frames`` from several cues, none of which needs the canvas to be bright:

    1. per window (temporal median: no hand), the quad of the largest bright region — the blank
       canvas of an intro, or its still-white part; the largest anchors, agreeing windows vote;
    2. where no window has one, the region where paint accumulates (first vs last window);
    3. each side is then checked against the *finished* canvas (the last window): a real canvas
       side is a straight edge there, a boundary between paint and still-white canvas is gone by
       the end. A side without an edge moves outward to the nearest long straight edge.
    """
    n = len(frames)
    meds = []
    for idx in np.array_split(np.arange(n), min(windows, n)):
        pick = idx[np.linspace(0, len(idx) - 1, min(len(idx), 9)).round().astype(int)]
        meds.append(np.median(np.asarray(frames[pick]), axis=0).astype(np.uint8))
    quads = []
    for med in meds:
        q = detector.find_quad(med) if detector is not None else quad_from_image(med)
        if q is not None:
            quads.append(order_corners(q))
    fit = CanvasFit(None, windows=len(meds))
    if quads:
        quads = np.stack(quads)
        # paint darkens the canvas and can only shrink the bright region, never grow it: the
        # largest quad (usually the blank canvas of the intro) anchors, the windows that agree vote
        areas = np.array([cv2.contourArea(q) for q in quads])
        anchor = quads[int(np.argmax(areas))]
        err = np.abs(quads - anchor).max(axis=(1, 2))
        tol = max(3.0, 0.02 * float(np.ptp(anchor[:, 0])))
        inliers = quads[err <= tol]
        fit.quad = np.median(inliers, axis=0).astype(np.float32)
        fit.windows_agreeing = len(inliers)
    else:
        fit.quad = change_quad(meds[0], meds[-1])
        if fit.quad is None:
            return fit
        fit.notes.append("no bright canvas in any window: quad from where paint accumulated")
    h, w = meds[0].shape[:2]
    if _sides_on_border(fit.quad, w, h) >= 3:
        # a recording of the canvas alone (already cropped): the frame is the canvas, whatever
        # part of it is still bright
        fit.quad = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        fit.fills_frame = True
        fit.notes = []
        log.info("the canvas fills the frame")
    elif detector is None:
        _check_sides(fit, meds[-1])
    fit.sure = not fit.notes
    log.debug("canvas: %s", fit)
    return fit


def change_quad(first: np.ndarray, last: np.ndarray, thresh: int = 30) -> np.ndarray | None:
    """Quad around the region that changed between ``first`` and ``last`` (where paint accumulated)."""
    h, w = first.shape[:2]
    d = np.abs(first.astype(np.int16) - last.astype(np.int16)).max(-1)
    mask = (d > thresh).astype(np.uint8)
    k = max(3, int(min(h, w) * 0.02) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3 * k, 3 * k), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < 0.04 * h * w:
        return None
    return order_corners(cv2.boxPoints(cv2.minAreaRect(c)))


def side_support(img: np.ndarray, p: np.ndarray, q: np.ndarray, off: float = 2.5, n: int = 64) -> float:
    """Median colour step across the segment p→q (max over channels, grey levels): a real edge
    along most of its length scores high, a hand over part of it does not matter."""
    t = np.linspace(0.1, 0.9, n)[:, None]
    pts = p + t * (q - p)
    d = q - p
    normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-9)
    a = _sample(img, pts + off * normal)
    b = _sample(img, pts - off * normal)
    return float(np.median(np.abs(a - b).max(-1)))


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    m = pts.astype(np.float32).reshape(1, -1, 2)
    out = cv2.remap(img, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(len(pts), -1).astype(np.float32)


SIDE_NAMES = ("top", "right", "bottom", "left")


def _sides_on_border(quad: np.ndarray, w: int, h: int) -> int:
    """How many sides of ``quad`` (TL TR BR BL) run along the frame's border."""
    x, y = quad[:, 0], quad[:, 1]
    tol = 2 + 0.01 * max(w, h)
    on = [
        y[0] <= tol and y[1] <= tol,
        x[1] >= w - 1 - tol and x[2] >= w - 1 - tol,
        y[2] >= h - 1 - tol and y[3] >= h - 1 - tol,
        x[3] <= tol and x[0] <= tol,
    ]
    return sum(bool(v) for v in on)  # numpy bools would add as a logical or


def _check_sides(fit: CanvasFit, final: np.ndarray, edge: float = 14.0, max_grow: float = 1.0) -> None:
    """Move each side without an edge in the finished canvas out to the nearest long straight edge
    (tilted by at most 2 degrees); note the sides that have none within ``max_grow``."""
    quad = fit.quad.astype(np.float64)
    h, w = final.shape[:2]
    centre = quad.mean(0)
    lines = []
    for s in range(4):
        p, q = quad[s], quad[(s + 1) % 4]
        if side_support(final, p, q) >= edge:
            lines.append((p, q))
            continue
        found = _search_outward(
            final, p, q, centre, edge, max_grow * np.linalg.norm(centre - (p + q) / 2) * 2
        )
        if found is None:
            fit.notes.append(f"the {SIDE_NAMES[s]} side is no straight edge of the finished canvas")
            lines.append((p, q))
        else:
            fit.sides_moved.append(SIDE_NAMES[s])
            lines.append(found)
    corners = [_intersect(lines[j - 1], lines[j]) for j in range(4)]
    if any(c is None for c in corners):
        fit.notes.append("the refined sides do not meet")
        return
    new = np.array(corners, np.float32)
    inside = (
        (new[:, 0] > -0.02 * w) & (new[:, 0] < 1.02 * w) & (new[:, 1] > -0.02 * h) & (new[:, 1] < 1.02 * h)
    )
    if not inside.all() or not cv2.isContourConvex(new.reshape(-1, 1, 2)):
        fit.notes.append("the refined canvas leaves the frame")
        return
    fit.quad = np.clip(new, 0, [w - 1, h - 1]).astype(np.float32)


def _search_outward(img, p, q, centre, edge, max_dist) -> tuple[np.ndarray, np.ndarray] | None:
    """First shifted (and slightly tilted) copy of the side p→q, moving away from ``centre``, that
    lies on a straight edge; the side is lengthened so its ends stay on the neighbouring sides."""
    d = q - p
    normal = np.array([-d[1], d[0]]) / np.linalg.norm(d)
    if normal @ ((p + q) / 2 - centre) < 0:
        normal = -normal
    mid = (p + q) / 2
    best = None
    for dist in np.arange(2.0, max(3.0, max_dist), 1.0):
        for tilt in np.deg2rad([0.0, -1.0, 1.0, -2.0, 2.0]):
            c, s = np.cos(tilt), np.sin(tilt)
            rot = np.array([[c, -s], [s, c]])
            a = mid + dist * normal + rot @ (p - mid)
            b = mid + dist * normal + rot @ (q - mid)
            sup = side_support(img, a, b)
            if sup >= edge and (best is None or sup > best[0]):
                best = (sup, a, b)
        if best is not None:
            # settle on the strongest copy within two pixels further out (the edge's centre)
            for extra in (1.0, 2.0):
                a2, b2 = best[1] + extra * normal, best[2] + extra * normal
                sup = side_support(img, a2, b2)
                if sup > best[0]:
                    best = (sup, a2, b2)
            return best[1], best[2]
    return None


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
