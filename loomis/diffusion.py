"""Rectified-flow maths for Wan 2.1 I2V training, as small pure functions.

Conventions (those of Wan 2.1 and diffusers' flow-matching schedulers):

* ``t`` in [0, 1] is the noise level (sigma): ``x_t = (1 - t) * x0 + t * eps``; t = 1 is pure noise.
* The model predicts the velocity ``eps - x0`` (``flow_target``); the loss is its MSE.
* The transformer takes ``timestep = 1000 * t`` (``model_timestep``), as the sampler passes it.
* The I2V condition is built exactly as ``diffusers.WanImageToVideoPipeline.prepare_latents``
  builds it (no ``last_image``, ``expand_timesteps=False``): 4 mask channels (the first *pixel*
  frame's mask repeated over the VAE's temporal factor, then folded into channels) concatenated
  with the normalised VAE latents of ``[first frame, zeros…]``; the transformer input is
  ``cat(x_t, mask, condition_latents)`` along channels (16 + 4 + 16 = 36).

Nothing here touches a model: the encoders live in ``loomis.encoders``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

TIMESTEP_SCALE = 1000.0
SAMPLING_MODES = ("shift", "logit_normal", "uniform")


def _bcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-sample ``t`` (shape (B,)) broadcast over ``like``'s trailing dims."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    return t.reshape(t.shape + (1,) * (like.ndim - t.ndim))


def noisy_latents(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) * x0 + t * noise`` with per-sample ``t``."""
    tb = _bcast(t, x0)
    return (1.0 - tb) * x0 + tb * noise


def flow_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The velocity the model learns: ``d x_t / d t = noise - x0``."""
    return noise - x0


def flow_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error in float32, optionally weighted per sample (shape (B,))."""
    err = (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)
    if weights is not None:
        err = err * weights.float()
    return err.mean()


def shift_timesteps(u: torch.Tensor, shift: float) -> torch.Tensor:
    """The flow shift of Wan/SD3: ``shift * u / (1 + (shift - 1) * u)`` (shift > 1 → noisier)."""
    return shift * u / (1.0 + (shift - 1.0) * u)


def sample_timesteps(
    batch: int,
    generator: torch.Generator | None = None,
    mode: str = "shift",
    shift: float = 3.0,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    eps: float = 1e-3,
) -> torch.Tensor:
    """Training noise levels ``t`` in [eps, 1 - eps], shape (batch,), float32 on CPU.

    ``shift``: uniform u then ``shift_timesteps`` (Wan's own training/sampling shift, 3 at 480p,
    5 at 720p). ``logit_normal``: ``sigmoid(N(mean, std))`` (SD3). ``uniform``: plain u.
    """
    if mode not in SAMPLING_MODES:
        raise ValueError(f"timestep sampling mode must be one of {SAMPLING_MODES}, got {mode!r}")
    if mode == "logit_normal":
        z = torch.randn(batch, generator=generator) * logit_std + logit_mean
        t = torch.sigmoid(z)
    else:
        t = torch.rand(batch, generator=generator)
        if mode == "shift":
            t = shift_timesteps(t, shift)
    return t.clamp(eps, 1.0 - eps)


def model_timestep(t: torch.Tensor) -> torch.Tensor:
    """The transformer's ``timestep`` argument for noise level ``t`` (the sampler passes sigma*1000)."""
    return t * TIMESTEP_SCALE


def latent_frames(num_frames: int, temporal_factor: int = 4) -> int:
    """Latent frames of a ``num_frames`` video (Wan VAE: 4k+1 → k+1)."""
    return (num_frames - 1) // temporal_factor + 1


def is_valid_frame_count(num_frames: int, temporal_factor: int = 4) -> bool:
    return num_frames >= 1 and (num_frames - 1) % temporal_factor == 0


def condition_mask(
    batch: int, num_frames: int, latent_h: int, latent_w: int, temporal_factor: int = 4
) -> torch.Tensor:
    """The I2V mask, (B, temporal_factor, F_lat, h, w): 1 where the pixel frame is given (frame 0),
    0 elsewhere; pixel frame 0's mask is repeated ``temporal_factor`` times so the pixel frames fold
    evenly into latent frames (as ``prepare_latents`` does)."""
    mask = torch.ones(batch, 1, num_frames, latent_h, latent_w)
    mask[:, :, 1:] = 0
    first = torch.repeat_interleave(mask[:, :, 0:1], repeats=temporal_factor, dim=2)
    mask = torch.cat([first, mask[:, :, 1:]], dim=2)
    mask = mask.view(batch, -1, temporal_factor, latent_h, latent_w)
    return mask.transpose(1, 2)


def condition_video(image: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``[image, zeros × (num_frames - 1)]`` along time: (B, C, H, W) → (B, C, F, H, W). ``image`` is
    in the VAE's [-1, 1] range, so zeros are mid-grey, as in the pipeline."""
    image = image.unsqueeze(2)
    zeros = image.new_zeros(image.shape[0], image.shape[1], num_frames - 1, *image.shape[3:])
    return torch.cat([image, zeros], dim=2)


def normalize_latents(z: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(z - mean) / std`` per channel (the Wan VAE's ``latents_mean``/``latents_std``)."""
    shape = (1, len(mean)) + (1,) * (z.ndim - 2)
    m = torch.tensor(mean, dtype=z.dtype, device=z.device).view(shape)
    s = torch.tensor(std, dtype=z.dtype, device=z.device).view(shape)
    return (z - m) / s


def denormalize_latents(z: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    shape = (1, len(mean)) + (1,) * (z.ndim - 2)
    m = torch.tensor(mean, dtype=z.dtype, device=z.device).view(shape)
    s = torch.tensor(std, dtype=z.dtype, device=z.device).view(shape)
    return z * s + m


def i2v_condition(mask: torch.Tensor, condition_latents: torch.Tensor) -> torch.Tensor:
    """``cat(mask, condition_latents)`` along channels: the 20 extra input channels."""
    return torch.cat([mask.to(condition_latents.dtype), condition_latents], dim=1)


def model_input(x_t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
    """The transformer's ``hidden_states``: ``cat(x_t, condition)`` along channels."""
    return torch.cat([x_t, condition.to(x_t.dtype)], dim=1)
