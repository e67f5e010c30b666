"""The frozen encoders of Wan 2.1 I2V, called as the pipeline calls them.

Shared by ``loomis-data cache`` (run once, store the outputs) and the trainer (on-the-fly
encoding when no cache is given), so a cached and an uncached run see the same tensors:

* ``encode_video``: VAE latents of a (B, 3, F, H, W) video in [-1, 1], normalised with the VAE's
  ``latents_mean``/``latents_std``; the distribution's mode is used (deterministic, as the pipeline
  does for its condition latents), so a cache holds exactly what on-the-fly encoding produces.
* ``encode_condition``: the I2V condition (4 mask channels + latents of [first frame, zeros]),
  via ``loomis.diffusion``.
* ``encode_prompts``: umT5 hidden states, zeroed past each prompt's length and padded to 512
  tokens (the attention processor reads everything past token 512 as image context).
* ``encode_images``: CLIP vision tokens, ``hidden_states[-2]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from loomis import diffusion

MAX_SEQUENCE_LENGTH = 512


def frames_to_tensor(frames: Sequence[np.ndarray]) -> torch.Tensor:
    """(F, H, W, 3) uint8 frames → (3, F, H, W) float32 in [-1, 1]."""
    arr = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    x = torch.from_numpy(arr).float().div_(127.5).sub_(1.0)
    return x.permute(3, 0, 1, 2).contiguous()


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, H, W) float32 in [-1, 1]."""
    return frames_to_tensor([image])[:, 0]


def _vae_stats(vae) -> tuple[list[float], list[float]]:
    return list(vae.config.latents_mean), list(vae.config.latents_std)


@torch.no_grad()
def encode_video(vae, video: torch.Tensor) -> torch.Tensor:
    """(B, 3, F, H, W) in [-1, 1] → normalised latents (B, z, F_lat, H/8, W/8), float32."""
    vae.eval()  # frozen encoders never run in train mode (built-from-config models start there)
    param = next(vae.parameters())
    posterior = vae.encode(video.to(device=param.device, dtype=param.dtype)).latent_dist
    z = posterior.mode().float()
    mean, std = _vae_stats(vae)
    return diffusion.normalize_latents(z, mean, std)


@torch.no_grad()
def encode_condition(vae, image: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, 3, H, W) condition image in [-1, 1] → (B, 4 + z, F_lat, h, w) as the pipeline builds it."""
    latents = encode_video(vae, diffusion.condition_video(image, num_frames))
    b, _, _, h, w = latents.shape
    temporal = int(getattr(vae.config, "scale_factor_temporal", 4))
    mask = diffusion.condition_mask(b, num_frames, h, w, temporal).to(latents.device)
    return diffusion.i2v_condition(mask, latents)


def _clean(prompt: str) -> str:
    from diffusers.pipelines.wan.pipeline_wan_i2v import prompt_clean

    return prompt_clean(prompt)


@torch.no_grad()
def encode_prompts(
    tokenizer, text_encoder, prompts: Sequence[str], max_length: int = MAX_SEQUENCE_LENGTH
) -> torch.Tensor:
    """umT5 embeddings (B, max_length, D), float32, zero past each prompt's tokens (as the pipeline)."""
    prompts = [_clean(p) for p in prompts]
    inputs = tokenizer(
        list(prompts),
        padding="max_length",
        max_length=max_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids, mask = inputs.input_ids, inputs.attention_mask
    text_encoder.eval()  # umT5 has dropout; a model built from a config starts in train mode
    device = next(text_encoder.parameters()).device
    hidden = text_encoder(ids.to(device), mask.to(device)).last_hidden_state.float()
    seq_lens = mask.gt(0).sum(dim=1)
    # zero past the prompt's length exactly as the pipeline's slice-and-pad does
    positions = torch.arange(max_length, device=hidden.device).unsqueeze(0)
    keep = (positions < seq_lens.to(hidden.device).unsqueeze(1)).unsqueeze(-1).to(hidden.dtype)
    return hidden * keep


@torch.no_grad()
def encode_images(image_processor, image_encoder, images: Sequence[np.ndarray]) -> torch.Tensor:
    """CLIP vision tokens ``hidden_states[-2]`` (B, tokens, D), float32."""
    from PIL import Image

    pil = [Image.fromarray(np.asarray(im, dtype=np.uint8)) for im in images]
    image_encoder.eval()
    param = next(image_encoder.parameters())
    inputs = image_processor(images=pil, return_tensors="pt").to(param.device)
    inputs["pixel_values"] = inputs["pixel_values"].to(param.dtype)
    out = image_encoder(**inputs, output_hidden_states=True)
    return out.hidden_states[-2].float()


def load_encoders(
    model,
    dtype: torch.dtype = torch.bfloat16,
    device: str | torch.device = "cpu",
    tiny_seed: int = 0,
) -> dict:
    """The frozen components (``loomis.models.load_frozen_components``) on ``device``, in eval mode
    and without gradients: what the cache command and on-the-fly training encode with."""
    from loomis.models import load_frozen_components

    comps = load_frozen_components(model, dtype, tiny_seed)
    for name in ("vae", "text_encoder", "image_encoder"):
        comps[name].to(device=device).requires_grad_(False).eval()
    return comps
