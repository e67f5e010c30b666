"""The watercolour recipe: a faint pencil sketch, then transparent washes from light to dark.

The finished (restyled) picture is split into value layers between the paper and itself: the
first is a broad, pale version of it (a heavily blurred transmittance, a fraction of its
strength), each next one sharper and darker, the last the picture itself. Washes are big, soft,
wet-in-wet strokes that *glaze*: they only ever darken, multiplying the paper's light by a
transmittance towards their layer's value, with pigment pooling in a dark rim at their edge and
granulating in the paper's tooth. Passes go region by region, far first. After the washes the
canvas is rendered once to see what they left, and smaller, darker strokes paint in the details
where it is still too light, with a few dry-brush accents (broken strokes that skip over the
tooth) in the darks.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.procedural import fields
from loomis.procedural.recipes import Plan, order_key, sketch_strokes
from loomis.procedural.render import Canvas
from loomis.procedural.strokes import Stroke, jittered_grid, trace_curved

# (blur of the transmittance as a fraction of the long side, its strength as an exponent,
# brush radius as a fraction of the long side, opacity, rim): broad pale washes → darker, smaller.
WASHES = (
    (1 / 90, 0.5, 1 / 14, 0.85, 0.6),
    (1 / 45, 0.75, 1 / 24, 0.8, 0.7),
    (1 / 110, 0.9, 1 / 45, 0.8, 0.7),
)


def granulation(shape: tuple[int, int], rng: np.random.Generator, side: int) -> np.ndarray:
    """Pigment settling in the paper's tooth: clumpy fine noise, 0.55..1."""
    h, w = shape
    fine = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 1.2)
    fine = (fine - fine.mean()) / (fine.std() + 1e-6)
    coarse = fields.smooth_noise(shape, side / 30, rng)
    return np.clip(0.85 + 0.06 * fine + 0.08 * coarse, 0.6, 1.0).astype(np.float32)


def _flatten(plan: Plan, i: int, blur: float) -> np.ndarray:
    """The picture as wash ``i`` sees it: first its big colour regions, each one flat tone (a
    wash is one puddle of one mixture), then ever less simplified versions."""
    s = plan.side
    if i == 0:
        k = int(plan.labels.max()) + 1
        flat = plan.labels.ravel()
        means = np.stack(
            [
                np.bincount(flat, plan.target[..., c].ravel(), k) / np.maximum(np.bincount(flat, None, k), 1)
                for c in range(3)
            ],
            1,
        )
        out = means[plan.labels].astype(np.float32)
        return cv2.GaussianBlur(out, (0, 0), blur * s)  # wet-in-wet: the edges bleed
    img = np.clip(plan.target, 0, 255).astype(np.uint8)
    out = cv2.edgePreservingFilter(img, flags=cv2.RECURS_FILTER, sigma_s=blur * s * 3, sigma_r=0.5 / i)
    return out.astype(np.float32)


def value_layers(plan: Plan) -> list[np.ndarray]:
    """The cumulative value of each wash layer, lightest first, each no lighter than the one
    before; the last is the finished picture."""
    paper = np.maximum(plan.ground, 1.0)
    out, prev = [], paper
    for i, (blur, strength, *_) in enumerate(WASHES):
        t = np.clip(_flatten(plan, i, blur) / paper, 0.02, 1.0)
        # Never darker than the finished picture: a glaze cannot be lifted again.
        prev = np.maximum(np.minimum(prev, paper * np.power(t, strength)), plan.target)
        out.append(prev.astype(np.float32))
    out.append(np.minimum(prev, plan.target).astype(np.float32))
    return out


def _field(plan: Plan, sigma: float):
    lum = cv2.GaussianBlur(plan.lum, (0, 0), max(2.0, sigma))
    return fields.tangent_field(lum, sigma=max(4.0, sigma), rng=plan.rng)


