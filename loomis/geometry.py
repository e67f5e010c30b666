"""Frame geometry shared by sampling and training: sizes Wan accepts, aspect-ratio buckets, and
resize-and-pad (with the box to crop the pad away again).

Wan 2.1 needs width and height divisible by 16 (VAE ×8, patch ×2) and 4k+1 frames (VAE ×4 in time).
Training and sampling use the same bucket choice and padding, so the model never sees an input
that was letterboxed differently from its training clips.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from loomis.errors import InputError

MULTIPLE = 16
NAMED_AREAS = {"480p": 832 * 480, "720p": 1280 * 720}
PAD_VALUE = 255  # white paper/primed canvas; the pad is constant over a clip and cropped on output


def check_frames(n: int) -> int:
    """Wan generates 4k+1 frames; anything else is an InputError naming the nearest valid counts."""
    if n < 1 or (n - 1) % 4 != 0:
        lo = max(1, (n - 1) // 4 * 4 + 1)
        raise InputError(f"frames must be 4k+1 (e.g. 49 or 81), got {n}; nearest valid: {lo} or {lo + 4}")
    return n


def snap(x: float, multiple: int = MULTIPLE) -> int:
    """Round down to a multiple (as diffusers does), never below one multiple."""
    return max(multiple, int(x // multiple) * multiple)


def buckets(
    area: int, multiple: int = MULTIPLE, min_aspect: float = 0.5, max_aspect: float = 2.0
) -> list[tuple[int, int]]:
    """(w, h) sizes, multiples of ``multiple``, with about ``area`` pixels and aspect ratios from
    ``min_aspect`` to ``max_aspect``, one per width step."""
    out = set()
    w = multiple
    while w <= math.sqrt(area * max_aspect) + multiple:
        h = snap(area / w, multiple)
        if min_aspect <= w / h <= max_aspect:
            out.add((w, h))
        w += multiple
    return sorted(out)


def choose_bucket(width: int, height: int, candidates: list[tuple[int, int]]) -> tuple[int, int]:
    """The candidate whose log aspect ratio is closest to the image's (ties: larger area)."""
    target = math.log(width / height)
    return min(candidates, key=lambda wh: (abs(math.log(wh[0] / wh[1]) - target), -wh[0] * wh[1]))


_WXH = re.compile(r"^(\d+)x(\d+)$")


def parse_size(
    size: str | tuple[int, int] | None, image_wh: tuple[int, int], default: str = "480p"
) -> tuple[int, int]:
    """``480p``/``720p`` (bucket with that pixel count matching the image's aspect), ``WxH``
    (snapped to multiples of 16) or a (w, h) tuple → the canvas size to generate at."""
    size = size or default
    if isinstance(size, tuple):
        return snap(size[0]), snap(size[1])
    if size in NAMED_AREAS:
        return choose_bucket(*image_wh, buckets(NAMED_AREAS[size]))
    m = _WXH.match(size)
    if not m:
        raise InputError(f"size must be 480p, 720p or WxH (e.g. 832x480), got {size!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if w < MULTIPLE or h < MULTIPLE:
        raise InputError(f"size {size} is too small; each side needs at least {MULTIPLE} pixels")
    return snap(w), snap(h)


@dataclass(frozen=True)
class Box:
    """Where the content sits inside a padded canvas: x, y, width, height."""

    x: int
    y: int
    w: int
    h: int

    def crop(self, frame: np.ndarray) -> np.ndarray:
        return frame[self.y : self.y + self.h, self.x : self.x + self.w]


def fit_box(src_wh: tuple[int, int], dst_wh: tuple[int, int]) -> Box:
    """The largest box of the source aspect ratio centred in ``dst_wh``."""
    sw, sh = src_wh
    dw, dh = dst_wh
    scale = min(dw / sw, dh / sh)
    w, h = max(1, min(dw, round(sw * scale))), max(1, min(dh, round(sh * scale)))
    return Box((dw - w) // 2, (dh - h) // 2, w, h)


MIN_PAINTED_SIDE = MULTIPLE


def check_painted_size(image_wh: tuple[int, int], canvas_wh: tuple[int, int]) -> Box:
    """The box the picture fills inside ``canvas_wh``; InputError when its short side would be
    under ``MIN_PAINTED_SIDE`` (one latent patch: 16 px), e.g. a 4000x200 strip on a 64 px
    canvas, which would come out 64x3."""
    box = fit_box(image_wh, canvas_wh)
    if min(box.w, box.h) < MIN_PAINTED_SIDE:
        raise InputError(
            f"the {image_wh[0]}x{image_wh[1]} picture would be painted at {box.w}x{box.h} px on a "
            f"{canvas_wh[0]}x{canvas_wh[1]} canvas; its short side must be at least {MIN_PAINTED_SIDE} px "
            "(one latent patch): crop it to a less extreme aspect ratio or give a larger --size"
        )
    return box


def resize_and_pad(
    frame: np.ndarray, dst_wh: tuple[int, int], pad_value: int = PAD_VALUE
) -> tuple[np.ndarray, Box]:
    """Resize ``frame`` (H, W, 3 uint8) into ``dst_wh`` keeping its aspect ratio and pad the rest."""
    from loomis.io import resize

    box = fit_box((frame.shape[1], frame.shape[0]), dst_wh)
    canvas = np.full((dst_wh[1], dst_wh[0], 3), pad_value, dtype=np.uint8)
    canvas[box.y : box.y + box.h, box.x : box.x + box.w] = resize(frame, (box.w, box.h))
    return canvas, box
