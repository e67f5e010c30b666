"""Camera drift and zoom: every sample registered to the first before anything takes a median.

A tripod that creeps or a lens that breathes turns a temporal median into a blur and moves the
canvas out from under a fixed quad. ORB features of a few anchor samples are matched to the first
sample and a similarity transform (shift, rotation, zoom) is fitted with RANSAC — the static
scene around the canvas outvotes the paint and the hand, which move on their own. Transforms of the
samples between anchors are interpolated, and each sample is warped into the first one's frame.
A quick check on five anchors leaves a still camera's samples untouched (no resampling).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Drift:
    """How far the camera moved (pixels of the work frames) and how well that was measured."""

    max_px: float = 0.0
    registered: bool = False
    checked: bool = False
    anchors: int = 0
    failed_anchors: int = 0
    notes: list[str] = field(default_factory=list)

    def as_meta(self, scale: float) -> dict:
        return {
            "max_px": round(self.max_px / scale, 2),  # source pixels
            "checked": self.checked,
            "registered": self.registered,
            "anchors": self.anchors,
            "failed_anchors": self.failed_anchors,
        }


def _gray(img: np.ndarray, side: int = 640) -> tuple[np.ndarray, float]:
    g = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY)
    s = side / max(g.shape)  # small videos are enlarged: ORB's patches need the pixels
    if abs(s - 1) < 1e-3:
        return g, 1.0
    return cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR), s


def moving_mask(frames: np.ndarray, still: float = 3.5) -> np.ndarray:
    """uint8 mask (matcher scale) of pixels that are not perfectly still over the video. A burnt-in
    logo never moves with the camera; its sharp corners would outvote the scene and pin the fit at
    "no motion", so features on still pixels are left out (a still camera has no drift to find)."""
    pick = np.linspace(0, len(frames) - 1, min(len(frames), 9)).round().astype(int)
    stack = np.stack([_gray(frames[i])[0] for i in pick]).astype(np.float32)
    still_px = cv2.dilate((stack.std(0) < still).astype(np.uint8), np.ones((7, 7), np.uint8))
    return ((1 - still_px) * 255).astype(np.uint8)


class _Features:
    """Corner features of one sample (outside still pixels) and the similarity fit between two:
    ORB matches where the scene has enough of them, else Shi-Tomasi corners tracked with
    pyramidal Lucas-Kanade (which finds wood grain and cloth weave that ORB cannot match)."""

    def __init__(self, mask: np.ndarray | None = None):
        self.orb = cv2.ORB_create(nfeatures=1500, fastThreshold=8)
        self.bf = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self.mask = mask

    def of(self, img: np.ndarray):
        g, s = _gray(img)
        mask = self.mask if self.mask is not None else np.full(g.shape, 255, np.uint8)
        kp, des = self.orb.detectAndCompute(g, mask)
        return g, s, np.float32([k.pt for k in kp]), des, mask

    def fit(self, a, b) -> np.ndarray | None:
        """(2, 3) similarity transform taking sample ``a`` onto ``b`` (work pixels), or None."""
        m = self._orb(a, b)
        return m if m is not None else self._klt(a, b)

    def _orb(self, a, b) -> np.ndarray | None:
        (_, s, pa, da, _), (_, _, pb, db, _) = a, b
        if da is None or db is None or len(pa) < 40 or len(pb) < 40:
            return None
        matches = [m for m in self.bf.match(da, db) if m.distance < 64]
        if len(matches) < 30:
            return None
        src, dst = pa[[m.queryIdx for m in matches]], pb[[m.trainIdx for m in matches]]
        return _similarity(src, dst, s, len(matches))

    def _klt(self, a, b) -> np.ndarray | None:
        ga, s, _, _, mask = a
        gb = b[0]
        pts = cv2.goodFeaturesToTrack(ga, 800, 0.003, 5, mask=mask & b[4])
        if pts is None or len(pts) < 12:
            return None
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, None, winSize=(21, 21), maxLevel=3)
        good = st.ravel() == 1
        if good.sum() < 12:
            return None
        return _similarity(pts.reshape(-1, 2)[good], nxt.reshape(-1, 2)[good], s, int(good.sum()))


def _similarity(src: np.ndarray, dst: np.ndarray, s: float, n: int) -> np.ndarray | None:
    m, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.5)
    # a moving arm is rigid too: the scene must hold most of the agreeing features
    if m is None or inl is None or int(inl.sum()) < max(10, 0.25 * n):
        return None
    m = m.astype(np.float64)
    m[:, 2] /= s  # back to work pixels (the rotation/zoom part is scale-free)
    return m


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 3) a∘b: first b, then a."""
    a3, b3 = np.vstack([a, [0, 0, 1]]), np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def _verified(frames: np.ndarray, ok: list[int], mats: list[np.ndarray]) -> bool:
    """The chained motion must bring the samples closer to the first (blurred grey difference),
    at most of five spread anchors: a hand's motion leaking into the chain does not."""
    h, w = frames.shape[1:3]

    def grey(img):
        return cv2.GaussianBlur(cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2GRAY), (0, 0), 2).astype(
            np.float32
        )

    ref = grey(frames[0])
    wins = 0
    pick = sorted(set(np.linspace(1, len(ok) - 1, min(5, len(ok) - 1)).round().astype(int)))
    for k in pick:
        img = grey(frames[ok[k]])
        warped = cv2.warpAffine(img, mats[k], (w, h), borderMode=cv2.BORDER_REPLICATE)
        m = 8  # ignore the borders the warp fills in
        raw = np.abs(img - ref)[m:-m, m:-m].mean()
        reg = np.abs(warped - ref)[m:-m, m:-m].mean()
        wins += reg < 0.9 * raw
    return wins * 2 > len(pick)


