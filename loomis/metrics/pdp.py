"""Perceptual Distance Profile (PDP), Loomis Painter's Algorithm 1.

A painting process is summarised by its *profile*: the perceptual distance of every frame to the
finished painting (the last ground-truth frame, i.e. the input image). Two processes are compared
by their profiles, not frame by frame, so videos of any length and frame rate can be scored:

1. ``p_gen[i] = d(gen[i], ref)`` and ``p_gt[j] = d(gt[j], ref)`` with ``ref = gt[-1]``.
2. Optionally each profile is min-max normalised to run from 1 (farthest) to 0 (closest), which
   compares the *shape* of the progress and ignores how far the start was.
3. Both profiles are linearly resampled onto one normalised time axis of 200 points in [0, 1]
   (frame times from the video where known, else evenly spaced frames).
4. ``PDP = sqrt(∫_0^1 (p_gen(t) - p_gt(t))^2 dt)`` (trapezoidal rule on the 200 points).

``distance`` is reported beside it: ``d(gen[-1], ref)``, how far the generated process ends from
the input. A video compared with itself scores 0 on all three.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from loomis.errors import InputError
from loomis.metrics.distances import Distance, get_distance

log = logging.getLogger(__name__)

SAMPLES = 200
_CONSTANT_ATOL = 1e-6


@dataclass(frozen=True)
class PDPResult:
    """Everything Algorithm 1 computes. ``profile_gen``/``profile_gt`` are the resampled curves
    (normalised when ``normalize`` was set) on ``grid``; ``raw_gen``/``raw_gt`` are per frame."""

    pdp: float
    pdp_norm: float
    distance: float
    distance_name: str
    normalize: bool
    grid: np.ndarray
    profile_gen: np.ndarray
    profile_gt: np.ndarray
    raw_gen: np.ndarray
    raw_gt: np.ndarray
    times_gen: np.ndarray
    times_gt: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The PDP the ``normalize`` flag asked for."""
        return self.pdp_norm if self.normalize else self.pdp

    def to_dict(self, curves: bool = False) -> dict:
        out = {
            "pdp": self.pdp,
            "pdp_norm": self.pdp_norm,
            "distance": self.distance,
            "distance_name": self.distance_name,
            "frames_gen": int(len(self.raw_gen)),
            "frames_gt": int(len(self.raw_gt)),
        }
        if curves:
            out["profile_gen"] = self.raw_gen.tolist()
            out["profile_gt"] = self.raw_gt.tolist()
            out["times_gen"] = self.times_gen.tolist()
            out["times_gt"] = self.times_gt.tolist()
        return out


def normalized_times(n: int, times: Sequence[float] | None = None) -> np.ndarray:
    """Frame times mapped onto [0, 1]: from real time stamps when given (and increasing), else
    evenly spaced. One frame has no duration and is refused."""
    if n < 2:
        raise InputError(f"a process needs at least 2 frames, got {n}")
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (n,):
            raise InputError(f"{len(t)} time stamps for {n} frames")
        span = t[-1] - t[0]
        if span > 0 and np.all(np.diff(t) >= 0):
            return (t - t[0]) / span
        log.warning("time stamps are not increasing; using evenly spaced frames")
    return np.linspace(0.0, 1.0, n)


