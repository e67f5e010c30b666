"""Memory and speed options on the tiny pipeline (CPU): group offloading is exact, fp8 storage
holds the block weights in float8 within a stated tolerance, regional compilation wraps exactly
the repeated blocks (and, under ``slow``, paints the same frames), VAE tiling follows its switch."""

import numpy as np
import pytest
import torch

from loomis.accel import AccelConfig, prepare_pipeline
from loomis.errors import InputError
from loomis.models import build_tiny_pipeline
from loomis.sampler import SampleConfig, paint_with_pipeline
from loomis.wan import WanPainter

CFG = SampleConfig(frames=5, steps=3, size=(32, 32))


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def plain(image):
    return np.stack(paint_with_pipeline(build_tiny_pipeline(0), image, "p", CFG)).astype(int)


def _prepared(accel: AccelConfig):
    pipe = build_tiny_pipeline(0)
    prepare_pipeline(pipe, accel, "cpu", torch.float32)
    return WanPainter(pipe=pipe, accel=accel)


def test_group_offload_is_exact(image, plain):
    from diffusers.hooks import HookRegistry

    painter = _prepared(AccelConfig(offload="group"))
    hooks = HookRegistry.check_if_exists_or_initialize(painter.pipe.transformer.blocks[0]).hooks
    assert any("group_offloading" in name for name in hooks)
    assert np.array_equal(np.stack(painter.paint(image, "p", CFG)).astype(int), plain)


def test_fp8_weights_are_stored_in_float8_within_tolerance(image, plain):
    """Stated tolerance on the tiny model: at most 24 levels anywhere, 0.5 on average (measured:
    max 13, mean 0.11 at 64x48). Norms and embeddings stay in the compute dtype (diffusers)."""
    painter = _prepared(AccelConfig(weights_dtype="fp8"))
    t = painter.pipe.transformer
    assert t.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    assert t.blocks[0].ffn.net[2].weight.dtype == torch.float8_e4m3fn
    assert t.patch_embedding.weight.dtype == torch.float32
    diff = np.abs(np.stack(painter.paint(image, "p", CFG)).astype(int) - plain)
    assert diff.max() <= 24 and diff.mean() <= 0.5


def test_compile_wraps_exactly_the_repeated_blocks():
    pipe = build_tiny_pipeline(0)
    prepare_pipeline(pipe, AccelConfig(compile=True), "cpu", torch.float32)
    t = pipe.transformer
    assert all(getattr(b, "_compiled_call_impl", None) is not None for b in t.blocks)
    assert (
        getattr(t, "_compiled_call_impl", None) is None
        and getattr(t.proj_out, "_compiled_call_impl", None) is None
    )


@pytest.mark.slow
def test_compiled_blocks_paint_the_same_frames_and_count_passes(image, plain):
    painter = _prepared(AccelConfig(compile=True))
    for _ in range(2):  # the second call reuses the compiled blocks (the hooks stay the same)
        frames = np.stack(painter.paint(image, "p", CFG)).astype(int)
        assert np.abs(frames - plain).max() <= 1
        assert painter.cache.last["computed_passes"] == painter.cache.last["transformer_passes"] == 6


@pytest.mark.parametrize("setting,expected", [("on", True), ("off", False), ("auto", False)])
def test_vae_tiling_switch(setting, expected):
    pipe = build_tiny_pipeline(0)
    prepare_pipeline(pipe, AccelConfig(vae_tiling=setting), "cpu", torch.float32)
    assert bool(pipe.vae.use_tiling) is expected  # auto: on GPUs only (where memory is the limit)


@pytest.mark.parametrize(
    "accel,msg",
    [
        (AccelConfig(offload="disk"), "offload must be one of"),
        (AccelConfig(weights_dtype="int4"), "weights dtype must be one of fp8"),
        (AccelConfig(offload="group", parallel="ulysses=2"), "do not combine"),
        (AccelConfig(parallel="ulysses=2"), "needs 2 processes"),
        (AccelConfig(parallel="tensor=2"), "ulysses=N or ring=N"),
        (AccelConfig(attention="warp-drive"), "unknown attention backend"),
        (AccelConfig(cache="first-block", cache_ratios=(1.0, 1.0)), "use them with --cache magcache"),
    ],
)
def test_bad_options_are_input_errors(accel, msg):
    with pytest.raises(InputError, match=msg):
        prepare_pipeline(build_tiny_pipeline(0), accel, "cpu", torch.float32)
