"""Training clips from the dataset layout: which frames, in which order, at which size.

A dataset sample is a painting process stored in painting order. A training *item* is one sample
with one condition: the real finished painting (stage 1) or one stored media variant I* (stage 2,
media transfer; the target video stays the real process and the prompt carries its medium).

* ``clip_indices``: ``frames`` indices spread evenly in painting progress or in source time,
  then **reversed**, so clip frame 0 is the finished painting (the I2V condition) and the last
  frame the (near) blank canvas. Validation picks its ground truth with the same function.
* Each item goes to the aspect-ratio bucket closest to its frames' shape and is resized-and-padded
  into it (``loomis.geometry``, shared with sampling).

This is core (not the trainer's): ``loomis-data cache``, the trainer, validation and the
benchmarks all select clips here, so a cache and a training run can never disagree on a clip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from loomis import geometry
from loomis.dataset import Problem, Sample, read_dataset
from loomis.errors import InputError
from loomis.mediums import build_prompt, get_medium

log = logging.getLogger(__name__)

RESAMPLE = ("progress", "time")
UPSCALE_TOLERANCE = 1.02  # a resize of a few percent into the bucket is not worth a warning
CONDITIONS = ("last_frame", "reference", "variants")


@dataclass
class ClipOptions:
    """What a clip depends on (the training config's ``data:`` section extends this)."""

    split: str = "train"
    frames: int = 81  # clip length, 4k+1
    size: list[int] = field(default_factory=lambda: [832, 480])  # base bucket, [width, height]
    aspect_buckets: bool = True  # add buckets of the same area for other aspect ratios
    resample: str = "progress"  # "progress" or "time": how the clip's frames are spaced
    condition: str = "last_frame"  # "last_frame" (the finished painting), "reference" or "variants"
    variant_mediums: list[str] = field(default_factory=list)  # with condition=variants: only these
    on_bad: str = "skip"  # bad samples: "skip" (reported with id) or "error"
    pad_value: int = geometry.PAD_VALUE  # loomis-paint letterboxes with the same value


def check_clip_options(opts: ClipOptions, key: str = "data.") -> None:
    """Frames 4k+1 (>= 5), sizes multiples of 16, known choices; messages name ``key``+field."""
    if not isinstance(opts.frames, int) or isinstance(opts.frames, bool):
        raise InputError(f"{key}frames: expected an integer, got {opts.frames!r}")
    if not isinstance(opts.size, (list, tuple)) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in opts.size
    ):
        raise InputError(f"{key}size: expected [width, height] in pixels, got {opts.size!r}")
    if opts.frames < 5 or (opts.frames - 1) % 4:
        lo = max(5, (opts.frames - 1) // 4 * 4 + 1)
        raise InputError(f"{key}frames: {opts.frames} is not 4k+1 (>= 5); use e.g. {lo} or {lo + 4}")
    if len(opts.size) != 2 or any(s < 16 or s % 16 for s in opts.size):
        raise InputError(f"{key}size: {opts.size} must be [width, height], multiples of 16")
    for name, choices in (("resample", RESAMPLE), ("condition", CONDITIONS), ("on_bad", ("skip", "error"))):
        if getattr(opts, name) not in choices:
            raise InputError(f"{key}{name}: {getattr(opts, name)!r} is not one of {', '.join(choices)}")


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


def bucket_list(opts: ClipOptions) -> list[tuple[int, int]]:
    base = (int(opts.size[0]), int(opts.size[1]))
    if not opts.aspect_buckets:
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
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def make_items(samples: list[Sample], opts: ClipOptions) -> tuple[list[Item], list[Problem]]:
    """Items for the configured condition; samples that cannot serve are problems (with ids)."""
    buckets, items, problems, upscaled = bucket_list(opts), [], [], []
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
        if opts.resample == "time" and s.times is None:
            log.debug("sample %s has no frame times; spacing by progress", s.id)
        idx = clip_indices(s.progress, s.times, opts.frames, opts.resample)
        bucket = geometry.choose_bucket(w, h, buckets)
        box = geometry.fit_box((w, h), bucket)
        if box.w > w * UPSCALE_TOLERANCE or box.h > h * UPSCALE_TOLERANCE:
            upscaled.append((s.id, box.w / w))
        for v in _conditions(s, opts, problems):
            items.append(Item(item_key(s.id, v), s, v, bucket, idx))
    warn_upscaled(upscaled, opts)
    return items, problems


def warn_upscaled(upscaled: list[tuple[str, float]], opts: ClipOptions) -> None:
    """Frames smaller than their training bucket are upscaled (blurred training targets): say so,
    once, with the worst factor and the fix, rather than train on them silently."""
    if not upscaled:
        return
    upscaled.sort(key=lambda t: -t[1])
    ids = ", ".join(i for i, _ in upscaled[:5]) + (" …" if len(upscaled) > 5 else "")
    log.warning(
        "%d sample(s) have frames smaller than the training size %dx%d and are upscaled up to x%.2f "
        "(%s); curate at the training size (loomis-data curate --max-size, default 832) or lower data.size",
        len(upscaled), *opts.size, upscaled[0][1], ids,
    )  # fmt: skip


def _conditions(s: Sample, opts: ClipOptions, problems: list[Problem]) -> list[dict | None]:
    if opts.condition != "variants":
        return [None]
    vs = [v for v in s.variants if not opts.variant_mediums or v.get("medium") in opts.variant_mediums]
    if not vs:
        problems.append(Problem(s.id, "no media variant to train the transfer stage on"))
    return vs


def load_items(path, opts: ClipOptions) -> list[Item]:
    """Read the dataset once and build items, applying the bad-sample policy (never silently)."""
    samples, problems = read_dataset(path, split=opts.split, on_bad=opts.on_bad)
    items, more = make_items(samples, opts)
    for p in more:
        if opts.on_bad == "error":
            raise InputError(f"bad sample {p} (set data.on_bad=skip to skip it)")
        log.warning("skipping bad sample %s", p)
    problems += more
    if problems:
        log.warning("%d bad sample(s) skipped: %s", len(problems), ", ".join(p.id for p in problems))
    if not items:
        raise InputError(
            f"config key data.path: no usable {opts.split!r} samples in {path} "
            f"(condition={opts.condition}); check the dataset with loomis-data inspect"
        )
    return items


def load_clip(item: Item, opts: ClipOptions) -> dict:
    """Pixels of one item: ``video`` (3, F, H, W) in [-1, 1] (clip order), ``image`` (H, W, 3)
    uint8 condition, ``prompt``, ``key``."""
    from loomis.encoders import frames_to_tensor
    from loomis.io import load_image

    unique = sorted(set(item.indices))
    loaded = dict(zip(unique, item.sample.load_frames(unique)))
    frames = [geometry.resize_and_pad(loaded[i], item.bucket, opts.pad_value)[0] for i in item.indices]
    if item.variant is not None:
        image = geometry.resize_and_pad(load_image(item.variant["path"]), item.bucket, opts.pad_value)[0]
    elif opts.condition == "reference":
        image = geometry.resize_and_pad(item.sample.load_reference(), item.bucket, opts.pad_value)[0]
    else:
        image = frames[0]
    return {"video": frames_to_tensor(frames), "image": image, "prompt": item.prompt, "key": item.key}
