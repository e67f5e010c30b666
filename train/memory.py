"""Frozen-weight memory options (config keys ``model.fp8_frozen`` and ``model.blocks_to_swap``).

The 14B DiT's frozen weights are 30.5 GiB in bf16: more than a 24–48 GB card has room for next to
the activations. Two ways to hold fewer of them on the accelerator, both leaving the LoRA (and so
its gradients and AdamW state) in fp32 on the device:

* ``fp8_frozen``: diffusers' layerwise casting (``ModelMixin.enable_layerwise_casting``) stores
  every frozen block Linear in ``float8_e4m3fn`` and upcasts it to the compute dtype just for its
  forward; diffusers already skips PEFT layers, norms, the patch embedding and the modules it keeps
  in fp32. Frozen weights: 30.5 → ~15.5 GiB (the per-block Linears are 97% of the parameters).
* ``blocks_to_swap`` (musubi-tuner's name and meaning): the frozen weights of the last N blocks
  live in (pinned) CPU memory and are copied in just before the block runs and dropped right after
  — in the forward and again in the backward. A swapped block is checkpointed by ``SwapCheckpoint``
  (a reentrant-style checkpoint: no activations kept, the block recomputed in backward with its
  weights swapped in), so it needs no help from diffusers' gradient checkpointing. Each swapped
  block saves 0.75 GiB (bf16) of accelerator memory at the cost of two host→device copies a step.
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


PEFT_AUTOCAST_OFF = "peft_autocast_disable"  # diffusers.hooks.layerwise_casting._PEFT_AUTOCAST_DISABLE_HOOK


def enable_fp8_storage(transformer, compute_dtype: torch.dtype) -> None:
    """Layerwise casting of the frozen Linears; the LoRA layers (skipped, fp32) keep PEFT's cast of
    their input to fp32, which diffusers switches off for LoRAs it would itself store in fp8."""
    transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype)
    for m in transformer.modules():
        registry = getattr(m, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(PEFT_AUTOCAST_OFF) is not None:
            registry.remove_hook(PEFT_AUTOCAST_OFF, recurse=False)


class SwappedBlock:
    """Keeps one block's frozen weights on the host; ``swap_in``/``swap_out`` move them."""

    def __init__(self, block: torch.nn.Module, device: torch.device):
        self.block, self.device = block, device
        pin = device.type == "cuda"
        self.frozen = [p for p in block.parameters() if not p.requires_grad]
        self.host = [p.data.to("cpu").pin_memory() if pin else p.data.to("cpu") for p in self.frozen]
        self.swaps = 0  # swap-ins, for tests and the log
        self.swap_out()

    def swap_in(self) -> None:
        self.swaps += 1
        for p, h in zip(self.frozen, self.host):
            p.data = h.to(self.device, non_blocking=True)

    def swap_out(self) -> None:
        for p, h in zip(self.frozen, self.host):
            p.data = h


class SwapCheckpoint(torch.autograd.Function):
    """``block(hidden, context, temb, rotary)`` with the weights swapped in for the forward (no
    graph kept) and again for the recompute + backward. The LoRA inside the block gets its gradient
    from the inner ``torch.autograd.backward``, as under reentrant checkpointing."""

    @staticmethod
    def forward(ctx, swapped: SwappedBlock, run, hidden, context, temb, n_rotary, *rest):
        # ``rest``: the rotary tensors, then the block's LoRA parameters, passed only so that the
        # output requires grad even when ``hidden`` does not (the first block's input)
        rotary = rest[:n_rotary]
        ctx.swapped, ctx.run, ctx.n_extra = swapped, run, len(rest)
        ctx.save_for_backward(hidden, context, temb, *rotary)
        with torch.no_grad():
            swapped.swap_in()
            try:
                return run(hidden, context, temb, tuple(rotary))
            finally:
                swapped.swap_out()

    @staticmethod
    def backward(ctx, grad):
        hidden, context, temb, *rotary = ctx.saved_tensors
        hidden = hidden.detach().requires_grad_(True)
        ctx.swapped.swap_in()
        try:
            with torch.enable_grad():
                out = ctx.run(hidden, context, temb, tuple(rotary))
            torch.autograd.backward(out, grad)
        finally:
            ctx.swapped.swap_out()
        return (None, None, hidden.grad, None, None, None, *[None] * ctx.n_extra)


def apply_block_swap(transformer, n: int, device: torch.device) -> list[SwappedBlock]:
    """Swap the last ``n`` blocks (call after the model is on its device and the engine is set up:
    both move modules). Returns the swapped blocks."""
    blocks = list(transformer.blocks)
    if not 0 <= n <= len(blocks):
        from loomis.errors import InputError

        raise InputError(f"config key model.blocks_to_swap: {n} must lie in [0, {len(blocks)}]")
    swapped = []
    for block in blocks[len(blocks) - n :]:
        s = SwappedBlock(block, device)
        run = block.forward

        lora = [p for p in block.parameters() if p.requires_grad]

        def forward(hidden, context, temb, rotary, _s=s, _run=run, _lora=lora):
            if not torch.is_grad_enabled():  # sampling (validation): swap in, run, swap out
                return SwapCheckpoint.forward(_NoCtx(), _s, _run, hidden, context, temb, len(rotary), *rotary)
            return SwapCheckpoint.apply(_s, _run, hidden, context, temb, len(rotary), *rotary, *_lora)

        block.forward = forward
        swapped.append(s)
    if swapped:
        _skip_outer_checkpoint(transformer, {id(s.block) for s in swapped})
        log.info("block swap: the frozen weights of the last %d blocks live in host memory", n)
    return swapped


class _NoCtx:
    def save_for_backward(self, *tensors) -> None:
        pass


def _skip_outer_checkpoint(transformer, ids: set[int]) -> None:
    """Swapped blocks checkpoint themselves; diffusers' checkpoint around them would recompute twice."""
    inner = getattr(transformer, "_gradient_checkpointing_func", None)
    if inner is None:
        return

    def checkpoint(block, *args):
        return block(*args) if id(block) in ids else inner(block, *args)

    transformer._gradient_checkpointing_func = checkpoint
