"""``loomis-train CONFIG --dry-run``: the per-GPU estimate by hand for the 14B at 480p×81, the
exit-2 fix-it message when it does not fit, the no-cache warning, and the estimate against the
measured peak of a real step (CPU process memory; the GPU check is bench_train.run_gpu)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from loomis_train.cli import main
from train_support import REPO

GIB = 2**30


def dry_run(capsys, *sets, gpu=None, world=None) -> tuple[int, str, str]:
    argv = [str(REPO / "configs/base.yaml"), "--dry-run"] + (["--world", str(world)] if world else [])
    for s in sets:
        argv += ["--set", s]
    if gpu:
        argv += ["--gpu-memory", str(gpu)]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def gib(out: str, row: str) -> float:
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(row))
    return float(line.split()[-2])


def test_dry_run_14b_480p_by_hand(capsys):
    code, out, _ = dry_run(capsys, "data.cache=/some/cache", gpu=80)
    assert code == 0 and "fits:" in out and "32760 tokens" in out
    # rank-32 LoRA per block: 10 square 5120 Linears + 2 FFN Linears (5120 <-> 13824)
    lora = 40 * 32 * (10 * (5120 + 5120) + 2 * (5120 + 13824))
    assert lora == 179_568_640
    assert gib(out, "LoRA + grads + AdamW") == round(lora * 16 / GIB, 2)  # fp32 weight, grad, 2 moments
    assert gib(out, "activations: block inputs") == round(40 * 32760 * 5120 * 2 / GIB, 2)  # 12.50
    assert 30.0 < gib(out, "frozen transformer weights") < 31.0  # 16.4e9 parameters, bf16
    assert 55 < gib(out, "total per GPU") < 70  # the reading: 63-65 GiB
    # 8 ranks under DeepSpeed ZeRO-2: gradient, moments and ZeRO's fp32 master split 8 ways, plus
    # two buckets of a quarter of the LoRA each
    code, out, _ = dry_run(capsys, "data.cache=/some/cache", gpu=80, world=8)
    assert gib(out, "LoRA + grads + AdamW") == round(lora * (4 + 4 + 16 / 8) / GIB, 2)
    assert gib(out, "ZeRO buckets") == round(2 * (lora // 4) * 4 / GIB, 2)


def test_dry_run_over_budget_exits_2_with_the_fixes(capsys):
    code, out, err = dry_run(capsys, "data.cache=/c", "data.size=[1280,720]", gpu=80)
    assert code == 2 and err.startswith("error: the estimate is") and err.count("\n") == 1
    assert "model.fp8_frozen=true" in err and "model.blocks_to_swap" in err and "data.frames=" in err
    code, out, _ = dry_run(capsys, "data.cache=/c", gpu=40)
    assert code == 2
    code, out, _ = dry_run(
        capsys, "data.cache=/c", "model.fp8_frozen=true", "model.blocks_to_swap=20", gpu=40
    )
    assert code == 0 and gib(out, "frozen transformer weights") < 9  # 21 of 40 blocks resident, fp8
    code, out, err = dry_run(capsys, gpu=80)  # no cache: the encoders add ~13 GiB
    assert "frozen encoders (no cache)" in out and gib(out, "frozen encoders (no cache)") > 12


def test_no_cache_warning_for_full_size_only():
    from loomis_train.config import load_config
    from loomis_train.estimate import no_cache_warning

    base = load_config(REPO / "configs/base.yaml", check_paths=False)
    assert "without data.cache" in no_cache_warning(base) and "GiB" in no_cache_warning(base)
    assert no_cache_warning(load_config(REPO / "configs/tiny.yaml", check_paths=False)) is None


def profile(*args) -> dict:
    cmd = [sys.executable, "-m", "loomis_train.profile", "--steps", "1", *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_estimate_against_measured_cpu_peak_toy():
    """Toy (2 blocks of width 256, 768 tokens): measured/estimated = 2.3 (no checkpointing) and 3.1
    (checkpointing) here: at this size CPU kernels' fp32 temporaries and the allocator's retained
    memory weigh as much as the model; the estimate is a lower bound within 4x."""
    r = profile(
        "--layers",
        "2",
        "--width",
        "256",
        "--heads",
        "4",
        "--ffn",
        "512",
        "--frames",
        "9",
        "--size",
        "256x256",
    )
    ratio = r["peak_bytes"] / r["estimate_bytes"]
    print(
        f"toy: measured {r['peak_bytes'] / 2**20:.0f} MiB, estimated {r['estimate_bytes'] / 2**20:.0f} MiB, x{ratio:.2f}"
    )
    assert 1.0 < ratio < 4.0


@pytest.mark.slow
def test_estimate_against_measured_cpu_peak_one_block_full_width():
    """One 14B block (width 5120, 40 heads, FFN 13824), bf16, 128 tokens: measured 1.89 GiB,
    estimated 1.41 GiB (x1.34): the weights dominate and are counted exactly."""
    r = profile("--checkpointing", "--size", "256x128")
    ratio = r["peak_bytes"] / r["estimate_bytes"]
    print(
        f"one block: measured {r['peak_bytes'] / GIB:.2f} GiB, estimated {r['estimate_bytes'] / GIB:.2f} GiB"
    )
    assert 1.0 < ratio < 1.6


@pytest.mark.gpu
def test_estimate_against_measured_cuda_peak_two_full_width_blocks():
    """On a GPU: two 14B blocks at 480x832x81 (32,760 tokens) with checkpointing; the allocator's
    peak within [0.7, 1.4] of the estimate (the activation terms are what is being checked)."""
    r = profile("--layers", "2", "--frames", "81", "--size", "832x480", "--checkpointing")
    ratio = r["peak_bytes"] / (r["estimate_bytes"] - r["estimate_parts"].get("CUDA runtime", 0))
    print(
        f"2 blocks on {r['device']}: measured {r['peak_bytes'] / GIB:.2f} GiB, x{ratio:.2f} of the estimate"
    )
    assert all(map(lambda v: v == v, r["losses"])) and 0.7 < ratio < 1.4
