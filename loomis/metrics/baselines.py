"""Trivial baselines: what a painting process must beat to mean anything.

A PDP number alone says little; these processes know nothing about painting and are scored beside
every method (``loomis-eval compare --baselines``, ``bench/bench_procedural.py``):

``fade-first``  a linear cross-fade from a flat page of the first ground-truth frame's mean colour
                to the finished picture: ``frame(t) = (1 - t) * page + t * picture``.
``fade-white``  the same from a white page.
``blur``        the finished picture blurred (Gaussian, sigma ``(1 - t) * side / 10``) sharpening
                into focus; the last frame is the picture itself.

Frames are evenly spaced in time (t = k / (n - 1)); the first frame is the page (or the blurriest
image), the last exactly the picture.
"""

from __future__ import annotations

import cv2
import numpy as np

from loomis.errors import InputError

BASELINE_FRAMES = 25
BLUR_SIDE_FRACTION = 0.1  # the first frame's sigma, as a fraction of the picture's long side


def fade(picture: np.ndarray, page, frames: int = BASELINE_FRAMES) -> list[np.ndarray]:
    """Linear cross-fade from a flat ``page`` colour (RGB) to ``picture``."""
    _check(picture, frames)
    pic = picture.astype(np.float32)
    start = np.broadcast_to(np.asarray(page, np.float32), pic.shape)
    out = []
    for t in np.linspace(0.0, 1.0, frames):
        out.append(np.clip(start + (pic - start) * t + 0.5, 0, 255).astype(np.uint8))
    out[-1] = picture.copy()
    return out


def blur_reveal(picture: np.ndarray, frames: int = BASELINE_FRAMES) -> list[np.ndarray]:
    """The picture blurred with sigma ``(1 - t) * BLUR_SIDE_FRACTION * long side``, sharpening."""
    _check(picture, frames)
    s0 = BLUR_SIDE_FRACTION * max(picture.shape[:2])
    out = []
    for t in np.linspace(0.0, 1.0, frames):
        sigma = (1.0 - t) * s0
        out.append(picture.copy() if sigma < 0.3 else cv2.GaussianBlur(picture, (0, 0), sigma))
    return out


def baselines(
    picture: np.ndarray, first: np.ndarray, frames: int = BASELINE_FRAMES
) -> dict[str, list[np.ndarray]]:
    """Every baseline for a ground truth whose first frame is ``first`` and finished picture
    ``picture`` (the first frame only gives ``fade-first`` its page colour)."""
    page = np.asarray(first, np.float32).reshape(-1, 3).mean(0)
    return {
        "fade-first": fade(picture, page, frames),
        "fade-white": fade(picture, (255, 255, 255), frames),
        "blur": blur_reveal(picture, frames),
    }


BASELINE_NAMES = ("fade-first", "fade-white", "blur")


def _check(picture: np.ndarray, frames: int) -> None:
    if frames < 2:
        raise InputError(f"a baseline needs at least 2 frames, got {frames}")
    if np.ndim(picture) != 3 or np.shape(picture)[2] != 3:
        raise InputError(f"the picture must be an (H, W, 3) RGB array, got shape {np.shape(picture)}")
