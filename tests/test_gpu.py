"""GPU checks (marked ``gpu``; skipped where no CUDA device exists, never faked). Outputs must be
finite and depend on the input, not only have the right shape."""

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu


def test_tiny_paints_in_bf16_on_gpu():
    from loomis.sampler import SampleConfig
    from loomis.wan import WanPainter

    painter = WanPainter.load("tiny", dtype=torch.bfloat16, device="cuda")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(2)]
    cfg = SampleConfig(frames=9, steps=2, size=(64, 48))
    a, b = (np.stack(painter.paint(im, "x", cfg)).astype(int) for im in images)
    assert a.shape == (9, 48, 64, 3) and a.std() > 1  # not a constant (NaN latents decode to one colour)
    assert np.abs(a - b).mean() > 1  # depends on the input image


def test_full_size_14b_transformer_step_bf16():
    from loomis.gpu_bench import check_output, random_transformer, step_inputs, time_steps
    from loomis.specs import SPECS

    spec = SPECS["wan2.1-i2v-14b-480p"]
    model = random_transformer(spec, torch.bfloat16)
    inputs, tokens = step_inputs(spec, (832, 480), 81, torch.bfloat16)
    assert tokens == 21 * 30 * 52
    assert check_output(model, inputs) == {
        "finite": True,
        "input_dependent": True,
        "shape": [1, 16, 21, 60, 104],
    }
    timing = time_steps(model, spec, (832, 480), 81, torch.bfloat16, warmup=1, steps=1)
    assert (
        0 < timing.seconds_per_step
        and timing.peak_memory_gib < torch.cuda.get_device_properties(0).total_memory / 2**30
    )
