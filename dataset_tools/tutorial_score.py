"""Scoring a curation run against a synthetic tutorial's ground truth.

* PSNR of every recovered frame against the exact canvas at that frame's time stamp.
* Hand residue: recovered pixels that look like skin or brush where the true canvas does not, and
  that match no true state of the canvas during the frame's segment within two pixels (a segment's
  result is a median over 10 s of painting; paint that was there for part of that time, or an edge
  resampled a pixel off, is a timing or resampling error that PSNR counts, not a hand left behind).
* Shadow residue: recovered pixels darker (by 12 grey levels, every channel) than every true
  state of the canvas during the frame's segment within two pixels.
* Logo residue: the same for pixels inside the logo's footprint that look like the badge (white
  blank canvas that is only late is not a logo).
* Trimming error: detected painting interval vs the true one, in seconds.
"""

from __future__ import annotations

import cv2
import numpy as np

from .tutorial_synth import BRUSH, SKIN, Tutorial

LOGO_COLOURS = np.array([[250, 250, 250], [200, 30, 30]], np.float32)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = float(d[mask].mean()) if mask is not None else float(d.mean())
    return 99.0 if mse <= 1e-10 else 10 * np.log10(255.0**2 / mse)


def _near(img: np.ndarray, colours: np.ndarray, dist: float) -> np.ndarray:
    f = img.astype(np.float32)
    return np.stack([np.linalg.norm(f - c, axis=-1) < dist for c in colours]).any(0)


def logo_mask(tut: Tutorial) -> np.ndarray:
    """The logo's footprint in known-canvas pixels."""
    kh, kw = tut.known[0].shape[:2]
    if tut.logo_box is None:
        return np.zeros((kh, kw), bool)
    x0, y0, x1, y1 = tut.logo_box
    m = cv2.getPerspectiveTransform(
        tut.quad.astype(np.float32), np.float32([[0, 0], [kw, 0], [kw, kh], [0, kh]])
    )
    box = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])[None]
    poly = cv2.perspectiveTransform(box, m)[0].round().astype(np.int32)
    out = np.zeros((kh, kw), np.uint8)
    cv2.fillConvexPoly(out, poly, 1)
    return out > 0


def truth_range(tut: Tutorial, t0: float, t1: float, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel, per-channel (low, high) over the true canvas states between ``t0`` and ``t1``
    and over each pixel's 5x5 neighbourhood (the rectification may be a pixel or two off)."""
    states = np.stack([tut.canvas_at(float(t)) for t in np.linspace(t0, t1, steps)])
    k = np.ones((5, 5), np.uint8)
    lo = cv2.erode(states.min(0), k)
    hi = cv2.dilate(states.max(0), k)
    return lo.astype(np.int16), hi.astype(np.int16)


def score(tut: Tutorial, frames: list[np.ndarray], meta: dict, tol: int = 40) -> dict:
    kh, kw = tut.known[0].shape[:2]
    logo = logo_mask(tut)
    hand_colours = np.stack([SKIN, SKIN * 0.92, BRUSH])
    psnrs, hand_px, strict_px, logo_px, shadow_px = [], 0, 0, 0, 0
    for f, d in zip(frames, meta["frames"]):
        rec = cv2.resize(f, (kw, kh), interpolation=cv2.INTER_AREA)
        gt = tut.canvas_at(float(d["time"]))
        psnrs.append(psnr(rec, gt))
        lo, hi = truth_range(tut, float(d["t_start"]), float(d["t_end"]))
        r = rec.astype(np.int16)
        wrong = ((r < lo - tol) | (r > hi + tol)).any(-1)  # like no true state of the segment
        handlike = _near(rec, hand_colours, 40) & ~_near(gt, hand_colours, 60)
        hand_px += int((wrong & handlike).sum())
        # the stricter count of earlier reports: unlike the truth at the frame's own time stamp
        strict_px += int(((np.abs(r - gt.astype(np.int16)).max(-1) > tol) & handlike).sum())
        # a shadow left behind: darker than every true state of the segment in every channel
        shadow_px += int((r < lo - 12).all(-1).sum())
        logolike = _near(rec, LOGO_COLOURS, 40) & ~_near(gt, LOGO_COLOURS, 60)
        logo_px += int((wrong & logolike & logo).sum())
    trim = meta["provenance"]["trim_s"]
    final = cv2.resize(frames[-1], (kw, kh), interpolation=cv2.INTER_AREA)
    return {
        "frames": len(frames),
        "psnr_mean_db": round(float(np.mean(psnrs)), 2),
        "psnr_min_db": round(float(np.min(psnrs)), 2),
        "psnr_final_db": round(psnr(final, tut.known[-1]), 2),
        "hand_pixels_left": hand_px,
        "hand_like_pixels_at_frame_time": strict_px,
        "shadow_pixels_left": shadow_px,
        "logo_pixels_left": logo_px,
        "logo_region_psnr_final_db": round(psnr(final, tut.known[-1], logo), 2) if logo.any() else None,
        "trim_start_error_s": round(abs(trim[0] - tut.paint_start), 2),
        "trim_end_error_s": round(abs(trim[1] - tut.paint_end), 2),
    }
