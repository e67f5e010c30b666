"""Validation during training: sample painting processes from fixed images with the same sampler
as ``loomis-paint`` (``loomis.sampler.paint_with_pipeline``) and, for validation samples with
ground truth, score them with PDP (``loomis.metrics.pdp``) when that module is importable."""

from __future__ import annotations

import logging

import numpy as np

from loomis.io import load_image, resize, write_json, write_video
from loomis.mediums import build_prompt

from . import distributed as D

log = logging.getLogger(__name__)


def _targets(trainer) -> list[tuple[str, np.ndarray, str, list[np.ndarray] | None]]:
    """(name, image, prompt, ground-truth frames in painting order or None)."""
    v = trainer.cfg.validation
    medium = v.medium or (trainer.mediums[0] if trainer.mediums else "acrylic")
    out = [(f"image{i}", load_image(p), build_prompt(medium), None) for i, p in enumerate(v.images)]
    if trainer.cfg.data.path:
        from loomis.dataset import read_dataset

        samples, _ = read_dataset(trainer.cfg.data.path, split=v.split, on_bad="skip")
        for s in samples[: v.max_samples]:
            idx = np.linspace(0, s.num_frames - 1, trainer.cfg.data.frames).round().astype(int)
            gt = s.load_frames(list(idx))
            out.append((s.id, gt[-1], build_prompt(s.medium, s.caption), gt))
    return out


def run_validation(trainer) -> None:
    """Rank 0 samples; the others wait. Skips (with a note) what cannot run here."""
    if getattr(trainer.engine, "zero_stage", 0) == 3:
        log.info("validation skipped under ZeRO-3 (parameters are partitioned); validate the exported LoRA")
    elif trainer.env.is_main:
        try:
            from loomis.sampler import SampleConfig, paint_with_pipeline
        except ImportError:
            log.info("validation skipped: loomis.sampler is not available")
        else:
            _sample_all(trainer, SampleConfig, paint_with_pipeline)
    D.barrier()


def _pdp():
    try:
        from loomis.metrics.pdp import perceptual_distance_profile

        return perceptual_distance_profile
    except ImportError:
        log.info("PDP skipped: loomis.metrics.pdp is not available")
        return None


def _sample_all(trainer, SampleConfig, paint_with_pipeline) -> None:
    targets = _targets(trainer)
    if not targets:
        log.info(
            "validation: no validation.images and no %r samples; nothing to sample",
            trainer.cfg.validation.split,
        )
        return
    pipe = _pipeline(trainer)
    v, d = trainer.cfg.validation, trainer.cfg.data
    sample_cfg = SampleConfig(
        frames=d.frames,
        steps=v.num_inference_steps,
        guidance=v.guidance_scale,
        seed=trainer.cfg.train.seed,
        size=(int(d.size[0]), int(d.size[1])),
    )
    pdp = _pdp() if any(gt is not None for *_, gt in targets) else None
    out_dir = trainer.out / "validation" / f"step-{trainer.step:06d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    was_training = trainer.transformer.training
    trainer.transformer.eval()
    _encoders_to(pipe, trainer.env.device)
    try:
        scores, report = [], {}
        for name, image, prompt, gt in targets:
            frames = paint_with_pipeline(pipe, image, prompt, sample_cfg)
            write_video(out_dir / f"{name}.mp4", frames, fps=8)
            report[name] = {"prompt": prompt, "pdp": None}
            if pdp is not None and gt is not None:
                h, w = frames[0].shape[:2]
                scores.append(float(pdp(frames, [resize(f, (w, h)) for f in gt]).pdp))
                report[name]["pdp"] = scores[-1]
        write_json(out_dir / "validation.json", {"step": trainer.step, "samples": report})
        if scores:
            trainer.logger.scalar("val/pdp", float(np.mean(scores)), trainer.step)
            log.info(
                "validation step %d: PDP %.4f over %d samples", trainer.step, np.mean(scores), len(scores)
            )
        log.info("validation videos in %s", out_dir)
    finally:
        trainer.transformer.train(was_training)
        _encoders_to(pipe, "cpu")  # keep accelerator memory for training between validations


def _encoders_to(pipe, device) -> None:
    for m in (pipe.text_encoder, pipe.image_encoder, pipe.vae):
        m.to(device)


def _pipeline(trainer):
    """A pipeline around the training transformer (built once, encoders loaded on first use)."""
    if getattr(trainer, "_val_pipe", None) is None:
        from diffusers import WanImageToVideoPipeline

        from loomis.encoders import load_encoders
        from loomis.models import make_scheduler

        comps = load_encoders(trainer.resolved, trainer.dtype, "cpu", trainer.cfg.model.tiny_seed)
        shift = trainer.resolved.spec.flow_shift if trainer.resolved.spec else 3.0
        trainer._val_pipe = WanImageToVideoPipeline(
            transformer=trainer.transformer, scheduler=make_scheduler(shift), **comps
        )
    return trainer._val_pipe
