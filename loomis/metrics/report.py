"""One evaluation of a generated process, and the side-by-side comparison of several.

``evaluate`` runs every metric on one (generated, ground truth) pair; ``compare`` runs it for many
methods against one ground truth and ``markdown_table`` renders the result. The JSON form keeps the
product contract's top-level ``pdp``, ``pdp_norm``, ``distance`` and ``distance_name``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from loomis.errors import InputError
from loomis.metrics.closest_frame import CLOSEST_METRICS, _key, build_backbone, closest_frame_scores
from loomis.metrics.distances import DEFAULT_DISTANCE, Distance, get_distance
from loomis.metrics.inverse_painting import InversePaintingScores, inverse_painting_scores
from loomis.metrics.pdp import PDPResult, distance_profile, perceptual_distance_profile

log = logging.getLogger(__name__)


@dataclass
class Process:
    """Frames of one painting process with their time stamps in seconds (or None: evenly spaced)."""

    frames: list[np.ndarray]
    times: list[float] | None = None
    name: str = ""


@dataclass
class Evaluation:
    pdp: PDPResult
    inverse_painting: InversePaintingScores
    closest_frame: dict

    def to_dict(self, curves: bool = False) -> dict:
        out = self.pdp.to_dict(curves=curves)
        out["inverse_painting"] = self.inverse_painting.to_dict()
        out["closest_frame"] = self.closest_frame
        return out


def load_backbones(metrics: Sequence[str]) -> dict[str, Distance | InputError]:
    """Each closest-frame network once (or the reason it cannot run), to reuse across methods."""
    out: dict[str, Distance | InputError] = {}
    for metric in metrics:
        try:
            out[metric] = build_backbone(metric)
        except InputError as exc:
            out[metric] = exc
            log.info("closest-frame %s: skipped (%s)", metric, exc)
    return out


def evaluate(
    generated: Process,
    ground_truth: Process,
    distance: str | Distance | None = None,
    closest: Sequence[str] = CLOSEST_METRICS,
    backbones: dict | None = None,
    reference: np.ndarray | None = None,
    gt_profile: np.ndarray | None = None,
) -> Evaluation:
    """PDP, Inverse Painting's metrics and closest-frame similarity of one generated process."""
    dist = get_distance(distance)
    res = perceptual_distance_profile(
        generated.frames, ground_truth.frames, dist, True, generated_times=generated.times,
        gt_times=ground_truth.times, reference=reference, gt_profile=gt_profile,
    )  # fmt: skip
    ip = inverse_painting_scores(
        generated.frames, ground_truth.frames, dist, generated.times, ground_truth.times,
        reference=reference, curves=(res.raw_gen, res.raw_gt),
    )  # fmt: skip
    cf = closest_frame_scores(
        generated.frames, ground_truth.frames, closest, generated.times, ground_truth.times, backbones
    )
    return Evaluation(pdp=res, inverse_painting=ip, closest_frame=cf)


def compare(
    ground_truth: Process,
    methods: Sequence[Process],
    distance: str | Distance | None = None,
    closest: Sequence[str] = CLOSEST_METRICS,
    reference: np.ndarray | None = None,
    progress: Callable | None = None,
) -> dict[str, Evaluation]:
    """``evaluate`` for every method against one ground truth; networks are loaded once."""
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise InputError(f"method names must be unique, got {', '.join(names)}")
    dist = get_distance(distance)
    backbones = load_backbones(closest)
    ref = ground_truth.frames[-1] if reference is None else reference
    gt_profile = distance_profile(ground_truth.frames, ref, dist)  # once, not once per method
    iterate = progress(methods) if progress else methods
    return {
        m.name: evaluate(m, ground_truth, dist, closest, backbones, reference, gt_profile) for m in iterate
    }


_COLUMNS = [  # (header, getter, format)
    ("frames", lambda e: len(e.pdp.raw_gen), "{:d}"),
    ("PDP ↓", lambda e: e.pdp.pdp, "{:.4f}"),
    ("PDP-norm ↓", lambda e: e.pdp.pdp_norm, "{:.4f}"),
    ("final distance ↓", lambda e: e.pdp.distance, "{:.4f}"),
    ("aligned distance ↓", lambda e: e.inverse_painting.aligned_distance, "{:.4f}"),
    ("IoU ↑", lambda e: e.inverse_painting.iou, "{:.3f}"),
    ("DDC ↓", lambda e: e.inverse_painting.ddc, "{:.4f}"),
    ("DTS ↓", lambda e: e.inverse_painting.dts, "{:.3f}"),
]
_CLOSEST_HEADERS = {"lpips": "LPIPS ↓", "clip": "CLIP sim ↑", "dinov2": "DINOv2 sim ↑", "fid": "FID ↓"}


def _fmt(value, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def markdown_table(results: dict[str, Evaluation], closest: Sequence[str] = CLOSEST_METRICS) -> str:
    """A Markdown table, one row per method, with the distance named and skipped metrics explained."""
    if not results:
        return ""
    first = next(iter(results.values()))
    dname = first.pdp.distance_name
    default = DEFAULT_DISTANCE
    headers = ["method"] + [h for h, _, _ in _COLUMNS] + [f"closest-frame {default} ↓"]
    headers += [_CLOSEST_HEADERS.get(m, m) for m in closest]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for name, ev in results.items():
        cells = [name] + [_fmt(get(ev), fmt) for _, get, fmt in _COLUMNS]
        cells.append(_fmt(ev.closest_frame.get(default), "{:.4f}"))
        cells += [_fmt(ev.closest_frame.get(_key(m)), "{:.4f}") for m in closest]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"Distance: `{dname}` (PDP, final distance, aligned distance, DDC). PDP as Loomis Painter's "
        "Algorithm 1 (200-point time axis); IoU/DTS use difference masks at threshold 0.2.",
    ]
    for metric, reason in first.closest_frame.get("skipped", {}).items():
        notes.append(f"- {_CLOSEST_HEADERS.get(metric, metric)} n/a: {reason}")
    for metric, net in first.closest_frame.get("names", {}).items():
        notes.append(f"- {_CLOSEST_HEADERS.get(metric, metric)}: `{net}`")
    return "\n".join(lines + notes) + "\n"


def comparison_json(results: dict[str, Evaluation], ground_truth: str = "") -> dict:
    return {
        "ground_truth": ground_truth,
        "distance_name": next(iter(results.values())).pdp.distance_name if results else None,
        "methods": {name: ev.to_dict(curves=True) for name, ev in results.items()},
    }
