"""Inverse Painting's process metrics (Chen et al., SIGGRAPH Asia 2024, Table 1), our reading.

All compare a generated process with a ground-truth one on normalised time (0 = first frame,
1 = last), so lengths and frame rates may differ:

* aligned distance ("LPIPS" in the paper, any ``Distance`` here): each ground-truth frame against
  the generated frame nearest in normalised time; mean over ground-truth frames.
* IoU: the *difference mask* of a frame marks pixels whose mean absolute RGB difference from the
  finished painting (the reference) exceeds 0.2 (on [0, 1]), i.e. what is still unpainted; mean
  IoU of the time-aligned masks (two empty masks agree: IoU 1).
* DDC: dynamic time warping between the two distance curves (every frame's distance to the
  reference), |a - b| cost, divided by the warping path's length.
* DTS: difference of time spent. A pixel's *arrival time* is the normalised time from which it
  stays within the threshold of the reference to the end (the "time map"); DTS is the mean
  absolute difference of the two time maps over the canvas.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loomis.io import resize
from loomis.metrics.distances import Distance, get_distance, working_size
from loomis.metrics.pdp import distance_profile, normalized_times

log = logging.getLogger(__name__)

MASK_THRESHOLD = 0.2
MASK_SIDE = 128  # masks and time maps are computed at this working size (longest side)


def aligned_indices(times_src: np.ndarray, times_dst: np.ndarray) -> np.ndarray:
    """For every time in ``times_dst``, the index of the nearest time in ``times_src`` (ties → the
    earlier frame)."""
    src = np.asarray(times_src, np.float64)
    return np.array([int(np.argmin(np.abs(src - t))) for t in np.asarray(times_dst, np.float64)])


def difference_mask(
    frame: np.ndarray, reference: np.ndarray, threshold: float = MASK_THRESHOLD
) -> np.ndarray:
    """Pixels whose mean absolute RGB difference from ``reference`` exceeds ``threshold`` (on [0, 1])."""
    diff = np.abs(frame.astype(np.float32) - reference.astype(np.float32)).mean(axis=-1) / 255.0
    return diff > threshold


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def dtw(a: Sequence[float], b: Sequence[float]) -> tuple[float, int]:
    """Classic dynamic time warping with |a_i - b_j| cost: (total cost, path length)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n, m = len(a), len(b)
    cost = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), np.int64)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            moves = (
                (cost[i - 1, j - 1], steps[i - 1, j - 1]),
                (cost[i - 1, j], steps[i - 1, j]),
                (cost[i, j - 1], steps[i, j - 1]),
            )
            best_cost, best_steps = min(moves, key=lambda cs: (cs[0], cs[1]))
            cost[i, j] = abs(a[i - 1] - b[j - 1]) + best_cost
            steps[i, j] = best_steps + 1
    return float(cost[n, m]), int(steps[n, m])


def ddc(curve_gen: Sequence[float], curve_gt: Sequence[float]) -> float:
    """DTW distance between two distance curves, per step of the warping path."""
    total, length = dtw(curve_gen, curve_gt)
    return total / length


def time_map(
    frames: Sequence[np.ndarray], reference: np.ndarray, times: np.ndarray, threshold: float = MASK_THRESHOLD
) -> np.ndarray:
    """Per pixel, the normalised time at which paint *arrived*: the time of the first frame from
    which the pixel stays within ``threshold`` of ``reference`` up to the last frame. A pixel that
    never settles gets 1; one that is right from the first frame gets ``times[0]`` (0)."""
    times = np.asarray(times, np.float64)
    last_wrong = np.full(reference.shape[:2], -1, np.int64)
    for k, f in enumerate(frames):
        last_wrong[difference_mask(f, reference, threshold)] = k
    arrival_index = last_wrong + 1
    padded = np.append(times, 1.0)  # index len(frames): never settled
    return padded[arrival_index]


@dataclass(frozen=True)
class InversePaintingScores:
    aligned_distance: float
    iou: float
    ddc: float
    dts: float
    distance_name: str
    time_map_gen: np.ndarray
    time_map_gt: np.ndarray

    def to_dict(self) -> dict:
        return {
            "aligned_distance": self.aligned_distance,
            "iou": self.iou,
            "ddc": self.ddc,
            "dts": self.dts,
            "distance_name": self.distance_name,
            "mask_threshold": MASK_THRESHOLD,
        }


def _small(frames: Sequence[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    return [resize(np.asarray(f, np.uint8), size) for f in frames]


def inverse_painting_scores(
    generated_frames: Sequence[np.ndarray],
    gt_frames: Sequence[np.ndarray],
    distance: str | Distance | None = None,
    generated_times: Sequence[float] | None = None,
    gt_times: Sequence[float] | None = None,
    reference: np.ndarray | None = None,
    threshold: float = MASK_THRESHOLD,
    curves: tuple[np.ndarray, np.ndarray] | None = None,
) -> InversePaintingScores:
    """All four metrics. ``curves`` (the raw distance profiles, e.g. from a ``PDPResult``) skips
    recomputing them when the same distance was already run."""
    dist = get_distance(distance)
    ref = gt_frames[-1] if reference is None else reference
    t_gen = normalized_times(len(generated_frames), generated_times)
    t_gt = normalized_times(len(gt_frames), gt_times)
    idx = aligned_indices(t_gen, t_gt)
    aligned = float(np.mean(dist.pairs([generated_frames[i] for i in idx], list(gt_frames))))
    if curves is None:
        curves = (distance_profile(generated_frames, ref, dist), distance_profile(gt_frames, ref, dist))
    size = working_size(ref, MASK_SIDE)
    small_gen, small_gt, small_ref = (
        _small(generated_frames, size),
        _small(gt_frames, size),
        resize(ref, size),
    )
    ious = [
        iou(difference_mask(small_gen[i], small_ref, threshold), difference_mask(g, small_ref, threshold))
        for i, g in zip(idx, small_gt)
    ]
    map_gen = time_map(small_gen, small_ref, t_gen, threshold)
    map_gt = time_map(small_gt, small_ref, t_gt, threshold)
    return InversePaintingScores(
        aligned_distance=aligned,
        iou=float(np.mean(ious)),
        ddc=ddc(*curves),
        dts=float(np.abs(map_gen - map_gt).mean()),
        distance_name=dist.name,
        time_map_gen=map_gen,
        time_map_gt=map_gt,
    )
