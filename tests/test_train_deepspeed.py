"""DeepSpeed ZeRO-2 on CPU over gloo, 2 processes under torchrun (slow: DeepSpeed compiles small
ops on its first run, ~30-50 s, then each launch takes ~20-40 s on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from train_support import REPO, make_dataset, read_metrics

pytestmark = pytest.mark.slow


def torchrun(data, out, *sets, resume=False, port=29611):
    cmd = [
        str(REPO / ".venv/bin/torchrun"),
        "--nproc_per_node",
        "2",
        "--master_port",
        str(port),
        "-m",
        "loomis_train",
        str(REPO / "configs/tiny.yaml"),
        "--data",
        str(data),
        "--output",
        str(out),
        "--set",
        "distributed.backend=deepspeed",
        "--set",
        "logging.tensorboard=false",
    ]
    for s in sets:
        cmd += ["--set", s]
    if resume:
        cmd.append("--resume")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_zero2_two_ranks_train_sync_checkpoint_and_resume(tmp_path):
    if not (REPO / ".venv/bin/torchrun").exists():
        pytest.skip("torchrun not in .venv")
    data = make_dataset(tmp_path / "d", n=4)
    sets = ["train.max_steps=4", "train.save_every=2", "data.aspect_buckets=false"]
    torchrun(data, tmp_path / "full", *sets)
    full = tmp_path / "full"
    ckpts = sorted(p.name for p in (full / "checkpoints").iterdir())
    assert ckpts == ["step-000002", "step-000004"]
    state = json.loads((full / "checkpoints/step-000004/state.json").read_text())
    assert state["engine"] == "deepspeed" and state["world"] == 2 and state["rank_max_abs_diff"] == 0.0
    assert (full / "checkpoints/step-000004/deepspeed").is_dir()
    losses = [m["loss"] for m in read_metrics(full)]
    assert len(losses) == 4 and all(v == v for v in losses)

    part = tmp_path / "part"
    torchrun(data, part, *sets, "train.stop_at=2", port=29612)
    torchrun(data, part, *sets, resume=True, port=29613)
    a, b = load_file(str(full / "lora.safetensors")), load_file(str(part / "lora.safetensors"))
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"deepspeed resume: max |LoRA diff| = {diff:.3g}; losses {losses}")
    assert diff == 0.0
    assert read_metrics(part) == read_metrics(full)
    # the exported LoRA loads in stock diffusers
    from loomis.models import build_tiny_pipeline

    build_tiny_pipeline(0).load_lora_weights(str(full / "lora.safetensors"))
    assert torch.isfinite(torch.stack([v.abs().max() for v in a.values()])).all()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s", "-m", "slow"]))
