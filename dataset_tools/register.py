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


def _median_grey(frames: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, float]:
    greys = [_gray(frames[i]) for i in idx]
    stack = np.stack([g for g, _ in greys])
    mid = len(stack) // 2
    return np.partition(stack, mid, axis=0)[mid], greys[0][1]


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

    def of(self, gs: tuple[np.ndarray, float]):
        g, s = gs
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


def _border_still(frames: np.ndarray, size: int, corr: float = 0.97) -> bool:
    """Quick test for a still camera: the frame's border band (table, wall: no paint) of the first
    and last window medians correlates almost perfectly (a lighting change scales, it does not
    decorrelate). A moving camera shifts the texture there; a featureless border is inconclusive
    (the full registration decides)."""
    a, _ = _median_grey(frames, np.arange(0, min(size, len(frames))))
    b, _ = _median_grey(frames, np.arange(max(0, len(frames) - size), len(frames)))
    h, w = a.shape
    band = np.zeros((h, w), bool)
    bh, bw = max(4, int(0.12 * h)), max(4, int(0.12 * w))
    band[:bh], band[-bh:], band[:, :bw], band[:, -bw:] = True, True, True, True
    x = cv2.GaussianBlur(a.astype(np.float32), (0, 0), 1.5)[band]
    y = cv2.GaussianBlur(b.astype(np.float32), (0, 0), 1.5)[band]
    if x.std() < 4 or y.std() < 4:
        return False
    c = float(np.corrcoef(x, y)[0, 1])
    log.debug("drift quick check: border correlation %.3f", c)
    return c >= corr


def _verified(first: np.ndarray, last: np.ndarray, m: np.ndarray, s: float) -> bool:
    """The chained motion must bring the last window's median (grey, matcher scale ``s``) closer
    to the first one's where the scene does not change: in a band along the frame's border, which
    in a tutorial is the table or wall around the canvas (paint changes the middle). A chain that
    drifted on its own (a hand's motion leaking in) makes the border worse, not better."""
    h, w = first.shape
    m = m.copy()
    m[:, 2] *= s
    a = cv2.GaussianBlur(first.astype(np.float32), (0, 0), 2)
    b = cv2.GaussianBlur(last.astype(np.float32), (0, 0), 2)
    warped = cv2.warpAffine(b, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    band = np.zeros((h, w), bool)
    bh, bw = max(4, int(0.12 * h)), max(4, int(0.12 * w))
    band[:bh], band[-bh:], band[:, :bw], band[:, -bw:] = True, True, True, True
    k = max(2, int(0.04 * min(h, w)))  # the warp fills the outermost pixels in
    band[:k], band[-k:], band[:, :k], band[:, -k:] = False, False, False, False
    raw = np.abs(b - a)[band].mean()
    reg = np.abs(warped - a)[band].mean()
    log.debug("drift check: border difference %.2f unregistered, %.2f registered", raw, reg)
    return bool(reg < 0.8 * raw)


def _corner_shift(m: np.ndarray, w: int, h: int) -> float:
    c = np.float64([[0, 0], [w, 0], [w, h], [0, h]])
    moved = c @ m[:, :2].T + m[:, 2]
    return float(np.abs(moved - c).max())


def stabilise(
    frames: np.ndarray,
    rate: float,
    still_px: float = 0.75,
    window_s: float = 3.0,
    background: np.ndarray | None = None,
) -> tuple[np.ndarray, Drift]:
    """``frames`` (N, H, W, 3) warped into the first sample's frame when the camera moved more
    than ``still_px``; the input array is returned unchanged otherwise.

    Short windows (``window_s``) are reduced to their temporal median, which removes the moving
    hand; each window's median is registered to the one before (they look alike: the painting has
    hardly changed, so its texture matches too), the steps are chained, and the samples between
    window centres get interpolated transforms. Given ``background`` ((H, W) bool, outside the
    canvas, in the first window's frame), each window is instead registered directly to the first
    on the background alone, which does not change as the painting does: no chained error."""
    n, h, w = frames.shape[:3]
    drift = Drift()
    if n < 3:
        return frames, drift
    size = max(3, int(round(window_s * rate)))
    if background is None and _border_still(frames, size):
        drift.checked = True
        return frames, drift
    mask = moving_mask(frames)
    if background is not None:
        bg = cv2.resize(background.astype(np.uint8), mask.shape[::-1], interpolation=cv2.INTER_NEAREST)
        mask = mask * bg
    feats = _Features(mask)
    groups = [g for g in np.array_split(np.arange(n), max(1, n // size)) if len(g)]
    anchors = [float(g.mean()) for g in groups]
    # grey medians at the matcher's scale: a third of the work of colour ones at full size
    meds = (_median_grey(frames, g[:: max(1, len(g) // 9)]) for g in groups)
    mats, ok = [np.float64([[1, 0, 0], [0, 1, 0]])], [anchors[0]]
    prev = feats.of(next(meds))
    first = prev
    first_med = prev[0]
    for t, med in zip(anchors[1:], meds):
        cur = feats.of(med)
        if background is not None:
            m = feats.fit(cur, first)
            if m is not None:
                mats.append(m)
                ok.append(t)
                prev = cur
            continue
        step = feats.fit(cur, prev)  # this window → the previous good one
        if step is None:
            continue  # the next window is tried against the same previous one
        mats.append(_compose(mats[-1], step))
        ok.append(t)
        prev = cur
    anchors = groups
    drift.anchors, drift.failed_anchors = len(anchors), len(anchors) - len(ok)
    drift.checked = len(ok) > len(anchors) // 2
    if not drift.checked:
        log.info("too few scene features to check for camera drift (assumed still)")
        return frames, drift
    drift.max_px = max(_corner_shift(m, w, h) for m in mats)
    if drift.max_px < still_px:
        return frames, drift
    if not _verified(first_med, prev[0], mats[-1], prev[1]):
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
