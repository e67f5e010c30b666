"""DeepSpeed ZeRO-2 on CPU over gloo, 2 ranks under torchrun, in the default test run (one launch,
~30 s on 2 cores; tests/deepspeed_run.py does the runs): one dtype policy for both engines, the
same loss curve as the plain engine, a resume that reads no pickle, and a run folder with a
planted pickle refused before anything is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from train_support import REPO

TORCHRUN = REPO / ".venv/bin/torchrun"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import importlib.util

    if not TORCHRUN.exists() or importlib.util.find_spec("deepspeed") is None:
        pytest.skip("needs torchrun and deepspeed in .venv (pip install -e '.[train]')")
    out = tmp_path_factory.mktemp("ds")
    cmd = [str(TORCHRUN), "--nproc_per_node", "2", "--master_port", str(free_port()),
           str(REPO / "tests/deepspeed_run.py"), str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO / "tests", env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "report.json").read_text())


def test_one_dtype_policy_and_the_same_loss_curve(runs):
    _, report = runs
    want = {"lora": ["float32"], "fp32_kept": ["float32"], "base": ["bfloat16"]}
    assert report["plain"]["dtypes"] == want and report["ds"]["dtypes"] == want
    plain, ds = report["plain"]["losses"], report["ds"]["losses"]
    assert len(plain) == len(ds) == 4
    # same maths; only the order of the gradient all-reduce differs (DeepSpeed sums fp32 buckets)
    worst = max(abs(a - b) / abs(a) for a, b in zip(plain, ds))
    print(f"plain vs DeepSpeed losses: {plain} / {ds}; max relative difference {worst:.2e}")
    assert worst < 1e-4


def test_deepspeed_resume_is_exact_and_pickle_free(runs):
    out, report = runs
    assert report["ds_resumed"]["resumed"] and report["ds_resumed"]["losses"] == report["ds"]["losses"]
    a, b = load_file(str(out / "ds/lora.safetensors")), load_file(str(out / "ds_resumed/lora.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    names = {p.name for p in (out / "ds/checkpoints/step-000004").iterdir()}
    assert names == {"config.yaml", "lora.safetensors", "optimizer.json", "optimizer.safetensors",
                     "rng-rank0.safetensors", "rng-rank1.safetensors", "scheduler.json", "state.json"}  # fmt: skip
    moments = load_file(str(out / "ds/checkpoints/step-000004/optimizer.safetensors"))
    assert moments["0.exp_avg_sq"].abs().sum() > 0 and float(moments["0.step"]) == 4.0


class Planted:
    """Unpickling this writes the marker file (what an attacker's pickle would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["deepspeed/state/mp_rank_00_model_states.pt", "optimizer.pt"])
def test_planted_pickle_is_refused_and_never_run(runs, tmp_path, capsys, where):
    import pickle
    import shutil

    from loomis_train.cli import main as train_main

    out, _ = runs
    run = tmp_path / "run"
    shutil.copytree(out / "ds", run)
    marker = tmp_path / "marker"
    planted = run / "checkpoints/step-000004" / where
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(pickle.dumps(Planted(marker)))
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    argv = [str(REPO / "configs/tiny.yaml"), "--output", str(run), "--resume", "--set",
            "distributed.backend=deepspeed", "--set", "logging.tensorboard=false", "--set", "train.max_steps=6"]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        train_main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not written by loomis-train" in err and where.split("/")[0] in err
    assert not marker.exists()
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before  # nothing touched


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s"]))
