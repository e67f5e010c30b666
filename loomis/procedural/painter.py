"""``paint(image, medium, cfg) -> frames``: the weight-free painting process of one picture.

Pipeline: check inputs → (resize) → stylise for transfer targets → analyse (regions, depth
order, stroke field, bristle texture) → plan the medium's strokes in painting order → measure the
distance to the finished picture after every stroke → place frame cuts by the speed profile →
render and snapshot. Frame 0 is the bare ground; the last frame is the (stylised) picture.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from loomis.errors import InputError
from loomis.mediums import Medium, get_medium
from loomis.procedural import fields
from loomis.procedural.colourpencil import COLOURFUL, burnish_strokes, colour_strokes, colourfulness
from loomis.procedural.config import COLOUR_PENCIL_PHASES, PENCIL_PHASES, ProceduralConfig, Recipe
from loomis.procedural.face import detect_face
from loomis.procedural.finish import measure_plan, with_finish
from loomis.procedural.kinds import kind_of, recipe_for
from loomis.procedural.partial import keep_canvas, start_ground
from loomis.procedural.recipes import Plan
from loomis.procedural.render import Canvas, film
from loomis.procedural.schedule import plan_cuts
from loomis.procedural.strokes import Stroke
from loomis.procedural.stylise import stylise

log = logging.getLogger(__name__)

_hinted: set[str] = set()  # the pencil-mono hint is logged once per process


def check_image(image) -> np.ndarray:
    """Accept (H, W, 3) uint8 RGB (also greyscale (H, W) and RGBA, converted); else InputError."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"image must be an (H, W, 3) RGB array, got shape {arr.shape}")
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise InputError(f"image is too small to paint ({arr.shape[1]}x{arr.shape[0]}); use at least 8x8")
    if arr.dtype != np.uint8:
        raise InputError(f"image must be uint8, got {arr.dtype}")
    return np.ascontiguousarray(arr[..., :3])


