"""Static overlays (channel logos, watermarks, burnt-in text): found and inpainted.

An overlay is static while the canvas under it changes, and, unlike a still patch of canvas, it
has structure (letters, a badge's border). Seeds are pixels that are still over the painting
interval *and* sit on strong edges of the mean image; a closing joins a badge's letters into one
region, which is kept when it is still everywhere, dense in seeds and not too large. The region is
filled with OpenCV's inpainting (Telea); LaMa can replace it through :class:`Inpainter`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


class Inpainter(Protocol):
    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class OverlayConfig:
    still: float = 3.0  # temporal std (grey levels) below which a pixel counts as still
    edge: float = 40.0  # gradient magnitude of a structural edge
    max_area: float = 0.12  # an overlay covers at most this fraction of the canvas
    min_density: float = 0.04  # seed pixels per region pixel
    grow: float = 0.04  # closing size as a fraction of the shorter side
    pad: int = 2  # extra dilation (pixels) around a found overlay


def find_overlays(samples: np.ndarray, cfg: OverlayConfig = OverlayConfig()) -> np.ndarray:
    """(H, W) bool mask of static overlays from canvas-space samples spread over the painting."""
    stack = np.stack([cv2.cvtColor(np.asarray(f), cv2.COLOR_RGB2GRAY) for f in samples]).astype(np.float32)
    h, w = stack.shape[1:]
    std = stack.std(axis=0)
    mean = stack.mean(axis=0)
    gx = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.hypot(gx, gy)
    # compression jitters sharp edges a little every frame: allow more on strong edges
    still = std < cfg.still + 0.02 * grad
    # an edge *inside* a still neighbourhood: the edge of a still patch against changing paint has
    # moving neighbours, the strokes of a logo's letters do not
    inner = cv2.erode(still.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    seeds = inner & (grad > cfg.edge)
    seeds[:3], seeds[-3:], seeds[:, :3], seeds[:, -3:] = False, False, False, False  # canvas border
    k = max(3, int(cfg.grow * min(h, w)) | 1)
    region = cv2.morphologyEx(
        seeds.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    )
    region &= cv2.dilate(still.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    out = np.zeros((h, w), bool)
    for c in range(1, count):
        area = stats[c, cv2.CC_STAT_AREA]
        comp = labels == c
        density = seeds[comp].mean()
        if area >= 20 and area <= cfg.max_area * h * w and density >= cfg.min_density:
            out |= comp
    if out.any():
        contours, _ = cv2.findContours(out.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, contours, -1, 1, -1)  # a badge's inside is part of the badge
        out = (filled > 0) & cv2.dilate(still.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        still_u8, grown = still.astype(np.uint8), out.astype(np.uint8)
        for _ in range(k):  # grow through still pixels to the badge's own border (a bounded flood)
            grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)) & still_u8 | grown
        out = grown > 0
        out = cv2.dilate(out.astype(np.uint8), np.ones((2 * cfg.pad + 1,) * 2, np.uint8)) > 0
        b = 8  # border seeds were ignored: carry a region found just inside out to the border
        out[:b] |= out[b : b + 1].any(0)
        out[-b:] |= out[-b - 1 : -b].any(0)
        out[:, :b] |= out[:, b : b + 1]
        out[:, -b:] |= out[:, -b - 1 : -b]
        log.debug("overlay mask covers %.2f%% of the canvas", 100 * out.mean())
    return out


def inpaint(
    image: np.ndarray, mask: np.ndarray, radius: int = 5, inpainter: Inpainter | None = None
) -> np.ndarray:
    if not mask.any():
        return image
    if inpainter is not None:
        return inpainter.inpaint(image, mask)
    # Telea only looks ``radius`` pixels around a hole: inpaint each hole in a padded crop (a small
    # logo in a large frame costs what the logo costs); holes closer than the padding are done
    # together, so the result is the same as one call on the whole frame
    pad = 2 * radius + 2
    near = cv2.dilate(mask.astype(np.uint8), np.ones((2 * pad + 1,) * 2, np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(near, connectivity=8)
    out = image.copy()
    for c in range(1, count):
        x, y, w, h = stats[c, :4]
        sl = (slice(y, y + h), slice(x, x + w))
        out[sl] = cv2.inpaint(
            np.ascontiguousarray(image[sl]), mask[sl].astype(np.uint8), radius, cv2.INPAINT_TELEA
        )
    return out
