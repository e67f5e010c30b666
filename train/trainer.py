"""The trainer: one class, short named phases.

``Trainer(cfg, env).run(resume)``: build data → build model → set up the engine (DeepSpeed or
plain, ``distributed.py``) → resume → loop of ``train_step`` with logging, ``save_checkpoint``
and ``validate``. The objective is rectified flow on the reversed painting clip
(``loomis.diffusion``); only the LoRA learns.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from loomis import diffusion
from loomis.cache import CacheReader
from loomis.clips import load_items
from loomis.errors import InputError, LoomisError
from loomis.lora import LoraMetadata, read_lora, save_lora
from loomis.models import load_transformer, parse_dtype, resolve_model

from . import distributed as D
from .checkpoint import CheckpointManager, check_contents, load_rng, read_state, save_rng
from .config import TrainConfig, save_config
from .data import BatchPlan, synthesise_dataset
from .features import OnlineFeatures
from .logs import MetricsLogger
from .memory import apply_block_swap, enable_fp8_storage
from .model import (
    apply_dtype_policy,
    attach_lora,
    dtype_report,
    enable_checkpointing,
    load_lora_weights,
    trainable_state,
)

log = logging.getLogger(__name__)


class TrainingDiverged(LoomisError):
    """The loss became NaN/inf; the message names the step and the last good checkpoint."""


@dataclass
class TrainResult:
    step: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    lora_path: Path | None = None
    checkpoint: Path | None = None


def lr_multiplier(step: int, warmup: int, total: int, schedule: str, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then constant or cosine decay to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    def __init__(self, cfg: TrainConfig, env: D.DistEnv):
        self.cfg, self.env = cfg, env
        self.out = Path(cfg.train.output)
        self.ckpts = CheckpointManager(self.out / "checkpoints", cfg.train.keep_last)
        self.resolved = resolve_model(cfg.model.name)
        self.dtype = parse_dtype(cfg.model.dtype)
        self.step, self.epoch, self.batch_pos = 0, 0, 0
        self.noise_gen = torch.Generator().manual_seed(cfg.train.seed * 7919 + env.rank)
        self.mediums: list[str] = []
        self.last_checkpoint: Path | None = None

    # ---- phases ----------------------------------------------------------------------------
    def build_data(self) -> None:
        """One source, read once: the cache (no encoders, no dataset.jsonl) or the dataset."""
        d = self.cfg.data
        if d.cache:
            self.features = CacheReader(d.cache, d, self.resolved.label)
        else:
            from loomis.encoders import load_encoders

            from .estimate import no_cache_warning

            warning = no_cache_warning(self.cfg)
            if warning and self.env.is_main:
                log.warning(warning)

            path = d.path or self._synthetic_data()
            items = load_items(path, d)
            comps = load_encoders(self.resolved, self.dtype, self.env.device, self.cfg.model.tiny_seed)
            self.features = OnlineFeatures(items, d, comps, self.env.device, d.memo_items)
        self.mediums = self.features.mediums
        self.plan = BatchPlan(
            self.features.buckets, d.batch_size, self.cfg.train.seed, self.env.rank, self.env.world, d.shuffle
        )
        log.info(
            "data: %d items, %d batches per rank per epoch, buckets %s",
            len(self.features.keys),
            self.plan.per_rank,
            sorted(set(self.features.buckets)),
        )

    def _synthetic_data(self) -> Path:
        path = self.out / "synthetic-data"
        if self.env.is_main:
            synthesise_dataset(path, self.cfg.data.synthetic, tuple(self.cfg.data.size))
        D.barrier()
        return path

    def build_model(self) -> None:
        self.transformer = load_transformer(self.resolved, self.dtype, self.cfg.model.tiny_seed)
        torch.manual_seed(self.cfg.train.seed)  # LoRA A's random init: the same for every run of a config
        self.params = attach_lora(self.transformer, self.cfg.lora)
        apply_dtype_policy(self.transformer, self.dtype)
        if self.cfg.model.fp8_frozen:
            enable_fp8_storage(self.transformer, self.dtype)
        if self.cfg.model.gradient_checkpointing:
            enable_checkpointing(self.transformer)
        self.transformer.to(self.env.device).train()
        n = sum(p.numel() for p in self.params)
        log.info(
            "model %s (%s): %d LoRA tensors, %.2fM trainable parameters",
            self.resolved.label,
            self.cfg.model.dtype,
            len(self.params),
            n / 1e6,
        )

    def setup_engine(self) -> None:
        o, t = self.cfg.optim, self.cfg.train
        D.broadcast_tensors(self.params)  # identical start on every rank (LoRA A is random)
        optimizer = torch.optim.AdamW(
            self.params, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_multiplier(s, o.warmup_steps, t.max_steps, o.schedule, o.min_lr_ratio)
        )
        self.backend = D.choose_backend(self.cfg.distributed.backend)
        if self.backend == "deepspeed":
            ds = D.deepspeed_config(
                self.cfg.distributed.deepspeed_config,
                self.cfg.data.batch_size,
                t.grad_accum,
                o.max_grad_norm,
                self.env.world,
                sum(p.numel() for p in self.params),
            )
            self.engine = D.DeepSpeedEngine(self.transformer, self.params, optimizer, scheduler, ds)
        else:
            self.engine = D.PlainEngine(
                self.transformer, self.params, optimizer, scheduler, t.grad_accum, o.max_grad_norm
            )
        swap = self.cfg.model.blocks_to_swap
        if swap and getattr(self.engine, "zero_stage", 0) == 3:
            raise InputError(
                "config key model.blocks_to_swap: not with ZeRO-3 (it partitions the weights itself)"
            )
        self.swapped = apply_block_swap(self.transformer, swap, self.env.device) if swap else []
        self.dtypes = dtype_report(self.transformer)
        log.info(
            "engine: %s on %d rank(s), device %s; dtypes %s",
            self.backend, self.env.world, self.env.device, self.dtypes,
        )  # fmt: skip

    def resume(self) -> bool:
        """Restore LoRA, optimizer, scheduler, RNG and data position from the latest checkpoint."""
        latest = self.ckpts.latest()
        if latest is None:
            log.info("--resume: no checkpoint in %s; starting fresh", self.ckpts.root)
            return False
        check_contents(self.ckpts.root, latest)  # before reading anything from the folder
        state = read_state(latest)
        if state["engine"] != self.backend:
            raise InputError(
                f"checkpoint {latest} was written by the {state['engine']} engine; resume with "
                f"distributed.backend={state['engine']}"
            )
        if state["world"] != self.env.world:
            log.warning(
                "checkpoint written by %d rank(s), resuming on %d: the data order changes",
                state["world"],
                self.env.world,
            )
        with self._gathered(modify=True):
            load_lora_weights(self.transformer, read_lora(latest / "lora.safetensors"))
        self.engine.load(latest)
        if state["world"] == self.env.world:
            load_rng(latest, self.env.rank, {"noise": self.noise_gen})
        else:  # no saved stream for this rank: a fresh one, still distinct per rank and reproducible
            self.noise_gen.manual_seed(self.cfg.train.seed * 7919 + self.env.rank + 1_000_003 * state["step"])
        self.step, self.epoch, self.batch_pos = state["step"], state["epoch"], state["batch"]
        self.last_checkpoint = latest
        log.info(
            "resumed from %s (step %d, epoch %d, batch %d)", latest, self.step, self.epoch, self.batch_pos
        )
        return True

    def train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Rectified-flow loss of one micro-batch (backward is the caller's)."""
        o = self.cfg.objective
        dev, dtype = self.env.device, self.transformer.patch_embedding.weight.dtype
        x0 = batch["latents"].to(dev)
        t = diffusion.sample_timesteps(
            x0.shape[0], self.noise_gen, o.timesteps, o.shift, o.logit_mean, o.logit_std
        )
        noise = torch.randn(x0.shape, generator=self.noise_gen).to(dev)
        t = t.to(dev)
        x_t = diffusion.noisy_latents(x0, noise, t)
        pred = self.engine(
            hidden_states=diffusion.model_input(x_t, batch["condition"].to(dev)).to(dtype),
            timestep=diffusion.model_timestep(t),
            encoder_hidden_states=batch["prompt_embeds"].to(dev, dtype),
            encoder_hidden_states_image=batch["image_embeds"].to(dev, dtype),
            return_dict=False,
        )[0]
        return diffusion.flow_loss(pred, diffusion.flow_target(x0, noise))

    def save_checkpoint(self) -> Path:
        """Collective: every rank calls it. Atomic (temporary directory, renamed when complete)."""
        main = self.env.is_main
        tmp = self.ckpts.tmp_dir(self.step)
        if main:
            self.ckpts.begin(self.step)
        D.barrier()
        self.engine.save(tmp, main)
        save_rng(tmp, self.env.rank, {"noise": self.noise_gen})
        with self._gathered():
            lora = {k: v.float() for k, v in trainable_state(self.transformer).items()}
            drift = D.max_abs_diff_across_ranks(self.params)  # data-parallel ranks must agree exactly
        if drift > 0:
            log.warning("LoRA weights differ across ranks by up to %.3g at step %d", drift, self.step)
        if main:
            save_lora(tmp / "lora.safetensors", lora, self.lora_metadata())
            save_config(self.cfg, tmp / "config.yaml")
            state = {
                "step": self.step,
                "epoch": self.epoch,
                "batch": self.batch_pos,
                "engine": self.backend,
                "world": self.env.world,
                "config_hash": self.cfg.hash(),
                "rank_max_abs_diff": drift,
            }
            from loomis.io import write_json

            write_json(tmp / "state.json", state)
        D.barrier()
        final = self.ckpts.tmp_dir(self.step).with_name(self.ckpts.name(self.step))
        if main:
            final = self.ckpts.commit(self.step)
            save_lora(self.out / "lora.safetensors", lora, self.lora_metadata())
            log.info("checkpoint %s", final)
        D.barrier()
        self.last_checkpoint = final
        return final

    def _gathered(self, modify: bool = False):
        stage = getattr(self.engine, "zero_stage", 0)
        if stage == 3:
            import deepspeed

            return deepspeed.zero.GatheredParameters(self.params, modifier_rank=0 if modify else None)
        return contextlib.nullcontext()

    def lora_metadata(self) -> LoraMetadata:
        c = self.cfg
        rank, alpha = c.lora.rank, c.lora.alpha
        if c.lora.init_from:
            init = read_lora(c.lora.init_from)
            rank, alpha = init.rank, init.alpha
        return LoraMetadata(
            rank=rank,
            alpha=alpha,
            targets=list(c.lora.targets),
            base_model=self.resolved.label,
            mediums=self.mediums,
            config_hash=c.hash(),
            extra={
                "stage": c.train.stage,
                "step": self.step,
                "frames": c.data.frames,
                "condition": c.data.condition,
                "init_from": c.lora.init_from or "",
            },
        )

    def validate(self) -> None:
        from .validation import run_validation

        with self._gathered():
            run_validation(self)

    # ---- the loop --------------------------------------------------------------------------
    def run(self, resume: bool = False) -> TrainResult:
        latest = self.ckpts.latest() if resume else None
        if latest is not None:  # before building anything: a foreign file in the run folder is exit 2
            check_contents(self.ckpts.root, latest)
        self.build_data()
        self.build_model()
        self.setup_engine()
        if resume:
            self.resume()
        if self.env.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.out / "config.yaml")
        self.logger = MetricsLogger(self.out, self.cfg.logging, self.env.is_main, self.step)
        try:
            return self._loop()
        finally:
            self.logger.close()
            self.engine.close()

    def _loop(self) -> TrainResult:
        t = self.cfg.train
        target = min(t.max_steps, t.stop_at or t.max_steps)
        result = TrainResult(self.step)
        batches = self.plan.iterate(self.epoch, self.batch_pos)
        self.logger.start_bar(self.step, target)
        while self.step < target:
            loss = self._optimizer_step(batches)
            self.step += 1
            result.losses.append((self.step, loss))
            self.logger.log(
                self.step,
                {
                    "loss": loss,
                    "lr": self.engine.lr(),
                    "grad_norm": self.engine.last_grad_norm,
                    "epoch": self.epoch,
                },
                every=t.log_every,
            )
            if self.step % t.save_every == 0 or self.step == target:
                self.save_checkpoint()
            if self.cfg.validation.every and self.step % self.cfg.validation.every == 0:
                self.validate()
        result.step = self.step
        result.checkpoint = self.last_checkpoint
        result.lora_path = self.out / "lora.safetensors"
        return result

    def _optimizer_step(self, batches) -> float:
        """``grad_accum`` micro-batches and one optimizer step; returns the mean loss over ranks."""
        start = (self.epoch, self.batch_pos, self.noise_gen.get_state())
        total = 0.0
        for _ in range(self.cfg.train.grad_accum):
            epoch, b, indices = next(batches)
            loss = self.train_step(self.features.batch(indices))
            value = float(loss.detach())
            if D.any_rank(not math.isfinite(value), self.env.device):
                self._diverged(value, start, [self.features.keys[i] for i in indices])
            self.engine.backward(loss)
            self.engine.step()
            self.epoch, self.batch_pos = epoch, b + 1
            total += value / self.cfg.train.grad_accum
        return D.all_mean(total, self.env.device)

    def _diverged(self, value: float, start, keys: list[str]) -> None:
        """Stop with a usable checkpoint: the weights are still those of the last optimizer step
        (the bad loss was never back-propagated), saved with the position where that step ended."""
        self.epoch, self.batch_pos = start[0], start[1]
        self.noise_gen.set_state(start[2])
        if self.last_checkpoint is None or read_state(self.last_checkpoint)["step"] != self.step:
            if self.engine.micro % self.cfg.train.grad_accum == 0:
                self.save_checkpoint()
        where = self.last_checkpoint or "none"
        raise TrainingDiverged(
            f"loss became {value} at step {self.step + 1} (batch {', '.join(keys)}); training stopped. "
            f"Last good checkpoint: {where}. Lower optim.lr or check those samples, then rerun with --resume"
        )
