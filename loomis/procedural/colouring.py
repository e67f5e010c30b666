"""The line-and-fill recipe (``children``, ``coloring-book``): outlines first, then colour, one
area at a time.

The restyled picture comes with its layout (``stylise.Layout``: the outline polylines and a
region map). The outlines are drawn as long continuous lines, in a sweep over the page; then
each area is coloured in with back-and-forth strokes (a zigzag of the hand, at a slant that
changes from area to area), clipped to the area — far areas first, as everywhere else.
Strokes lay down the restyled picture's own pixels, so a crayon fill shows its wax and paper
grain as it goes and the last stroke leaves exactly the finished picture.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.procedural.recipes import Plan
from loomis.procedural.strokes import Stroke, split_polyline

MAX_TURNS = 8  # back-and-forth passes in one hand movement before the hand moves on


def colouring_plan(plan: Plan) -> list[Stroke]:
    lay = plan.layout
    if lay is None:
        raise ValueError("mediums.yaml: recipe 'colouring' needs stylise: children or coloring-book")
    return outline_strokes(plan) + fill_strokes(plan)


def _sweep(pts: np.ndarray, cell: float, width: int) -> np.ndarray:
    """Position in a top-to-bottom, alternating left/right sweep of ``cell``-sized bands."""
    row = (pts[:, 1] // cell).astype(int)
    x = np.where(row % 2 == 0, pts[:, 0], width - pts[:, 0])
    return row * (width + 1.0) + x


def outline_strokes(plan: Plan) -> list[Stroke]:
    lay = plan.layout
    s = plan.side
    h, w = lay.regions.shape
    radius = max(1, int(np.ceil(lay.line_width / 2)) + 1)
    pieces = [p for ln in lay.lines for p in split_polyline(ln, s / 4, even=False)]
    if not pieces:
        return []
    starts = np.array([p[0] for p in pieces], np.float32)
    keys = _sweep(starts, s / 5, w)
    keys = keys / (keys.max() + 1.0)
    return [Stroke(p, radius, None, 1.0, "outlines", region=0, key=float(k)) for p, k in zip(pieces, keys)]


def fill_strokes(plan: Plan) -> list[Stroke]:
    rc = plan.recipe
    lay = plan.layout
    regions = lay.regions
    n = int(regions.max())
    if n == 0:
        return []
    radius = max(2.0, rc.fill_size * plan.side / plan.detail)
    flat = regions.ravel()
    area = np.bincount(flat, minlength=n + 1)
    rank = np.bincount(flat, weights=plan.rank.ravel(), minlength=n + 1) / np.maximum(area, 1)
    # Far areas first; among equally far ones the big areas first.
    order = np.lexsort((-area[1:], np.round(rank[1:], 1))) + 1
    ys, xs = np.divmod(np.argsort(flat, kind="stable"), regions.shape[1])
    bounds = np.concatenate([[0], np.cumsum(area)])
    out: list[Stroke] = []
    for pos, rid in enumerate(order):
        if area[rid] == 0:
            continue
        sl = slice(bounds[rid], bounds[rid + 1])
        box = (xs[sl].min(), ys[sl].min(), xs[sl].max() + 1, ys[sl].max() + 1)
        angle = -0.8 + plan.rng.uniform(-1, 1) * rc.fill_slant
        paths = zigzags(regions, rid, box, angle, radius, rc.wobble, plan.rng)
        paths += touch_ups(regions, rid, box, paths, radius)
        for j, path in enumerate(paths):
            key = pos + j / (len(paths) + 1)
            out.append(Stroke(path, int(round(radius)), None, 1.0, "fills", region=int(rid), key=key))
    return out


def zigzags(
    regions: np.ndarray,
    rid: int,
    box: tuple[int, int, int, int],
    angle: float,
    radius: float,
    wobble: float,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Back-and-forth strokes that colour in area ``rid`` (inside ``box``): parallel passes at
    ``angle``, 1.4 radii apart, each pass running across the area where the line is inside it,
    joined into zigzags of at most ``MAX_TURNS`` passes. ``wobble``: how far (in radii) the
    hand's turning points stray."""
    x0, y0, x1, y1 = box
    mask = regions[y0:y1, x0:x1] == rid
    bh, bw = mask.shape
    u = np.array([np.cos(angle), np.sin(angle)])
    v = np.array([-u[1], u[0]])
    corners = np.array([[0, 0], [bw, 0], [0, bh], [bw, bh]], np.float64)
    pu, pv = corners @ u, corners @ v
    spacing = 1.4 * radius
    offs = np.arange(pv.min() + spacing * rng.uniform(0.3, 0.7), pv.max(), spacing)
    step = max(1.0, radius / 2)
    ts = np.arange(pu.min(), pu.max() + step, step)
    if len(offs) == 0:
        offs = np.array([(pv.min() + pv.max()) / 2])
    px = offs[:, None] * v[0] + ts[None, :] * u[0]
    py = offs[:, None] * v[1] + ts[None, :] * u[1]
    xi, yi = np.round(px).astype(int), np.round(py).astype(int)
    ok = (xi >= 0) & (xi < bw) & (yi >= 0) & (yi < bh)
    inside = np.zeros(ok.shape, bool)
    inside[ok] = mask[yi[ok], xi[ok]]
    edges = np.diff(np.pad(inside.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows_s, cols_s = np.nonzero(edges == 1)
    _, cols_e = np.nonzero(edges == -1)
    # Runs (row, first t index, last t index), in row order.
    runs = list(zip(rows_s.tolist(), cols_s.tolist(), (cols_e - 1).tolist()))
    chains: list[list[tuple[int, int, int]]] = []
    open_chains: list[list[tuple[int, int, int]]] = []
    for row, a, b in runs:
        home = None
        for ch in open_chains:
            pr, pa, pb = ch[-1]
            if pr == row - 1 and a <= pb and b >= pa and len(ch) < MAX_TURNS:
                home = ch
                break
        if home is None:
            home = []
            chains.append(home)
        open_chains = [c for c in open_chains if c is not home and c[-1][0] >= row - 1] + [home]
        home.append((row, a, b))
    out = []
    for ch in chains:
        pts = []
        for i, (row, a, b) in enumerate(ch):
            ends = [a, b] if i % 2 == 0 else [b, a]
            # Turning points stray; a long pass bows a little in the middle.
            mid = 0.5 * (ts[a] + ts[b])
            bow = rng.normal(0, wobble * radius * 0.6)
            for t, off in ((ends[0], 0.0), (None, bow), (ends[1], 0.0)):
                along = mid if t is None else ts[t]
                jit = rng.normal(0, wobble * radius, 2) if t is not None else 0.0
                pts.append(offs[row] * v + along * u + off * v + jit)
        out.append((np.array(pts) + (x0, y0)).round().astype(np.int32))
    return out


def touch_ups(
    regions: np.ndarray, rid: int, box: tuple[int, int, int, int], paths: list[np.ndarray], radius: float
) -> list[np.ndarray]:
    """Dabs on the corners of the area the passes missed (the last look before moving on)."""
    x0, y0, x1, y1 = box
    mask = regions[y0:y1, x0:x1] == rid
    done = np.zeros(mask.shape, np.uint8)
    r = int(round(radius))
    if paths:
        cv2.polylines(done, [(p - (x0, y0)).reshape(-1, 1, 2) for p in paths], False, 1, max(1, 2 * r - 1))
    ys, xs = np.nonzero(mask & (done == 0))
    if len(ys) == 0:
        return []
    # One dab per radius-sized cell of what is left, in reading order.
    cell = max(1, r)
    _, first = np.unique((ys // cell) * (mask.shape[1] + 1) + xs // cell, return_index=True)
    return [np.array([[xs[j] + x0, ys[j] + y0]], np.int32) for j in np.sort(first)]
