"""Training clips from the dataset layout: reverse, resample, bucket, batch.

A dataset sample is a painting process stored in painting order. A training *item* is one sample
with one condition: the real finished painting (stage 1) or one stored media variant I* (stage 2,
media transfer; the target video stays the real process and the prompt carries its medium).

* ``clip_indices``: ``frames`` indices spread evenly in painting progress or in source time,
  then **reversed**, so clip frame 0 is the finished painting (the I2V condition) and the last
  frame the (near) blank canvas.
* Each item goes to the aspect-ratio bucket closest to its frames' shape and is resized-and-padded
  into it (``loomis.geometry``, shared with sampling).
* ``BatchPlan`` groups items of one bucket into batches, in an order fixed by (seed, epoch), and
  deals them to ranks; a position (epoch, batch) is all it takes to resume exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from loomis import geometry
from loomis.dataset import Problem, Sample, read_dataset
from loomis.encoders import frames_to_tensor
from loomis.errors import InputError
from loomis.io import load_image
from loomis.mediums import build_prompt, get_medium

from .config import DataConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One training example: a sample and its condition (``variant`` = None: the real painting)."""

    key: str
    sample: Sample
    variant: dict | None
    bucket: tuple[int, int]  # (width, height)
    indices: tuple[int, ...]  # painting-order frame indices, already reversed (clip order)

    @property
    def prompt(self) -> str:
        return build_prompt(self.sample.medium, self.sample.caption)


def item_key(sample_id: str, variant: dict | None) -> str:
    return sample_id if variant is None else f"{sample_id}@{variant.get('medium', 'variant')}"


def bucket_list(cfg: DataConfig) -> list[tuple[int, int]]:
    base = (int(cfg.size[0]), int(cfg.size[1]))
    if not cfg.aspect_buckets:
        return [base]
    return sorted(set(geometry.buckets(base[0] * base[1])) | {base})


def clip_indices(progress: list[float], times: list[float] | None, n: int, by: str) -> tuple[int, ...]:
    """``n`` frame indices evenly spaced in progress (or time), first and last included, reversed."""
    key = np.asarray(times if (by == "time" and times is not None) else progress, dtype=np.float64)
    key = np.maximum.accumulate(key)  # a process never un-paints; tolerate noisy estimates
    targets = np.linspace(key[0], key[-1], n)
    right = np.clip(np.searchsorted(key, targets), 0, len(key) - 1)
    left = np.clip(right - 1, 0, len(key) - 1)
    pick = np.where(np.abs(key[left] - targets) <= np.abs(key[right] - targets), left, right)
    pick[0], pick[-1] = 0, len(key) - 1
    return tuple(int(i) for i in pick[::-1])


def _frame_size(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def make_items(samples: list[Sample], cfg: DataConfig) -> tuple[list[Item], list[Problem]]:
    """Items for the configured condition; samples that cannot serve are problems (with ids)."""
    buckets, items, problems = bucket_list(cfg), [], []
    for s in samples:
        try:
            get_medium(s.medium)
            w, h = _frame_size(s.frame_paths[-1])
            sizes = {_frame_size(p) for p in (s.frame_paths[0], s.frame_paths[-1])}
        except (InputError, OSError) as exc:
            problems.append(Problem(s.id, str(exc).splitlines()[0]))
            continue
        if len(sizes) != 1:
            problems.append(Problem(s.id, f"frames differ in size {sorted(sizes)}"))
            continue
        if cfg.resample == "time" and s.times is None:
            log.debug("sample %s has no frame times; spacing by progress", s.id)
        idx = clip_indices(s.progress, s.times, cfg.frames, cfg.resample)
        bucket = geometry.choose_bucket(w, h, buckets)
        for v in _conditions(s, cfg, problems):
            items.append(Item(item_key(s.id, v), s, v, bucket, idx))
    return items, problems


def _conditions(s: Sample, cfg: DataConfig, problems: list[Problem]) -> list[dict | None]:
    if cfg.condition != "variants":
        return [None]
    vs = [v for v in s.variants if not cfg.variant_mediums or v.get("medium") in cfg.variant_mediums]
    if not vs:
        problems.append(Problem(s.id, "no media variant to train the transfer stage on"))
    return vs


def load_items(cfg: DataConfig) -> list[Item]:
    """Read the dataset and build items, applying the bad-sample policy (never silently)."""
    samples, problems = read_dataset(cfg.path, split=cfg.split, on_bad=cfg.on_bad)
    items, more = make_items(samples, cfg)
    for p in more:
        if cfg.on_bad == "error":
            raise InputError(f"bad sample {p} (set data.on_bad=skip to skip it)")
        log.warning("skipping bad sample %s", p)
    problems += more
    if problems:
        log.warning("%d bad sample(s) skipped: %s", len(problems), ", ".join(p.id for p in problems))
    if not items:
        raise InputError(
            f"config key data.path: no usable {cfg.split!r} samples in {cfg.path} "
            f"(condition={cfg.condition}); check the dataset with loomis-data inspect"
        )
    return items


def load_clip(item: Item, cfg: DataConfig) -> dict:
    """Pixels of one item: ``video`` (3, F, H, W) in [-1, 1] (clip order), ``image`` (H, W, 3)
    uint8 condition, ``prompt``."""
    unique = sorted(set(item.indices))
    loaded = dict(zip(unique, item.sample.load_frames(unique)))
    frames = [geometry.resize_and_pad(loaded[i], item.bucket, cfg.pad_value)[0] for i in item.indices]
    if item.variant is not None:
        image = geometry.resize_and_pad(load_image(item.variant["path"]), item.bucket, cfg.pad_value)[0]
    elif cfg.condition == "reference":
        image = geometry.resize_and_pad(item.sample.load_reference(), item.bucket, cfg.pad_value)[0]
    else:
        image = frames[0]
    return {"video": frames_to_tensor(frames), "image": image, "prompt": item.prompt, "key": item.key}


# --------------------------------------------------------------------------------------------
# batching
# --------------------------------------------------------------------------------------------
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
