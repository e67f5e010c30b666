"""Pluggable perceptual distances between frames, and their registry.

Every metric in ``loomis.metrics`` takes a ``Distance`` (or its registry name) and every report names
the one it used. The default, ``msssim-deltae``, needs no weights, so evaluation works anywhere:

* ``ms-ssim``: 1 - MS-SSIM (Wang, Simoncelli & Bovik 2003) on luma: structure at five scales.
* ``delta-e``: mean CIE76 ΔE between the CIELAB images after a small Gaussian blur (the spatial
  pooling of S-CIELAB), divided by 100 and capped at 1: where colour is (not yet) right.
* ``msssim-deltae``: the mean of the two. A painting process changes both structure (drawing,
  edges, texture) and colour (blocking in, glazing); either alone misses half of it.

Network distances (``lpips``, ``clip``, ``dinov2``) live in ``loomis.metrics.nets`` and load weights
from a local path, an environment variable or the torch/Hugging Face cache; they refuse (InputError)
when no weights exist rather than scoring with a random backbone.

Frames are resized to the reference's aspect at a working size (longest side 256 by default) so
that sizes may differ between videos and scores do not depend on the resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from loomis.errors import InputError
from loomis.io import resize

log = logging.getLogger(__name__)

DEFAULT_DISTANCE = "msssim-deltae"
WORK_SIDE = 256
# Wang et al. 2003, Table 1: the exponents of the five scales.
MSSSIM_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
_K1, _K2, _L = 0.01, 0.03, 255.0
_C1, _C2 = (_K1 * _L) ** 2, (_K2 * _L) ** 2


def working_size(reference: np.ndarray, side: int = WORK_SIDE) -> tuple[int, int]:
    """(width, height) with the reference's aspect and the longest side at most ``side``."""
    h, w = reference.shape[:2]
    scale = min(1.0, side / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


class Distance:
    """A perceptual distance between RGB uint8 frames; 0 for identical frames, larger is farther.

    Subclasses implement ``features`` (what is compared, per frame) and ``compare`` (features of
    many frames against those of one reference). Batching through ``to_reference`` lets the
    reference be processed once."""

    name: str = "distance"
    description: str = ""

    def __init__(self, side: int = WORK_SIDE):
        self.side = side

    def prepare(self, frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return resize(np.ascontiguousarray(frame, dtype=np.uint8), size)

    def features(self, frame: np.ndarray):
        raise NotImplementedError

    def compare(self, feats: list, ref_feat) -> np.ndarray:
        raise NotImplementedError

    def to_reference(self, frames: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
        """Distance of every frame to ``reference``."""
        size = working_size(reference, self.side)
        ref_feat = self.features(self.prepare(reference, size))
        return np.asarray(self.compare([self.features(self.prepare(f, size)) for f in frames], ref_feat))

    def pairs(self, frames_a: Sequence[np.ndarray], frames_b: Sequence[np.ndarray]) -> np.ndarray:
        """Distance of ``frames_a[i]`` to ``frames_b[i]`` for every i."""
        if len(frames_a) != len(frames_b):
            raise ValueError(f"{len(frames_a)} vs {len(frames_b)} frames")
        return np.array([float(self.to_reference([a], b)[0]) for a, b in zip(frames_a, frames_b)])

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.to_reference([a], b)[0])

    def __repr__(self) -> str:
        return f"<Distance {self.name}>"


# --------------------------------------------------------------------------------------------
# weight-free distances
# --------------------------------------------------------------------------------------------
def luma(frame: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma in [0, 255], float64."""
    f = frame.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def _blur(x: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    return cv2.GaussianBlur(x, (11, 11), sigma, borderType=cv2.BORDER_REFLECT)


def ssim_terms(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean SSIM (l·cs) and mean contrast-structure term cs (Gaussian window σ=1.5, K1=0.01,
    K2=0.03, L=255) of two single-channel float images."""
    mx, my = _blur(x), _blur(y)
    sxx = _blur(x * x) - mx * mx
    syy = _blur(y * y) - my * my
    sxy = _blur(x * y) - mx * my
    lum = (2 * mx * my + _C1) / (mx * mx + my * my + _C1)
    cs = (2 * sxy + _C2) / (sxx + syy + _C2)
    return float((lum * cs).mean()), float(cs.mean())


def ms_ssim(x: np.ndarray, y: np.ndarray, weights: np.ndarray = MSSSIM_WEIGHTS) -> float:
    """Multi-scale SSIM of two luma images. Images too small for five scales use fewer (the
    weights renormalised); negative cs terms are clipped to 0 so the product stays defined."""
    scales = int(max(1, min(len(weights), np.floor(np.log2(min(x.shape) / 8.0)) + 1)))
    w = weights[:scales] / weights[:scales].sum()
    value = 1.0
    for s in range(scales):
        ssim, cs = ssim_terms(x, y)
        if s == scales - 1:
            value *= max(ssim, 0.0) ** w[s]
        else:
            value *= max(cs, 0.0) ** w[s]
            x, y = _halve(x), _halve(y)
    return float(value)


def _halve(x: np.ndarray) -> np.ndarray:
    h, w = x.shape
    return cv2.resize(x, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def to_lab(frame: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """CIELAB (L in [0, 100]) of an RGB uint8 frame, optionally Gaussian-blurred first."""
    f = frame.astype(np.float32) / 255.0
    if sigma > 0:
        f = cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.cvtColor(f, cv2.COLOR_RGB2LAB).astype(np.float64)


class MsSsimDistance(Distance):
    name = "ms-ssim"
    description = "1 - MS-SSIM on luma (weight-free, structure)"

    def features(self, frame: np.ndarray) -> np.ndarray:
        return luma(frame)

    def compare(self, feats: list, ref_feat) -> np.ndarray:
        return np.array([1.0 - ms_ssim(f, ref_feat) for f in feats])


class DeltaEDistance(Distance):
    name = "delta-e"
    description = "mean CIE76 ΔE of blurred CIELAB images / 100, capped at 1 (weight-free, colour)"

    def __init__(self, side: int = WORK_SIDE, sigma: float = 2.0):
        super().__init__(side)
        self.sigma = sigma

    def features(self, frame: np.ndarray) -> np.ndarray:
        return to_lab(frame, self.sigma)

    def compare(self, feats: list, ref_feat) -> np.ndarray:
        return np.array(
            [min(1.0, float(np.linalg.norm(f - ref_feat, axis=-1).mean()) / 100.0) for f in feats]
        )


class MsSsimDeltaEDistance(Distance):
    name = "msssim-deltae"
    description = "mean of (1 - MS-SSIM on luma) and blurred-CIELAB ΔE/100 (weight-free default)"

    def __init__(self, side: int = WORK_SIDE):
        super().__init__(side)
        self.parts = (MsSsimDistance(side), DeltaEDistance(side))

    def features(self, frame: np.ndarray):
        return tuple(p.features(frame) for p in self.parts)

    def compare(self, feats: list, ref_feat) -> np.ndarray:
        per_part = [p.compare([f[k] for f in feats], ref_feat[k]) for k, p in enumerate(self.parts)]
        return np.mean(per_part, axis=0)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
def _lazy(attr: str) -> Callable[..., Distance]:
    def build(**kwargs) -> Distance:
        from loomis.metrics import nets

        return getattr(nets, attr)(**kwargs)

    return build


REGISTRY: dict[str, Callable[..., Distance]] = {
    "msssim-deltae": MsSsimDeltaEDistance,
    "ms-ssim": MsSsimDistance,
    "delta-e": DeltaEDistance,
    "lpips": _lazy("LpipsDistance"),
    "clip": _lazy("ClipDistance"),
    "dinov2": _lazy("Dinov2Distance"),
}
WEIGHT_FREE = ("msssim-deltae", "ms-ssim", "delta-e")


def available_distances() -> list[str]:
    return list(REGISTRY)


def get_distance(distance: str | Distance | None = None, **kwargs) -> Distance:
    """A ``Distance`` from its registry name (``None`` → the weight-free default) or as given."""
    if isinstance(distance, Distance):
        return distance
    name = DEFAULT_DISTANCE if distance is None else str(distance).strip().lower()
    if name not in REGISTRY:
        raise InputError(f"unknown distance {distance!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name](**kwargs)
