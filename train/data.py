"""Batches for the trainer, and a synthetic dataset for smoke runs.

Clip selection and bucketing live in the core (``loomis.clips``), shared with ``loomis-data
cache`` and validation. Here:

* ``BatchPlan`` groups items of one bucket into batches, in an order fixed by (seed, epoch), and
  deals them to ranks; a position (epoch, batch) is all it takes to resume exactly.
* ``synthesise_dataset``: a few procedural "reveal" processes (blank canvas → picture, top to
  bottom), so that ``loomis-train configs/tiny.yaml`` runs with no dataset at all (a smoke run of
  the whole stack; what it learns is meaningless).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from loomis.errors import InputError

log = logging.getLogger(__name__)


def synthesise_dataset(root: Path, n: int, size: tuple[int, int], frames: int = 12) -> Path:
    """``n`` samples of ``frames`` frames at ``size`` (w, h) in the loomis-data layout (kept if
    already there: a resumed smoke run trains on the same data)."""
    from loomis.dataset import INDEX, write_sample

    if (root / INDEX).is_file():
        return root
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    for i in range(n):
        rng = np.random.default_rng(i)
        final = np.stack(
            [60 + 150 * y / h, 40 + 180 * x / w, np.full((h, w), float(rng.integers(60, 200)))], -1
        ).astype(np.uint8)
        cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
        final[(y - cy) ** 2 + (x - cx) ** 2 < (min(h, w) // 4) ** 2] = rng.integers(0, 255, 3)
        steps = [np.where((y < round(h * k / (frames - 1)))[..., None], final, 255) for k in range(frames)]
        write_sample(root, f"synth{i:03d}", [s.astype(np.uint8) for s in steps], medium="acrylic",
                     caption="a synthetic test picture")  # fmt: skip
    log.info("data: no data.path; wrote %d synthetic reveal processes to %s (smoke run)", n, root)
    return root


class BatchPlan:
    """Deterministic batches per epoch: same-bucket groups of ``batch_size``, order fixed by
    (seed, epoch), dealt round-robin to ranks (every rank gets the same number)."""

    def __init__(
        self,
        buckets: list[tuple[int, int]],
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
    ):
        self.buckets, self.batch_size, self.seed = buckets, batch_size, seed
        self.rank, self.world, self.shuffle = rank, world, shuffle
        groups: dict[tuple[int, int], list[int]] = {}
        for i, b in enumerate(buckets):
            groups.setdefault(b, []).append(i)
        self.groups = [groups[b] for b in sorted(groups)]
        total = sum(len(g) // batch_size for g in self.groups)
        self.per_rank = total // world
        if self.per_rank == 0:
            raise InputError(
                f"config key data.batch_size: {len(buckets)} items in {len(self.groups)} bucket(s) give no full "
                f"batch of {batch_size} for each of {world} rank(s); lower data.batch_size or add samples"
            )

    def epoch(self, epoch: int) -> list[list[int]]:
        """This rank's batches (lists of item indices) for ``epoch``."""
        g = torch.Generator().manual_seed(self.seed * 100003 + epoch)
        batches = []
        for group in self.groups:
            order = (
                [group[i] for i in torch.randperm(len(group), generator=g)] if self.shuffle else list(group)
            )
            full = len(order) // self.batch_size * self.batch_size
            batches += [order[i : i + self.batch_size] for i in range(0, full, self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g)]
        mine = batches[self.rank :: self.world]
        return mine[: self.per_rank]

    def iterate(self, start_epoch: int = 0, start_batch: int = 0):
        """Yield (epoch, batch_index, item indices) forever from a position."""
        epoch, b = start_epoch, start_batch
        while True:
            batches = self.epoch(epoch)
            for i in range(b, len(batches)):
                yield epoch, i, batches[i]
            epoch, b = epoch + 1, 0
