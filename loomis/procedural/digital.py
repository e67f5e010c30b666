"""The ``digital`` recipe: a digital illustration as its artists post it, step by step.

rough sketch → clean line art → flat colours per region → shading → rendering and details, on a
white page, arriving exactly at the picture. Everything comes from the picture itself: the line
art from its edges (Canny on luminance, traced into long chains), the flats from a colour
segmentation (k-means in Lab + position, split into connected areas), each area bucket-filled
with its median colour under the line art (flats sit on a layer below the lines), the shading
from a blurred copy of the picture, the rendering from the picture's own pixels, tile by tile.
Areas are filled in ``plan.rank`` order (the figure first when one is found: ``fields``).
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.procedural import fields
from loomis.procedural.recipes import Plan, contour_strokes
from loomis.procedural.strokes import Stroke, contour_lines

SKETCH = (120.0, 128.0, 146.0)  # a blue-grey rough, as on a digital sketch layer
FLAT_REGIONS = 14  # colour clusters before splitting into connected areas


def digital_plan(plan: Plan) -> list[Stroke]:
    s = plan.side
    rough = contour_lines(plan.lum, sigma=max(1.5, s / 110), min_length=s / 16, seg_len=s / 3)[:300]
    strokes = _wobbled(plan, contour_strokes(plan, rough, SKETCH, 0.6, "sketch"), s / 300)
    lines = contour_lines(plan.lum, sigma=max(0.8, s / 400), min_length=s / 25, seg_len=s / 2.5)[:300]
    ink = _line_colours(plan, lines)
    width = round(s / 900)  # 0: a one-pixel line (thickness max(1, 2 * radius))
    line_strokes = [
        Stroke(ln, width, c, 0.9, "lineart", texture=0.0, key=i) for i, (ln, c) in enumerate(zip(lines, ink))
    ]
    strokes += line_strokes
    under = 1.0 - _line_mask(plan, lines, width)  # flats and shading go under the line art
    strokes += _flats(plan, under)
    strokes += _tiles(plan, "shading", radius=s / 22, under=under, toward=0, alpha=0.85)
    strokes += _tiles(plan, "rendering", radius=max(2.0, s / 45), under=None, toward=-1, alpha=1.0)
    return strokes


def _wobbled(plan: Plan, strokes: list[Stroke], amount: float) -> list[Stroke]:
    # A rough sketch strays from the final contour; each line by its own small offset.
    for st in strokes:
        st.pts = (st.pts + plan.rng.normal(0, amount, 2)).round().astype(np.int32)
    return strokes


def _line_colours(plan: Plan, lines: list[np.ndarray]) -> list[np.ndarray]:
    """Each line in the darkest nearby colour of the picture (a coloured line art), never light."""
    dark = cv2.erode(plan.target, np.ones((3, 3), np.uint8))
    h, w = dark.shape[:2]
    out = []
    for ln in lines:
        x = np.clip(ln[:, 0], 0, w - 1)
        y = np.clip(ln[:, 1], 0, h - 1)
        out.append(np.minimum(0.5 * np.median(dark[y, x], axis=0), 70.0).astype(np.float32))
    return out


def _line_mask(plan: Plan, lines: list[np.ndarray], width: int) -> np.ndarray:
    h, w = plan.target.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, [ln.reshape(-1, 1, 2) for ln in lines], False, 255, max(1, 2 * width), cv2.LINE_AA)
    return mask.astype(np.float32) / 255.0


def flat_regions(plan: Plan) -> tuple[np.ndarray, list[int]]:
    """(H, W) int32 area ids (0 = too small to flat, left to the rendering) and the ids in
    painting order (by ``plan.rank`` at the area, then largest first)."""
    labels = fields.colour_regions(plan.target.astype(np.uint8), FLAT_REGIONS, plan.rng)
    min_area = (plan.side / 40) ** 2
    areas = np.zeros(labels.shape, np.int32)
    keys: list[tuple[float, float, int]] = []
    nid = 0
    for k in range(int(labels.max()) + 1):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == k).astype(np.uint8), connectivity=4)
        for c in range(1, n):
            if stats[c, cv2.CC_STAT_AREA] < min_area:
                continue
            nid += 1
            m = comp == c
            areas[m] = nid
            keys.append((float(plan.rank[m].mean()), -float(stats[c, cv2.CC_STAT_AREA]), nid))
    keys.sort()
    return areas, [k[2] for k in keys]


def _flats(plan: Plan, under: np.ndarray) -> list[Stroke]:
    areas, order = flat_regions(plan)
    plan.regions = areas
    out = []
    for i, aid in enumerate(order):
        ys, xs = np.nonzero(areas == aid)
        colour = np.median(plan.target[ys, xs], axis=0).astype(np.float32)
        cx, cy = (xs.min() + xs.max()) // 2, (ys.min() + ys.max()) // 2
        # One bucket fill: a disc over the area's box, deposited only inside the area.
        radius = int(np.ceil(np.hypot(xs.max() - xs.min(), ys.max() - ys.min()) / 2)) + 2
        pts = np.array([[cx, cy]], np.int32)
        out.append(Stroke(pts, radius, colour, 1.0, "flats", clip=under, key=i, region=aid))
    return out


def _tiles(
    plan: Plan, phase: str, radius: float, under: np.ndarray | None, toward: int, alpha: float
) -> list[Stroke]:
    """Round dabs on a grid that covers every pixel, in ``plan.rank`` order (then a sweep):
    towards ``plan.layers[toward]`` (shading) or the picture's own pixels (``toward < 0``)."""
    if toward >= 0 and plan.layers is None:
        plan.layers = [_shading_layer(plan)]
    h, w = plan.target.shape[:2]
    r = max(2, int(round(radius / plan.detail)))
    step = r * 1.35  # discs of radius r on this grid leave no pixel uncovered
    ys, xs = np.meshgrid(
        np.arange(step / 2, h + step / 2, step), np.arange(step / 2, w + step / 2, step), indexing="ij"
    )
    pts = np.stack([np.clip(xs.ravel(), 0, w - 1), np.clip(ys.ravel(), 0, h - 1)], 1).astype(np.int32)
    sweep = (ys.ravel() // (step * 4)) * w + xs.ravel()
    keys = plan.rank[pts[:, 1], pts[:, 0]] + 0.05 * sweep / (sweep.max() + 1)
    return [
        Stroke(p[None], r, None, alpha, phase, clip=under, key=float(k), toward=toward)
        for p, k in zip(pts, keys)
    ]


def _shading_layer(plan: Plan) -> np.ndarray:
    """The picture's values and colours without its small detail: blurred on a small copy."""
    h, w = plan.target.shape[:2]
    f = min(1.0, 96 / plan.side)
    small = cv2.resize(
        plan.target, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), 1.2)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