def _corner_shift(m: np.ndarray, w: int, h: int) -> float:
    c = np.float64([[0, 0], [w, 0], [w, h], [0, h]])
    moved = c @ m[:, :2].T + m[:, 2]
    return float(np.abs(moved - c).max())


def stabilise(frames: np.ndarray, rate: float, still_px: float = 0.75) -> tuple[np.ndarray, Drift]:
    """``frames`` (N, H, W, 3) warped into the first sample's frame when the camera moved more
    than ``still_px``; the input array is returned unchanged otherwise.

    Anchors a second apart are registered each to the one before (they look alike: the painting
    itself has hardly changed, so its texture matches too) and the steps are chained."""
    n, h, w = frames.shape[:3]
    drift = Drift()
    if n < 3:
        return frames, drift
    feats = _Features(moving_mask(frames))
    anchors = sorted(set(range(0, n, max(1, int(round(rate))))) | {n - 1})
    mats, ok = [np.float64([[1, 0, 0], [0, 1, 0]])], [0]
    prev = feats.of(frames[0])
    for i in anchors[1:]:
        cur = feats.of(frames[i])
        step = feats.fit(cur, prev)  # this anchor → the previous good one
        if step is None:
            continue  # the next anchor is tried against the same previous one
        mats.append(_compose(mats[-1], step))
        ok.append(i)
        prev = cur
    drift.anchors, drift.failed_anchors = len(anchors), len(anchors) - len(ok)
    drift.checked = len(ok) > len(anchors) // 2
    if not drift.checked:
        log.info("too few scene features to check for camera drift (assumed still)")
        return frames, drift
    drift.max_px = max(_corner_shift(m, w, h) for m in mats)
    if drift.max_px < still_px:
        return frames, drift
    if not _verified(frames, ok, mats):
        log.info("measured camera motion (%.1f px) does not align the samples: assumed still", drift.max_px)
        drift.max_px = 0.0
        return frames, drift
    if drift.failed_anchors > len(anchors) // 4:
        drift.notes.append(f"camera drift: {drift.failed_anchors}/{len(anchors)} anchors not registered")
    params = np.stack([m.ravel() for m in mats])
    out = frames if isinstance(frames, np.memmap) else np.empty_like(frames)
    for i in range(n):
        m = np.array([np.interp(i, ok, params[:, j]) for j in range(6)]).reshape(2, 3)
        out[i] = cv2.warpAffine(
            np.asarray(frames[i]), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    drift.registered = True
    log.info("camera drift up to %.1f px: %d samples registered to the first", drift.max_px, n)
    return out, drift
