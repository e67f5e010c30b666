"""Stroke planning: curved brush strokes along the image's direction field (Hertzmann 1998,
traced for all seeds at once), contour lines, hatching and construction lines.

A ``Stroke`` is a polyline with a radius, a colour (or ``None`` = paint the target's own pixels,
used by the final detail pass), an opacity and the phase it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(slots=True)
class Stroke:
    pts: np.ndarray  # (N, 2) int32 x, y
    radius: int
    colour: np.ndarray | None  # (3,) float32 RGB, or None to paint the target itself
    alpha: float
    phase: str
    texture: float = 0.0
    softness: float = 0.0
    clip: np.ndarray | None = None  # (H, W) float32 0..1 limiting where the stroke deposits
    key: float = 0.0  # sort key inside its phase (smaller = earlier)
    pressure: np.ndarray | None = None  # (N,) 0..1 per point: a hand's pressure along the line
    region: int = -1  # >= 0: deposit only where the canvas' region map equals this id
    glaze: int = -1  # >= 0: a transparent glaze towards the canvas' layer map of this index
    rim: float = 0.0  # glazes: extra pigment pooled just inside the stroke's edge (dark rim)
    toward: int = -1  # >= 0: opaque paint of the canvas' layer map of this index (digital shading)


def jittered_grid(h: int, w: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """Seed points on a grid with half-cell jitter, shuffled (so no row-by-row raster look)."""
    spacing = max(1.0, spacing)
    ys = np.arange(spacing / 2, h, spacing)
    xs = np.arange(spacing / 2, w, spacing)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    pts += rng.uniform(-0.5, 0.5, pts.shape) * spacing
    pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
    return pts[rng.permutation(len(pts))]


def _sample(field: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = field.shape[:2]
    x = np.clip(pts[:, 0].round().astype(np.int64), 0, w - 1)
    y = np.clip(pts[:, 1].round().astype(np.int64), 0, h - 1)
    return field[y, x]


def trace_curved(
    seeds: np.ndarray,
    ref: np.ndarray,
    prev: np.ndarray,
    cos: np.ndarray,
    sin: np.ndarray,
    radius: float,
    max_len: int,
    min_len: int = 3,
    inertia: float = 0.35,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Trace one curved stroke per seed, all seeds in lock-step (vectorised Hertzmann).

    Each stroke takes the colour of ``ref`` at its seed and grows along the tangent field in
    steps of ``radius`` until it leaves the picture, reaches ``max_len`` points, or (after
    ``min_len``) reaches a pixel where the current estimate ``prev`` already matches the reference
    better than the stroke's colour would (Hertzmann's rule: the stroke would stop helping) or
    the colour drifts too far from its own. Returns (polylines, colours).
    """
    h, w = cos.shape
    n = len(seeds)
    colour = _sample(ref, seeds).astype(np.float32)
    pos = seeds.astype(np.float32).copy()
    path = np.empty((max_len, n, 2), np.float32)
    path[0] = pos
    length = np.ones(n, np.int64)
    alive = np.ones(n, bool)
    d = np.stack([_sample(cos, pos), _sample(sin, pos)], 1)
    for i in range(1, max_len):
        t = np.stack([_sample(cos, pos), _sample(sin, pos)], 1)
        # Orientation fields have no sign: keep going the way the stroke already goes.
        t *= np.where((t * d).sum(1, keepdims=True) < 0, -1.0, 1.0)
        d = inertia * d + (1 - inertia) * t
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-6
        nxt = pos + radius * d
        inside = (nxt[:, 0] >= 0) & (nxt[:, 0] <= w - 1) & (nxt[:, 1] >= 0) & (nxt[:, 1] <= h - 1)
        here = _sample(ref, nxt)
        err_stroke = np.abs(here - colour).sum(1)
        err_prev = np.abs(here - _sample(prev, nxt)).sum(1)
        # A colour close to the stroke's own keeps it going even where it no longer helps much:
        # painters pull a stroke through a passage rather than dabbing.
        fits = (i < min_len) | ((err_stroke <= err_prev + 4.0) | (err_stroke < 36.0)) & (err_stroke < 70.0)
        alive &= inside & fits
        if not alive.any():
            break
        pos = np.where(alive[:, None], nxt, pos)
        path[i] = pos
        length += alive
    lines = [path[: length[j], j].round().astype(np.int32) for j in range(n)]
    return lines, colour


