"""GPU checks (marked ``gpu``; skipped where no CUDA device exists, never faked)."""

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu


def test_tiny_paints_in_bf16_on_gpu():
    from loomis.sampler import SampleConfig
    from loomis.wan import WanPainter

    painter = WanPainter.load("tiny", dtype=torch.bfloat16, device="cuda")
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    frames = painter.paint(image, "x", SampleConfig(frames=9, steps=2, size=(64, 48)))
    assert len(frames) == 9 and frames[0].shape == (48, 64, 3)


def test_full_size_14b_transformer_step_bf16():
    from loomis.gpu_bench import random_transformer, time_steps
    from loomis.specs import SPECS

    spec = SPECS["wan2.1-i2v-14b-480p"]
    model = random_transformer(spec, torch.bfloat16)
    timing = time_steps(model, spec, (832, 480), 81, torch.bfloat16, warmup=1, steps=1)
    assert timing.tokens == 21 * 30 * 52
    assert (
        timing.seconds_per_step > 0
        and timing.peak_memory_gib < torch.cuda.get_device_properties(0).total_memory / 2**30
    )