def wash_strokes(plan: Plan, layers: list[np.ndarray], grain: np.ndarray) -> list[Stroke]:
    s, rng = plan.side, plan.rng
    h, w = plan.target.shape[:2]
    out: list[Stroke] = []
    prev = plan.ground
    for i, (blur, _, size, alpha, rim) in enumerate(WASHES):
        r = max(2.0, size * s / plan.detail)
        need = cv2.blur((prev - layers[i]).max(-1), (int(r),) * 2)
        seeds = jittered_grid(h, w, r * 1.1, rng)
        seeds = seeds[need[seeds[:, 1].astype(int), seeds[:, 0].astype(int)] > 4.0]
        if len(seeds) == 0:
            continue
        cos, sin = _field(plan, blur * s)
        lines, _ = trace_curved(seeds, layers[i], prev, cos, sin, r * 0.8, max_len=6, min_len=2, inertia=0.5)
        keys = i + order_key(plan, seeds, cell=s / 5) * 0.9
        ri = int(round(r * 0.7))
        for ln, k in zip(lines, keys):
            a = alpha * rng.uniform(0.8, 1.0)
            out.append(
                Stroke(ln, ri, None, a, "washes", softness=0.45 * r, clip=grain, key=k, glaze=i, rim=rim)
            )
        prev = layers[i]
    return out


def detail_glazes(plan: Plan, canvas: Canvas, grain: np.ndarray, last: int) -> list[Stroke]:
    """Smaller, darker strokes where the washes left the canvas too light (measured on the
    canvas itself), then dry-brush accents in the darks."""
    s, rng = plan.side, plan.rng
    h, w = plan.target.shape[:2]
    out: list[Stroke] = []
    lum = fields.luminance(plan.target)
    for j, (size, alpha, thr) in enumerate(((1 / 90, 0.8, 10.0), (1 / 220, 0.9, 8.0))):
        r = max(1.5, size * s / plan.detail)
        need = cv2.blur((canvas.pixels - canvas.layers[last]).max(-1), (int(r) * 2 + 1,) * 2)
        seeds = jittered_grid(h, w, r * 1.3, rng)
        seeds = seeds[need[seeds[:, 1].astype(int), seeds[:, 0].astype(int)] > thr]
        cos, sin = _field(plan, 3 * r)
        lines, _ = trace_curved(seeds, plan.target, canvas.pixels, cos, sin, r, max_len=6, min_len=2)
        keys = j + order_key(plan, seeds, cell=s / 8) * 0.9
        ri = max(1, int(round(r)))
        layer = [
            Stroke(ln, ri, None, alpha, "details", softness=0.3 * r, clip=grain, key=k, glaze=last)
            for ln, k in zip(lines, keys)
        ]
        for st in layer:
            canvas.draw(st)
        out += layer
    # Dry brush: a loaded brush dragged fast over the tooth leaves broken marks in the darks.
    dark = np.flatnonzero(lum.ravel() < np.percentile(lum, 15))
    if len(dark):
        pick = rng.choice(dark, size=min(len(dark), max(6, int(s / 25))), replace=False)
        seeds = np.stack([pick % w, pick // w], 1).astype(np.float32)
        cos, sin = _field(plan, s / 60)
        r = max(1.5, s / 260)
        lines, _ = trace_curved(
            seeds, plan.target, plan.ground, cos, sin, 3 * r, max_len=6, min_len=3, inertia=0.8
        )
        tooth = (rng.random((h, w), dtype=np.float32) > 0.45).astype(np.float32)
        for ln in lines:
            out.append(Stroke(ln, int(round(r)), None, 1.0, "details", clip=tooth, key=3.0, glaze=last))
    return out


def watercolour_plan(plan: Plan) -> list[Stroke]:
    strokes = sketch_strokes(plan, "sketch", plan.recipe.sketch_colour, 0.16, 1 / 60, limit=90)
    layers = value_layers(plan)
    plan.layers = layers
    grain = granulation(plan.target.shape[:2], plan.rng, plan.side)
    washes = wash_strokes(plan, layers, grain)
    # What the washes really left (they are few, big strokes: cheap to render once here).
    canvas = Canvas(plan.ground, plan.target, np.full(plan.target.shape[:2], 0.5, np.float32), layers=layers)
    for st in strokes + washes:
        canvas.draw(st)
    return strokes + washes + detail_glazes(plan, canvas, grain, len(layers) - 1)
