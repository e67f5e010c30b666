"""The one sampling path for the Wan backend: used by ``loomis-paint``, by validation during
training and by evaluation.

* ``resolve_sampling(spec, medium, preset, **overrides)`` is the one place sampling settings are
  decided: explicit values > the preset > the medium's row > the model spec.
* ``paint_with_pipeline`` sets the pipeline's solver and shift from those settings (the model
  folder's scheduler is never used), letterboxes the image into a Wan-sized canvas exactly as
  training does, generates, crops the pad away and flips the frames into painting order.

The Loomis Painter LoRAs were trained on painting videos played backwards, so Wan generates the
process *in reverse*: the input image is the I2V first frame (finished painting) and the last
generated frame is the blank canvas; frame 0 of the result is the blank canvas.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from loomis.errors import InputError
from loomis.geometry import Box, buckets, check_frames, choose_bucket, parse_size, resize_and_pad
from loomis.mediums import DEFAULT_NEGATIVE_PROMPT, Medium
from loomis.schedulers import SCHEDULERS, make_scheduler, scheduler_name, scheduler_shift
from loomis.specs import DEFAULT_SPEC, SPECS, ModelSpec

log = logging.getLogger(__name__)

_BASE = SPECS[DEFAULT_SPEC]

# Named bundles of sampling settings. "fast": what step- and CFG-distilled Wan 2.1 I2V LoRAs
# (lightx2v, CausVid) were distilled for — 4 Euler flow steps at shift 5, no classifier-free
# guidance (one transformer pass per step). Stack such a LoRA with the painting LoRA (--lora).
PRESETS = {
    "fast": {"steps": 4, "guidance": 1.0, "scheduler": "euler", "shift": 5.0},
}


@dataclass(frozen=True)
class SampleConfig:
    """Everything one sampling call depends on. Build it with ``resolve_sampling``; the defaults
    here are the 480p spec's (for direct use in tests and benchmarks)."""

    frames: int = _BASE.frames
    steps: int = _BASE.steps
    guidance: float = _BASE.guidance
    fps: float = _BASE.fps
    seed: int = 0
    size: str | tuple[int, int] | None = None  # 480p | 720p | WxH | (w, h); None: ``area``
    area: int = _BASE.size[0] * _BASE.size[1]  # canvas pixel budget when ``size`` is None
    scheduler: str = _BASE.scheduler
    shift: float = _BASE.flow_shift
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    max_sequence_length: int = 512  # umT5 context is padded to 512 tokens (docs/stack-facts.md)

    def validate(self) -> SampleConfig:
        check_frames(self.frames)
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        for name in ("guidance", "fps", "shift"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (value == 0 and name != "guidance"):
                raise InputError(f"{name} must be a finite number {'>= 0' if name == 'guidance' else '> 0'}")
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"unknown scheduler {self.scheduler!r}; use one of {', '.join(SCHEDULERS)}")
        return self

    def canvas_size(self, image_wh: tuple[int, int]) -> tuple[int, int]:
        """The (w, h) Wan generates at for an image of ``image_wh``."""
        if self.size is None:
            return choose_bucket(*image_wh, buckets(self.area))
        return parse_size(self.size, image_wh)

    def record(self) -> dict:
        """What the run record (sidecar) says about sampling."""
        out = {k: v for k, v in asdict(self).items() if k not in ("negative_prompt", "max_sequence_length")}
        out["negative_prompt"] = self.negative_prompt if self.guidance > 1 else None
        if isinstance(self.size, tuple):
            out["size"] = list(self.size)
        return out


def resolve_sampling(
    spec: ModelSpec | None, medium: Medium | None = None, preset: str | None = None, **overrides
) -> SampleConfig:
    """The sampling settings for one call, decided in one place. Precedence: ``overrides`` (values
    that are not None: flags, config keys) > ``preset`` > the medium's ``sampler`` row > the model
    spec (frames, steps, guidance, fps, canvas area, scheduler and shift)."""
    spec = spec or SPECS[DEFAULT_SPEC]
    values = dict(
        frames=spec.frames,
        steps=spec.steps,
        guidance=spec.guidance,
        fps=spec.fps,
        area=spec.size[0] * spec.size[1],
        scheduler=spec.scheduler,
        shift=spec.flow_shift,
    )
    if medium is not None:
        values.update(medium.sampler)
    if preset:
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values.get("size"), list):
        values["size"] = tuple(values["size"])
    return SampleConfig(**values).validate()


