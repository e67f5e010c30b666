"""The trainable model: the Wan 2.1 I2V DiT with a PEFT LoRA on its block Linears.

The dtype policy (one function, both engines): the frozen base in ``model.dtype``, except the
modules diffusers keeps in fp32 (``WanTransformer3DModel._keep_in_fp32_modules``: norms,
``scale_shift_table``, the time embedder) which stay fp32 as ``from_pretrained`` leaves them; the
LoRA tensors (and so their gradients and AdamW state) in fp32.
"""

from __future__ import annotations

import logging

import torch

from loomis.errors import InputError
from loomis.lora import PREFIX, add_lora, check_fits, lora_state_dict, read_lora

from .config import LoraConfig

log = logging.getLogger(__name__)
ADAPTER = "default"


def attach_lora(transformer, cfg: LoraConfig) -> list[torch.nn.Parameter]:
    """Freeze the base, add the LoRA (optionally initialised from a stage-1 file); returns the
    trainable parameters in a fixed order."""
    transformer.requires_grad_(False)
    rank, alpha = cfg.rank, cfg.alpha
    init = None
    if cfg.init_from:
        init = read_lora(cfg.init_from)
        if init.rank != rank or abs(init.alpha - alpha) > 1e-6:
            log.info(
                "stage-1 LoRA %s has rank %d alpha %g; using those (config said %d/%g)",
                cfg.init_from,
                init.rank,
                init.alpha,
                rank,
                alpha,
            )
            rank, alpha = init.rank, init.alpha
    add_lora(transformer, rank=rank, alpha=alpha, targets=cfg.targets, adapter_name=ADAPTER)
    if init is not None:
        load_lora_weights(transformer, init)
    params = [p for _, p in sorted(transformer.named_parameters()) if p.requires_grad]
    if not params:
        raise InputError(f"config key lora.targets: {cfg.targets} matched no Linear in the transformer")
    return params


def keep_fp32(transformer) -> list[str]:
    return list(getattr(type(transformer), "_keep_in_fp32_modules", None) or [])


def apply_dtype_policy(transformer, dtype: torch.dtype) -> None:
    """Cast in place: LoRA and the fp32-kept modules to fp32, every other weight to ``dtype``."""
    keep = keep_fp32(transformer)
    for name, p in transformer.named_parameters():
        parts = name.split(".")
        fp32 = "lora_A" in parts or "lora_B" in parts or any(k in parts for k in keep)
        want = torch.float32 if fp32 else dtype
        if p.dtype != want:
            p.data = p.data.to(want)


def dtype_report(transformer) -> dict[str, list[str]]:
    """{"lora": dtypes, "fp32_kept": dtypes, "base": dtypes} (sorted, distinct): what the tests
    and the log check after the engine is set up."""
    keep, out = keep_fp32(transformer), {"lora": set(), "fp32_kept": set(), "base": set()}
    for name, p in transformer.named_parameters():
        parts = name.split(".")
        kind = (
            "lora"
            if ("lora_A" in parts or "lora_B" in parts)
            else "fp32_kept"
            if any(k in parts for k in keep)
            else "base"
        )
        out[kind].add(str(p.dtype).removeprefix("torch."))
    return {k: sorted(v) for k, v in out.items()}


def load_lora_weights(transformer, lora) -> None:
    """Copy a LoRA file's tensors (native keys) into the freshly added adapter, checking it fits."""
    from peft.utils import set_peft_model_state_dict

    check_fits(lora, transformer)
    sd = {k[len(PREFIX) :]: v for k, v in lora.state_dict.items()}
    result = set_peft_model_state_dict(transformer, sd, adapter_name=ADAPTER)
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    if unexpected:
        raise InputError(
            f"LoRA {lora.path.name} has keys the adapter lacks, e.g. {unexpected[:2]}; "
            f"set lora.targets to the stage-1 targets"
        )
    missing = [
        k for k in sd if k not in {n.replace(f".{ADAPTER}.", ".") for n, _ in transformer.named_parameters()}
    ]
    if missing:
        raise InputError(f"LoRA {lora.path.name}: {len(missing)} keys not loaded, e.g. {missing[:2]}")
    log.info("initialised the LoRA from %s (%d tensors)", lora.path, len(sd))


def trainable_state(transformer) -> dict[str, torch.Tensor]:
    return lora_state_dict(transformer, adapter_name=ADAPTER)


def enable_checkpointing(transformer) -> None:
    transformer.enable_gradient_checkpointing()
