"""The lesson as data: stages, steps, regions, palettes, recipes — and its ``lesson.json`` form.

Regions are run-length encoded, row-major: ``{"size": [h, w], "counts": [n0, n1, …]}`` with
runs alternating off/on and starting with "off" (a first count of 0 when the first pixel is on),
the same convention as COCO's uncompressed RLE except for the (row-major) pixel order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loomis.lesson.mixing import Recipe
from loomis.lesson.palette import Swatch

FORMAT = "loomis-lesson/1"
PROVENANCE = (
    "A lesson read from a painting process. When the process is a generated reconstruction "
    "(Loomis), so is the lesson: it shows one way the picture could have been painted."
)


def rle_encode(mask: np.ndarray) -> dict:
    flat = np.asarray(mask, bool).ravel()
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], np.int64)
    if counts.sum() != h * w:
        raise ValueError(f"RLE counts sum to {counts.sum()}, expected {h * w}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape(h, w)


@dataclass
class Step:
    index: int  # 0-based over the whole lesson
    stage: int  # index of its stage
    frames: tuple[int, int]  # (before, after) frame indices in the original process
    region: np.ndarray  # (h, w) bool at analysis size
    palette: list[Swatch]
    recipes: list[Recipe | None]
    brush_px: float  # approximate brush width in analysis pixels
    brush_frac: float  # … as a fraction of the canvas width
    where: str
    instruction: str
    before: np.ndarray  # uint8 analysis-size images
    after: np.ndarray

    @property
    def area(self) -> float:
        return float(self.region.mean())

    def to_json(self) -> dict:
        ys, xs = np.nonzero(self.region)
        bbox = (
            [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            if len(xs)
            else None
        )
        return {
            "index": self.index,
            "stage": self.stage,
            "frames": list(self.frames),
            "instruction": self.instruction,
            "where": self.where,
            "brush": {"px": round(self.brush_px, 1), "fraction_of_width": round(self.brush_frac, 4)},
            "region": {"area": round(self.area, 4), "bbox": bbox, "rle": rle_encode(self.region)},
            "palette": [
                {
                    "hex": s.hex,
                    "lab": [round(float(v), 2) for v in s.lab],
                    "name": s.name,
                    "share": round(s.share, 3),
                    "recipe": _recipe_json(r),
                }
                for s, r in zip(self.palette, self.recipes)
            ],
        }


@dataclass
class Stage:
    index: int
    name: str
    kind: str  # line | block | build | detail
    frames: tuple[int, int]
    summary: str = ""
    steps: list[int] = field(default_factory=list)


@dataclass
class Lesson:
    source: str
    medium: str | None
    n_frames: int
    size: tuple[int, int]  # original (w, h)
    analysis_size: tuple[int, int]
    stages: list[Stage]
    steps: list[Step]
    paints: list[dict]
    final: np.ndarray  # uint8 analysis-size last frame
    first: np.ndarray  # … first frame

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "source": self.source,
            "medium": self.medium,
            "frames": self.n_frames,
            "size": list(self.size),
            "analysis_size": list(self.analysis_size),
            "colour_space": "CIELAB (D65, 2°); differences are CIEDE2000",
            "provenance": PROVENANCE,
            "paints": self.paints,
            "stages": [
                {
                    "index": s.index,
                    "name": s.name,
                    "kind": s.kind,
                    "frames": list(s.frames),
                    "summary": s.summary,
                    "steps": s.steps,
                }
                for s in self.stages
            ],
            "steps": [s.to_json() for s in self.steps],
        }


def _recipe_json(r: Recipe | None) -> dict | None:
    if r is None:
        return None
    return {
        "paints": [{"name": n, "weight": w, "parts": p} for n, w, p in zip(r.paints, r.weights, r.parts)],
        "delta_e": r.delta_e,
        "parts_delta_e": r.parts_delta_e,
        "text": r.text(),
    }
