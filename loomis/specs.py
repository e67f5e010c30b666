"""Model specs: every supported Wan 2.1 I2V shape in one named table.

A spec says how to find the weights (a local Diffusers-layout directory from ``--model DIR`` or the
spec's environment variable, or the Hugging Face hub id when online) and the component configs,
which build the *same classes* at full size (random weights, for GPU benchmarks on the meta device)
or at toy size (``tiny``: tests and smoke runs of a cluster set-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType

from loomis.errors import InputError


def _frozen(d: dict) -> MappingProxyType:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    hub_id: str | None
    env_var: str | None
    size: tuple[int, int]  # default (width, height); its area sets the canvas for any aspect
    frames: int  # default frame count (4k+1)
    flow_shift: float  # sampler's flow shift (Wan: 3.0 at 480p, 5.0 at 720p)
    # Sampling defaults as Wan's own generate.py uses them for I2V (loomis.sampler.resolve_sampling).
    steps: int = 40
    guidance: float = 5.0
    fps: float = 16.0  # Wan 2.1 is trained on 16 fps video
    scheduler: str = "unipc"  # UniPC in flow-prediction mode (Wan's default solver)
    transformer: MappingProxyType = field(default_factory=lambda: _frozen({}))
    vae: MappingProxyType = field(default_factory=lambda: _frozen({}))
    text_encoder: MappingProxyType = field(default_factory=lambda: _frozen({}))
    image_encoder: MappingProxyType = field(default_factory=lambda: _frozen({}))
    image_size: int = 224  # CLIP image processor size
    max_sequence_length: int = 512
    description: str = ""


_WAN14B_TRANSFORMER = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 40,
    "attention_head_dim": 128,
    "in_channels": 36,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 13824,
    "num_layers": 40,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "image_dim": 1280,
    "added_kv_proj_dim": 5120,
    "rope_max_seq_len": 1024,
}
_UMT5_XXL = {
    "vocab_size": 256384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
}
_CLIP_VIT_H = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "image_size": 224,
    "patch_size": 14,
    "projection_dim": 1024,
    "hidden_act": "gelu",
}

# The tiny model obeys the couplings of the real one (docs/stack-facts.md): 36 input
# channels, added_kv_proj_dim = heads * head_dim, image_dim = CLIP hidden size, >= 2 CLIP layers.
_TINY_HEADS, _TINY_HEAD_DIM, _TINY_CLIP = 2, 12, 16
TINY_VOCAB = 259  # 256 bytes + <pad>, </s>, <unk>

_WAN14B_480P = ModelSpec(
    name="wan2.1-i2v-14b-480p",
    hub_id="Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
    env_var="LOOMIS_WAN21_I2V_14B_480P",
    size=(832, 480),
    frames=81,
    flow_shift=3.0,
    transformer=_frozen(_WAN14B_TRANSFORMER),
    vae=_frozen({}),  # AutoencoderKLWan defaults are the released VAE
    text_encoder=_frozen(_UMT5_XXL),
    image_encoder=_frozen(_CLIP_VIT_H),
    image_size=224,
    description="Wan 2.1 image-to-video 14B, 480p (the Loomis Painter base model)",
)
# The 720p release is the same architecture, trained at 1280x720, sampled with a larger shift.
_WAN14B_720P = replace(
    _WAN14B_480P,
    name="wan2.1-i2v-14b-720p",
    hub_id="Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
    env_var="LOOMIS_WAN21_I2V_14B_720P",
    size=(1280, 720),
    flow_shift=5.0,
    description="Wan 2.1 image-to-video 14B, 720p",
)

SPECS: MappingProxyType = _frozen(
    {
        _WAN14B_480P.name: _WAN14B_480P,
        _WAN14B_720P.name: _WAN14B_720P,
        "tiny": ModelSpec(
            name="tiny",
            hub_id=None,
            env_var=None,
            size=(64, 48),
            frames=9,
            flow_shift=3.0,
            transformer=_frozen(
                {
                    **_WAN14B_TRANSFORMER,
                    "num_attention_heads": _TINY_HEADS,
                    "attention_head_dim": _TINY_HEAD_DIM,
                    "text_dim": 32,
                    "freq_dim": 32,
                    "ffn_dim": 32,
                    "num_layers": 2,
                    "image_dim": _TINY_CLIP,
                    "added_kv_proj_dim": _TINY_HEADS * _TINY_HEAD_DIM,
                    "rope_max_seq_len": 32,
                }
            ),
            vae=_frozen(
                {
                    "base_dim": 3,
                    "z_dim": 16,
                    "dim_mult": [1, 1, 1, 1],
                    "num_res_blocks": 1,
                    "temperal_downsample": [False, True, True],
                }
            ),
            text_encoder=_frozen(
                {
                    "vocab_size": TINY_VOCAB,
                    "d_model": 32,
                    "d_kv": 16,
                    "d_ff": 64,
                    "num_layers": 2,
                    "num_heads": 2,
                    "relative_attention_num_buckets": 8,
                    "relative_attention_max_distance": 32,
                    "feed_forward_proj": "gated-gelu",
                    "pad_token_id": 0,
                    "eos_token_id": 1,
                    "decoder_start_token_id": 0,
                }
            ),
            image_encoder=_frozen(
                {
                    "hidden_size": _TINY_CLIP,
                    "intermediate_size": 32,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "image_size": 32,
                    "patch_size": 8,
                    "projection_dim": _TINY_CLIP,
                }
            ),
            image_size=32,
            description="toy-size Wan 2.1 I2V (same classes, random weights) for tests and smoke runs",
        ),
    }
)


DEFAULT_SPEC = _WAN14B_480P.name  # what a model of unknown shape (a hub id) samples like


def get_spec(name: str) -> ModelSpec:
    if name not in SPECS:
        raise InputError(
            f"unknown model spec {name!r}; known: {', '.join(SPECS)} (or pass a Diffusers directory)"
        )
    return SPECS[name]
