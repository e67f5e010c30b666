"""loomis-paint (wan backend) on the tiny model, CPU: every acceleration option against the plain
call, side by side in one run — transformer passes computed (ratio to the plain call), wall time
(ratio; each option timed between two plain calls, best of the repeats) and how far its frames are
from the plain frames. On the tiny model the VAE dominates the wall time, so the time spent inside
the transformer is reported too; still, a tiny pass costs milliseconds, about what the cache and
LoRA hooks cost themselves, so the time ratios here show that overhead and the noise of a shared
2-core machine (best of 3), not the saving: the pass ratios are exact, and the seconds saved per
pass at full size are ``make bench-gpu``'s.
The full-size GPU measurements are ``make bench-gpu`` (``bench/gpu.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE, FRAMES, STEPS = (64, 48), 9, 10
REPEATS = 3


def _options(distill: Path | None):
    from loomis.accel import AccelConfig

    out = {
        "first-block 0.05": AccelConfig(cache="first-block", cache_threshold=0.05),
        "magcache 0.06": "magcache",  # calibrated on the first call, then used
        "taylorseer 2": AccelConfig(cache="taylorseer", cache_threshold=2),
        "text-kv": AccelConfig(cache="text-kv"),
        "compile": AccelConfig(compile=True),
        "offload group": AccelConfig(offload="group"),
        "fp8 weights": AccelConfig(weights_dtype="fp8"),
        "vae tiling": AccelConfig(vae_tiling="on"),
    }
    if distill is not None:
        out["preset fast (+ distill LoRA)"] = ("fast", distill)
    return out


def _painter(accel):
    import torch

    from loomis.accel import prepare_pipeline
    from loomis.models import build_tiny_pipeline
    from loomis.wan import WanPainter

    pipe = build_tiny_pipeline(0)
    prepare_pipeline(pipe, accel, "cpu", torch.float32)
    return WanPainter(pipe=pipe, accel=accel)


def _timed(painter, image, cfg) -> tuple[tuple[float, float], np.ndarray, dict]:
    """(wall seconds, seconds inside the transformer), frames, pass counts of one call."""
    inside = [0.0, 0.0]
    transformer = painter.pipe.transformer

    def start(*_):
        inside[1] = time.perf_counter()

    def stop(*_):
        inside[0] += time.perf_counter() - inside[1]

    handles = [transformer.register_forward_pre_hook(start), transformer.register_forward_hook(stop)]
    t0 = time.perf_counter()
    try:
        frames = painter.paint(image, "An oil painting. Step by step painting process.", cfg)
    finally:
        for h in handles:
            h.remove()
    return (time.perf_counter() - t0, inside[0]), np.stack(frames).astype(int), dict(painter.cache.last)


def _prepare(name, option, image, cfg):
    """A ready painter and the sampling settings for one option (MagCache calibrated first)."""
    from loomis.accel import AccelConfig
    from loomis.sampler import resolve_sampling
    from loomis.specs import SPECS
    from loomis.wan import LoraSpec

    if option == "magcache":
        calibration = _painter(AccelConfig(cache="magcache"))
        _timed(calibration, image, cfg)
        option = AccelConfig(cache="magcache", cache_ratios=tuple(calibration.cache.last["mag_ratios"]))
    if isinstance(option, tuple):
        preset, lora = option
        painter = _painter(AccelConfig())
        painter.set_loras([LoraSpec(lora)])
        fast = resolve_sampling(SPECS["tiny"], None, preset, frames=FRAMES, size=SIZE)
        return painter, fast
    return _painter(option), cfg


def _compare(name, option, image, cfg, plain_painter) -> dict:
    painter, option_cfg = _prepare(name, option, image, cfg)
    _timed(painter, image, option_cfg)  # warm-up (compilation, first-call costs)
    plain_t, option_t = [], []
    for _ in range(REPEATS):
        t, plain_frames, plain_last = _timed(plain_painter, image, cfg)
        plain_t.append(t)
        t, frames, last = _timed(painter, image, option_cfg)
        option_t.append(t)
    diff = np.abs(frames - plain_frames)
    wall, inside = (min(t[i] for t in option_t) for i in (0, 1))
    plain_wall, plain_inside = (min(t[i] for t in plain_t) for i in (0, 1))
    return {
        "computed_passes": last["computed_passes"],
        "transformer_passes": last["transformer_passes"],
        "pass_ratio": round(last["computed_passes"] / plain_last["computed_passes"], 3),
        "transformer_time_ratio": round(inside / plain_inside, 3),
        "time_ratio": round(wall / plain_wall, 3),
        "seconds": round(wall, 3),
        "max_diff_levels": int(diff.max()),
        "mean_diff_levels": round(float(diff.mean()), 3),
    }


def _parallel(image_path: Path, work: Path) -> dict:
    """Ulysses over 2 gloo ranks vs 1 process, through the CLI (process start included)."""
    bin_dir = Path(sys.executable).parent
    args = [str(image_path), "--model", "tiny", "--frames", str(FRAMES), "--steps", str(STEPS)]
    args += ["--size", f"{SIZE[0]}x{SIZE[1]}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    timings = {}
    for name, prefix, extra in (
        ("one process", [str(bin_dir / "loomis-paint")], []),
        ("ulysses=2 (2 gloo ranks)", [str(bin_dir / "torchrun"), "--nproc_per_node=2", f"--master_port={_free_port()}",
                                      "--no-python", str(bin_dir / "loomis-paint")], ["--parallel", "ulysses=2"]),
    ):  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(
            prefix + args + extra + ["-o", str(work / name[:3])], env=env, capture_output=True
        )
        timings[name] = round(time.perf_counter() - t0, 2) if proc.returncode == 0 else "failed"
    return timings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(out_dir) -> dict:
    import torch
    from PIL import Image

    from loomis.accel import AccelConfig
    from loomis.sampler import SampleConfig

    torch.manual_seed(0)
    image = np.random.default_rng(0).integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    cfg = SampleConfig(frames=FRAMES, steps=STEPS, size=SIZE)
    result = {
        "config": {"model": "tiny", "size": list(SIZE), "frames": FRAMES, "steps": STEPS, "guidance": 5.0}
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        distill = _distill_lora(work)
        plain_painter = _painter(AccelConfig())
        _timed(plain_painter, image, cfg)
        result["options"] = {
            name: _compare(name, opt, image, cfg, plain_painter) for name, opt in _options(distill).items()
        }
        Image.fromarray(image).save(work / "in.png")
        result["parallel_cli_s"] = _parallel(work / "in.png", work)
    return result


def _distill_lora(folder: Path) -> Path | None:
    """A synthetic step-distill LoRA in the lightx2v layout (the test suite's), for the preset."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_fast_preset import distill_lora
    except ImportError:
        return None
    finally:
        sys.path.pop(0)
    return distill_lora(folder / "distill.safetensors")
