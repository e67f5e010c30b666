"""Everything distributed, in one module: process-group set-up, collectives, and the two
training engines behind one interface.

* ``PlainEngine``: a torch AdamW + LambdaLR; gradient accumulation; with several ranks (torchrun
  without DeepSpeed) the LoRA gradients are all-reduced by hand (they are small). Its checkpoint
  is safetensors + JSON only (no pickle).
* ``DeepSpeedEngine``: ``deepspeed.initialize`` with ZeRO-2 (default) or ZeRO-3, bf16, gradient
  accumulation and clipping done by DeepSpeed; checkpoints through DeepSpeed (frozen base weights
  excluded), which uses torch's own serialisation for optimizer shards.

Both take the same client optimizer and scheduler, so a run's maths does not depend on the engine.
Under the ``deepspeed`` launcher (``--local_rank=N`` appended) or ``torchrun``, ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR`` come from the environment; multi-node runs use
a hostfile with the ``deepspeed`` launcher or ``torchrun --nnodes``.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from loomis.errors import InputError
from loomis.io import atomic_path, write_json

log = logging.getLogger(__name__)

DEFAULT_ZERO2 = {
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
    "bf16": {"enabled": "auto"},
    "zero_optimization": {
        "stage": 2,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": 5e8,
        "allgather_bucket_size": 5e8,
    },
    "zero_allow_untested_optimizer": True,
    "steps_per_print": 1000000,
    "wall_clock_breakdown": False,
}


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def launched_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(timeout_min: int = 30) -> DistEnv:
    """Set up the process group when launched with several ranks; pick this rank's device."""
    world = launched_world()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=timeout_min))
    return DistEnv(rank, world, local, device)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_mean(x: float, device: torch.device) -> float:
    """Mean of a float over ranks (loss logging, NaN agreement)."""
    if not dist.is_initialized():
        return x
    t = torch.tensor([x], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def any_rank(flag: bool, device: torch.device) -> bool:
    if not dist.is_initialized():
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def broadcast_tensors(tensors: list[torch.Tensor]) -> None:
    """Copy rank 0's values into every rank's tensors (in place)."""
    if dist.is_initialized():
        for t in tensors:
            dist.broadcast(t.data, src=0)


def max_abs_diff_across_ranks(tensors: list[torch.Tensor]) -> float:
    """How far this rank's tensors are from rank 0's (0.0 = in sync)."""
    if not dist.is_initialized():
        return 0.0
    flat = torch.cat([t.detach().float().flatten() for t in tensors])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    d = torch.tensor([(flat - ref).abs().max().item()])
    dist.all_reduce(d, op=dist.ReduceOp.MAX)
    return float(d.item())


# --------------------------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------------------------
class PlainEngine:
    """Single process (or hand-all-reduced LoRA grads across ranks), torch optimizer."""

    kind = "plain"

    def __init__(self, module, params, optimizer, scheduler, grad_accum: int, max_grad_norm: float):
        self.module, self.params, self.optimizer, self.scheduler = module, params, optimizer, scheduler
        self.grad_accum, self.max_grad_norm = grad_accum, max_grad_norm
        self.micro = 0
        self.last_grad_norm = 0.0

    def __call__(self, **kwargs):
        return self.module(**kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        (loss / self.grad_accum).backward()

    def step(self) -> bool:
        """Advance one micro-step; True when an optimizer step happened (accumulation boundary)."""
        self.micro += 1
        if self.micro % self.grad_accum:
            return False
        if dist.is_initialized():
            for p in self.params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(dist.get_world_size())
        norm = torch.nn.utils.clip_grad_norm_(
            self.params, self.max_grad_norm if self.max_grad_norm > 0 else 1e30
        )
        self.last_grad_norm = float(norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return True

    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def close(self) -> None:
        pass

    def save(self, directory: Path, is_main: bool) -> None:
        if is_main:
            save_optimizer(self.optimizer, self.params, directory)
            write_json(directory / "scheduler.json", self.scheduler.state_dict())

    def load(self, directory: Path) -> None:
        load_optimizer(self.optimizer, self.params, directory)
        self.scheduler.load_state_dict(json.loads((directory / "scheduler.json").read_text()))


def save_optimizer(optimizer: torch.optim.Optimizer, params: list, directory: Path) -> None:
    """AdamW state as safetensors (tensors keyed by parameter position) + JSON (hyper-parameters)."""
    sd = optimizer.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for name, value in state.items():
            tensors[f"{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    with atomic_path(directory / "optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / "optimizer.json", {"param_groups": sd["param_groups"], "num_params": len(params)})


def load_optimizer(optimizer: torch.optim.Optimizer, params: list, directory: Path) -> None:
    meta = json.loads((directory / "optimizer.json").read_text())
    if meta["num_params"] != len(params):
        raise InputError(
            f"checkpoint {directory} has optimizer state for {meta['num_params']} LoRA tensors, "
            f"this run has {len(params)}; resume with the same lora.* settings"
        )
    state: dict[int, dict] = {}
    for key, value in load_file(str(directory / "optimizer.safetensors")).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


class DeepSpeedEngine:
    """``deepspeed.initialize`` around the LoRA-wrapped transformer."""

    kind = "deepspeed"

    def __init__(self, module, params, optimizer, scheduler, ds_config: dict):
        import deepspeed

        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=module,
            model_parameters=params,
            optimizer=optimizer,
            lr_scheduler=scheduler,
            config=ds_config,
        )
        self.module = self.engine.module
        self.params = params
        self.grad_accum = int(ds_config["gradient_accumulation_steps"])
        self.zero_stage = int(ds_config.get("zero_optimization", {}).get("stage", 0))
        self.last_grad_norm = 0.0
        self.micro = 0

    def __call__(self, **kwargs):
        return self.engine(**kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss)

    def step(self) -> bool:
        boundary = self.engine.is_gradient_accumulation_boundary()
        self.engine.step()
        self.micro += 1
        if boundary:
            norm = self.engine.get_global_grad_norm()
            self.last_grad_norm = float(norm) if norm is not None else 0.0
        return boundary

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def close(self) -> None:
        """Release DeepSpeed's hooks and threads before the process group goes (ZeRO-3 aborts at
        interpreter exit otherwise)."""
        self.engine.destroy()

    def save(self, directory: Path, is_main: bool) -> None:
        # collective: every rank writes its own optimizer shard into the (shared) directory
        self.engine.save_checkpoint(str(directory / "deepspeed"), tag="state", exclude_frozen_parameters=True)

    def load(self, directory: Path) -> None:
        path, _ = self.engine.load_checkpoint(
            str(directory / "deepspeed"), tag="state", load_module_strict=False
        )
        if path is None:
            raise InputError(
                f"checkpoint {directory} has no DeepSpeed state; resume with the backend that wrote it"
            )


def deepspeed_config(
    path: str | None, micro_batch: int, grad_accum: int, max_grad_norm: float, bf16: bool, world: int
) -> dict:
    """The DeepSpeed JSON (file or built-in ZeRO-2) with "auto" entries filled from the run config."""
    cfg = json.loads(Path(path).read_text()) if path else json.loads(json.dumps(DEFAULT_ZERO2))
    fills = {
        "train_micro_batch_size_per_gpu": micro_batch,
        "gradient_accumulation_steps": grad_accum,
        "gradient_clipping": max_grad_norm,
        "train_batch_size": micro_batch * grad_accum * world,
    }
    for k, v in fills.items():
        if cfg.get(k, "auto") == "auto":
            cfg[k] = v
    cfg.pop("optimizer", None)  # the client optimizer is authoritative (same maths as the plain engine)
    cfg.pop("scheduler", None)
    for prec, on in (("bf16", bf16), ("fp16", False)):
        sec = cfg.setdefault(prec, {})
        if sec.get("enabled", "auto") == "auto":
            sec["enabled"] = on
    if (
        cfg["gradient_accumulation_steps"] != grad_accum
        or cfg["train_micro_batch_size_per_gpu"] != micro_batch
    ):
        raise InputError(
            "distributed.deepspeed_config: batch/accumulation in the JSON disagree with data.batch_size "
            '/ train.grad_accum; set them to "auto" in the JSON'
        )
    return cfg


def choose_backend(requested: str) -> str:
    if requested == "auto":
        return "deepspeed" if launched_world() > 1 else "plain"
    return requested
