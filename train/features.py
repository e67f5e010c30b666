"""What the DiT trains on: per-item latents, I2V condition, prompt and CLIP embeddings.

Two sources with one interface (``keys``, ``buckets``, ``mediums``, ``batch(indices) -> dict``):

* ``OnlineFeatures`` runs the frozen encoders on the fly (``loomis.cache.encode_items``, the same
  function ``loomis-data cache`` stores the outputs of).
* ``loomis.cache.CacheReader`` reads what ``loomis-data cache`` stored; then only the DiT is loaded
  and neither the encoders nor the dataset are read.
"""

from __future__ import annotations

import logging

import torch

from loomis.cache import FIELDS, encode_items
from loomis.clips import ClipOptions, Item

log = logging.getLogger(__name__)


class OnlineFeatures:
    """Encodes items with the frozen VAE / umT5 / CLIP as batches are drawn."""

    def __init__(self, items: list[Item], opts: ClipOptions, comps: dict, device, memo_items: int = 0):
        self.items, self.opts, self.comps, self.device = items, opts, comps, device
        self.memo_items = memo_items
        self.memo: dict[str, dict[str, torch.Tensor]] = {}  # encodings are deterministic: reuse them

    @property
    def keys(self) -> list[str]:
        return [it.key for it in self.items]

    @property
    def buckets(self) -> list[tuple[int, int]]:
        return [it.bucket for it in self.items]

    @property
    def mediums(self) -> list[str]:
        return sorted({it.sample.medium for it in self.items})

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """Items are encoded one at a time (as the cache stores them, so cached and on-the-fly runs
        see the same tensors) and kept in memory up to ``data.memo_items``."""
        feats = []
        for i in indices:
            key = self.items[i].key
            f = self.memo.get(key)
            if f is None:
                f = {
                    k: v[0].cpu()
                    for k, v in encode_items([self.items[i]], self.opts, self.comps, self.device).items()
                }
                if len(self.memo) < self.memo_items:
                    self.memo[key] = f
            feats.append(f)
        return {k: torch.stack([f[k] for f in feats]) for k in FIELDS}