def fit_size(image: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    size = (max(8, round(w * s)), max(8, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def make_ground(shape: tuple[int, int], colour, rng: np.random.Generator, paper: bool) -> np.ndarray:
    """The blank support: a toned ground is brushed on unevenly (broad, soft variation); paper
    is nearly flat."""
    h, w = shape
    base = np.broadcast_to(np.asarray(colour, np.float32), (h, w, 3)).copy()
    amp = 2.0 if paper else 6.0
    base += amp * fields.smooth_noise((h, w), max(h, w) / 6, rng)[..., None]
    return np.clip(base, 0, 255)


def order_strokes(strokes: list[Stroke]) -> list[Stroke]:
    """Phases in the order the recipe emitted them; inside a phase, by key."""
    first: dict[str, int] = {}
    for s in strokes:
        first.setdefault(s.phase, len(first))
    return sorted(strokes, key=lambda s: (first[s.phase], s.key))


def paint(
    image: np.ndarray,
    medium: Medium | str,
    cfg: ProceduralConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_stroke: Callable | None = None,
) -> list[np.ndarray]:
    """Paint ``image`` in ``medium`` (a ``Medium``; a name is looked up once); returns
    ``cfg.frames`` uint8 RGB frames in painting order. ``progress(done, total)`` is called once
    per frame; ``on_stroke(stroke, frame, canvas)`` hears of every stroke drawn
    (``record.StrokeRecorder``)."""
    cfg = cfg or ProceduralConfig()
    cfg.validate()
    return _Painting(image, get_medium(medium), cfg).film(cfg.speed, progress, on_stroke)


def paint_speeds(image: np.ndarray, medium: Medium | str, cfg: ProceduralConfig, speeds) -> dict:
    """One plan filmed at several speed profiles ({speed: frames}; the benchmark's shortcut)."""
    cfg.validate()
    painting = _Painting(image, get_medium(medium), cfg)
    return {speed: painting.film(speed) for speed in speeds}


class _Painting:
    """A planned and measured painting: strokes in order and the distance after each."""

    def __init__(self, image: np.ndarray, med: Medium, cfg: ProceduralConfig) -> None:
        recipe = recipe_for(med)
        image = fit_size(check_image(image), cfg.max_side)
        t0 = time.perf_counter()
        rng = np.random.default_rng(cfg.seed)
        target, layout = stylise(image, recipe.stylise, rng) if recipe.stylise else (image, None)
        face = None
        if kind_of(recipe).face:
            face = detect_face(target)
            if face is None:
                log.warning("loomis: no face found in the picture; drawing it with the pencil recipe instead")
                recipe = replace(recipe, recipe="pencil", phases=dict(PENCIL_PHASES))
            else:
                log.info("loomis: face at x=%d y=%d w=%d h=%d", *face)
        plan = _make_plan(target, recipe, cfg, rng)
        plan.face, plan.layout = face, layout
        if kind_of(recipe).graphite and colourfulness(target) > COLOURFUL:
            _hint_mono(med.name)
            plan.colour = True
            recipe = replace(recipe, phases=colour_phases(recipe.phases))
        strokes = kind_of(recipe).plan(plan)
        if plan.colour:
            strokes += colour_strokes(plan) + burnish_strokes(plan)
        strokes = order_strokes(strokes)
        if cfg.start is not None:
            strokes = keep_canvas(strokes, plan.ground, plan.target)
        t1 = time.perf_counter()
        lum = cv2.GaussianBlur(plan.lum, (0, 0), max(2.0, plan.side / 200))
        cos, sin = fields.tangent_field(lum, sigma=max(2.0, plan.side / 150), rng=rng)
        regions = (
            plan.regions if plan.regions is not None else (layout.regions if layout is not None else None)
        )
        self.canvas = Canvas(
            plan.ground, plan.target, fields.bristle_texture(cos, sin, rng), regions, plan.layers
        )
        finish = cfg.start is None
        self.strokes, self.dist, self.seen = measure_plan(
            self.canvas, strokes, plan.rank, plan.detail, finish
        )
        self.phases = [s.phase for s in self.strokes]
        self.shares = with_finish(recipe.phases, self.dist, self.phases)
        self.recipe, self.target, self.frames = recipe, target, int(cfg.frames)
        self.exponent = human_exponent(recipe, target)
        log.debug("procedural %s: %d strokes, plan %.2fs, measure %.2fs", med.name, len(self.strokes),
                  t1 - t0, time.perf_counter() - t1)  # fmt: skip

    def film(self, speed: str, progress: Callable | None = None, on_stroke: Callable | None = None) -> list:
        rc = self.recipe
        cuts = plan_cuts(
            self.dist,
            self.phases,
            self.shares,
            self.frames,
            speed,
            rc.paced,
            self.seen,
            rc.ease,
            self.exponent,
        )
        frames = film(self.canvas, self.strokes, cuts, progress, on_stroke)
        # Any pixel the last strokes only half covered: the finished picture is the finished picture.
        frames[-1] = self.target.copy()
        return frames


def human_exponent(recipe: Recipe, picture: np.ndarray) -> float | None:
    """The recipe's per-picture ``human`` curve exponent (``Recipe.curve``), or None."""
    if recipe.curve is None:
        return None
    base, colour = recipe.curve
    chroma = float((picture.max(-1).astype(np.float32) - picture.min(-1)).mean() / 255.0)
    return float(np.clip(base + colour * (chroma - 0.3), 0.6, 3.0))


def colour_phases(graphite: dict[str, float]) -> dict[str, float]:
    """Phase shares for coloured pencil after graphite: the graphite phases (their details
    dropped: the colour closes the gap) squeezed into their share, then colour and blending."""
    kept = {k: v for k, v in graphite.items() if k != "details"}
    total = sum(kept.values()) or 1.0
    out = {k: v / total * COLOUR_PENCIL_PHASES["graphite"] for k, v in kept.items()}
    out.update(colour=COLOUR_PENCIL_PHASES["colour"], blending=COLOUR_PENCIL_PHASES["blending"])
    return out


def _hint_mono(medium: str) -> None:
    if medium in _hinted:
        return
    _hinted.add(medium)
    log.info(
        "%s: the picture is in colour, so the drawing is finished in coloured pencil; "
        "--medium pencil-mono gives a graphite-only drawing",
        medium,
    )


def _make_plan(target: np.ndarray, recipe: Recipe, cfg: ProceduralConfig, rng: np.random.Generator) -> Plan:
    paper = kind_of(recipe).paper
    if cfg.start is not None:
        ground = start_ground(cfg.start, target.shape[:2])
    else:
        ground = make_ground(target.shape[:2], recipe.ground, rng, paper)
    if cfg.depth is not None:
        depth = np.asarray(cfg.depth)
        if depth.ndim not in (2, 3) or depth.size == 0:
            raise InputError(f"depth map must be an (H, W) array, got shape {depth.shape}")
    near = fields.depth_proxy(target, cfg.depth)
    if cfg.depth is None:
        subject, figure = fields.subject_map(target)
        if figure:  # a figure stands out: it is painted first, its surroundings after
            near = 1.0 - subject
    labels = fields.colour_regions(target, k=7, rng=rng)
    rank = fields.region_rank(labels, near)
    return Plan(target.astype(np.float32), ground, recipe, rank, labels, rng, float(cfg.detail))
