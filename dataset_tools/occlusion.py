"""Occlusion removal: hands and brushes out, the canvas underneath kept.

The video is cut into segments (10 s at 3 fps = 30 samples). Each sample gets an occlusion mask;
the segment's clean canvas is the masked median of its samples plus the previous segment's result
(the first "previous" being the blank canvas), so a pixel hidden in every sample keeps its last
known value. The default masks are weight-free: an occluder is a *transient* deviation — a pixel
that differs both from the segment's plain median and from the running estimate (new paint
differs from the running estimate only until it becomes the majority), with a skin-tone cue at a
lower threshold and a dilation for soft edges and compression halos. A learned segmenter
(RMBG/BiRefNet, GroundingDINO boxes) plugs in through :class:`OcclusionDetector`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


class OcclusionDetector(Protocol):
    def masks(self, samples: np.ndarray) -> np.ndarray:
        """(N, H, W) bool: True where a hand/brush hides the canvas."""


@dataclass(frozen=True)
class OcclusionConfig:
    threshold: int = 28  # grey levels (max over channels) that count as a deviation
    dilate: float = 0.025  # dilation radius as a fraction of the canvas' shorter side
    analysis_scale: float = 0.5  # masks are found at this scale, then upsampled


def masked_median(stack: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over axis 0 of ``stack`` (N, H, W, C) uint8 ignoring ``mask`` (N, H, W) True entries;
    the same as ``nanmedian`` for an odd number of valid values (the lower middle otherwise).

    Masked entries are replaced alternately by values below and above the valid range so that they
    cancel out around the middle, which turns the slow ``nanmedian`` into one ``partition``. Every
    pixel needs at least one valid value (the caller includes the previous result unmasked)."""
    if len(stack) % 2 == 0:  # an odd count keeps the middle on a valid value
        stack = np.concatenate([stack, stack[:1]])
        mask = np.concatenate([mask, np.ones_like(mask[:1])])
    vals = stack.astype(np.int16)
    low = (np.cumsum(mask, axis=0) % 2 == 1) & mask
    vals[low] = -1
    vals[mask & ~low] = 256
    mid = len(vals) // 2
    return np.partition(vals, mid, axis=0)[mid].astype(np.uint8)


def skin_mask(img: np.ndarray) -> np.ndarray:
    """A loose skin-tone cue in YCrCb (bright enough, reddish, not blue)."""
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    return (y > 60) & (cr > 135) & (cr < 180) & (cb > 80) & (cb < 130)


def transient_masks(
    samples: np.ndarray, previous: np.ndarray, cfg: OcclusionConfig, skin_ok: np.ndarray | None = None
) -> np.ndarray:
    """Weight-free occlusion masks (N, H, W) for one segment. ``skin_ok`` marks where the finished
    painting itself is skin-coloured; elsewhere skin is always an occluder, even an arm that rests
    on the same spot for most of the segment (which the median alone would keep)."""
    n, h, w = samples.shape[:3]
    s = cfg.analysis_scale
    sw, sh = max(4, int(w * s)), max(4, int(h * s))
    small = np.stack([cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in samples]).astype(
        np.int16
    )
    prev = cv2.resize(previous, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.int16)
    med = np.median(np.concatenate([small, prev[None]]), axis=0)
    dev_med = np.abs(small - med).max(-1)
    dev_prev = np.abs(small - prev).max(-1)
    strong = (dev_med > cfg.threshold) & (dev_prev > cfg.threshold)
    skin = np.stack([skin_mask(f.astype(np.uint8)) for f in small])
    weak = (dev_med > cfg.threshold // 2) & skin
    if skin_ok is not None:
        weak |= skin & ~cv2.resize(
            skin_ok.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
    raw = (strong | weak).astype(np.uint8)
    r = max(1, int(round(cfg.dilate * min(h, w))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = np.empty((n, h, w), bool)
    for i in range(n):
        m = cv2.morphologyEx(raw[i], cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
        out[i] = cv2.dilate(m, kernel) > 0
    return out


def skin_in_painting(final: np.ndarray, grow: int = 5) -> np.ndarray:
    """Where the finished painting (an outro frame, no hands) is itself skin-coloured."""
    m = skin_mask(final).astype(np.uint8)
    return cv2.dilate(m, np.ones((2 * grow + 1,) * 2, np.uint8)) > 0


def clean_segment(
    samples: np.ndarray,
    previous: np.ndarray,
    cfg: OcclusionConfig,
    detector: OcclusionDetector | None = None,
    skin_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The segment's occlusion-free canvas and the mean occluded fraction of its samples."""
    if detector is not None:
        masks = detector.masks(samples)
    else:
        masks = transient_masks(samples, previous, cfg, skin_ok)
    stack = np.concatenate([samples, previous[None]])
    mask = np.concatenate([masks, np.zeros_like(masks[:1])])
    return masked_median(stack, mask), float(masks.mean())
