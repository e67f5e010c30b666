"""Training benchmarks (``make bench`` → ``bench/results/train.json``; ``run_gpu`` from
``make bench-gpu``).

CPU, always (a few minutes on 2 cores):

* cache bytes per item, format 1 (fp32, prompts padded to 512 tokens) vs format 2 (bf16, prompts
  at their real length), for an 81-frame 480p item with a 100-token prompt (``loomis.cache``);
* one full-width Wan 14B block (width 5120, 40 heads, FFN 13824) in bf16 with the rank-32 LoRA, a
  training step from random cached features on a small clip: seconds per step and peak RSS for
  plain, fp8 frozen weights and block swap, and their ratios to plain. On a CPU the host *is* the
  device, so block swap cannot lower the peak there (it shows its recompute cost), and fp8 storage
  is measured against a model built in bf16 (the peak RSS keeps the build);
* the ``tiny`` config end to end through ``loomis-train`` (seconds per step).

Each measurement runs ``python -m loomis_train.profile`` (or ``loomis_train``) in a fresh process,
so peaks do not mix and this module imports no application.

``run_gpu(budget_s)`` (called by bench/gpu.py): the full 14B (40 blocks) LoRA step at 480x832x81
from random cached features with gradient checkpointing — s/step, peak CUDA memory, MFU — for
plain, fp8, block swap (20 blocks) and fp8 + swap. Without CUDA it rehearses at toy size on CPU.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_BLOCK = ["--layers", "1", "--width", "5120", "--heads", "40", "--ffn", "13824", "--frames", "1",
             "--size", "256x128", "--checkpointing", "--cpu"]  # fmt: skip
FULL_14B = ["--layers", "40", "--width", "5120", "--heads", "40", "--ffn", "13824", "--frames", "81",
            "--size", "832x480", "--checkpointing", "--swap", "20"]  # fmt: skip
TOY = ["--layers", "2", "--width", "256", "--heads", "4", "--ffn", "512", "--frames", "9", "--size", "64x48",
       "--checkpointing", "--swap", "1", "--cpu", "--dtype", "float32"]  # fmt: skip
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "B200": 2250e12, "A100": 312e12, "L40S": 362e12}


def _env() -> dict:
    """``loomis_train`` importable also from a plain checkout (bench-gpu needs no install)."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1)))
    if importlib.util.find_spec("loomis_train") is None:
        shim = Path(tempfile.mkdtemp(prefix="loomis-bench-"))
        (shim / "loomis_train").symlink_to(REPO / "train")
        env["PYTHONPATH"] = os.pathsep.join([str(shim), str(REPO), env.get("PYTHONPATH", "")])
    return env


def profile(args: list[str], option: str, steps: int = 2, timeout: float = 600) -> dict:
    cmd = [sys.executable, "-m", "loomis_train.profile", *args, "--option", option, "--steps", str(steps)]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"option": option, "error": proc.stderr.strip().splitlines()[-1][:300]}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r.pop("losses", None)
    r["peak_gib"] = round(r.pop("peak_bytes") / 2**30, 3)
    r["estimate_gib"] = round(r.pop("estimate_bytes") / 2**30, 3)
    r.pop("estimate_parts", None)
    return r


def cache_sizes() -> dict:
    from loomis.cache import item_bytes

    old, new = item_bytes(81, 832, 480, 100, 4, padded=True), item_bytes(81, 832, 480, 100)
    return {
        "item": "81 frames, 832x480, 100-token prompt",
        "format1_fp32_padded_mb": round(old / 1e6, 2),
        "format2_bf16_real_length_mb": round(new / 1e6, 2),
        "ratio_new_to_old": round(new / old, 3),
        "target_mb": 12,
        "per_10k_videos_gb": {"format1": round(old * 1e4 / 1e9), "format2": round(new * 1e4 / 1e9)},
    }


def one_block_cpu() -> dict:
    rows = {o: profile(ONE_BLOCK, o) for o in ("plain", "fp8", "swap")}
    base = rows["plain"]
    out = {"shape": base.get("shape"), "tokens": base.get("tokens"), "options": rows}
    if "s_per_step" in base:
        out["ratios_to_plain"] = {
            o: {
                "s_per_step": round(r["s_per_step"] / base["s_per_step"], 2),
                "peak_rss": round(r["peak_gib"] / base["peak_gib"], 2),
            }  # fmt: skip
            for o, r in rows.items()
            if "s_per_step" in r
        }
    return out


def tiny_end_to_end() -> dict:
    """Wall time of 2 and of 12 optimizer steps; the difference over 10 is the per-step cost."""
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for steps in (2, 12):
            cmd = [sys.executable, "-m", "loomis_train", str(REPO / "configs/tiny.yaml"), "--output",
                   f"{tmp}/run{steps}", "--max-steps", str(steps), "--set", "logging.tensorboard=false",
                   "--set", f"train.save_every={steps}"]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
            walls[steps] = time.perf_counter() - t0
            if proc.returncode != 0:
                return {"error": proc.stderr.strip().splitlines()[-1][:300]}
    return {"tiny_s_per_step": round((walls[12] - walls[2]) / 10, 3), "tiny_start_s": round(walls[2], 1)}


def run(out_dir=None) -> dict:
    return {
        "cache_bytes_per_item": cache_sizes(),
        "one_block_cpu": one_block_cpu(),
        "tiny": tiny_end_to_end(),
    }


def _mfu(r: dict) -> float | None:
    peak = next((v for k, v in PEAK_BF16_FLOPS.items() if k in str(r.get("device"))), None)
    if not peak or not r.get("s_per_step"):
        return None
    return round(r["flops_per_step"] / r["s_per_step"] / peak, 3)


def run_gpu(budget_s: float = 300.0) -> dict:
    """Full 14B LoRA step at 480x832x81 per memory option (toy-size rehearsal without CUDA)."""
    import torch

    cuda = torch.cuda.is_available()
    args = FULL_14B if cuda else TOY
    out: dict = {"shape": "14B, 832x480x81" if cuda else "rehearsal: toy on CPU", "options": {}}
    t0 = time.perf_counter()
    for option in ("plain", "fp8", "swap", "fp8+swap"):
        left = budget_s - (time.perf_counter() - t0)
        if left < (90 if cuda else 5):
            out["options"][option] = f"skipped: {left:.0f} s of the budget left"
            continue
        r = profile(args, option, steps=2 if cuda else 1, timeout=left)
        r["mfu"] = _mfu(r)
        out["options"][option] = r
    out["targets"] = {"plain_fits_80gb_with_10gib_spare": "peak <= 70 GiB", "plain_s_per_step": 8.0,
                      "fp8_swap_peak_gib": 40}  # fmt: skip
    return out


if __name__ == "__main__":
    print(json.dumps(run_gpu(float(sys.argv[2])) if "--gpu" in sys.argv else run(), indent=2))
