"""One LoRA training step of a Wan-shaped DiT from random cached features, measured: seconds per
step and peak memory (CUDA allocator, or this process's peak RSS on a CPU), next to the dry-run
estimate for the same shape. ``python -m loomis_train.profile --layers 1 --width 5120 …`` prints
one JSON object; the benchmarks run it in a fresh process per option so peaks do not mix.

The model is the 14B's config with the width, heads, FFN and depth given (``--layers 1 --width
5120 --heads 40 --ffn 13824`` is one full-width block), built with random weights; the step is the
trainer's: dtype policy, LoRA on the default targets, the memory option, AdamW, rectified-flow loss.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from loomis import diffusion
from loomis.lora import DEFAULT_TARGETS, add_lora
from loomis.specs import SPECS


def transformer_config(layers: int, width: int, heads: int, ffn: int) -> dict:
    tc = dict(SPECS["wan2.1-i2v-14b-480p"].transformer)
    tc.update(num_layers=layers, num_attention_heads=heads, attention_head_dim=width // heads, ffn_dim=ffn,
              added_kv_proj_dim=width)  # fmt: skip
    return tc


def config(args) -> SimpleNamespace:
    """The fields of a TrainConfig that the step and the estimate read."""
    model = SimpleNamespace(name="profile", dtype=args.dtype, gradient_checkpointing=args.checkpointing,
                            fp8_frozen="fp8" in args.option, blocks_to_swap=args.swap if "swap" in args.option else 0)  # fmt: skip
    data = SimpleNamespace(frames=args.frames, size=list(args.size), batch_size=1, cache="random")
    lora = SimpleNamespace(rank=args.rank, targets=list(DEFAULT_TARGETS))
    return SimpleNamespace(model=model, data=data, lora=lora, train=SimpleNamespace(grad_accum=1))


def _status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def start_rss() -> int:
    """Reset the peak-RSS mark (Linux: ``clear_refs`` 5) and return the resident size now. The
    imports' transient high-water mark would otherwise hide a smaller step's peak (a measured 0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return _status_bytes("VmRSS") or 0


def peak_rss() -> int:
    return _status_bytes("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build(args, cfg, device):
    from diffusers import WanTransformer3DModel

    from .memory import apply_block_swap, enable_fp8_storage
    from .model import apply_dtype_policy

    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in the base dtype on the device: no fp32 or host copy
    try:
        with torch.device(device):
            model = WanTransformer3DModel(**transformer_config(args.layers, args.width, args.heads, args.ffn))
    finally:
        torch.set_default_dtype(default)
    model.requires_grad_(False)
    add_lora(model, rank=args.rank, alpha=args.rank)
    apply_dtype_policy(model, dtype)
    if cfg.model.fp8_frozen:
        enable_fp8_storage(model, dtype)
    if args.checkpointing:
        model.enable_gradient_checkpointing()
    model.to(device).train()
    if cfg.model.blocks_to_swap:
        apply_block_swap(model, cfg.model.blocks_to_swap, device)
    return model


def features(args, device, dtype) -> dict:
    f, h, w = diffusion.latent_frames(args.frames), args.size[1] // 8, args.size[0] // 8
    g = torch.Generator().manual_seed(1)
    return {
        "latents": torch.randn(1, 16, f, h, w, generator=g).to(device),
        "condition": torch.randn(1, 20, f, h, w, generator=g).to(device),
        "prompt_embeds": torch.randn(1, 512, 4096, generator=g).to(device, dtype),
        "image_embeds": torch.randn(1, 257, 1280, generator=g).to(device, dtype),
    }


def step(model, opt, batch, gen, dtype) -> float:
    x0 = batch["latents"]
    t = diffusion.sample_timesteps(1, gen).to(x0.device)
    noise = torch.randn(x0.shape, generator=gen).to(x0.device)
    pred = model(
        hidden_states=diffusion.model_input(diffusion.noisy_latents(x0, noise, t), batch["condition"]).to(
            dtype
        ),
        timestep=diffusion.model_timestep(t),
        encoder_hidden_states=batch["prompt_embeds"],
        encoder_hidden_states_image=batch["image_embeds"],
        return_dict=False,
    )[0]
    loss = diffusion.flow_loss(pred, diffusion.flow_target(x0, noise))
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return float(loss.detach())


def _warm_imports() -> None:
    from diffusers import WanTransformer3DModel  # noqa: F401
    from diffusers.hooks import apply_layerwise_casting  # noqa: F401
    from peft.tuners.lora import LoraLayer  # noqa: F401

    x = torch.randn(64, 64, requires_grad=True)
    (x @ x).sum().backward()  # autograd's and the BLAS thread pools' first allocations


def run(args) -> dict:
    from .estimate import count_params, estimate

    cuda = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if cuda else "cpu")
    cfg, dtype = config(args), getattr(torch, args.dtype)
    _warm_imports()  # module imports are not the step's memory
    base_rss = start_rss()
    model = build(args, cfg, device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    batch, gen = features(args, device, dtype), torch.Generator().manual_seed(2)
    losses = [step(model, opt, batch, gen, dtype)]  # warm-up: kernels, allocator, AdamW state
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    losses += [step(model, opt, batch, gen, dtype) for _ in range(args.steps)]
    if cuda:
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / max(1, args.steps)
    tc = transformer_config(args.layers, args.width, args.heads, args.ffn)
    with torch.device("meta"):
        from diffusers import WanTransformer3DModel

        counts = count_params(WanTransformer3DModel(**tc), list(DEFAULT_TARGETS), args.rank)
    est = estimate(cfg, tc, counts, 1, device.type, 0)
    peak = torch.cuda.max_memory_allocated() if cuda else peak_rss() - base_rss
    return {
        "option": args.option,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "shape": f"{args.layers}x{args.width} ffn {args.ffn}, {args.size[0]}x{args.size[1]}x{args.frames}",
        "tokens": est.tokens,
        "s_per_step": round(seconds, 3),
        "peak_bytes": int(peak),
        "estimate_bytes": int(est.total),
        "estimate_parts": {k: int(v) for k, v in est.parts.items()},
        "flops_per_step": est.flops,
        "losses": losses,
    }


def parse(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m loomis_train.profile")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--width", type=int, default=5120)
    p.add_argument("--heads", type=int, default=40)
    p.add_argument("--ffn", type=int, default=13824)
    p.add_argument("--frames", type=int, default=1)
    p.add_argument("--size", type=lambda s: tuple(int(v) for v in s.split("x")), default=(128, 64))
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--option", choices=["plain", "fp8", "swap", "fp8+swap"], default="plain")
    p.add_argument("--swap", type=int, default=1, help="with --option swap: blocks to swap")
    p.add_argument("--checkpointing", action="store_true")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even with CUDA")
    return p.parse_args(argv)


if __name__ == "__main__":
    print(json.dumps(run(parse(sys.argv[1:]))))
