"""Occlusion removal: hands and brushes out, the canvas underneath kept.

The video is cut into segments (10 s at 3 fps = 30 samples). Each sample gets an occlusion mask;
the segment's clean canvas is the masked median of its samples plus the previous segment's result
(the first "previous" being the blank canvas), so a pixel hidden in every sample keeps its last
known value until the caller fills it from the next segment (:func:`fill_from_next`). The default
masks are weight-free: an occluder is a *transient* deviation — a pixel that differs both from the
segment's median (taken without samples that are surely occluders) and from the running estimate,
and is not part of a run of agreeing samples (paint persists) — or a view after which the canvas
comes back (:func:`bracketed`), with a skin-tone cue at a lower threshold and a dilation for soft
edges and compression halos. A learned segmenter (RMBG/BiRefNet, GroundingDINO boxes) plugs in
through :class:`OcclusionDetector`.
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
    small = np.stack([cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in samples])
    prev = cv2.resize(previous, (sw, sh), interpolation=cv2.INTER_AREA)
    skin = np.stack([skin_mask(f) for f in small])
    hard = np.zeros_like(skin)  # skin where the painting is not skin-coloured
    away = np.zeros_like(skin)  # ... and that goes away again later in the segment
    if skin_ok is not None:
        ok = cv2.resize(skin_ok.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST).astype(bool)
        hard = skin & ~ok
        # skin-coloured paint stays; an arm leaves: skin with a non-skin view after it is an arm
        later = np.flip(np.logical_or.accumulate(np.flip(~skin, 0), axis=0), 0)
        away[:-1] = hard[:-1] & later[1:]
        # the arm's anti-aliased rim is not skin-coloured any more: grow by one analysis pixel
        away = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for m in away]) & ~ok
    # a brush or arm that rests over fresh paint and then leaves, whatever its colour
    back = bracketed(small, prev, ~skin, cfg.threshold)
    # the reference leaves sure occluders out, so an arm that rests on one spot for most of the
    # segment does not become the median and make the clean views around it look transient
    sure = away | back
    med = masked_median(
        np.concatenate([small, prev[None]]), np.concatenate([sure, np.zeros_like(sure[:1])])
    ).astype(np.int16)
    small, prev = small.astype(np.int16), prev.astype(np.int16)
    dev_med = np.abs(small - med).max(-1)
    dev_prev = np.abs(small - prev).max(-1)
    # paint persists (a run of agreeing samples); a passing hand does not. Several paint layers
    # within one segment give a per-channel median that matches none of them, so deviation from
    # it alone would mask every layer and leave the stale previous state
    strong = (dev_med > cfg.threshold) & (dev_prev > cfg.threshold) & ~persistent(small, cfg.threshold)
    weak = ((dev_med > cfg.threshold // 2) & skin) | hard
    # a hand's shadow: the canvas under it, uniformly darker (the paper's named limitation: dark
    # artefacts left in the data); fainter than an occluder, so it gets its own, lower bar
    # only pixels that deviate and are not masked yet are candidates (keeps this cheap)
    cand = (dev_med > cfg.threshold // 2) & ~strong & ~weak & ~back
    shade = np.zeros_like(cand)
    if cand.any():
        idx = np.nonzero(cand)
        shade[idx] = shadow_mask(small[idx][None], med[idx[1:]][None], cfg.threshold // 2)[0]
        shade &= ~persistent(small, cfg.threshold // 2)
    raw = (strong | weak | back | shade).astype(np.uint8)
    r = max(1, int(round(cfg.dilate * min(h, w))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = np.empty((n, h, w), bool)
    for i in range(n):
        m = cv2.morphologyEx(raw[i], cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
        out[i] = cv2.dilate(m, kernel) > 0
    return out


def shadow_mask(small: np.ndarray, ref: np.ndarray, threshold: int) -> np.ndarray:
    """(N, h, w) samples that are ``ref`` dimmed: every channel darker by more than ``threshold``
    grey levels in sum, by a similar factor (0.35-0.93) — a shadow keeps the colour, paint does not."""
    s = small.astype(np.float32) + 4.0
    r = ref.astype(np.float32)[None] + 4.0
    ratio = s / r
    lo, hi = ratio.min(-1), ratio.max(-1)
    darker = (r - s).sum(-1) > threshold
    return darker & (hi < 0.93) & (lo > 0.35) & (hi - lo < 0.12)


def persistent(small: np.ndarray, threshold: int) -> np.ndarray:
    """(N, h, w) samples in a run of at least three consecutive samples that agree (1 s at 3 fps)."""
    n = len(small)
    agree = np.zeros((n + 1,) + small.shape[1:3], bool)  # agree[i]: sample i-1 agrees with i
    d = np.abs(np.diff(small, axis=0))
    agree[1:n] = np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]) <= threshold
    back, fwd = agree[:n], agree[1:]  # i agrees with i-1 / with i+1
    out = back & fwd
    out[1:] |= back[1:] & back[:-1]  # i-2, i-1, i
    out[:-1] |= fwd[:-1] & fwd[1:]  # i, i+1, i+2
    return out


def bracketed(small: np.ndarray, prev: np.ndarray, valid: np.ndarray, threshold: int) -> np.ndarray:
    """(N, h, w) samples hidden by something that later went away: for sample i, the nearest
    trusted (``valid``) views before and after it that differ from it agree with each other, so
    the canvas came back. Paint does not revert, so this catches an occluder whatever its colour
    and however long it rests (a brush held still over fresh paint for most of the segment is the
    median and passes the median test). ``prev`` is the trusted view before the first sample; only
    pixels where a trusted view differs from it can hold such a return and are examined."""
    n = len(small)
    out = np.zeros(valid.shape, bool)
    seq = np.concatenate([prev[None], small]).astype(np.int16)
    steps = (np.abs(np.diff(seq, axis=0)).max(-1) > threshold).sum(0)
    changed = np.abs(seq[1:] - seq[0]).max(-1) > threshold
    # a return needs two changes (away and back); fresh paint alone makes one
    ys, xs = np.nonzero((changed & valid).any(0) & (steps >= 2))
    if len(ys) == 0:
        return out
    vals = np.ascontiguousarray(seq[:, ys, xs].transpose(0, 2, 1))  # (n+1, 3, P), 0 = before
    ok = np.concatenate([np.ones((1, len(ys)), bool), valid[:, ys, xs]])
    diff = np.zeros((n + 1, n + 1, len(ys)), bool)
    for a in range(n):  # symmetric; channels reduced by hand (a max over a last axis of 3 is slow)
        d = np.abs(vals[a + 1 :] - vals[a])
        diff[a, a + 1 :] = np.maximum(np.maximum(d[:, 0], d[:, 1]), d[:, 2]) > threshold
        diff[a + 1 :, a] = diff[a, a + 1 :]
    cols = np.arange(len(ys))
    for i in range(1, n):
        before = diff[i, :i] & ok[:i]  # trusted earlier views unlike sample i
        after = diff[i, i + 1 :] & ok[i + 1 :]
        has = before.any(0) & after.any(0)
        if not has.any():
            continue
        j = i - 1 - np.argmax(before[::-1], axis=0)  # the nearest such view before …
        k = i + 1 + np.argmax(after, axis=0)  # … and after
        out[i - 1, ys, xs] = has & ~diff[j, k, cols]
    return out


def skin_in_painting(final: np.ndarray, grow: int = 5) -> np.ndarray:
    """Where the finished painting (an outro frame, no hands) is itself skin-coloured."""
    m = skin_mask(final).astype(np.uint8)
    return cv2.dilate(m, np.ones((2 * grow + 1,) * 2, np.uint8)) > 0


def segment_masks(
    samples: np.ndarray,
    previous: np.ndarray,
    cfg: OcclusionConfig,
    detector: OcclusionDetector | None = None,
    skin_ok: np.ndarray | None = None,
) -> np.ndarray:
    """(N, H, W) occlusion masks of one segment's samples, learned or weight-free."""
    if detector is not None:
        return np.asarray(detector.masks(samples), bool)
    return transient_masks(samples, previous, cfg, skin_ok)


