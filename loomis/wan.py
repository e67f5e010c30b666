"""A Wan 2.1 I2V pipeline loaded once (``WanPainter``), prepared for speed and memory
(``loomis.accel``), with LoRAs that stack, re-weight, switch, fuse and unload without reloading.

A LoRA file is read once (``LoraSpec.read`` → ``loomis.lora.LoraFile``), checked against the
transformer, and its converted tensors are what diffusers loads (``load_lora_weights(state_dict)``):
diffusers never opens the file again, and every key format ``read_lora`` accepts loads.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from loomis.accel import AccelConfig, StepCache, prepare_pipeline
from loomis.errors import InputError
from loomis.sampler import SampleConfig, paint_with_pipeline
from loomis.specs import ModelSpec

if TYPE_CHECKING:  # loomis.lora imports torch: only when a LoRA is read (--help stays light)
    from loomis.lora import LoraFile

log = logging.getLogger(__name__)

_WEIGHT = re.compile(r"^(.*?)(?::(-?[0-9]*\.?[0-9]+))?$")


@dataclass
class LoraSpec:
    """A LoRA to apply: its file (read at most once, then passed down as a ``LoraFile``) and weight."""

    path: Path
    weight: float = 1.0
    file: LoraFile | None = None

    @classmethod
    def parse(cls, text: str) -> LoraSpec:
        """``PATH`` or ``PATH:WEIGHT``."""
        m = _WEIGHT.match(text)
        path, weight = m.group(1), m.group(2)
        if not path:
            raise InputError(f"--lora needs PATH[:WEIGHT], got {text!r}")
        head, sep, tail = text.rpartition(":")
        if weight is None and sep and head.endswith(".safetensors") and "/" not in tail and "\\" not in tail:
            raise InputError(
                f"--lora {text}: weight {tail!r} is not a number; the weight after ':' must be a number,"
                f" e.g. {head}:0.8"
            )
        w = float(weight) if weight is not None else 1.0
        if not -10.0 <= w <= 10.0:
            raise InputError(
                f"--lora {text}: weight must be from -10 to 10 (beyond, a LoRA swamps the model)"
            )
        return cls(Path(path), w)

    def read(self) -> LoraFile:
        from loomis.lora import read_lora

        if self.file is None:
            self.file = read_lora(self.path)
        return self.file


@dataclass
class WanPainter:
    """A loaded pipeline + its LoRAs + the acceleration options it was prepared with."""

    pipe: object
    model_label: str = ""
    spec: ModelSpec | None = None  # the spec the model matches: its sampling defaults apply
    accel: AccelConfig = field(default_factory=AccelConfig)
    adapters: dict[str, str] = field(default_factory=dict)  # resolved file path -> adapter name
    active: list[tuple[str, float]] = field(default_factory=list)  # (adapter name, weight)
    timings: dict[str, float] = field(default_factory=dict)
    cache: StepCache | None = None

    def __post_init__(self):
        self.cache = StepCache(self.accel.validate())

    @classmethod
    def load(
        cls,
        model: str,
        dtype=None,
        device: str | None = None,
        accel: AccelConfig | None = None,
        seed: int = 0,
    ) -> WanPainter:
        import torch

        from loomis.models import check_device, load_pipeline, resolve_model

        check_device(device)  # before any loading: "--device cuda" on a CPU machine is exit 2
        accel = (accel or AccelConfig()).validate()
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = dtype or (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        t0 = time.perf_counter()
        resolved = resolve_model(model)
        pipe = load_pipeline(resolved, dtype=dtype, seed=seed)
        prepare_pipeline(pipe, accel, device, dtype)
        painter = cls(pipe=pipe, model_label=resolved.label, spec=resolved.spec, accel=accel)
        painter.timings["load_s"] = time.perf_counter() - t0
        return painter

    # ---- LoRAs ---------------------------------------------------------------------------------
    def set_loras(self, loras: Sequence[LoraSpec]) -> None:
        """Make exactly ``loras`` active with their weights (each file read and loaded once)."""
        names, weights = [], []
        for spec in loras:
            key = str(spec.path.resolve())
            if key not in self.adapters:
                self.adapters[key] = self._load_adapter(spec.read())
            names.append(self.adapters[key])
            weights.append(spec.weight)
        if names:
            self.pipe.enable_lora()
            self.pipe.set_adapters(names, adapter_weights=weights)
        elif self.adapters:
            self.pipe.disable_lora()
        self.active = list(zip(names, weights))

    def _load_adapter(self, lora: LoraFile) -> str:
        from loomis.lora import check_fits

        path = lora.path
        check_fits(lora, self.pipe.transformer)
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
        name = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)[:40] + "_" + digest
        self.pipe.load_lora_weights(lora.diffusers_state_dict(), adapter_name=name)
        if name not in self.pipe.get_list_adapters().get("transformer", []):
            keys = ", ".join(list(lora.state_dict)[:3])
            raise InputError(f"LoRA {path.name}: diffusers loaded none of its tensors (keys such as {keys})")
        log.info("loaded LoRA %s (%s format, rank %d, alpha %g) as %s", path.name, lora.format, lora.rank,
                 lora.alpha, name)  # fmt: skip
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

    # ---- sampling ------------------------------------------------------------------------------
    def paint(
        self,
        image: np.ndarray,
        prompt: str,
        cfg: SampleConfig,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[np.ndarray]:
        """Frames in painting order; ``self.cache.last`` then holds this call's pass counts."""
        return paint_with_pipeline(self.pipe, image, prompt, cfg, progress, cache=self.cache)