def contour_lines(
    lum: np.ndarray, sigma: float, min_length: float, seg_len: float, quantile: float = 0.85
) -> list[np.ndarray]:
    """The shapes' outlines as a draughtsman draws them: Canny on a smoothed luminance, traced
    into long continuous edge chains (each edge pixel once), simplified and smoothed, cut only
    where a chain is longer than ``seg_len`` (one hand movement); longest contours first."""
    smooth = cv2.GaussianBlur(lum.astype(np.float32), (0, 0), sigma)
    u8 = cv2.normalize(smooth, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    grad = cv2.magnitude(cv2.Sobel(u8, cv2.CV_32F, 1, 0), cv2.Sobel(u8, cv2.CV_32F, 0, 1))
    # A floor keeps flat pictures from tracing the ripples of their own quantisation.
    hi = max(float(np.quantile(grad, quantile)), 12.0) + 1.0
    edges = cv2.Canny(u8, hi * 0.4, hi)
    out: list[tuple[float, np.ndarray]] = []
    chains = link_chains(edge_chains(edges > 0, 3.0), gap=max(3.0, 5 * sigma))
    for chain in (c for c in chains if polyline_length(c) >= min_length):
        length = polyline_length(chain)
        poly = smooth_polyline(cv2.approxPolyDP(chain.reshape(-1, 1, 2), 1.2, False).reshape(-1, 2), 1)
        for seg in split_polyline(poly, seg_len, even=False):
            out.append((-length, seg))
    out.sort(key=lambda kv: kv[0])
    return [seg for _, seg in out]


def polyline_length(poly: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(np.asarray(poly, np.float32), axis=0), axis=1).sum())


