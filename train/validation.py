"""Validation during training: paint fixed images (and held-out dataset samples) with the training
transformer through the same sampler as ``loomis-paint`` — ``loomis.sampler.resolve_sampling``
decides the settings, ``paint_with_pipeline`` sets the solver and samples — and, for samples with
ground truth, score them with PDP (``loomis.metrics.pdp``) when that module is importable.

``validate`` takes explicit inputs (a pipeline, targets, a settings function, an output folder);
``run_validation(trainer)`` only gathers them from the trainer.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loomis.clips import bucket_list, clip_indices
from loomis.geometry import choose_bucket
from loomis.io import load_image, resize, write_json, write_video
from loomis.mediums import Medium, build_prompt, get_medium
from loomis.sampler import SampleConfig, build_pipeline, paint_with_pipeline, resolve_sampling

from . import distributed as D

log = logging.getLogger(__name__)

_PIPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # training transformer -> its pipeline


@dataclass
class Target:
    name: str
    image: np.ndarray  # the condition: the finished picture
    medium: Medium
    caption: str | None = None
    truth: list[np.ndarray] | None = None  # ground-truth frames in painting order


def dataset_targets(path, split: str, max_samples: int, frames: int, resample: str) -> list[Target]:
    """Held-out samples, their ground truth picked with the training clip indices."""
    from loomis.dataset import read_dataset

    samples, _ = read_dataset(path, split=split, on_bad="skip")
    out = []
    for s in samples[:max_samples]:
        clip = clip_indices(s.progress, s.times, frames, resample)  # clip order: finished first
        truth = s.load_frames(list(reversed(clip)))  # painting order
        out.append(Target(s.id, truth[-1], get_medium(s.medium), s.caption, truth))
    return out


def validate(
    pipe,
    targets: list[Target],
    settings: Callable[[Target], SampleConfig],
    out_dir: Path,
    device,
    pdp: Callable | None = None,
    cache=None,
) -> dict:
    """Paint every target, write ``<name>.mp4`` at the medium's fps and ``validation.json``;
    returns the report (per-sample prompt, settings, PDP when ground truth and ``pdp`` exist).
    ``cache``: a ``loomis.accel.StepCache``, as ``loomis-paint --cache`` uses it (taken off the
    training transformer afterwards)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = pipe.transformer.training
    pipe.transformer.eval()
    _encoders_to(pipe, device)
    report: dict = {"samples": {}}
    try:
        for t in targets:
            sample = settings(t)
            prompt = build_prompt(t.medium, t.caption)
            frames = paint_with_pipeline(pipe, t.image, prompt, sample, cache=cache)
            write_video(out_dir / f"{t.name}.mp4", frames, fps=sample.fps)
            row = report["samples"][t.name] = {"prompt": prompt, "sampling": sample.record(), "pdp": None}
            if cache is not None:
                row["cache"] = cache.last
            if pdp is not None and t.truth is not None:
                h, w = frames[0].shape[:2]
                row["pdp"] = float(pdp(frames, [resize(f, (w, h)) for f in t.truth]).pdp)
    finally:
        if cache is not None:
            cache.remove()
        pipe.transformer.train(was_training)
        _encoders_to(pipe, "cpu")  # keep accelerator memory for training between validations
    scores = [r["pdp"] for r in report["samples"].values() if r["pdp"] is not None]
    report["pdp"] = float(np.mean(scores)) if scores else None
    write_json(out_dir / "validation.json", report)
    return report


def _encoders_to(pipe, device) -> None:
    for m in (pipe.text_encoder, pipe.image_encoder, pipe.vae):
        m.to(device)


def _pdp():
    try:
        from loomis.metrics.pdp import perceptual_distance_profile

        return perceptual_distance_profile
    except ImportError:
        log.info("PDP skipped: loomis.metrics.pdp is not available")
        return None


# --------------------------------------------------------------------------------------------
# the trainer's side: gather the explicit inputs
# --------------------------------------------------------------------------------------------
def run_validation(trainer) -> None:
    """Rank 0 samples; the others wait. Skips (with a note) what cannot run here."""
    if getattr(trainer.engine, "zero_stage", 0) == 3:
        log.info("validation skipped under ZeRO-3 (parameters are partitioned); validate the exported LoRA")
    elif trainer.env.is_main:
        _run(trainer)
    D.barrier()


def _run(trainer) -> None:
    c = trainer.cfg
    v, d = c.validation, c.data
    medium = get_medium(v.medium or (trainer.mediums[0] if trainer.mediums else "acrylic"))
    targets = [Target(f"image{i}", load_image(p), medium) for i, p in enumerate(v.images)]
    if d.path:
        targets += dataset_targets(d.path, v.split, v.max_samples, d.frames, d.resample)
    if not targets:
        log.info("validation: no validation.images and no %r samples; nothing to sample", v.split)
        return
    buckets, spec = bucket_list(d), trainer.resolved.spec

    def settings(t: Target) -> SampleConfig:
        size = choose_bucket(t.image.shape[1], t.image.shape[0], buckets)  # the training bucket rule
        return resolve_sampling(
            spec, t.medium, steps=v.num_inference_steps, guidance=v.guidance_scale, frames=d.frames,
            size=size, seed=c.train.seed,
        )  # fmt: skip

    pdp = _pdp() if any(t.truth is not None for t in targets) else None
    out_dir = trainer.out / "validation" / f"step-{trainer.step:06d}"
    cache = None
    if v.cache != "none":
        from loomis.accel import AccelConfig, StepCache

        cache = StepCache(AccelConfig(cache=v.cache).validate())
    report = validate(_pipeline(trainer), targets, settings, out_dir, trainer.env.device, pdp, cache=cache)
    if report["pdp"] is not None:
        trainer.logger.scalar("val/pdp", report["pdp"], trainer.step)
        log.info("validation step %d: PDP %.4f", trainer.step, report["pdp"])
    log.info("validation videos in %s", out_dir)


def _pipeline(trainer):
    """A pipeline around the training transformer, built on first use (encoders loaded once)."""
    pipe = _PIPES.get(trainer.transformer)
    if pipe is None:
        from loomis.encoders import load_encoders

        frozen = load_encoders(trainer.resolved, trainer.dtype, "cpu", trainer.cfg.model.tiny_seed)
        pipe = _PIPES[trainer.transformer] = build_pipeline(
            trainer.transformer, frozen, trainer.resolved.spec
        )
    return pipe