def clean_segment(
    samples: np.ndarray,
    previous: np.ndarray,
    cfg: OcclusionConfig,
    detector: OcclusionDetector | None = None,
    skin_ok: np.ndarray | None = None,
    masks: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """The segment's occlusion-free canvas and the mean occluded fraction of its samples."""
    if masks is None:
        masks = segment_masks(samples, previous, cfg, detector, skin_ok)
    stack = np.concatenate([samples, previous[None]])
    mask = np.concatenate([masks, np.zeros_like(masks[:1])])
    return masked_median(stack, mask), float(masks.mean())


def fill_from_next(
    clean: np.ndarray, stale: np.ndarray, samples: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the ``stale`` pixels of a segment's result (hidden in every one of its samples, so they
    still hold the segment before's state) from the *next* segment's earliest clean observation.
    Painting only adds paint: the first clean view after the occluder left is closer to the hidden
    state than the stale earlier one. Returns the filled result and what is still stale (hidden in
    the next segment too)."""
    clear = ~masks & stale[None]
    seen = clear.any(0)
    if not seen.any():
        return clean, stale
    first = np.argmax(clear, axis=0)
    ys, xs = np.nonzero(seen)
    out = clean.copy()
    out[ys, xs] = samples[first[ys, xs], ys, xs]
    return out, stale & ~seen
