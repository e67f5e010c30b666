"""LoRA files for the Wan 2.1 transformer: create, save, read, convert, check.

Native format: diffusers/PEFT keys (``transformer.blocks.0.attn1.to_q.lora_A.weight``) in
safetensors, with the PEFT config in the ``lora_adapter_metadata`` header entry (as diffusers
writes it, so stock ``WanImageToVideoPipeline.load_lora_weights`` restores rank and alpha) and
Loomis' own metadata (base model, mediums, config hash, …) in a ``loomis`` entry.

Reading accepts the three formats in circulation and relies on diffusers' own converters for
ComfyUI/original-Wan (``diffusion_model.blocks.N.self_attn.q…``) and musubi (``lora_unet_…``).
Writing those formats is what diffusers does not do; it is done here, with the LoRA scale kept in
``.alpha`` entries so a round trip leaves the effective weights unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from loomis.errors import InputError
from loomis.io import atomic_path

log = logging.getLogger(__name__)

# Block Linear layers (docs/stack-facts.md). "ffn.net.2" alone would also match the image embedder's MLP,
# which is why targets are anchored at "blocks.<n>." below.
DEFAULT_TARGETS: tuple[str, ...] = (
    "attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
    "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0", "attn2.add_k_proj", "attn2.add_v_proj",
    "ffn.net.0.proj", "ffn.net.2",
)  # fmt: skip
FORMATS = ("diffusers", "comfyui", "musubi")
PREFIX = "transformer."
META_KEY = "lora_adapter_metadata"  # diffusers' header entry for the PEFT config

# diffusers block-module suffix  <->  original Wan / ComfyUI name (musubi: same with '_' for '.')
_TO_ORIGINAL = {
    "attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v",
    "attn1.to_out.0": "self_attn.o",
    "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k", "attn2.to_v": "cross_attn.v",
    "attn2.to_out.0": "cross_attn.o", "attn2.add_k_proj": "cross_attn.k_img", "attn2.add_v_proj": "cross_attn.v_img",
    "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2",
}  # fmt: skip
_BLOCK_KEY = re.compile(r"^transformer\.blocks\.(\d+)\.(.+)\.lora_([AB])\.weight$")


def target_regex(targets: Iterable[str] = DEFAULT_TARGETS) -> str:
    """A PEFT ``target_modules`` regex that matches the named Linear layers inside blocks only."""
    alts = "|".join(re.escape(t) for t in targets)
    return rf"blocks\.\d+\.(?:{alts})"


@dataclass
class LoraMetadata:
    rank: int
    alpha: float
    targets: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    base_model: str = ""
    mediums: list[str] = field(default_factory=list)
    config_hash: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class LoraFile:
    """A LoRA read from disk, its tensors in native (diffusers) keys."""

    path: Path
    format: str
    state_dict: dict[str, torch.Tensor]
    metadata: LoraMetadata | None
    header: dict

    @property
    def rank(self) -> int:
        ranks = {v.shape[0] for k, v in self.state_dict.items() if ".lora_A." in k}
        return max(ranks) if ranks else 0

    @property
    def alpha(self) -> float:
        """The alpha that goes with ``state_dict`` (for ComfyUI/musubi files diffusers' converters
        have already folded alpha/rank into the weights, so it equals the rank)."""
        if self.format in ("comfyui", "musubi"):
            return float(self.rank)
        if self.metadata is not None:
            return float(self.metadata.alpha)
        peft = _peft_meta(self.header)
        return float(peft.get(PREFIX + "lora_alpha", self.rank)) if peft else float(self.rank)

    @property
    def targets(self) -> list[str]:
        found = {m.group(2) for k in self.state_dict if (m := _BLOCK_KEY.match(k))}
        return sorted(found)

    @property
    def blocks(self) -> list[int]:
        return sorted({int(m.group(1)) for k in self.state_dict if (m := _BLOCK_KEY.match(k))})

    def diffusers_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors as ``load_lora_weights(state_dict)`` takes them. A state dict passed in
        memory carries no PEFT config, so diffusers applies it with alpha = rank: the file's
        alpha/rank scale is folded into each ``lora_B`` here (ComfyUI/musubi files: already folded
        by diffusers' converters). Once any module has a LoRA bias (``.diff_b`` in step-distill
        files) diffusers expects one on every module: the others get zeros."""
        out = dict(self.state_dict)
        if self.format not in ("comfyui", "musubi"):
            alpha = self.alpha
            for key, value in self.state_dict.items():
                a = (
                    self.state_dict.get(key.replace(".lora_B.", ".lora_A."))
                    if ".lora_B.weight" in key
                    else None
                )
                if a is not None and alpha != a.shape[0]:
                    out[key] = (value.float() * (alpha / a.shape[0])).to(value.dtype)
        if any(k.endswith(".lora_B.bias") for k in out):
            for key, value in self.state_dict.items():
                if key.endswith(".lora_B.weight") and key[: -len("weight")] + "bias" not in out:
                    out[key[: -len("weight")] + "bias"] = value.new_zeros(value.shape[0])
        return out


