"""Full-size Wan 2.1 I2V transformer steps with random weights: speed and memory on a GPU.

Used by ``bench/bench_paint.py`` and the GPU-marked tests. The 14B transformer is built on the meta
device, materialised on the GPU in ``dtype`` and filled with small random values (no weights are
needed to measure a step). One step = one forward (sampling) of the conditional branch at the
given size, as ``WanImageToVideoPipeline`` calls it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from loomis.models import build_transformer
from loomis.specs import ModelSpec


@dataclass
class StepTiming:
    spec: str
    size: tuple[int, int]
    frames: int
    tokens: int
    dtype: str
    attention: str
    seconds_per_step: float
    peak_memory_gib: float


def random_transformer(spec: ModelSpec, dtype: torch.dtype, device: str = "cuda", seed: int = 0):
    model = build_transformer(spec, device="meta")
    model = model.to_empty(device=device).to(dtype)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02, generator=gen)
    return model.eval()


def step_inputs(
    spec: ModelSpec, size: tuple[int, int], frames: int, dtype: torch.dtype, device: str = "cuda"
):
    w, h = size
    t = spec.transformer
    lat_f, lat_h, lat_w = (frames - 1) // 4 + 1, h // 8, w // 8
    x = torch.randn(1, t["in_channels"], lat_f, lat_h, lat_w, device=device, dtype=dtype)
    text = torch.randn(1, spec.max_sequence_length, t["text_dim"], device=device, dtype=dtype)
    n_img = (spec.image_encoder["image_size"] // spec.image_encoder["patch_size"]) ** 2 + 1
    img = torch.randn(1, n_img, t["image_dim"], device=device, dtype=dtype)
    tokens = lat_f * (lat_h // t["patch_size"][1]) * (lat_w // t["patch_size"][2])
    return dict(
        hidden_states=x,
        timestep=torch.tensor([500.0], device=device),
        encoder_hidden_states=text,
        encoder_hidden_states_image=img,
        return_dict=False,
    ), tokens


def time_steps(
    model,
    spec: ModelSpec,
    size: tuple[int, int],
    frames: int,
    dtype: torch.dtype,
    attention: str = "native",
    warmup: int = 1,
    steps: int = 3,
) -> StepTiming:
    if attention != "native":
        model.set_attention_backend(attention)
    inputs, tokens = step_inputs(spec, size, frames, dtype)
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        for _ in range(warmup):
            model(**inputs)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            out = model(**inputs)[0]
        torch.cuda.synchronize()
    if not torch.isfinite(out).all():
        raise RuntimeError("non-finite transformer output")
    return StepTiming(
        spec.name,
        size,
        frames,
        tokens,
        str(dtype).removeprefix("torch."),
        attention,
        (time.perf_counter() - t0) / steps,
        torch.cuda.max_memory_allocated() / 2**30,
    )
