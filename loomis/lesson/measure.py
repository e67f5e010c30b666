"""What changes between frames: changed pixels (CIELAB ΔE), how much, how thin, how wide a brush.

Every measure works on frames scaled to a small analysis size (long side ``max_side``), in
CIELAB so that "changed" means changed to the eye. A transition is one pair of consecutive
(analysis) frames; ``Transition`` holds its measures, which the stage split and the steps use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from skimage import color, morphology

from loomis.errors import InputError

log = logging.getLogger(__name__)

# ΔE (CIE76) above which a pixel counts as changed: over video-compression noise (≈2–4) and
# below a visible brush mark.
CHANGE_DE = 8.0


@dataclass(frozen=True)
class Transition:
    """Measures of the change from analysis frame ``i - 1`` to ``i``."""

    index: int  # i (analysis frame index of the later frame)
    amount: float  # mean ΔE over the whole canvas (changed pixels only)
    area: float  # fraction of the canvas that changed
    width: float  # typical stroke width in analysis pixels (0 when nothing changed)
    thin: float  # fraction of the changed pixels that lie on lines ≤ 2 px wide

    @property
    def active(self) -> bool:
        return self.area > 2e-4


@dataclass
class Frames:
    """The process at analysis size: frames, their CIELAB, and where each came from."""

    rgb: list[np.ndarray]  # uint8 (h, w, 3)
    lab: list[np.ndarray]  # float32 (h, w, 3)
    source_index: list[int]  # index of each analysis frame in the original process
    scale: float  # analysis size / original size

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.rgb[0].shape[:2]
        return w, h


def prepare(frames: list[np.ndarray], max_side: int = 256, max_frames: int = 160) -> Frames:
    """Scale to the analysis size and convert to CIELAB; long processes are subsampled evenly
    (first and last frame kept)."""
    if len(frames) < 3:
        raise InputError(f"a lesson needs a process of at least 3 frames, got {len(frames)}")
    shape = frames[0].shape
    if any(f.shape != shape for f in frames):
        raise InputError("all frames of the process must have the same size")
    idx = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), max_frames)).round().astype(int))
    h, w = shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    rgb = [cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA) if scale < 1 else frames[i] for i in idx]
    lab = [color.rgb2lab(f).astype(np.float32) for f in rgb]
    return Frames(rgb=rgb, lab=lab, source_index=[int(i) for i in idx], scale=size[0] / w)


def change_mask(before: np.ndarray, after: np.ndarray, min_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(changed bool mask, ΔE map) between two CIELAB images; specks under ``min_size`` pixels
    (noise) are dropped."""
    de = np.linalg.norm(after - before, axis=-1)
    mask = de > CHANGE_DE
    if mask.any():
        mask = drop_specks(mask, min_size)
    return mask, de


def drop_specks(mask: np.ndarray, min_size: int) -> np.ndarray:
    """``mask`` without 8-connected pieces smaller than ``min_size`` pixels."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_size
    keep[0] = False
    return keep[labels]


def stroke_width(mask: np.ndarray) -> float:
    """Typical width of the marks in ``mask`` (pixels), from the distance to their edge along
    their skeleton (a line w pixels wide has (w + 1) / 2 there)."""
    if not mask.any():
        return 0.0
    skel = morphology.skeletonize(mask)
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)[1:-1, 1:-1]
    on = dist[skel]
    return float(max(1.0, 2.0 * np.median(on) - 1.0)) if on.size else 1.0


def thin_fraction(mask: np.ndarray) -> float:
    """Fraction of ``mask`` that a 3×3 opening removes: lines at most 2 px wide."""
    n = int(mask.sum())
    if n == 0:
        return 0.0
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(1.0 - opened.sum() / n)


def transitions(fr: Frames) -> list[Transition]:
    """Measures of every consecutive pair of analysis frames."""
    out = []
    npix = fr.lab[0].shape[0] * fr.lab[0].shape[1]
    for i in range(1, len(fr.lab)):
        mask, de = change_mask(fr.lab[i - 1], fr.lab[i])
        out.append(
            Transition(
                index=i,
                amount=float(de[mask].sum() / npix),
                area=float(mask.mean()),
                width=stroke_width(mask),
                thin=thin_fraction(mask),
            )
        )
    return out


def region(fr: Frames, a: int, b: int) -> np.ndarray:
    """Where the canvas changed from analysis frame ``a`` to ``b``, as one coherent region (marks
    joined by a small closing, specks dropped)."""
    mask, _ = change_mask(fr.lab[a], fr.lab[b])
    if not mask.any():
        return mask
    r = max(1, round(max(mask.shape) / 128))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, k).astype(bool)