# --------------------------------------------------------------------------------------------
# creating and saving
# --------------------------------------------------------------------------------------------
def make_lora_config(rank: int, alpha: float, targets: Iterable[str] = DEFAULT_TARGETS):
    from peft import LoraConfig

    if rank < 1:
        raise InputError(f"LoRA rank must be >= 1, got {rank}")
    return LoraConfig(r=rank, lora_alpha=alpha, target_modules=target_regex(targets), init_lora_weights=True)


def add_lora(
    transformer,
    rank: int = 32,
    alpha: float = 32.0,
    targets: Iterable[str] = DEFAULT_TARGETS,
    adapter_name: str = "default",
) -> None:
    """Add a fresh PEFT LoRA (B = 0, so the output is unchanged) to a ``WanTransformer3DModel``."""
    transformer.add_adapter(make_lora_config(rank, alpha, targets), adapter_name=adapter_name)


def lora_state_dict(transformer, adapter_name: str = "default") -> dict[str, torch.Tensor]:
    """The adapter's weights in native keys (``transformer.blocks.N.….lora_A.weight``)."""
    from peft.utils import get_peft_model_state_dict

    sd = get_peft_model_state_dict(transformer, adapter_name=adapter_name)
    return {PREFIX + k: v.detach().to("cpu").contiguous() for k, v in sd.items()}


