"""Figures of a comparison: PDP curves (PNG) and Inverse Painting's time maps (PNG).

matplotlib with the Agg backend (no display needed); files are written atomically.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from loomis.io import atomic_path
from loomis.metrics.report import Evaluation

log = logging.getLogger(__name__)

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_pdp_curves(
    results: dict[str, Evaluation], path: str | os.PathLike, gt_name: str = "ground truth"
) -> None:
    """Two panels: raw distance-to-final profiles and min-max normalised ones, every method
    against the ground truth, on normalised time; the legend carries each method's PDP."""
    from loomis.metrics.pdp import normalize_profile

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    first = next(iter(results.values())).pdp
    for ax, norm in zip(axes, (False, True)):
        gt = normalize_profile(first.raw_gt) if norm else first.raw_gt
        ax.plot(first.times_gt, gt, "-o", color="black", lw=2.6, ms=4, label=gt_name, zorder=5)
        for k, (name, ev) in enumerate(results.items()):
            p = ev.pdp
            prof = normalize_profile(p.raw_gen) if norm else p.raw_gen
            score = p.pdp_norm if norm else p.pdp
            marker = "" if len(prof) > 60 else "."
            ax.plot(
                p.times_gen,
                prof,
                marker + "-",
                color=_COLORS[k % len(_COLORS)],
                lw=1.6,
                label=f"{name} ({score:.3f})",
            )
        ax.set_xlabel("normalised time (0 = first frame, 1 = last)")
        ax.set_ylabel(
            "normalised distance" if norm else f"distance to the finished painting ({first.distance_name})"
        )
        ax.set_title("PDP-norm: min-max normalised profiles" if norm else "PDP: raw distance profiles")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(
            loc="lower left",
            fontsize=8,
            title="method (PDP)" if not norm else "method (PDP-norm)",
            title_fontsize=8,
        )
    fig.suptitle("Perceptual Distance Profiles against the ground-truth process (lower PDP is closer)")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_time_maps(
    results: dict[str, Evaluation],
    path: str | os.PathLike,
    reference: np.ndarray | None = None,
    gt_name: str = "ground truth",
) -> None:
    """Where on the canvas paint arrived when: per pixel, the normalised time from which it stays
    at its final colour (dark = early, bright = late), ground truth first, one panel per method."""
    plt = _pyplot()
    first = next(iter(results.values())).inverse_painting
    panels = [(gt_name, first.time_map_gt, None)]
    panels += [(n, e.inverse_painting.time_map_gen, e.inverse_painting.dts) for n, e in results.items()]
    n = len(panels) + (reference is not None)
    cols = min(n, 3)
    rows = -(-n // cols)
    h, w = first.time_map_gt.shape
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows * h / w + 0.6), squeeze=False)
    cells = iter(axes.flat)
    if reference is not None:
        ax = next(cells)
        ax.imshow(reference)
        ax.set_title("finished painting")
    image = None
    for name, tmap, dts in panels:
        ax = next(cells)
        image = ax.imshow(tmap, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(name if dts is None else f"{name} (DTS {dts:.3f})")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in cells:
        ax.axis("off")
    fig.suptitle("Time maps: when each pixel reached its final colour (threshold 0.2)")
    fig.tight_layout()
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="arrival time (0 = start, 1 = end)")
    _save(fig, path)
    plt.close(fig)