def prepare_condition(image: np.ndarray, cfg: SampleConfig | str | tuple[int, int]) -> tuple[np.ndarray, Box]:
    """Letterbox ``image`` into the Wan canvas; returns (canvas, content box)."""
    image_wh = (image.shape[1], image.shape[0])
    wh = cfg.canvas_size(image_wh) if isinstance(cfg, SampleConfig) else parse_size(cfg, image_wh)
    return resize_and_pad(image, wh)


def to_painting_order(model_frames: np.ndarray | Sequence[np.ndarray], box: Box) -> list[np.ndarray]:
    """Frames as Wan generated them (finished → blank, float [0, 1] or uint8) → painting order
    (blank → finished), uint8, with the letterbox pad cropped away."""
    out = []
    for f in reversed(list(model_frames)):
        f = np.asarray(f)
        if f.dtype != np.uint8:
            f = (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        out.append(np.ascontiguousarray(box.crop(f)))
    return out


def use_scheduler(pipe, cfg: SampleConfig) -> None:
    """Give ``pipe`` the solver and shift of ``cfg`` (replaced only when they differ)."""
    current = getattr(pipe, "scheduler", None)
    if (
        current is not None
        and scheduler_name(current) == cfg.scheduler
        and scheduler_shift(current) == cfg.shift
    ):
        return
    pipe.scheduler = make_scheduler(cfg.shift, cfg.scheduler)


def paint_with_pipeline(
    pipe,
    image: np.ndarray,
    prompt: str,
    cfg: SampleConfig,
    progress: Callable[[int, int], None] | None = None,
    cache=None,
) -> list[np.ndarray]:
    """Generate the painting process of ``image`` with a ``WanImageToVideoPipeline``; returns
    ``cfg.frames`` uint8 frames in painting order at the generated resolution (pad removed).
    ``cache``: a ``loomis.accel.StepCache`` applied for this call (its ``last`` holds the counts)."""
    import torch

    cfg.validate()
    use_scheduler(pipe, cfg)
    canvas, box = prepare_condition(image, cfg)
    height, width = canvas.shape[:2]
    generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    def on_step(_pipe, step, _t, kwargs):
        if progress is not None:
            progress(step + 1, cfg.steps)
        return kwargs

    pipe.set_progress_bar_config(disable=True)  # progress goes through ``progress`` (rank/TTY aware)
    log.debug("sampling %dx%d, %d frames, %d steps (%s, shift %g)", width, height, cfg.frames, cfg.steps,
              cfg.scheduler, cfg.shift)  # fmt: skip
    applied = cache.applied(pipe, cfg) if cache is not None else contextlib.nullcontext()
    with applied:
        out = pipe(
            image=Image.fromarray(canvas),
            prompt=prompt,
            negative_prompt=cfg.negative_prompt if cfg.guidance > 1 else None,
            height=height,
            width=width,
            num_frames=cfg.frames,
            num_inference_steps=cfg.steps,
            guidance_scale=cfg.guidance,
            generator=generator,
            output_type="np",
            callback_on_step_end=on_step,
            max_sequence_length=cfg.max_sequence_length,
        )
    return to_painting_order(out.frames[0], box)


def build_pipeline(transformer, frozen: dict, spec: ModelSpec | None = None):
    """A ``WanImageToVideoPipeline`` around ``transformer`` and the frozen components (vae, text
    encoder, tokenizer, image encoder, image processor), with the spec's solver and shift; every
    sampling call then sets the solver and shift it resolved (``use_scheduler``)."""
    from diffusers import WanImageToVideoPipeline

    spec = spec or SPECS[DEFAULT_SPEC]
    return WanImageToVideoPipeline(
        transformer=transformer, scheduler=make_scheduler(spec.flow_shift, spec.scheduler), **frozen
    )