def save_lora(
    path: str | Path, state_dict: dict[str, torch.Tensor], metadata: LoraMetadata, fmt: str = "diffusers"
) -> Path:
    """Write a LoRA (native keys in ``state_dict``) as safetensors, atomically, in ``fmt``."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"LoRA files are .safetensors; got {path.name}")
    if fmt not in FORMATS:
        raise InputError(f"unknown LoRA format {fmt!r}; use one of {', '.join(FORMATS)}")
    sd = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    if fmt == "comfyui":
        sd = to_original_keys(sd, metadata.alpha, prefix="diffusion_model.", sep=".")
    elif fmt == "musubi":
        sd = to_original_keys(_fill_all_blocks(sd), metadata.alpha, prefix="lora_unet_", sep="_")
    peft_meta = {
        PREFIX + "r": metadata.rank,
        PREFIX + "lora_alpha": metadata.alpha,
        PREFIX + "target_modules": target_regex(metadata.targets),
    }
    header = {"format": "pt", "loomis": json.dumps(asdict(metadata), sort_keys=True), "loomis_format": fmt}
    if fmt == "diffusers":
        # Only native files carry the PEFT config: diffusers folds the .alpha entries of the other
        # formats into the weights when converting, and a header alpha would then scale them twice.
        header[META_KEY] = json.dumps(peft_meta, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp), metadata=header)
    return path


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def detect_format(keys: Iterable[str]) -> str:
    keys = list(keys)
    if any(k.startswith("diffusion_model.") for k in keys):
        return "comfyui"
    if any(k.startswith("lora_unet_") for k in keys):
        return "musubi"
    if any(k.startswith(PREFIX) for k in keys):
        return "diffusers"
    if any(k.startswith(("blocks.", "base_model.model.blocks.")) for k in keys):
        return "peft"
    return "unknown"


def read_lora(path: str | Path) -> LoraFile:
    """Read a LoRA in any supported format; tensors come back in native keys."""
    path = Path(path)
    if path.is_dir():
        hint = f" such as {path / 'lora.safetensors'}" if (path / "lora.safetensors").is_file() else ""
        raise InputError(f"{path} is a folder; give a LoRA .safetensors file{hint}")
    if not path.is_file():
        raise InputError(f"LoRA file {path} does not exist")
    if path.suffix != ".safetensors":
        raise InputError(
            f"{path.name}: only .safetensors LoRA files are accepted (pickle files are never loaded)"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = dict(f.metadata() or {})
            raw = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise InputError(f"{path.name} is not a readable safetensors file ({exc})") from None
    fmt = detect_format(raw)
    if fmt == "unknown":
        sample = ", ".join(list(raw)[:3]) or "(no tensors)"
        raise InputError(f"{path.name}: unrecognised LoRA key format (first keys: {sample})")
    sd = _to_native(raw, fmt, path)
    meta = None
    if "loomis" in header:
        meta = LoraMetadata(**json.loads(header["loomis"]))
    return LoraFile(path=path, format=fmt, state_dict=sd, metadata=meta, header=header)


def _to_native(raw: dict[str, torch.Tensor], fmt: str, path: Path) -> dict[str, torch.Tensor]:
    from diffusers.loaders.lora_conversion_utils import (
        _convert_musubi_wan_lora_to_diffusers,
        _convert_non_diffusers_wan_lora_to_diffusers,
    )

    try:
        if fmt == "comfyui":
            return _convert_non_diffusers_wan_lora_to_diffusers(dict(raw))
        if fmt == "musubi":
            return _convert_musubi_wan_lora_to_diffusers(dict(raw))
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path.name}: incomplete or inconsistent {fmt} LoRA ({exc})") from None
    if fmt == "peft":
        return {PREFIX + k.removeprefix("base_model.model."): v for k, v in raw.items()}
    return dict(raw)


def _peft_meta(header: dict) -> dict:
    raw = header.get(META_KEY)
    return json.loads(raw) if raw else {}


# --------------------------------------------------------------------------------------------
# converting to the other formats
# --------------------------------------------------------------------------------------------
def to_original_keys(
    sd: dict[str, torch.Tensor], alpha: float, prefix: str, sep: str
) -> dict[str, torch.Tensor]:
    """Native keys → original Wan names (``prefix`` "diffusion_model.", ``sep`` ".") or musubi
    (``prefix`` "lora_unet_", ``sep`` "_"), with ``lora_down``/``lora_up`` and an ``.alpha`` per
    module so that loaders apply the same alpha/rank scale."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        m = _BLOCK_KEY.match(key)
        if m is None or m.group(2) not in _TO_ORIGINAL:
            raise InputError(f"cannot convert key {key}: only transformer block Linear LoRAs convert")
        block, module, ab = m.groups()
        name = f"blocks.{block}.{_TO_ORIGINAL[module]}"
        if sep != ".":
            name = name.replace(".", sep)
        out[f"{prefix}{name}.lora_{'down' if ab == 'A' else 'up'}.weight"] = value
        if ab == "A":
            out[f"{prefix}{name}.alpha"] = torch.tensor(float(alpha))
    return out


