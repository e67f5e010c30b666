"""``loomis-train CONFIG --dry-run``: per-GPU memory and FLOPs of one step, before any GPU hour.

Counts come from the transformer built on the meta device (exact parameter numbers, no weights);
the rest is arithmetic on the resolved config (docs/training.md, "Memory"):

* frozen weights: block Linears at 1 byte (``model.fp8_frozen``) or the base dtype, the modules
  diffusers keeps in fp32 at 4 bytes, the rest at the base dtype; ``model.blocks_to_swap`` leaves
  ``L - n + 1`` blocks resident (one swapped block is in flight); ZeRO-3 shards them over ranks.
* LoRA + optimizer: fp32 weight, gradient and two AdamW moments (16 B per parameter); under
  DeepSpeed ZeRO-2/3 the gradient, moments and ZeRO's fp32 master copy are split over ranks, plus
  two communication buckets.
* activations: with gradient checkpointing every block's input (B·S·D) stays, plus the internals
  of the one block being recomputed, ``B·S·(ACT_D·D + ACT_F·F)`` values (norm/attention/LoRA
  tensors and the FFN's hidden); without checkpointing every block keeps its internals. On a CPU
  the attention is computed by the math kernel, which materialises ``B·H·S²`` scores twice.
* the frozen encoders when there is no cache (umT5-XXL, CLIP ViT-H, VAE).

Checked against measured peaks (tests/test_train_estimate.py: CPU process memory, toy and
one-block full-width; on a GPU, ``bench_train.run_gpu``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

GIB = 2**30
ACT_D, ACT_F = 24, 4  # values kept per token inside one block (bf16 → ×2 bytes), see the docstring
ENCODER_PARAMS = {"umt5": 5.68e9, "clip": 0.632e9, "vae": 0.127e9}  # Wan 2.1 I2V 14B's encoders
CUDA_RUNTIME = 1.0 * GIB  # CUDA context, cuBLAS/cuDNN workspaces


@dataclass
class Estimate:
    parts: dict[str, float] = field(default_factory=dict)  # bytes per GPU
    flops: float = 0.0  # per optimizer step per GPU
    tokens: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def table(self) -> str:
        rows = [f"  {k:<34} {v / GIB:8.2f} GiB" for k, v in self.parts.items()]
        rows.append(f"  {'total per GPU':<34} {self.total / GIB:8.2f} GiB")
        rows.append(f"  {'FLOPs per step per GPU':<34} {self.flops:10.3e}  ({self.tokens} tokens per clip)")
        return "\n".join(rows + [f"  note: {n}" for n in self.notes])


def count_params(transformer, targets: list[str], rank: int) -> dict[str, int]:
    """Parameter counts by kind on a (meta) transformer: block Linears, other block weights,
    fp32-kept modules, everything outside the blocks, and the LoRA that ``targets`` would add."""
    keep = list(getattr(type(transformer), "_keep_in_fp32_modules", None) or [])
    out = {"block_linear": 0, "block_other": 0, "fp32_kept": 0, "outside": 0, "lora": 0}
    linears = {n for n, m in transformer.named_modules() if isinstance(m, torch.nn.Linear)}
    for name, p in transformer.named_parameters():
        parts, owner = name.split("."), name.rsplit(".", 1)[0]
        kind = "fp32_kept" if any(k in parts for k in keep) else "outside"
        if parts[0] == "blocks" and kind == "outside":
            kind = "block_linear" if owner in linears else "block_other"
        out[kind] += p.numel()
    for name in linears:
        if name.startswith("blocks.") and any(name.endswith("." + t) for t in targets):
            m = transformer.get_submodule(name)
            out["lora"] += rank * (m.in_features + m.out_features)
    return out


def flops_per_step(tc: dict, tokens: int, batch: int, checkpointing: bool) -> float:
    """Matmul FLOPs of forward + backward (input gradients only: the base is frozen) + recompute."""
    d, f, layers = tc["num_attention_heads"] * tc["attention_head_dim"], tc["ffn_dim"], tc["num_layers"]
    text, image = 512, 257
    per_block = 2 * (tokens * (4 * d * d + 2 * d * d + 2 * d * f) + text * 2 * d * d + image * 2 * d * d)
    per_block += 4 * tokens * tokens * d + 4 * tokens * (text + image) * d  # attention scores and values
    forward = batch * layers * per_block
    return forward * (3 if checkpointing else 2)  # fwd, bwd (≈ fwd for input grads), recompute


def estimate(cfg, tc: dict, counts: dict[str, int], world: int, device: str, zero_stage: int) -> Estimate:
    """The per-GPU estimate for a resolved ``TrainConfig`` (``tc``: the transformer config)."""
    m, d = cfg.model, cfg.data
    a = 4 if m.dtype == "float32" else 2
    layers, heads = tc["num_layers"], tc["num_attention_heads"]
    dim, ffn = heads * tc["attention_head_dim"], tc["ffn_dim"]
    tokens = ((d.frames - 1) // 4 + 1) * (d.size[1] // 16) * (d.size[0] // 16)
    b = d.batch_size
    est = Estimate(tokens=tokens)
    block = counts["block_linear"] * (1 if m.fp8_frozen else a) + counts["block_other"] * a
    resident = min(layers, layers - m.blocks_to_swap + (1 if m.blocks_to_swap else 0)) / layers
    shard = world if zero_stage == 3 else 1
    est.parts["frozen transformer weights"] = (
        block * resident + counts["fp32_kept"] * 4 + counts["outside"] * a
    ) / shard
    lora = counts["lora"]
    if zero_stage:
        from .distributed import bucket_size

        est.parts["LoRA + grads + AdamW (fp32)"] = lora * (4 + 4 + 16 / world)
        est.parts["ZeRO buckets"] = 2 * bucket_size(lora) * 4
    else:
        est.parts["LoRA + grads + AdamW (fp32)"] = lora * 16
    inner = b * tokens * (ACT_D * dim + ACT_F * ffn) * a
    if device == "cpu":  # the math attention kernel keeps the scores and the probabilities
        inner += 2 * b * heads * tokens * tokens * a
    if m.gradient_checkpointing or m.blocks_to_swap:
        est.parts["activations: block inputs"] = layers * b * tokens * dim * a
        est.parts["activations: block being recomputed"] = inner
    else:
        est.parts["activations: every block"] = layers * inner
    est.parts["latents, context, output"] = b * (4 * tokens * dim * a + 769 * dim * a + tokens * 64 * 4 * 4)
    if not d.cache:
        est.parts["frozen encoders (no cache)"] = _encoders_bytes(cfg)
        est.notes.append("no data.cache: the encoders stay loaded; loomis-data cache removes them")
    if device == "cuda":
        est.parts["CUDA runtime"] = CUDA_RUNTIME
    est.flops = (
        flops_per_step(tc, tokens, b, m.gradient_checkpointing or bool(m.blocks_to_swap))
        * cfg.train.grad_accum
    )
    return est


def _encoders_bytes(cfg) -> float:
    if cfg.model.name == "tiny":
        return 0.0  # a few hundred kilobytes
    a = 4 if cfg.model.dtype == "float32" else 2
    return ENCODER_PARAMS["umt5"] * a + (ENCODER_PARAMS["clip"] + ENCODER_PARAMS["vae"]) * 4


def for_config(cfg, world: int, device: str) -> Estimate:
    """Build the meta transformer named by the config and estimate."""
    from loomis.models import meta_transformer

    model = meta_transformer(cfg.model.name)  # a spec name needs no weights; a directory its config
    tc = dict(model.config)
    counts = count_params(model, cfg.lora.targets, cfg.lora.rank)
    stage = _zero_stage(cfg, world)
    return estimate(cfg, tc, counts, world, device, stage)


def _zero_stage(cfg, world: int) -> int:
    from .distributed import choose_backend

    backend = cfg.distributed.backend if cfg.distributed.backend != "auto" else choose_backend("auto")
    if backend != "deepspeed" and not (cfg.distributed.backend == "auto" and world > 1):
        return 0
    import json
    from pathlib import Path

    path = cfg.distributed.deepspeed_config
    ds = json.loads(Path(path).read_text()) if path else {"zero_optimization": {"stage": 2}}
    return int(ds.get("zero_optimization", {}).get("stage", 0))


def fix_it(est: Estimate, cfg, gpu_bytes: float) -> str:
    """The one-line advice when ``est`` does not fit ``gpu_bytes``."""
    tips = []
    if not cfg.data.cache:
        tips.append("build a cache (loomis-data cache) and set data.cache")
    if not cfg.model.fp8_frozen:
        tips.append("set model.fp8_frozen=true")
    if cfg.model.blocks_to_swap < 20:
        tips.append("set model.blocks_to_swap=20 (or more)")
    if not cfg.model.gradient_checkpointing:
        tips.append("set model.gradient_checkpointing=true")
    tips.append(f"use fewer frames (data.frames={max(5, (cfg.data.frames - 1) // 8 * 4 + 1)})")
    need, have = est.total / GIB, gpu_bytes / GIB
    return f"the estimate is {need:.1f} GiB per GPU, the GPU has {have:.1f} GiB; " + "; or ".join(tips)


def no_cache_warning(cfg) -> str | None:
    """Training a full-size model without a cache: the encoders' memory, said before any OOM."""
    if cfg.data.cache or cfg.model.name == "tiny":
        return None
    return (
        f"training {cfg.model.name} without data.cache: the frozen encoders (umT5-XXL, CLIP, VAE) stay "
        f"on the GPU, {_encoders_bytes(cfg) / GIB:.1f} GiB more per GPU (loomis-train CONFIG --dry-run "
        f"prints the whole estimate); run loomis-data cache once and set data.cache"
    )


def gpu_memory_bytes() -> float | None:
    if torch.cuda.is_available():
        return float(torch.cuda.get_device_properties(0).total_memory)
    return None
