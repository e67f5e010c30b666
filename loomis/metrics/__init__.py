"""Process metrics (Perceptual Distance Profile, Inverse Painting's metrics, distances).

``from loomis.metrics import pdp, get_distance`` then
``pdp.perceptual_distance_profile(gen_frames, gt_frames, distance=None)`` (frames: (H, W, 3) uint8).
"""

from loomis.metrics import pdp
from loomis.metrics.distances import (
    DEFAULT_DISTANCE,
    Distance,
    available_distances,
    get_distance,
)
from loomis.metrics.pdp import PDPResult, perceptual_distance_profile

__all__ = [
    "DEFAULT_DISTANCE",
    "Distance",
    "PDPResult",
    "available_distances",
    "get_distance",
    "pdp",
    "perceptual_distance_profile",
]