def edge_chains(edges: np.ndarray, min_length: float = 0.0, closed_gap: float = 1.5) -> list[np.ndarray]:
    """Trace a thin edge map (bool H×W) into polylines, every edge pixel in exactly one chain.

    ``findContours`` walks round a one-pixel line, out along one side and back along the other
    (and a closed ring twice, as outer and inner contour); keeping only each pixel's first visit
    leaves the line itself, once. Chains are split where the walk jumps over already-traced
    pixels, and closed rings stay one chain. Longest first; shorter than ``min_length`` dropped.
    """
    u8 = np.ascontiguousarray(edges, np.uint8)
    contours, _ = cv2.findContours(u8, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    contours = sorted(contours, key=len, reverse=True)
    w = u8.shape[1]
    seen = np.zeros(u8.size, bool)
    out: list[np.ndarray] = []
    for c in contours:
        p = c.reshape(-1, 2)
        idx = p[:, 1].astype(np.int64) * w + p[:, 0]
        first = np.zeros(len(p), bool)
        first[np.unique(idx, return_index=True)[1]] = True
        keep = first & ~seen[idx]
        seen[idx] = True
        for run in split_runs(p, keep, closed=True, max_step=closed_gap):
            if len(run) >= 2 and polyline_length(run) >= max(min_length, 1.0):
                out.append(run)
    out.sort(key=lambda r: -len(r))
    return out


def link_chains(chains: list[np.ndarray], gap: float, max_turn: float = 0.9) -> list[np.ndarray]:
    """Join chains whose ends nearly meet and carry on in the same direction (an edge that Canny
    broke at a junction or a faint stretch is still one line to the eye): greedily, closest
    first, each end joined at most once, no loops. ``max_turn``: largest bend at a join (rad)."""
    n = len(chains)
    if n < 2:
        return chains
    # End 2i = start of chain i (pointing outwards), 2i+1 = its end.
    pos = np.empty((2 * n, 2), np.float32)
    out_dir = np.empty((2 * n, 2), np.float32)
    for i, c in enumerate(chains):
        c = c.astype(np.float32)
        k = min(len(c) - 1, 6)
        pos[2 * i], pos[2 * i + 1] = c[0], c[-1]
        out_dir[2 * i], out_dir[2 * i + 1] = c[0] - c[k], c[-1] - c[-1 - k]
    out_dir /= np.linalg.norm(out_dir, axis=1, keepdims=True) + 1e-6
    d = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    chain_of = np.arange(2 * n) // 2
    cand = (d <= gap) & (chain_of[:, None] != chain_of[None])
    # Going out of one end and into the other: directions roughly opposite, and the gap itself
    # runs along them.
    cand &= (out_dir @ out_dir.T) < -np.cos(max_turn)
    a_idx, b_idx = np.nonzero(np.triu(cand))
    partner = -np.ones(2 * n, np.int64)
    root = np.arange(n)

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for j in np.argsort(d[a_idx, b_idx], kind="stable"):
        a, b = int(a_idx[j]), int(b_idx[j])
        if partner[a] >= 0 or partner[b] >= 0 or find(a // 2) == find(b // 2):
            continue
        partner[a], partner[b] = b, a
        root[find(a // 2)] = find(b // 2)
    out, used = [], np.zeros(n, bool)
    for i in range(n):
        if used[i] or (partner[2 * i] >= 0 and partner[2 * i + 1] >= 0):
            continue  # start walks at a chain with a free end (no loops were made)
        end = 2 * i if partner[2 * i] < 0 else 2 * i + 1  # the free end: walk away from it
        parts = []
        while True:
            c = end // 2
            used[c] = True
            parts.append(chains[c] if end % 2 == 0 else chains[c][::-1])
            nxt = partner[end ^ 1]
            if nxt < 0:
                break
            end = int(nxt)
        out.append(np.concatenate(parts))
    out.sort(key=lambda r: -len(r))
    return out


def split_runs(pts: np.ndarray, keep: np.ndarray, closed: bool, max_step: float = np.inf) -> list[np.ndarray]:
    """Maximal runs of consecutive kept points, also split where two consecutive points are more
    than ``max_step`` apart. ``closed``: the point list is a ring, so a run may wrap round."""
    n = len(pts)
    if n == 0 or not keep.any():
        return []
    pts = np.asarray(pts)
    step = np.linalg.norm(np.diff(pts.astype(np.float32), axis=0, append=pts[:1].astype(np.float32)), axis=1)
    # link[i]: point i and point i+1 (mod n) belong to the same run
    link = keep & np.roll(keep, -1) & (step <= max_step)
    if not closed:
        link[-1] = False
    if link.all():
        return [pts.copy()]
    # Start the scan just after a break, so a run that wraps round the ring stays whole.
    start = int(np.flatnonzero(~link)[0]) + 1 if closed else 0
    order = (np.arange(n) + start) % n
    out, cur = [], []
    for i in order:
        if keep[i]:
            cur.append(i)
        if not link[i]:
            if cur:
                out.append(pts[cur])
            cur = []
    if cur:
        out.append(pts[cur])
    return out


def smooth_polyline(poly: np.ndarray, rounds: int) -> np.ndarray:
    """Chaikin corner cutting (ends kept): a hand's smooth curve through a simplified polyline."""
    poly = np.asarray(poly, np.float32)
    for _ in range(rounds):
        if len(poly) < 3:
            break
        a, b = poly[:-1], poly[1:]
        mid = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], 1).reshape(-1, 2)
        poly = np.concatenate([poly[:1], mid[1:-1], poly[-1:]])
    return poly


def pressure_profile(n: int, rng: np.random.Generator, low: float = 0.55) -> np.ndarray:
    """Pencil pressure along a line of ``n`` points: the lead touches down, presses, wavers a
    little and lifts off (tapered ends), in ``[low, 1]``."""
    if n <= 1:
        return np.ones(max(n, 1), np.float32)
    t = np.linspace(0.0, 1.0, n)
    taper = np.minimum(1.0, np.minimum(t, 1 - t) * 6 + 0.35)
    waver = 0.85 + 0.15 * np.sin(2 * np.pi * (rng.uniform(0.5, 2.0) * t + rng.random()))
    return (low + (1 - low) * taper * waver).astype(np.float32)


def split_polyline(poly: np.ndarray, seg_len: float, even: bool = True) -> list[np.ndarray]:
    """Cut a polyline into pieces about ``seg_len`` long (each piece one hand movement);
    ``even=False`` keeps lines up to 1.5 ``seg_len`` whole and cuts longer ones evenly."""
    poly = np.asarray(poly, np.float32)
    if len(poly) < 2:
        return []
    step = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(step)])
    total = cum[-1]
    if total < 1:
        return []
    if even:
        n = max(1, int(round(total / seg_len)))
    else:
        n = 1 if total <= 1.5 * seg_len else int(np.ceil(total / seg_len))
    cuts = np.linspace(0, total, n + 1)
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        inner = (cum > a) & (cum < b)
        pa = np.array([np.interp(a, cum, poly[:, 0]), np.interp(a, cum, poly[:, 1])])
        pb = np.array([np.interp(b, cum, poly[:, 0]), np.interp(b, cum, poly[:, 1])])
        pieces.append(np.vstack([pa, poly[inner], pb]).round().astype(np.int32))
    return pieces


