"""``paint(image, medium, cfg) -> PaintResult``: a painting-process video of one image, in painting
order, from either backend.

* ``wan``: Wan 2.1 I2V (+ painting LoRAs) through ``loomis.sampler`` (one model load per
  ``Painter``; LoRAs swap without reloading).
* ``procedural``: the weight-free stroke painter (``loomis.procedural``).
* ``auto``: ``wan`` when a model is given (``cfg.model`` or ``$LOOMIS_MODEL``), else ``procedural``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from loomis import __version__
from loomis.accel import AccelConfig, read_ratios
from loomis.errors import InputError
from loomis.geometry import check_painted_size, parse_size
from loomis.mediums import DEFAULT_NEGATIVE_PROMPT, Medium, build_prompt, get_medium
from loomis.parallel import frames_agree, init_distributed, rank_info
from loomis.sampler import SampleConfig, resolve_sampling
from loomis.wan import LoraSpec, WanPainter

log = logging.getLogger(__name__)

BACKENDS = ("auto", "wan", "procedural")
PROCEDURAL_FRAMES, PROCEDURAL_FPS = 49, 8.0  # the weight-free painter's defaults
PROVENANCE = (
    "Generated reconstruction of how this picture could have been painted (Loomis). It is not a "
    "record of how the picture was actually made."
)


@dataclass
class PaintConfig:
    """One run's choices; ``None`` means "the resolved default" (``loomis.sampler.resolve_sampling``:
    preset > medium > model spec). The CLI's flags map onto these fields by name."""

    backend: str = "auto"
    model: str | None = None  # spec name, Diffusers directory or hub id (wan backend)
    loras: list[LoraSpec] = field(default_factory=list)
    caption: str | None = None
    frames: int | None = None
    fps: float | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    size: str | None = None  # 480p | 720p | WxH; None: the model's canvas (procedural: long side 832)
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    preset: str | None = None  # a named bundle of sampling settings (loomis.sampler.PRESETS)
    scheduler: str | None = None  # unipc | euler | dpm++
    shift: float | None = None
    dtype: str | None = None
    device: str | None = None
    # acceleration and memory (loomis.accel.AccelConfig)
    offload: str = "none"
    attention: str | None = None
    cache: str = "none"
    cache_threshold: float | None = None
    cache_ratios: str | tuple[float, ...] | None = None  # MagCache ratios, or a file holding them
    compile: bool = False
    weights_dtype: str | None = None
    vae_tiling: str = "auto"
    parallel: str | None = None
    speed: str = "human"  # procedural: how progress is spread over time
    start: np.ndarray | None = None  # procedural: the learner's canvas to continue from (--from)
    record_strokes: bool = False  # procedural: keep every stroke for export (--strokes)

    def resolved_backend(self) -> str:
        if self.backend not in BACKENDS:
            raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend != "auto":
            return self.backend
        return "wan" if (self.model or os.environ.get("LOOMIS_MODEL")) else "procedural"

    def accel(self) -> AccelConfig:
        ratios = self.cache_ratios
        if ratios is not None and not isinstance(ratios, tuple):
            ratios = read_ratios(ratios)
        names = {f.name for f in fields(AccelConfig)} - {"cache_ratios"}
        return AccelConfig(cache_ratios=ratios, **{n: getattr(self, n) for n in names}).validate()


@dataclass
class PaintResult:
    frames: list[np.ndarray]
    fps: float
    record: dict  # everything the sidecar JSON holds
    strokes: Any = None  # procedural with ``record_strokes``: a ``StrokeRecorder``


