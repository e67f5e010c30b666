"""Recipes: the ordered stroke plans of each process (paint, pencil), built from a ``Plan``.

``paint``  composition lines → block-in of big regions (back to front) → coarse-to-fine colour
           layers (Hertzmann) → details and highlights.
``pencil`` light construction lines → contours → hatching by tone, lightest first → details.
(``loomis`` adds a face construction in front of the pencil plan; see ``face.py``;
``colouring`` — outlines, then areas coloured in — is in ``colouring.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from loomis.procedural import fields
from loomis.procedural.config import Recipe
from loomis.procedural.strokes import (
    Stroke,
    contour_lines,
    hatch_lines,
    jittered_grid,
    pressure_profile,
    smooth_polyline,
    split_polyline,
    split_runs,
    trace_curved,
)
from loomis.procedural.stylise import Layout

GRAPHITE = np.array([58.0, 58.0, 64.0], np.float32)
BLOCK_LEN = 3  # longest block-in stroke, in brush radii


@dataclass
class Plan:
    """What every recipe needs: the target picture and the maps derived from it."""

    target: np.ndarray  # (H, W, 3) float32
    ground: np.ndarray  # (H, W, 3) float32 blank support
    recipe: Recipe
    rank: np.ndarray  # (H, W) region painting rank 0 (far) .. 1 (near)
    labels: np.ndarray  # (H, W) int32 colour regions
    rng: np.random.Generator
    detail: float = 1.0
    face: tuple[int, int, int, int] | None = None  # (x, y, w, h) for the loomis recipe
    layout: Layout | None = None  # outlines and areas of a line-and-fill restyling (colouring)
    colour: bool = False  # pencil/loomis on a colour picture: coloured pencil follows the graphite
    layers: list[np.ndarray] | None = None  # value maps that glazes darken towards (watercolour)
    regions: np.ndarray | None = None  # (H, W) int area ids for strokes with ``region`` (digital)

    @property
    def side(self) -> int:
        return max(self.target.shape[:2])

    @property
    def lum(self) -> np.ndarray:
        return fields.luminance(self.target)


def order_key(plan: Plan, seeds: np.ndarray, cell: float) -> np.ndarray:
    """Region first (far to near), then a boustrophedon sweep of ``cell``-sized patches inside
    the region, then a little randomness: painters work one passage at a time."""
    h, w = plan.target.shape[:2]
    x = np.clip(seeds[:, 0].astype(int), 0, w - 1)
    y = np.clip(seeds[:, 1].astype(int), 0, h - 1)
    ncols = max(1, int(np.ceil(w / cell)))
    nrows = max(1, int(np.ceil(h / cell)))
    row, col = y // int(max(cell, 1)), x // int(max(cell, 1))
    col = np.where(row % 2 == 0, col, ncols - 1 - col)
    sweep = (row * ncols + col) / (nrows * ncols)
    return plan.rank[y, x] + 0.01 * sweep + 0.004 * plan.rng.random(len(seeds))


def _jitter(plan: Plan, colours: np.ndarray, amount: float) -> np.ndarray:
    # Hand-mixed paint is never exactly the same twice.
    return np.clip(colours + plan.rng.normal(0, amount, colours.shape).astype(np.float32), 0, 255)


def region_outlines(plan: Plan, looseness: float) -> list[np.ndarray]:
    """The composition: outlines of the big colour regions, simplified into a few long, loose,
    smooth lines (``looseness`` = tolerance as a fraction of the long side), without the parts
    that only run along the picture's border. Biggest shapes first; a border two regions share
    is drawn once (by the bigger shape), as a painter would."""
    s = plan.side
    h, w = plan.labels.shape
    # Trace on a small copy of the label map: full-size labels are blocky upsampled k-means.
    f = min(1.0, 160 / s)
    small = cv2.resize(
        plan.labels.astype(np.uint8),
        (max(2, round(w * f)), max(2, round(h * f))),
        interpolation=cv2.INTER_NEAREST,
    )
    sh, sw = small.shape
    shapes: list[tuple[float, np.ndarray]] = []
    for k in range(int(plan.labels.max()) + 1):
        mask = cv2.medianBlur((small == k).astype(np.uint8) * 255, 5)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        for c in contours:
            area = cv2.contourArea(c) / (f * f)
            if area >= (s / 8) ** 2:
                shapes.append((area, c.reshape(-1, 2)))
    shapes.sort(key=lambda kv: -kv[0])
    drawn = np.zeros((sh, sw), np.uint8)  # borders already drawn (a few pixels wide)
    found: list[np.ndarray] = []
    for _, c in shapes:
        x, y = c[:, 0], c[:, 1]
        border = (x <= 3) | (x >= sw - 4) | (y <= 3) | (y >= sh - 4)
        keep = ~border & (drawn[y, x] == 0)
        cv2.polylines(drawn, [c.reshape(-1, 1, 2)], True, 1, 5)
        for run in split_runs(c, keep, closed=True, max_step=1.5):
            if len(run) < 4:
                continue
            poly = cv2.approxPolyDP(run.reshape(-1, 1, 2), s * looseness * f, False).reshape(-1, 2)
            found.append(smooth_polyline(poly, 2) / f)
    return found


def sketch_strokes(
    plan: Plan, phase: str, colour, alpha: float, looseness: float, limit: int
) -> list[Stroke]:
    s = plan.side
    radius = max(1, round(s / 500))
    col = np.asarray(colour, np.float32)
    out: list[Stroke] = []
    for line in region_outlines(plan, looseness):
        for piece in split_polyline(line, s / 8):
            # A hand-drawn line wobbles a little around the true edge.
            wob = plan.rng.normal(0, s / 400, piece.shape)
            out.append(Stroke((piece + wob).round().astype(np.int32), radius, col, alpha, phase, texture=0.3))
    for i, st in enumerate(out[:limit]):
        st.key = i
    return out[:limit]


def layer_strokes(
    plan: Plan,
    radius: float,
    prev: np.ndarray,
    threshold: float,
    phase: str,
    base: float,
    max_len: int | None = None,
) -> tuple[list[Stroke], np.ndarray]:
    """One Hertzmann layer: strokes of ``radius`` where the picture blurred at that scale differs
    from what the previous layers gave. Returns (strokes, this layer's reference)."""
    rc = plan.recipe
    ref = cv2.GaussianBlur(plan.target, (0, 0), max(radius * 0.5, 0.8))
    err = np.abs(ref - prev).sum(-1)
    err = cv2.blur(err, (max(1, int(radius)),) * 2)
    seeds = jittered_grid(*ref.shape[:2], spacing=radius * 0.9 / plan.detail, rng=plan.rng)
    seeds = seeds[err[seeds[:, 1].astype(int), seeds[:, 0].astype(int)] > threshold]
    if len(seeds) == 0:
        return [], ref
    cos, sin = fields.tangent_field(fields.luminance(ref), sigma=max(radius, 2.0), rng=plan.rng)
    lines, colours = trace_curved(seeds, ref, prev, cos, sin, radius, max_len=max_len or rc.stroke_len)
    colours = _jitter(plan, colours, 5.0 if radius > 6 else 3.0)
    keys = base + order_key(plan, seeds, cell=radius * 6)
    r = max(1, int(round(radius)))
    soft = rc.softness * radius
    out = [
        Stroke(ln, r, c, rc.alpha, phase, rc.texture, soft, key=k) for ln, c, k in zip(lines, colours, keys)
    ]
    return out, ref


def detail_strokes(plan: Plan, prev: np.ndarray, phase: str = "details") -> list[Stroke]:
    """The finishing pass: small strokes that lay down the picture's own pixels wherever the
    colour layers left a visible difference; calm passages first, edges next, highlights last."""
    s = plan.side
    r = max(2, int(round(s / 220 / plan.detail)))
    err = cv2.blur(np.abs(plan.target - prev).sum(-1), (r * 2 + 1,) * 2)
    seeds = jittered_grid(*prev.shape[:2], spacing=r * 1.8, rng=plan.rng)
    sx, sy = seeds[:, 0].astype(int), seeds[:, 1].astype(int)
    seeds = seeds[err[sy, sx] > 6.0]
    sx, sy = seeds[:, 0].astype(int), seeds[:, 1].astype(int)
    lum = fields.luminance(plan.target)
    score = err[sy, sx] / (np.percentile(err, 99) + 1e-6) + np.clip((lum[sy, sx] - 200) / 55, 0, 1)
    band = np.digitize(score, [0.35, 0.7, 1.1]).astype(np.float32)
    cos, sin = fields.tangent_field(lum, sigma=2.0 * r, rng=plan.rng)
    lines, _ = trace_curved(seeds, plan.target, prev, cos, sin, r, max_len=6, min_len=3)
    keys = band + order_key(plan, seeds, cell=r * 12) * 0.5
    return [Stroke(ln, r, None, 1.0, phase, key=k) for ln, k in zip(lines, keys)]


def paint_plan(plan: Plan) -> list[Stroke]:
    rc = plan.recipe
    s = plan.side
    strokes = sketch_strokes(plan, "sketch", rc.sketch_colour, 0.45, 1 / 70, limit=120)
    r0 = rc.block_size * s
    prev = plan.ground
    # The block-in is a coarse version of the picture's own values: short dabs of the blurred
    # picture's colour, not long strokes that drag one colour across a face (issue 12).
    block, prev = layer_strokes(plan, r0, prev, threshold=-1.0, phase="block", base=0.0, max_len=BLOCK_LEN)
    strokes += block
    radius = r0
    for i in range(rc.layers):
        radius = max(radius / 2, 2.0)
        layer, prev = layer_strokes(plan, radius, prev, threshold=25.0, phase="layers", base=float(i + 1))
        strokes += layer
    strokes += detail_strokes(plan, prev)
    return strokes


def hatching_strokes(plan: Plan, phase: str = "hatching", levels: int = 5) -> list[Stroke]:
    """Tone by hatching: one hatch direction per tone level, lightest first and darkest last, each
    level covering the part of the picture at least that dark (so darks get cross-hatched). Under
    coloured pencil (``plan.colour``) the value study is lighter: the colour carries the tone."""
    weight = 0.6 if plan.colour else 1.0
    s = plan.side
    lum = cv2.GaussianBlur(plan.lum, (0, 0), max(1.0, s / 300))
    out: list[Stroke] = []
    spacing = max(3.0, s / 110) / plan.detail
    for i, level in enumerate(np.linspace(0.78, 0.2, levels)):
        mask = lum < level * 255
        if not mask.any():
            continue
        clip = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.5)
        angle = -0.8 + i * 0.55 + plan.rng.uniform(-0.08, 0.08)
        # Light tones get open hatching, darks denser.
        segs = hatch_lines(mask, angle, spacing * (1.6 - 0.15 * i), seg_len=s / 14, rng=plan.rng)
        seeds = np.array([seg.mean(0) for seg in segs]) if segs else np.zeros((0, 2))
        keys = i + order_key(plan, seeds, cell=s / 8) if len(segs) else []
        for seg, k in zip(segs, keys):
            out.append(
                Stroke(seg, 1, GRAPHITE, (0.2 + 0.05 * i) * weight, phase, texture=0.5, clip=clip, key=k)
            )
    return out


