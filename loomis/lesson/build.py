"""``build_lesson(frames, medium, cfg) -> Lesson``: a painting process read as a lesson.

Measure every transition (``measure``) → split into named stages at the points where the kind of
change changes (``stages``) → cut each stage into a few key steps of equal work (equal summed
ΔE) → per step: the changed region, its palette (``palette``), the brush size, a mixing recipe
per colour (``mixing``) and a one-line instruction built from these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from loomis.errors import InputError
from loomis.lesson import measure, stages
from loomis.lesson.mixing import Paint, PaintSet, Recipe, default_paints
from loomis.lesson.model import Lesson, Stage, Step
from loomis.lesson.palette import Swatch, extract_palette

log = logging.getLogger(__name__)

VERBS = {
    "line": "Draw the main lines",
    "block": "Block in the big shapes",
    "build": "Build up the colour",
    "detail": "Add the details",
}
# Stage names whose work has its own words (digital, pencil, watercolour vocabularies).
NAMED_VERBS = {
    "line art": "Draw the line art",
    "flats": "Lay in the flat colours",
    "shading": "Shade",
    "construction": "Draw the construction lines",
    "tones": "Lay in the tones",
    "washes": "Lay the washes",
    "glazes": "Glaze",
}


@dataclass(frozen=True)
class LessonConfig:
    steps_per_stage: int = 3
    max_side: int = 256  # analysis size (long side)
    display_side: int = 640  # size of the pictures in the lesson (long side)
    max_frames: int = 160  # longer processes are subsampled evenly
    recipes: bool = True
    seed: int = 0

    def validate(self) -> None:
        if not 1 <= int(self.steps_per_stage) <= 12:
            raise InputError(f"steps per stage must be 1..12, got {self.steps_per_stage}")
        if not 64 <= int(self.max_side) <= 1024:
            raise InputError(f"analysis size must be 64..1024 pixels, got {self.max_side}")
        if not 3 <= int(self.max_frames) <= 2000:
            raise InputError(f"max frames must be 3..2000, got {self.max_frames}")


def build_lesson(
    frames: list[np.ndarray],
    medium: str | None = None,
    cfg: LessonConfig | None = None,
    paints: list[Paint] | None = None,
    source: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> Lesson:
    """Read the process ``frames`` (painting order, uint8 RGB) as a lesson."""
    cfg = cfg or LessonConfig()
    cfg.validate()
    fr = measure.prepare(frames, cfg.max_side, cfg.max_frames)
    trans = measure.transitions(fr)
    spans = stages.split(trans, max_stages=len(stages.vocabulary(medium)))
    named = stages.name_stages(spans, trans, stages.vocabulary(medium))
    paint_list = paints if paints is not None else default_paints()
    mixer = _Mixer(PaintSet(paint_list)) if cfg.recipes else None
    display = _Display(frames, cfg.display_side)
    out_stages: list[Stage] = []
    out_steps: list[Step] = []
    for k, span in enumerate(named):
        st = Stage(k, span.name, span.kind, (fr.source_index[span.first], fr.source_index[span.last]))
        for a, b in step_spans(span.first, span.last, trans, cfg.steps_per_stage):
            step = _make_step(len(out_steps), k, span, a, b, fr, trans, mixer, display, cfg)
            st.steps.append(step.index)
            out_steps.append(step)
            if progress is not None:
                progress(len(out_steps), len(out_steps) + 1)
        st.summary = _summary(st, [out_steps[i] for i in st.steps])
        out_stages.append(st)
    h, w = frames[0].shape[:2]
    return Lesson(
        source=source,
        medium=medium,
        n_frames=len(frames),
        size=(w, h),
        analysis_size=fr.size,
        stages=out_stages,
        steps=out_steps,
        paints=[
            {"name": p.name, "rgb": "#{:02x}{:02x}{:02x}".format(*p.rgb), "strength": p.strength}
            for p in paint_list
        ],
        final=display(len(frames) - 1),
        first=display(0),
    )


def step_spans(first: int, last: int, trans: list[measure.Transition], n: int) -> list[tuple[int, int]]:
    """Cut the stage (analysis frames ``first..last``) into at most ``n`` steps carrying equal
    shares of its change (summed ΔE); steps without change are not made."""
    amounts = np.array([trans[i - 1].amount for i in range(first + 1, last + 1)])
    if last <= first or amounts.sum() <= 0:
        return [(first, last)] if last > first else []
    cum = np.cumsum(amounts) / amounts.sum()
    bounds = [first]
    for q in np.arange(1, n) / n:
        j = first + 1 + int(np.searchsorted(cum, q - 1e-9))
        if bounds[-1] < j < last:
            bounds.append(j)
    bounds.append(last)
    return list(zip(bounds[:-1], bounds[1:]))


class _Mixer:
    """Recipes, cached by colour (steps share colours)."""

    def __init__(self, paints: PaintSet):
        self.paints = paints
        self.cache: dict[tuple, Recipe] = {}

    def __call__(self, lab: np.ndarray) -> Recipe:
        key = tuple(np.round(np.asarray(lab) * 2).astype(int))
        if key not in self.cache:
            self.cache[key] = self.paints.recipe(lab)
        return self.cache[key]


class _Display:
    """The original frames at the lesson's picture size."""

    def __init__(self, frames: list[np.ndarray], side: int):
        self.frames = frames
        h, w = frames[0].shape[:2]
        s = min(1.0, side / max(h, w))
        self.size = (max(8, round(w * s)), max(8, round(h * s)))

    def __call__(self, i: int) -> np.ndarray:
        f = self.frames[i]
        if (f.shape[1], f.shape[0]) == self.size:
            return f.copy()
        return cv2.resize(f, self.size, interpolation=cv2.INTER_AREA)