class Painter:
    """Holds what is expensive to load (the Wan pipeline) across many ``paint`` calls."""

    def __init__(self, cfg: PaintConfig):
        self.cfg = cfg
        self.backend = cfg.resolved_backend()
        self.wan: WanPainter | None = None
        if self.backend == "wan" and (cfg.start is not None or cfg.record_strokes):
            raise InputError("--from and --strokes need the procedural backend (--backend procedural)")
        if self.backend == "wan":
            from loomis.models import parse_dtype

            model = cfg.model or os.environ.get("LOOMIS_MODEL")
            dtype = parse_dtype(cfg.dtype) if cfg.dtype else None
            accel = cfg.accel()
            device = cfg.device
            if accel.parallel or rank_info().world > 1:  # torchrun: a device per rank; a group for --parallel
                device = init_distributed(device, group=bool(accel.parallel))
            self.wan = WanPainter.load(model, dtype=dtype, device=device, accel=accel, seed=cfg.seed)
        elif cfg.loras:
            raise InputError("--lora needs the wan backend (give --model or --backend wan)")

    def paint(
        self, image: np.ndarray, medium: str | Medium, progress: Callable[[int, int], None] | None = None
    ) -> PaintResult:
        medium = get_medium(medium)
        if image.ndim != 3 or image.shape[0] < 2 or image.shape[1] < 2:
            raise InputError(f"image must be at least 2x2 pixels, got shape {image.shape}")
        t0 = time.perf_counter()
        if self.backend == "wan":
            frames, fps, extra = self._paint_wan(image, medium, progress)
        else:
            frames, fps, extra = self._paint_procedural(image, medium, progress)
        strokes = extra.pop("strokes", None)
        record = self._record(medium, frames, fps, extra, time.perf_counter() - t0)
        return PaintResult(frames=frames, fps=fps, record=record, strokes=strokes)

    def sampling(self, medium: Medium) -> SampleConfig:
        """The wan backend's settings for ``medium`` (resolved once per call, in one place)."""
        cfg = self.cfg
        names = (
            "frames",
            "steps",
            "guidance",
            "fps",
            "size",
            "seed",
            "scheduler",
            "shift",
            "negative_prompt",
        )
        return resolve_sampling(self.wan.spec, medium, cfg.preset, **{n: getattr(cfg, n) for n in names})

    def _paint_wan(self, image, medium: Medium, progress):
        cfg, wan = self.cfg, self.wan
        loras = cfg.loras or ([LoraSpec(path=Path(medium.lora))] if medium.lora else [])
        wan.set_loras(loras)
        sc = self.sampling(medium)
        prompt = build_prompt(medium, cfg.caption)
        image_wh = (image.shape[1], image.shape[0])
        check_painted_size(image_wh, sc.canvas_size(image_wh))  # before sampling, not after
        frames = wan.paint(image, prompt, sc, progress)
        if wan.accel.parallel:
            parallel = {
                "mode": wan.accel.parallel,
                "ranks": rank_info().world,
                "ranks_agree": frames_agree(frames),
            }
            if not parallel["ranks_agree"]:
                log.error("context parallel: the ranks' frames differ (rank 0's are written)")
        extra = {
            "prompt": prompt,
            "negative_prompt": sc.negative_prompt if sc.guidance > 1 else None,
            "model": wan.model_label,
            "steps": sc.steps,
            "guidance": sc.guidance,
            "sampling": sc.record(),
            "loras": [{"path": str(s.path), "weight": s.weight} for s in loras],
            "accel": wan.accel.record(),
            "cache": wan.cache.last,
            "parallel": parallel if wan.accel.parallel else None,
            "load_s": round(wan.timings.get("load_s", 0.0), 3),
        }
        return frames, sc.fps, extra

    def _paint_procedural(self, image, medium: Medium, progress):
        try:
            from loomis.procedural import ProceduralConfig
            from loomis.procedural import paint as procedural_paint
            from loomis.procedural.record import StrokeRecorder
        except ImportError:
            raise InputError("the procedural backend is not available in this installation") from None
        cfg = self.cfg
        frames_n = cfg.frames or PROCEDURAL_FRAMES
        if frames_n < 2:
            raise InputError(f"frames must be >= 2, got {frames_n}")
        max_side = _max_side(cfg.size, image)
        h, w = image.shape[:2]  # scaled to fit max_side, never upscaled
        check_painted_size((w, h), (max_side, max_side) if max(h, w) > max_side else (w, h))
        pc = ProceduralConfig(
            frames=frames_n, seed=cfg.seed, speed=cfg.speed, max_side=max_side, start=cfg.start
        )
        recorder = StrokeRecorder() if cfg.record_strokes else None
        frames = procedural_paint(image, medium, pc, progress, on_stroke=recorder)
        extra = {
            "strokes": recorder,
            "continued_from_canvas": cfg.start is not None,
            "prompt": build_prompt(medium, cfg.caption),
            "model": None,
            "loras": [],
            "speed": cfg.speed,
            "max_side": max_side,
        }
        return frames, cfg.fps or PROCEDURAL_FPS, extra

    def _record(self, medium: Medium, frames, fps, extra: dict, paint_s: float) -> dict:
        h, w = frames[0].shape[:2]
        return {
            "loomis_version": __version__,
            "backend": self.backend,
            "medium": medium.name,
            **{k: v for k, v in extra.items() if k not in ("load_s",)},
            "seed": self.cfg.seed,
            "frames": len(frames),
            "fps": fps,
            "size": [w, h],
            "order": "painting order: frame 0 is the blank canvas, the last frame the finished picture",
            "timings": {"load_s": extra.get("load_s", 0.0), "paint_s": round(paint_s, 3)},
            "provenance": PROVENANCE,
        }


def paint(image: np.ndarray, medium: str | Medium, cfg: PaintConfig | None = None) -> PaintResult:
    """One-shot convenience: build a ``Painter`` and paint one image."""
    return Painter(cfg or PaintConfig()).paint(image, medium)


def _max_side(size: str | None, image: np.ndarray) -> int:
    """Procedural output size: the long side of the canvas Wan would use for ``size`` (the same
    pixel budget and aspect rules), or 832 when no size is given."""
    if size is None:
        return 832
    return max(parse_size(size, (image.shape[1], image.shape[0])))


__all__ = ["BACKENDS", "PaintConfig", "PaintResult", "Painter", "paint"]
