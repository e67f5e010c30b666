"""loomis-paint (wan backend) timings: the tiny model on CPU, and — only where CUDA is present — the
full-size random-weight 14B transformer step at 480p x 81 frames in bf16 (native SDPA and, when
installed, flash attention)."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch


def _tiny_cpu() -> dict:
    from loomis.sampler import SampleConfig
    from loomis.wan import WanPainter

    t0 = time.perf_counter()
    painter = WanPainter.load("tiny", dtype=torch.float32, device="cpu")
    load_s = time.perf_counter() - t0
    image = np.random.default_rng(0).integers(0, 255, (480, 832, 3), dtype=np.uint8)
    cfg = SampleConfig(frames=9, steps=4, size=(64, 48))
    t0 = time.perf_counter()
    frames = painter.paint(image, "An oil painting. Step by step painting process. A picture.", cfg)
    return {
        "load_s": round(load_s, 2),
        "paint_s": round(time.perf_counter() - t0, 2),
        "frames": len(frames),
        "steps": cfg.steps,
        "size": list(cfg.size),
    }


def _gpu() -> dict:
    from loomis.gpu_bench import random_transformer, time_steps
    from loomis.specs import SPECS

    out = {"device": torch.cuda.get_device_name(0)}
    spec = SPECS["wan2.1-i2v-14b-480p"]
    model = random_transformer(spec, torch.bfloat16)
    out["params_b"] = round(sum(p.numel() for p in model.parameters()) / 1e9, 2)
    for attention in ("native", "flash"):
        try:
            out[attention] = asdict(time_steps(model, spec, (832, 480), 81, torch.bfloat16, attention))
        except Exception as exc:  # a backend not installed on this machine is a result, not a crash
            out[attention] = f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return out


def run(out_dir) -> dict:
    result = {"tiny_cpu": _tiny_cpu()}
    result["gpu_14b_480p"] = (
        _gpu() if torch.cuda.is_available() else "skipped: no CUDA device on this machine"
    )
    return result
