"""Coloured pencil over a graphite drawing: how ``pencil`` and ``loomis`` earn a colour input's
colour instead of letting the photograph pop in at the end.

After the graphite phases (construction, contours, tonal hatching) the hand takes up coloured
pencils: short hatching strokes that follow the form (the smoothed contour direction field),
region by region (far to near), each region in layers from a light tint to the full value, the
second layer crossing the first at a slant, so the paper's tooth and the hatching direction stay
visible. A blending / burnishing pass (a colourless blender pressed along the same directions)
then smooths the layers into the finished picture.

A greyscale or barely coloured input skips all of this: graphite alone converges to it.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.procedural import fields
from loomis.procedural.recipes import Plan, order_key
from loomis.procedural.strokes import Stroke, jittered_grid, pressure_profile, trace_curved

# Hasler & Süsstrunk colourfulness above which a picture counts as a colour picture (a sepia or
# faintly tinted photograph scores ~5-12, an ordinary colour photograph 30-80).
COLOURFUL = 18.0

# (blur of the reference as a fraction of the long side, share of the way from paper to it,
# stroke opacity, slant against the form in radians, error threshold): a light tint laid over the
# whole passage, a crossing layer at nearly full value, the darks and the detail last.
LAYERS = (
    (1 / 70, 0.6, 0.55, 0.0, 12.0),
    (1 / 160, 0.85, 0.65, 0.7, 12.0),
    (1 / 400, 1.0, 0.75, -0.35, 12.0),
    (1 / 900, 1.0, 0.8, 0.0, 16.0),
)


def colourfulness(img: np.ndarray) -> float:
    """Hasler & Süsstrunk's colourfulness of an RGB picture (0 for grey), on a small copy."""
    h, w = img.shape[:2]
    f = min(1.0, 160 / max(h, w))
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    r, g, b = (small[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def paper_tooth(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Where a pencil point catches the paper, 0.35..1: fine isotropic grain, a little clumped."""
    h, w = shape
    grain = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 0.8)
    grain = (grain - grain.mean()) / (grain.std() + 1e-6)
    return np.clip(0.72 + 0.28 * grain, 0.35, 1.0).astype(np.float32)


def _rotate(cos: np.ndarray, sin: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return cos * c - sin * s, cos * s + sin * c


def colour_strokes(plan: Plan, phase: str = "colour") -> list[Stroke]:
    """Coloured-pencil hatching: for each region (far first) the layers of ``LAYERS`` in turn,
    strokes only where the layer still has something to add."""
    s, rng = plan.side, plan.rng
    h, w = plan.target.shape[:2]
    r = max(1, round(s / 420))
    step = max(3.0, s / 110)  # one hatching stroke: up to 7 steps along the form
    gap = max(2.0, s / 260) / plan.detail  # distance between neighbouring strokes
    lum = cv2.GaussianBlur(plan.lum, (0, 0), max(2.0, s / 120))
    cos0, sin0 = fields.tangent_field(lum, sigma=max(4.0, s / 40), rng=rng)
    tooth = paper_tooth((h, w), rng)
    # What the graphite left, roughly: the picture's tone at most of its strength.
    prev = plan.ground + (np.repeat(plan.lum[..., None], 3, -1) - plan.ground) * 0.5
    out: list[Stroke] = []
    for i, (blur, share, alpha, slant, thr) in enumerate(LAYERS):
        ref = cv2.GaussianBlur(plan.target, (0, 0), max(1.0, blur * s))
        tint = plan.ground + (ref - plan.ground) * share
        err = cv2.blur(np.abs(tint - prev).sum(-1), (int(step),) * 2)
        spacing = np.sqrt(step * 6 * gap)  # seeds per area so strokes land about ``gap`` apart
        seeds = jittered_grid(h, w, spacing, rng)
        seeds = seeds[err[seeds[:, 1].astype(int), seeds[:, 0].astype(int)] > thr]
        if len(seeds) == 0:
            continue
        cos, sin = _rotate(cos0, sin0, slant + rng.uniform(-0.08, 0.08))
        lines, colours = trace_curved(
            seeds, tint, plan.ground, cos, sin, step, max_len=7, min_len=3, inertia=0.6
        )
        colours = np.clip(colours + rng.normal(0, 4.0, colours.shape).astype(np.float32), 0, 255)
        keys = order_key(plan, seeds, cell=s / 10) + 0.035 * i
        for ln, c, k in zip(lines, colours, keys):
            p = pressure_profile(len(ln), rng, low=0.4)
            out.append(Stroke(ln, r, c, alpha, phase, texture=0.3, clip=tooth, key=k, pressure=p))
        prev = tint
    return out


def burnish_strokes(plan: Plan, phase: str = "blending") -> list[Stroke]:
    """The blender, in two passes over the whole picture (region by region, far first): soft
    strokes along the form that smudge the hatching into even colour (the picture's local
    colour), then firm short strokes that burnish it into the paper's tooth and close on the
    finished picture (its own pixels) — so no passage is finished while the rest is still raw
    hatching."""
    s, rng = plan.side, plan.rng
    h, w = plan.target.shape[:2]
    r = max(2, round(s / 160 / plan.detail))
    lum = cv2.GaussianBlur(plan.lum, (0, 0), max(2.0, s / 120))
    cos, sin = fields.tangent_field(lum, sigma=max(4.0, s / 40), rng=rng)
    smooth = cv2.GaussianBlur(plan.target, (0, 0), r)
    out: list[Stroke] = []
    for i, (ref, alpha, soft) in enumerate(((smooth, 0.6, 1.2), (plan.target, 0.85, 0.6))):
        seeds = jittered_grid(h, w, r * 1.7, rng)
        lines, colours = trace_curved(seeds, ref, plan.ground, cos, sin, r, max_len=5, min_len=3, inertia=0.6)
        keys = order_key(plan, seeds, cell=s / 10) + 2.0 * i
        for ln, c, k in zip(lines, colours, keys):
            out.append(Stroke(ln, r, c if i == 0 else None, alpha, phase, texture=0.15, softness=soft, key=k))
    return out
