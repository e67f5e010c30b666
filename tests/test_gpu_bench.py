"""The random-weight transformer the GPU benchmark measures, built the same way on CPU at toy size
and as one full-width 14B block: its output is finite and depends on the input (``to_empty`` used to
leave the RoPE tables uninitialised: non-finite output on CPU)."""

import pytest
import torch

from loomis.gpu_bench import check_output, random_transformer, step_inputs, time_cache
from loomis.models import build_transformer
from loomis.specs import SPECS


def test_random_transformer_has_real_rope_tables_and_usable_output():
    spec = SPECS["tiny"]
    reference = build_transformer(spec)  # built normally: its RoPE tables are computed
    model = random_transformer(spec, torch.bfloat16, "cpu")
    inputs, _ = step_inputs(spec, (64, 48), 9, torch.bfloat16, "cpu")
    assert check_output(model, inputs) == {"finite": True, "input_dependent": True, "shape": [1, 16, 3, 6, 8]}
    assert model.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16
    assert model.blocks[0].norm2.weight.dtype == torch.float32  # kept float32, as from_pretrained does
    for name in ("freqs_cos", "freqs_sin"):  # to_empty left these as whatever memory held
        assert torch.equal(getattr(model.rope, name), getattr(reference.rope, name))


@pytest.mark.slow  # ~400M parameters of embedders and one block: ~20 s on a busy 2-core machine
def test_one_full_width_14b_block_on_cpu():
    spec = SPECS["wan2.1-i2v-14b-480p"]
    model = random_transformer(spec, torch.bfloat16, "cpu", num_layers=1)
    inputs, tokens = step_inputs(spec, (64, 48), 5, torch.bfloat16, "cpu")
    assert tokens == 2 * 3 * 4 and check_output(model, inputs)["input_dependent"]


def test_forced_reuse_timings_classify_passes():
    spec = SPECS["tiny"]
    model = random_transformer(spec, torch.float32, "cpu")
    inputs, _ = step_inputs(spec, (64, 48), 9, torch.float32, "cpu")
    fbc = time_cache(model, inputs, "cpu", "first-block", passes=4)
    assert (fbc["computed"], fbc["reused"]) == (1, 3)
    kv = time_cache(model, inputs, "cpu", "text-kv", passes=2)
    assert (kv["computed"], kv["reused"]) == (2, 0) and not model.is_cache_enabled


def _bench_gpu():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu_script", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_per_video_estimates_from_measured_passes():
    gpu = _bench_gpu()
    r = {
        "plain": {"s_per_pass": 2.0},
        "compile": {"s_per_pass": 1.5},
        "fp8": {"s_per_pass": 1.2},
        "pipeline": {"decode_s": 6.0},
        "caches": {"first-block": {"reused_s": 0.1}},
    }
    e = gpu.estimates(r)
    assert e["plain_video_s"] == 40 * 2 * 2.0 + 6.0
    assert e["fast_preset_video_s"] == 4 * 1.2 + 6.0  # the fastest measured pass, one per step
    assert e["first-block_half_reused_with_compile_ratio"] == round((0.5 * 1.5 + 0.5 * 0.1) / 2.0, 3)
    assert gpu.estimates({}) == {"note": "no plain measurement"}


@pytest.mark.slow  # every section at toy size on CPU: ~1 min on a busy 2-core machine
def test_gpu_script_rehearses_end_to_end(tmp_path):
    import json

    out = tmp_path / "gpu.json"
    assert _bench_gpu().main(["--rehearse", "--out", str(out), "--budget", "600"]) == 0
    r = json.loads(out.read_text())
    assert r["plain"]["finite"] and r["plain"]["input_dependent"] and r["plain"]["s_per_pass"] > 0
    assert set(r["caches"]) == {"first-block", "magcache", "taylorseer", "text-kv", "section_s"}
    assert r["compile"]["finite"] and r["pipeline"]["finite"] and r["fp8"]["finite"]
    assert isinstance(r["attention"]["flash"], str | dict) and "fast_preset_video_s" in r["estimates"]
