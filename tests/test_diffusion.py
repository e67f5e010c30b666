"""Rectified-flow maths (loomis.diffusion) against hand-computed values, and the encoders against
the diffusers pipeline's own code on the tiny model (random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from loomis import diffusion


def test_noisy_latents_and_target_by_hand():
    x0 = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    eps = torch.tensor([[0.0, 4.0], [1.0, 1.0]])
    t = torch.tensor([0.25, 1.0])
    # row 0: 0.75*[1,2] + 0.25*[0,4] = [0.75, 2.5]; row 1: t=1 -> pure noise [1, 1]
    assert torch.equal(diffusion.noisy_latents(x0, eps, t), torch.tensor([[0.75, 2.5], [1.0, 1.0]]))
    assert torch.equal(diffusion.flow_target(x0, eps), torch.tensor([[-1.0, 2.0], [-2.0, 2.0]]))


def test_velocity_is_derivative_of_path():
    x0, eps = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    t, dt = torch.tensor([0.3, 0.6]), 1e-3
    fd = (diffusion.noisy_latents(x0, eps, t + dt) - diffusion.noisy_latents(x0, eps, t)) / dt
    assert torch.allclose(fd, diffusion.flow_target(x0, eps), atol=1e-3)


def test_flow_loss_by_hand():
    pred = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    target = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    # per-sample MSE: [1, 2]; mean 1.5; weighted [1*1, 2*0.5] -> mean 1.0
    assert diffusion.flow_loss(pred, target).item() == pytest.approx(1.5)
    assert diffusion.flow_loss(pred, target, torch.tensor([1.0, 0.5])).item() == pytest.approx(1.0)


def test_shift_by_hand():
    u = torch.tensor([0.0, 0.5, 1.0])
    # shift 3: 3*0.5 / (1 + 2*0.5) = 0.75
    assert torch.allclose(diffusion.shift_timesteps(u, 3.0), torch.tensor([0.0, 0.75, 1.0]))
    assert torch.allclose(diffusion.shift_timesteps(u, 1.0), u)


def test_sample_timesteps_modes():
    g = torch.Generator().manual_seed(0)
    u = torch.rand(10000, generator=g)
    for mode in diffusion.SAMPLING_MODES:
        t = diffusion.sample_timesteps(10000, torch.Generator().manual_seed(0), mode=mode, shift=3.0)
        assert t.shape == (10000,) and t.min() >= 1e-3 and t.max() <= 1 - 1e-3
    t = diffusion.sample_timesteps(10000, torch.Generator().manual_seed(0), mode="shift", shift=3.0)
    assert torch.allclose(t, diffusion.shift_timesteps(u, 3.0).clamp(1e-3, 1 - 1e-3))
    assert t.median() == pytest.approx(0.75, abs=0.02)  # median of u is 0.5 -> 0.75
    ln = diffusion.sample_timesteps(10000, torch.Generator().manual_seed(0), mode="logit_normal")
    assert ln.median() == pytest.approx(0.5, abs=0.02)
    with pytest.raises(ValueError):
        diffusion.sample_timesteps(1, mode="nope")


def test_condition_mask_by_hand():
    # 9 frames, temporal factor 4 -> 3 latent frames; the first latent frame carries pixel frame 0
    # four times (all ones), the rest are zeros.
    m = diffusion.condition_mask(2, 9, 3, 5)
    assert m.shape == (2, 4, 3, 3, 5)
    assert torch.equal(m[:, :, 0], torch.ones(2, 4, 3, 5))
    assert torch.equal(m[:, :, 1:], torch.zeros(2, 4, 2, 3, 5))


def test_condition_video_and_normalize():
    img = torch.full((1, 3, 2, 2), 0.5)
    v = diffusion.condition_video(img, 5)
    assert v.shape == (1, 3, 5, 2, 2)
    assert torch.equal(v[:, :, 0], img) and torch.equal(v[:, :, 1:], torch.zeros(1, 3, 4, 2, 2))
    z = torch.tensor([[[1.0]], [[4.0]]]).reshape(1, 2, 1, 1, 1)
    n = diffusion.normalize_latents(z, [1.0, 2.0], [2.0, 0.5])
    assert torch.allclose(n.flatten(), torch.tensor([0.0, 4.0]))
    assert torch.allclose(diffusion.denormalize_latents(n, [1.0, 2.0], [2.0, 0.5]), z)


def test_model_input_channels_and_timestep():
    x = torch.zeros(1, 16, 3, 2, 2)
    cond = torch.ones(1, 20, 3, 2, 2)
    assert diffusion.model_input(x, cond).shape == (1, 36, 3, 2, 2)
    assert diffusion.model_timestep(torch.tensor([0.25])).item() == 250.0
    assert diffusion.latent_frames(81) == 21 and diffusion.latent_frames(9) == 3
    assert diffusion.is_valid_frame_count(49) and not diffusion.is_valid_frame_count(50)


@pytest.fixture(scope="module")
def tiny_pipe():
    from loomis.models import build_tiny_pipeline

    pipe = build_tiny_pipeline(0)
    for m in (pipe.text_encoder, pipe.image_encoder, pipe.vae):
        m.eval()  # built from configs, they start in train mode (umT5 dropout)
    return pipe


def test_condition_equals_pipeline_prepare_latents(tiny_pipe):
    from loomis import encoders

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    x = encoders.image_to_tensor(img)[None]
    ours = encoders.encode_condition(tiny_pipe.vae, x, 9)
    _, theirs = tiny_pipe.prepare_latents(x, 1, 16, 48, 64, 9, torch.float32, "cpu", None)
    assert ours.shape == theirs.shape == (1, 20, 3, 6, 8)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_prompt_and_image_encoding_equal_pipeline(tiny_pipe):
    from loomis import encoders

    prompts = ["Oil painting. Step by step painting process. A boat.", "x"]
    ours = encoders.encode_prompts(tiny_pipe.tokenizer, tiny_pipe.text_encoder, prompts)
    theirs = tiny_pipe._get_t5_prompt_embeds(prompts, max_sequence_length=512, device="cpu")
    assert ours.shape == (2, 512, 32)
    assert torch.allclose(ours, theirs.float(), atol=1e-6)
    img = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    from PIL import Image

    ours = encoders.encode_images(tiny_pipe.image_processor, tiny_pipe.image_encoder, [img])
    theirs = tiny_pipe.encode_image(Image.fromarray(img), "cpu")
    assert torch.allclose(ours, theirs.float(), atol=1e-6)
