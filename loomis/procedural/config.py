"""Configuration of the procedural painter: the per-run ``ProceduralConfig`` and the per-medium
``Recipe`` (defaults here, overridden by the ``procedural:`` row of ``loomis/data/mediums.yaml``).

Recipe keys (all optional in the YAML except ``recipe``):

``recipe``        which process is built: a row of the recipe table (``kinds.KINDS``)
``ground``        RGB of the blank support (canvas tone or paper)
``stylise``       transfer targets only: pencil-mono | children | coloring-book | watercolor
``alpha``         opacity of one colour stroke (acrylic ~0.9, oil softer)
``softness``      edge blur of a stroke in pixels (0 = crisp acrylic edges, >0 = blended oil)
``texture``       strength of the bristle streaks inside a stroke, 0..1
``layers``        number of coarse-to-fine colour layers after the block-in
``block_size``    block-in brush radius as a fraction of the long side
``stroke_len``    longest curved stroke, in brush radii
``sketch_colour`` RGB of the composition lines (umber for paint, graphite for pencil)
``phases``        share of the video's time per phase, e.g. {sketch: 0.1, block: 0.3, …}
``fill_size``     colouring: radius of the colouring-in stroke, fraction of the long side
``fill_slant``    colouring: how much the hand's slant changes from area to area (radians)
``wobble``        colouring: how far the hand's turning points stray, in stroke radii
``ease``          ``human`` speed: ease-out exponent inside a phase (2.2 fitted on acrylic)
``curve``         [base, colour]: ``human`` speed as one curve of the evaluation's distance,
                  d(t) ∝ (1 - t)^a with a = base + colour × (chroma - 0.3), chroma = the picture's
                  mean (max - min) / 255 — a colourful picture's distance falls later (its
                  colour lands after the drawing). Replaces the per-phase shares for timing.
``paced``         phases whose time goes with the number of strokes (the hand's work), not with
                  how much closer the picture gets (e.g. [fills] for colouring in)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loomis.errors import InputError

SPEEDS = ("human", "linear", "fast", "strokes")

# Phase shares of the video time; names are the phases the recipes emit (a missing phase's share
# is redistributed). Fitted (PDP, bench/bench_procedural.py) to the two real human acrylic
# processes in shared/realdata: a short drawing lull, a quick block-in, the colour layers take
# most of the time, details and highlights the last fifth.
PAINT_PHASES = {"sketch": 0.06, "block": 0.25, "layers": 0.49, "details": 0.2}
PENCIL_PHASES = {"construction": 0.08, "contours": 0.22, "hatching": 0.5, "details": 0.2}
COLOURING_PHASES = {"outlines": 0.3, "fills": 0.7}
LOOMIS_PHASES = {"construction": 0.18, "features": 0.17, "contours": 0.1, "hatching": 0.35, "details": 0.2}
# Pencil or loomis on a colour picture: the graphite phases (without their details) share this
# much of the time, coloured-pencil hatching and the final blending the rest.
WATERCOLOUR_PHASES = {"sketch": 0.08, "washes": 0.6, "details": 0.32}
COLOUR_PENCIL_PHASES = {"graphite": 0.42, "colour": 0.38, "blending": 0.2}
# Digital: fitted (random search, PDP + PDP-norm) on the development set's TUNING part only
# (loomis.metrics.devset; bench/bench_procedural.py reports held-out separately), with ease 1.
DIGITAL_PHASES = {"sketch": 0.06, "lineart": 0.13, "flats": 0.3, "shading": 0.14, "rendering": 0.37}


@dataclass(frozen=True)
class Recipe:
    """One medium's procedural recipe (see module doc for the keys)."""

    recipe: str = "paint"
    ground: tuple[int, int, int] = (240, 236, 228)
    stylise: str | None = None
    alpha: float = 0.9
    softness: float = 0.0
    texture: float = 0.35
    layers: int = 3
    block_size: float = 0.07
    stroke_len: int = 8
    sketch_colour: tuple[int, int, int] = (92, 70, 52)
    phases: Mapping[str, float] = field(default_factory=lambda: dict(PAINT_PHASES))
    fill_size: float = 0.012
    fill_slant: float = 0.3
    wobble: float = 0.15
    paced: tuple[str, ...] = ()
    ease: float = 2.2  # ``human`` speed: ease-out exponent inside a phase (1 = even)
    curve: tuple[float, float] | None = None  # ``human`` speed as one per-picture curve (below)


@dataclass(frozen=True)
class ProceduralConfig:
    """Controls of one procedural painting run.

    frames:    number of output frames (frame 0 = blank ground, last = finished picture)
    seed:      random seed; the same seed gives the same process
    speed:     how progress is spread over time — ``human`` (per-phase shares fitted to real
               processes), ``linear`` (equal change per frame), ``fast`` (fast early, slow late),
               ``strokes`` (equal number of strokes per frame)
    depth:     optional (H, W) depth map, larger = nearer; far regions are painted first
    max_side:  scale the picture so that its long side is at most this (None = keep its size)
    detail:    stroke density multiplier (>1 = more, smaller strokes; slower)
    start:     optional (H, W, 3) uint8 canvas to continue from (the learner's own sketch or
               half-finished painting, aligned with the picture): frame 0 shows it and what
               already matches the picture is kept (``partial.py``)
    """

    frames: int = 49
    seed: int = 0
    speed: str = "human"
    depth: Any = None
    max_side: int | None = None
    detail: float = 1.0
    start: Any = None

    def validate(self) -> None:
        if int(self.frames) < 2:
            raise InputError(f"frames must be at least 2, got {self.frames}")
        if self.speed not in SPEEDS:
            raise InputError(f"unknown speed profile {self.speed!r}; choose one of {', '.join(SPEEDS)}")
        if self.max_side is not None and int(self.max_side) < 16:
            raise InputError(f"max_side must be at least 16 pixels, got {self.max_side}")
        if not 0.25 <= float(self.detail) <= 4.0:
            raise InputError(f"detail must be between 0.25 and 4, got {self.detail}")
