"""Full-size Wan 2.1 I2V transformers with random weights: speed and memory of a transformer pass,
with each acceleration option, on any device (``bench/gpu.py`` on a GPU; its ``--rehearse`` and
the tests on CPU at toy size).

``random_transformer`` builds on the meta device (no memory), materialises in ``dtype`` on the
device, fills the weights with small random values and restores what ``to_empty`` leaves
uninitialised: the RoPE tables (buffers computed at construction, not parameters) — without them
the output is not finite. The modules diffusers keeps in float32 stay float32, as
``from_pretrained`` does. One pass = one transformer forward, as ``WanImageToVideoPipeline`` calls
it once per step and branch.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

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
    peak_memory_gib: float | None


def random_transformer(
    spec: ModelSpec, dtype: torch.dtype, device: str = "cuda", seed: int = 0, num_layers: int | None = None
):
    """The spec's ``WanTransformer3DModel`` in ``dtype`` on ``device`` with random weights
    (``num_layers``: fewer blocks, for rehearsals of a full-width model)."""
    from diffusers import WanTransformer3DModel

    config = dict(spec.transformer, **({"num_layers": num_layers} if num_layers else {}))
    with torch.device("meta"):
        model = WanTransformer3DModel(**config)
    keep = set(model._keep_in_fp32_modules)  # what from_pretrained keeps in float32
    for name, p in model.named_parameters():
        p.data = p.data.to(torch.float32 if keep & set(name.split(".")) else dtype)  # meta: free
    model = model.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02, generator=gen)
    _restore_buffers(model, device)
    return model.eval()


def _restore_buffers(model, device) -> None:
    """Buffers are computed at construction; ``to_empty`` leaves them as garbage. Rebuild the
    RoPE tables and refuse a model that holds any other buffer (a diffusers change to check)."""
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    rope = model.rope
    fresh = WanRotaryPosEmbed(rope.attention_head_dim, rope.patch_size, rope.max_seq_len)
    model.rope = fresh.to(device)
    others = [n for n, _ in model.named_buffers() if not n.startswith("rope.")]
    if others:
        raise RuntimeError(f"random_transformer does not know how to initialise buffers {others}")


def step_inputs(
    spec: ModelSpec,
    size: tuple[int, int],
    frames: int,
    dtype: torch.dtype,
    device: str = "cuda",
    seed: int = 0,
):
    """Random inputs of one pass at ``size`` (w, h) and ``frames``; returns (kwargs, tokens)."""
    w, h = size
    t = spec.transformer
    g = torch.Generator(device=device).manual_seed(seed)
    lat_f, lat_h, lat_w = (frames - 1) // 4 + 1, h // 8, w // 8
    x = torch.randn(1, t["in_channels"], lat_f, lat_h, lat_w, device=device, dtype=dtype, generator=g)
    text = torch.randn(1, spec.max_sequence_length, t["text_dim"], device=device, dtype=dtype, generator=g)
    n_img = (spec.image_encoder["image_size"] // spec.image_encoder["patch_size"]) ** 2 + 1
    img = torch.randn(1, n_img, t["image_dim"], device=device, dtype=dtype, generator=g)
    tokens = lat_f * (lat_h // t["patch_size"][1]) * (lat_w // t["patch_size"][2])
    kwargs = dict(
        hidden_states=x,
        timestep=torch.tensor([500.0], device=device),
        encoder_hidden_states=text,
        encoder_hidden_states_image=img,
        return_dict=False,
    )
    return kwargs, tokens


def check_output(model, inputs: dict) -> dict:
    """A pass must give finite values that depend on the input (not only the right shape)."""
    other = dict(inputs, hidden_states=torch.randn_like(inputs["hidden_states"]))
    with torch.no_grad():
        a, b = model(**inputs)[0], model(**other)[0]
    return {
        "finite": bool(torch.isfinite(a).all() and torch.isfinite(b).all()),
        "input_dependent": bool((a.float() - b.float()).abs().max() > 1e-3),
        "shape": list(a.shape),
    }


def sync(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if str(device).startswith("cuda") else None


def time_passes(
    model, inputs: dict, device, passes: int = 3, warmup: int = 1, context: str | None = None
) -> list[float]:
    """Seconds of each of ``passes`` timed passes (after ``warmup``), inside a cache context when
    given (cache hooks need one)."""
    import contextlib

    ctx = model.cache_context(context) if context else contextlib.nullcontext()
    out = []
    with torch.no_grad(), ctx:
        for i in range(warmup + passes):
            sync(device)
            t0 = time.perf_counter()
            model(**inputs)
            sync(device)
            if i >= warmup:
                out.append(time.perf_counter() - t0)
    return out


def time_steps(
    model, spec: ModelSpec, size: tuple[int, int], frames: int, dtype: torch.dtype, attention: str = "native",
    warmup: int = 1, steps: int = 3, device: str = "cuda",
) -> StepTiming:  # fmt: skip
    """Mean seconds per pass and peak memory with ``attention`` (a diffusers backend name)."""
    if attention != "native":
        model.set_attention_backend(attention)
    inputs, tokens = step_inputs(spec, size, frames, dtype, device)
    reset_peak(device)
    seconds = time_passes(model, inputs, device, steps, warmup)
    check = check_output(model, inputs)
    if not (check["finite"] and check["input_dependent"]):
        raise RuntimeError(f"transformer output is not usable: {check}")
    return StepTiming(spec.name, size, frames, tokens, str(dtype).removeprefix("torch."), attention,
                      sum(seconds) / len(seconds), peak_gib(device))  # fmt: skip


def time_cache(model, inputs: dict, device, cache: str, passes: int = 4) -> dict:
    """Cost of a computed and of a reused pass under ``cache``, with the cache forced to reuse
    after its first pass (random weights make its own decisions meaningless): the time of a video
    for any reuse fraction f follows as passes x ((1 - f) x computed + f x reused)."""
    from loomis.accel import PassCounter

    model.enable_cache(_forced_reuse(cache, passes))
    counter = PassCounter(model)
    computed, reused = [], []
    try:
        with torch.no_grad(), model.cache_context("cond"):
            for _ in range(passes):
                before = int(counter.counts[1])
                sync(device)
                t0 = time.perf_counter()
                model(**inputs)
                sync(device)
                (computed if int(counter.counts[1]) > before else reused).append(time.perf_counter() - t0)
    finally:
        counter.remove()
        model.disable_cache()
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "computed_s": mean(computed),
        "reused_s": mean(reused),
        "computed": len(computed),
        "reused": len(reused),
    }


def _forced_reuse(cache: str, passes: int):
    from diffusers.hooks import (
        FirstBlockCacheConfig,
        MagCacheConfig,
        TaylorSeerCacheConfig,
        TextKVCacheConfig,
    )

    if cache == "first-block":
        return FirstBlockCacheConfig(threshold=1e9)
    if cache == "magcache":
        return MagCacheConfig(threshold=1e9, max_skip_steps=10**6, retention_ratio=0.0,
                              mag_ratios=[1.0] * (passes + 1), num_inference_steps=passes + 1)  # fmt: skip
    if cache == "taylorseer":
        return TaylorSeerCacheConfig(use_lite_mode=True, cache_interval=10**6, disable_cache_before_step=2,
                                     taylor_factors_dtype=torch.float32)  # fmt: skip
    if cache == "text-kv":
        return TextKVCacheConfig()
    raise ValueError(f"unknown cache {cache!r}")


def record(timing: StepTiming) -> dict:
    return asdict(timing)