def normalize_profile(profile: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1] (start ≈ 1, finish ≈ 0 for a process that converges).

    A constant profile has no progress to normalise. It becomes all zeros when it sits on the
    reference (distance ≈ 0 throughout: "finished from the first frame") and all ones otherwise
    ("never approaches the reference"); both are then penalised against a real process."""
    p = np.asarray(profile, dtype=np.float64)
    lo, hi = float(p.min()), float(p.max())
    if hi - lo <= _CONSTANT_ATOL:
        return np.zeros_like(p) if abs(hi) <= _CONSTANT_ATOL else np.ones_like(p)
    return (p - lo) / (hi - lo)


def resample_profile(profile: np.ndarray, times: np.ndarray, samples: int = SAMPLES) -> np.ndarray:
    """Linear interpolation of ``profile`` (at normalised ``times``) onto ``samples`` points."""
    grid = np.linspace(0.0, 1.0, samples)
    return np.interp(grid, np.asarray(times, dtype=np.float64), np.asarray(profile, dtype=np.float64))


def l2_over_time(a: np.ndarray, b: np.ndarray) -> float:
    """sqrt(∫ (a - b)^2 dt) over [0, 1] for curves sampled evenly on [0, 1] (trapezoidal rule)."""
    diff2 = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2
    dt = 1.0 / (len(diff2) - 1)
    return float(np.sqrt(max(0.0, dt * (diff2.sum() - 0.5 * (diff2[0] + diff2[-1])))))


def profile_distance(
    p_gen: Sequence[float],
    p_gt: Sequence[float],
    times_gen: Sequence[float] | None = None,
    times_gt: Sequence[float] | None = None,
    normalize: bool = True,
    samples: int = SAMPLES,
) -> float:
    """PDP between two already computed profiles (steps 2-4 of Algorithm 1)."""
    p_gen, p_gt = np.asarray(p_gen, np.float64), np.asarray(p_gt, np.float64)
    t_gen, t_gt = normalized_times(len(p_gen), times_gen), normalized_times(len(p_gt), times_gt)
    if normalize:
        p_gen, p_gt = normalize_profile(p_gen), normalize_profile(p_gt)
    return l2_over_time(resample_profile(p_gen, t_gen, samples), resample_profile(p_gt, t_gt, samples))


def distance_profile(frames: Sequence[np.ndarray], reference: np.ndarray, distance: Distance) -> np.ndarray:
    """Step 1: distance of every frame to the reference."""
    return np.asarray(distance.to_reference(list(frames), reference), dtype=np.float64)


def perceptual_distance_profile(
    generated_frames: Sequence[np.ndarray],
    gt_frames: Sequence[np.ndarray],
    distance: str | Distance | None = None,
    normalize: bool = True,
    samples: int = SAMPLES,
    generated_times: Sequence[float] | None = None,
    gt_times: Sequence[float] | None = None,
    reference: np.ndarray | None = None,
    gt_profile: np.ndarray | None = None,
) -> PDPResult:
    """Algorithm 1 on frame arrays ((H, W, 3) uint8). ``reference`` defaults to the last
    ground-truth frame (the input image); frames of other sizes are resized by the distance.
    ``gt_profile``: the ground truth's raw distance profile when already computed (comparing many
    methods against one ground truth)."""
    dist = get_distance(distance)
    _check_frames(generated_frames, "generated")
    _check_frames(gt_frames, "ground truth")
    ref = gt_frames[-1] if reference is None else reference
    t_gen = normalized_times(len(generated_frames), generated_times)
    t_gt = normalized_times(len(gt_frames), gt_times)
    raw_gen = distance_profile(generated_frames, ref, dist)
    raw_gt = distance_profile(gt_frames, ref, dist) if gt_profile is None else np.asarray(gt_profile, float)
    curves = {}
    for norm in (False, True):
        a, b = (normalize_profile(raw_gen), normalize_profile(raw_gt)) if norm else (raw_gen, raw_gt)
        curves[norm] = (resample_profile(a, t_gen, samples), resample_profile(b, t_gt, samples))
    return PDPResult(
        pdp=l2_over_time(*curves[False]),
        pdp_norm=l2_over_time(*curves[True]),
        distance=float(raw_gen[-1]),
        distance_name=dist.name,
        normalize=normalize,
        grid=np.linspace(0.0, 1.0, samples),
        profile_gen=curves[normalize][0],
        profile_gt=curves[normalize][1],
        raw_gen=raw_gen,
        raw_gt=raw_gt,
        times_gen=t_gen,
        times_gt=t_gt,
    )


def _check_frames(frames: Sequence[np.ndarray], what: str) -> None:
    if len(frames) < 2:
        raise InputError(f"the {what} process has {len(frames)} frame(s); a process needs at least 2")
    for f in (frames[0], frames[-1]):
        if np.ndim(f) != 3 or np.shape(f)[2] != 3:
            raise InputError(f"{what} frames must be (H, W, 3) RGB arrays, got shape {np.shape(f)}")