def contour_strokes(plan: Plan, lines: list[np.ndarray], colour, alpha: float, phase: str) -> list[Stroke]:
    """Drawn lines with a hand's touch: a slight wobble and pressure that swells and lifts."""
    out = []
    col = np.asarray(colour, np.float32)
    for i, ln in enumerate(lines):
        pts = (np.asarray(ln, np.float32) + plan.rng.normal(0, 0.35, ln.shape)).round().astype(np.int32)
        p = pressure_profile(len(pts), plan.rng)
        out.append(Stroke(pts, 1, col, alpha, phase, texture=0.35, key=i, pressure=p))
    return out


def pencil_plan(plan: Plan) -> list[Stroke]:
    s = plan.side
    strokes = sketch_strokes(plan, "construction", GRAPHITE, 0.22, 1 / 60, limit=80)
    contours = contour_lines(plan.lum, sigma=max(1.0, s / 220), min_length=s / 16, seg_len=s / 2.5)[:300]
    strokes += contour_strokes(plan, contours, GRAPHITE * 0.8, 0.7, "contours")
    strokes += hatching_strokes(plan)
    return strokes + graphite_details(plan)


def graphite_details(plan: Plan) -> list[Stroke]:
    """The hatched tone approximates the picture's luminance; details close the remaining gap.
    On a colour picture the gap is closed by coloured pencil instead (``colourpencil.py``):
    details that laid the picture's own pixels would pop its colour in."""
    if plan.colour:
        return []
    approx = plan.ground + (np.repeat(plan.lum[..., None], 3, -1) - plan.ground) * 0.85
    return detail_strokes(plan, approx)
