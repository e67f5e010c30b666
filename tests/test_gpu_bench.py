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