def hatch_lines(
    mask: np.ndarray, angle: float, spacing: float, seg_len: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Parallel hatching segments at ``angle`` covering ``mask`` (bool H×W): lines ``spacing``
    apart, cut into ``seg_len`` pieces with a little wobble in position and length, keeping the
    pieces that lie mostly inside the mask."""
    h, w = mask.shape
    c, s = np.cos(angle), np.sin(angle)
    diag = float(np.hypot(h, w))
    offsets = np.arange(-diag / 2, diag / 2, spacing)
    offsets = offsets + rng.uniform(-0.25, 0.25, len(offsets)) * spacing
    starts = np.arange(-diag / 2, diag / 2, seg_len)
    oo, ss = np.meshgrid(offsets, starts, indexing="ij")
    oo, ss = oo.ravel(), ss.ravel()
    ss = ss + rng.uniform(-0.3, 0.3, ss.shape) * seg_len
    ln = seg_len * rng.uniform(0.7, 1.05, ss.shape)
    cx, cy = w / 2, h / 2
    x0, y0 = cx + ss * c - oo * s, cy + ss * s + oo * c
    x1, y1 = x0 + ln * c, y0 + ln * s
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    ok = (mx >= 0) & (mx < w) & (my >= 0) & (my < h)
    mid = np.zeros_like(ok)
    mid[ok] = mask[my[ok].astype(int), mx[ok].astype(int)]
    segs = np.stack([x0, y0, x1, y1], 1)[mid]
    return [seg.reshape(2, 2).round().astype(np.int32) for seg in segs]


def ellipse_points(
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle_deg: float,
    start: float,
    end: float,
    n: int = 48,
) -> np.ndarray:
    """Points of an elliptical arc (degrees), for construction drawing."""
    t = np.deg2rad(np.linspace(start, end, n))
    a = np.deg2rad(angle_deg)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    px = centre[0] + x * np.cos(a) - y * np.sin(a)
    py = centre[1] + x * np.sin(a) + y * np.cos(a)
    return np.stack([px, py], 1).round().astype(np.int32)