def _fill_all_blocks(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """musubi readers expect every block module; absent ones get zero LoRAs (no effect)."""
    found: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        m = _BLOCK_KEY.match(key)
        if m:
            found.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = value
    if not found:
        return dict(sd)
    rank = max(v["A"].shape[0] for v in found.values() if "A" in v)
    dims = {mod: (v["A"].shape[1], v["B"].shape[0]) for (_, mod), v in found.items() if "A" in v and "B" in v}
    missing_dims = [m for m in _TO_ORIGINAL if m not in dims]
    if missing_dims:
        raise InputError(f"musubi export needs every block module; this LoRA has none of {missing_dims}")
    out = dict(sd)
    for block in range(max(b for b, _ in found) + 1):
        for mod, (d_in, d_out) in dims.items():
            if (block, mod) not in found:
                a = next(iter(found.values()))["A"]
                out[f"{PREFIX}blocks.{block}.{mod}.lora_A.weight"] = a.new_zeros(rank, d_in)
                out[f"{PREFIX}blocks.{block}.{mod}.lora_B.weight"] = a.new_zeros(d_out, rank)
    return out


def convert_lora(src: str | Path, dst: str | Path, to: str) -> Path:
    """Re-write ``src`` (any format) as ``dst`` in format ``to``. Alpha is preserved."""
    lora = read_lora(src)
    meta = lora.metadata or LoraMetadata(rank=lora.rank, alpha=lora.alpha, targets=lora.targets)
    meta = LoraMetadata(**{**asdict(meta), "rank": lora.rank, "alpha": lora.alpha})
    return save_lora(dst, lora.state_dict, meta, fmt=to)


# --------------------------------------------------------------------------------------------
# checking against a model
# --------------------------------------------------------------------------------------------
def unmatched_keys(state_dict: dict[str, torch.Tensor], transformer) -> list[str]:
    """Keys of ``state_dict`` (native) that do not fit ``transformer``: no such Linear, or a shape
    that does not match its in/out features. Works on a meta-device model (no weights needed)."""
    missing, shapes = _misfits(state_dict, transformer)
    return [k for k in state_dict if k in missing or k in shapes]


def _misfits(state_dict: dict[str, torch.Tensor], transformer) -> tuple[list[str], dict[str, str]]:
    """(keys naming no Linear layer, {key: "LoRA shape vs layer size"} for shape mismatches)."""
    modules = dict(transformer.named_modules())
    missing, shapes = [], {}
    for key, value in state_dict.items():
        if not key.startswith(PREFIX):
            missing.append(key)
            continue
        body = key[len(PREFIX) :]
        name, _, kind = body.rpartition(".lora_")
        base = modules.get(name)
        base = getattr(base, "base_layer", base)  # a module that already carries PEFT layers
        if not isinstance(base, torch.nn.Linear):
            missing.append(key)
        elif kind.startswith("A.weight") and value.shape[1] != base.in_features:
            shapes[key] = f"{list(value.shape)} vs {base.in_features} inputs"
        elif kind.startswith("B.weight") and value.shape[0] != base.out_features:
            shapes[key] = f"{list(value.shape)} vs {base.out_features} outputs"
    return missing, shapes


def check_fits(lora: LoraFile, transformer, model_name: str = "the base model") -> None:
    """InputError unless every tensor of ``lora`` fits ``transformer``, saying which failure it is:
    keys that name no layer (another model or format), or right keys with other shapes (another
    model size)."""
    missing, shapes = _misfits(lora.state_dict, transformer)
    if not missing and not shapes:
        return
    parts = []
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        parts.append(f"{len(missing)} unmatched keys, e.g. {', '.join(missing[:3])}{more}")
    if shapes:
        key, why = next(iter(shapes.items()))
        size = "" if missing else " (a LoRA for another model size?)"
        parts.append(f"{len(shapes)} tensor(s) whose keys match but shapes differ, e.g. {key} {why}{size}")
    raise InputError(f"LoRA {lora.path.name} does not fit {model_name}: " + "; ".join(parts))
