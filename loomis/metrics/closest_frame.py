"""Closest-frame similarity (Loomis Painter, Table 2) and Fréchet distance over frames.

Every generated frame is compared with the ground-truth frame at the same progress (nearest in
normalised time): LPIPS distance, CLIP and DINOv2 cosine similarity, each averaged over the
generated frames; plus FID between the two sets of frames. Network metrics run only when their
weights exist; otherwise the entry is ``None`` and ``skipped`` says why. The weight-free default
distance is always reported, so there is always a number.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from loomis.errors import InputError
from loomis.metrics.distances import DEFAULT_DISTANCE, Distance, get_distance
from loomis.metrics.inverse_painting import aligned_indices
from loomis.metrics.pdp import normalized_times

log = logging.getLogger(__name__)

CLOSEST_METRICS = ("lpips", "clip", "dinov2", "fid")


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (rows = samples)."""
    from scipy import linalg

    a, b = np.atleast_2d(np.asarray(feats_a, np.float64)), np.atleast_2d(np.asarray(feats_b, np.float64))
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise InputError("a Fréchet distance needs at least 2 frames on each side")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # singular product: regularise as pytorch-fid does
        eps = np.eye(s_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


def paired_frames(
    generated_frames: Sequence[np.ndarray],
    gt_frames: Sequence[np.ndarray],
    generated_times: Sequence[float] | None = None,
    gt_times: Sequence[float] | None = None,
) -> list[np.ndarray]:
    """For every generated frame, the ground-truth frame at the same normalised progress."""
    t_gen = normalized_times(len(generated_frames), generated_times)
    t_gt = normalized_times(len(gt_frames), gt_times)
    return [gt_frames[j] for j in aligned_indices(t_gt, t_gen)]


def build_backbone(name: str, backbones: dict | None = None) -> Distance:
    """The network of a closest-frame metric; ``backbones`` holds ready ones (or the InputError
    that says why one cannot be built)."""
    if backbones and name in backbones:
        if isinstance(backbones[name], Exception):
            raise backbones[name]
        return backbones[name]
    if name == "fid":
        from loomis.metrics.nets import InceptionFeatures

        return InceptionFeatures()
    return get_distance(name)


def closest_frame_scores(
    generated_frames: Sequence[np.ndarray],
    gt_frames: Sequence[np.ndarray],
    metrics: Sequence[str] = CLOSEST_METRICS,
    generated_times: Sequence[float] | None = None,
    gt_times: Sequence[float] | None = None,
    backbones: dict[str, Distance] | None = None,
) -> dict:
    """``{"<default distance>": mean distance, "lpips": …, "clip_sim": …, "dinov2_sim": …,
    "fid": …, "names": {metric: network name}, "skipped": {metric: reason}}``.

    ``backbones`` maps metric names to ready ``Distance`` objects (reuse across videos, tests)."""
    gt_pairs = paired_frames(generated_frames, gt_frames, generated_times, gt_times)
    gen = list(generated_frames)
    out: dict = {DEFAULT_DISTANCE: float(np.mean(get_distance(DEFAULT_DISTANCE).pairs(gen, gt_pairs)))}
    names, skipped = {}, {}
    for metric in metrics:
        try:
            net = build_backbone(metric, backbones)
        except InputError as exc:
            out[_key(metric)], skipped[metric] = None, str(exc)
            log.debug("closest-frame %s skipped: %s", metric, exc)
            continue
        names[metric] = net.name
        if metric == "fid":
            out["fid"] = frechet_distance(net.embed(gen), net.embed(list(gt_frames)))
        elif metric == "lpips":
            out["lpips"] = float(np.mean(net.pairs(gen, gt_pairs)))
        else:
            out[_key(metric)] = float(np.mean(1.0 - net.pairs(gen, gt_pairs)))
    out["names"], out["skipped"] = names, skipped
    return out


def _key(metric: str) -> str:
    return metric if metric in ("lpips", "fid") else f"{metric}_sim"