def _make_step(index, stage, span, a, b, fr, trans, mixer, display, cfg) -> Step:
    mask = measure.region(fr, a, b)
    palette = extract_palette(fr.lab[b], mask, seed=cfg.seed)
    recipes = [mixer(s.lab) for s in palette] if mixer else [None] * len(palette)
    width = _brush_width(trans[a:b], mask)
    w_an = fr.size[0]
    where = where_words(mask)
    return Step(
        index=index,
        stage=stage,
        frames=(fr.source_index[a], fr.source_index[b]),
        region=mask,
        palette=palette,
        recipes=recipes,
        brush_px=width / fr.scale,
        brush_frac=width / w_an,
        where=where,
        instruction=instruction(span.kind, where, width / w_an, palette, span.name),
        before=display(fr.source_index[a]),
        after=display(fr.source_index[b]),
    )


def _brush_width(ts: list[measure.Transition], mask: np.ndarray) -> float:
    act = [t for t in ts if t.active and t.width > 0]
    if act:
        return float(np.average([t.width for t in act], weights=[t.area for t in act]))
    return measure.stroke_width(mask)


def size_word(frac: float) -> str:
    if frac >= 0.06:
        return "large"
    if frac >= 0.025:
        return "medium"
    if frac >= 0.01:
        return "small"
    return "fine"


def where_words(mask: np.ndarray) -> str:
    """Where on the canvas a region lies, in words ("across the canvas", "in the top left")."""
    if not mask.any():
        return "here and there"
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    bw, bh = (xs.max() - xs.min() + 1) / w, (ys.max() - ys.min() + 1) / h
    cx, cy = xs.mean() / w, ys.mean() / h
    if mask.mean() > 0.45 or (bw > 0.8 and bh > 0.8):
        return "across the canvas"
    row = "top" if cy < 0.36 else "bottom" if cy > 0.64 else "middle"
    col = "left" if cx < 0.36 else "right" if cx > 0.64 else "centre"
    if bw > 0.7:
        return f"across the {row}"
    if bh > 0.7:
        return f"down the {col}" + (" side" if col != "centre" else "")
    if row == "middle" and col == "centre":
        return "in the centre"
    if row == "middle":
        return f"on the {col}"
    return f"in the {row} {col}" if col != "centre" else f"in the {row} centre"


def instruction(kind: str, where: str, brush_frac: float, palette: list[Swatch], stage: str = "") -> str:
    names: list[str] = []
    for s in palette:
        if s.name not in names:
            names.append(s.name)
    names = names[:3]
    colours = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""
    tool = f"a {size_word(brush_frac)} brush"
    if kind == "line":
        tool += " or pencil"
    verb = NAMED_VERBS.get(stage) or VERBS.get(kind, "Paint")
    head = f"{verb} {where} with {tool}"
    return f"{head}: {colours}." if colours else f"{head}."


def _summary(st: Stage, steps: list[Step]) -> str:
    if not steps:
        return f"{st.name}: no visible change"
    frac = float(np.median([s.brush_frac for s in steps]))
    return (
        f"{st.name.capitalize()}: frames {st.frames[0]}–{st.frames[1]}, {len(steps)} step"
        f"{'s' if len(steps) > 1 else ''}, mostly a {size_word(frac)} brush"
    )
