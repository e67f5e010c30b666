"""The one sampling path for the Wan backend: used by ``loomis-paint``, by validation during
training and by evaluation.

The Loomis Painter LoRAs were trained on painting videos played backwards, so Wan generates the
process *in reverse*: the input image is the I2V first frame (finished painting) and the last
generated frame is the blank canvas. ``paint_with_pipeline`` letterboxes the image into a Wan-sized
canvas exactly as training does, generates, crops the pad away and flips the frames into painting
order (frame 0 = blank canvas, last = the input).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from loomis.errors import InputError
from loomis.geometry import Box, check_frames, parse_size, resize_and_pad
from loomis.lora import check_fits, read_lora
from loomis.mediums import DEFAULT_NEGATIVE_PROMPT
from loomis.specs import ModelSpec

log = logging.getLogger(__name__)


@dataclass
class SampleConfig:
    frames: int = 81
    steps: int = 40
    guidance: float = 5.0
    seed: int = 0
    size: str | tuple[int, int] = "480p"  # 480p | 720p | WxH | (w, h)
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    max_sequence_length: int = 512  # umT5 context is padded to 512 tokens (docs/stack-facts.md)

    def validate(self) -> SampleConfig:
        check_frames(self.frames)
        if self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.guidance < 0:
            raise InputError(f"guidance must be >= 0, got {self.guidance}")
        return self


def prepare_condition(image: np.ndarray, size: str | tuple[int, int]) -> tuple[np.ndarray, Box]:
    """Letterbox ``image`` into the Wan canvas for ``size``; returns (canvas, content box)."""
    wh = parse_size(size, (image.shape[1], image.shape[0]))
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


def paint_with_pipeline(
    pipe,
    image: np.ndarray,
    prompt: str,
    cfg: SampleConfig,
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Generate the painting process of ``image`` with a ``WanImageToVideoPipeline``; returns
    ``cfg.frames`` uint8 frames in painting order at the generated resolution (pad removed)."""
    cfg.validate()
    canvas, box = prepare_condition(image, cfg.size)
    height, width = canvas.shape[:2]
    device = getattr(pipe, "_execution_device", "cpu")
    generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    def on_step(_pipe, step, _t, kwargs):
        if progress is not None:
            progress(step + 1, cfg.steps)
        return kwargs

    pipe.set_progress_bar_config(disable=True)  # progress goes through ``progress`` (rank/TTY aware)
    log.debug("sampling %dx%d, %d frames, %d steps on %s", width, height, cfg.frames, cfg.steps, device)
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


# --------------------------------------------------------------------------------------------
# a loaded model with swappable LoRAs
# --------------------------------------------------------------------------------------------
@dataclass
class LoraSpec:
    path: Path
    weight: float = 1.0

    @classmethod
    def parse(cls, text: str) -> LoraSpec:
        """``PATH`` or ``PATH:WEIGHT`` (a finite number; ``x.safetensors:abc`` blames the weight)."""
        m = re.match(r"^(.*?)(?::(-?[0-9]*\.?[0-9]+))?$", text)
        path, weight = m.group(1), m.group(2)
        if not path:
            raise InputError(f"--lora needs PATH[:WEIGHT], got {text!r}")
        head, sep, tail = text.rpartition(":")
        if weight is None and sep and head.lower().endswith(".safetensors") and not Path(text).exists():
            raise InputError(
                f"--lora {text}: weight {tail!r} is not a number; use PATH:WEIGHT, e.g. {head}:0.8"
            )
        w = float(weight) if weight is not None else 1.0
        if not -10.0 <= w <= 10.0:
            raise InputError(
                f"--lora {text}: weight must be from -10 to 10 (beyond, a LoRA swamps the model)"
            )
        return cls(Path(path), w)


@dataclass
class WanPainter:
    """A Wan 2.1 I2V pipeline loaded once, with LoRAs that can be stacked, re-weighted, switched,
    disabled, fused and unloaded without reloading the base model."""

    pipe: object
    model_label: str = ""
    spec: ModelSpec | None = None  # the spec the model matches, for size/frame defaults
    adapters: dict[str, str] = field(default_factory=dict)  # resolved file path -> adapter name
    active: list[tuple[str, float]] = field(default_factory=list)  # (adapter name, weight)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        model: str,
        dtype: torch.dtype | None = None,
        device: str | None = None,
        offload: str = "none",
        attention: str | None = None,
        seed: int = 0,
    ) -> WanPainter:
        from loomis.models import check_device, load_pipeline, resolve_model

        check_device(device)  # before any loading: "--device cuda" on a CPU machine is exit 2
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        t0 = time.perf_counter()
        resolved = resolve_model(model)
        pipe = load_pipeline(resolved, dtype=dtype, seed=seed)
        if offload == "model":
            pipe.enable_model_cpu_offload()
        elif offload == "sequential":
            pipe.enable_sequential_cpu_offload()
        elif offload == "none":
            pipe.to(device)
        else:
            raise InputError(f"offload must be none, model or sequential, got {offload!r}")
        if attention:
            set_attention_backend(pipe.transformer, attention)
        painter = cls(pipe=pipe, model_label=resolved.label, spec=resolved.spec)
        painter.timings["load_s"] = time.perf_counter() - t0
        return painter

    def set_loras(self, loras: Sequence[LoraSpec]) -> None:
        """Make exactly ``loras`` active with their weights (loading each file only once)."""
        names, weights = [], []
        for spec in loras:
            key = str(spec.path.resolve())
            if key not in self.adapters:
                self.adapters[key] = self._load_adapter(spec.path)
            names.append(self.adapters[key])
            weights.append(spec.weight)
        if names:
            self.pipe.enable_lora()
            self.pipe.set_adapters(names, adapter_weights=weights)
        elif self.adapters:
            self.pipe.disable_lora()
        self.active = list(zip(names, weights))

    def _load_adapter(self, path: Path) -> str:
        lora = read_lora(path)
        check_fits(lora, self.pipe.transformer)
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        name = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)[:40] + "_" + digest
        self.pipe.load_lora_weights(str(path), adapter_name=name)
        log.info(
            "loaded LoRA %s (%s format, rank %d, alpha %g) as %s",
            path.name,
            lora.format,
            lora.rank,
            lora.alpha,
            name,
        )
        return name

    def disable_loras(self) -> None:
        self.set_loras([])

    def fuse(self, lora_scale: float = 1.0) -> None:
        """Fold the active LoRAs into the base weights (faster sampling; ``unfuse`` restores)."""
        self.pipe.fuse_lora(lora_scale=lora_scale, adapter_names=[n for n, _ in self.active] or None)

    def unfuse(self) -> None:
        self.pipe.unfuse_lora()

    def unload(self) -> None:
        self.pipe.unload_lora_weights()
        self.adapters.clear()
        self.active = []

    def paint(
        self,
        image: np.ndarray,
        prompt: str,
        cfg: SampleConfig,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[np.ndarray]:
        return paint_with_pipeline(self.pipe, image, prompt, cfg, progress)


def attention_backends() -> list[str]:
    from diffusers.models.attention_dispatch import AttentionBackendName

    return [b.value for b in AttentionBackendName]


def set_attention_backend(transformer, name: str) -> None:
    valid = attention_backends()
    if name not in valid:
        raise InputError(f"unknown attention backend {name!r}; diffusers offers: {', '.join(valid)}")
    try:
        transformer.set_attention_backend(name)
    except (ImportError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"attention backend {name!r} is not usable here: {str(exc).splitlines()[0]}"
        ) from None
