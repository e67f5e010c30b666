"""Everything distributed, in one module: process-group set-up, collectives, and the two
training engines behind one interface.

* ``PlainEngine``: a torch AdamW + LambdaLR; gradient accumulation; with several ranks (torchrun
  without DeepSpeed) the LoRA gradients are all-reduced by hand (they are small). Its checkpoint
  is safetensors + JSON only (no pickle).
* ``DeepSpeedEngine``: ``deepspeed.initialize`` with ZeRO-2 (default) or ZeRO-3, gradient
  accumulation and clipping done by DeepSpeed; its checkpoint is the same safetensors + JSON
  (the moments gathered from the ZeRO partitions), never DeepSpeed's pickled format.

One dtype policy for both (docs/training.md): the frozen base in ``model.dtype`` except the
modules diffusers keeps in fp32; LoRA weights, gradients and AdamW state in fp32. DeepSpeed's own
``bf16``/``fp16`` modes (which would cast the LoRA and the fp32 modules) are therefore switched off:
they exist to keep fp32 master copies of half-precision *trainable* weights, and ours are fp32.

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
    "zero_optimization": {
        "stage": 2,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": "auto",
        "allgather_bucket_size": "auto",
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
    write_optimizer_files(directory, tensors, sd["param_groups"], len(params))


def write_optimizer_files(directory: Path, tensors: dict, param_groups: list, num_params: int) -> None:
    with atomic_path(directory / "optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / "optimizer.json", {"param_groups": param_groups, "num_params": num_params})


def read_optimizer_files(directory: Path, num_params: int) -> tuple[dict, dict]:
    meta = json.loads((directory / "optimizer.json").read_text())
    if meta["num_params"] != num_params:
        raise InputError(
            f"checkpoint {directory} has optimizer state for {meta['num_params']} LoRA tensors, "
            f"this run has {num_params}; resume with the same lora.* settings"
        )
    return load_file(str(directory / "optimizer.safetensors")), meta


def load_optimizer(optimizer: torch.optim.Optimizer, params: list, directory: Path) -> None:
    tensors, meta = read_optimizer_files(directory, len(params))
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


class DeepSpeedEngine:
    """``deepspeed.initialize`` around the LoRA-wrapped transformer.

    Checkpoints never go through DeepSpeed's own (pickled) format: the fp32 Adam moments of every
    LoRA tensor are gathered from the ZeRO partitions (``deepspeed.utils.safe_get_full_*``, a
    collective) and written as the plain engine writes them (safetensors + JSON); resume scatters
    them back (``safe_set_full_*``). Both engines therefore read and write the same files, and
    nothing in a run folder is ever unpickled."""

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

    def _inner(self) -> torch.optim.Optimizer:
        """The client AdamW inside the ZeRO optimizer (its params are the flat fp32 partitions)."""
        return self.engine.optimizer.optimizer

    def save(self, directory: Path, is_main: bool) -> None:
        """Collective: every rank contributes its partition of the moments; rank 0 writes."""
        from deepspeed.utils import safe_get_full_optimizer_state

        inner = self._inner()
        step = max((float(st["step"]) for st in inner.state.values() if "step" in st), default=0.0)
        tensors = {}
        for i, p in enumerate(self.params):
            for key in ADAM_KEYS:
                value = safe_get_full_optimizer_state(p, key) if inner.state else torch.zeros_like(p)
                tensors[f"{i}.{key}"] = value.detach().float().cpu().contiguous()
            tensors[f"{i}.step"] = torch.tensor(step)
        if is_main:
            groups = [
                {**g, "params": list(range(len(self.params)))} for g in inner.state_dict()["param_groups"]
            ]
            write_optimizer_files(directory, tensors, groups, len(self.params))
            write_json(directory / "scheduler.json", self.scheduler.state_dict())

    def load(self, directory: Path) -> None:
        """Scatter the saved moments into this rank's partitions (the LoRA weights themselves come
        from ``lora.safetensors``, loaded into the module before this)."""
        from deepspeed.utils import safe_set_full_fp32_param, safe_set_full_optimizer_state

        tensors, meta = read_optimizer_files(directory, len(self.params))
        self._init_adam_state(float(tensors["0.step"]))
        for i, p in enumerate(self.params):
            safe_set_full_fp32_param(p, p.detach().float())
            for key in ADAM_KEYS:
                safe_set_full_optimizer_state(p, tensors[f"{i}.{key}"].to(p.device), key)
        self.scheduler.load_state_dict(json.loads((directory / "scheduler.json").read_text()))
        for group, lr in zip(self.engine.optimizer.param_groups, self.scheduler.get_last_lr()):
            group["lr"] = lr

    def _init_adam_state(self, step: float) -> None:
        """AdamW creates its state at the first step; a resumed run needs it before that."""
        inner = self._inner()
        for group in inner.param_groups:
            for flat in group["params"]:
                st = inner.state[flat]
                st.setdefault("exp_avg", torch.zeros_like(flat))
                st.setdefault("exp_avg_sq", torch.zeros_like(flat))
                st["step"] = torch.tensor(step)
        zero = self.engine.optimizer
        if hasattr(zero, "_lazy_init_hp_params_optimizer_state"):  # ZeRO-1/2: link the fragments
            zero._hp_optimizer_states_linked = False
            zero._lazy_init_hp_params_optimizer_state()


ADAM_KEYS = ("exp_avg", "exp_avg_sq")


BUCKET_KEYS = ("reduce_bucket_size", "allgather_bucket_size", "stage3_prefetch_bucket_size")
MAX_BUCKET = int(5e8)  # DeepSpeed's default; meant for trainable sets of billions of parameters


def bucket_size(trainable: int) -> int:
    """ZeRO communication buckets (elements) scaled to what trains: a quarter of the LoRA, at least
    2^20 and at most DeepSpeed's 5e8. Rank-32 14B LoRA: 1.8e8 parameters → 4.5e7-element buckets
    (180 MB in fp32) instead of 5e8 (2 GB each)."""
    return int(min(MAX_BUCKET, max(2**20, trainable // 4)))


def deepspeed_config(
    path: str | None, micro_batch: int, grad_accum: int, max_grad_norm: float, world: int, trainable: int
) -> dict:
    """The DeepSpeed JSON (file or built-in ZeRO-2) with "auto" entries filled from the run config:
    batch and accumulation, clipping, bucket sizes from the trainable size; precision modes off
    (the dtype policy in the module docstring)."""
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
    for prec in ("bf16", "fp16"):
        if cfg.get(prec, {}).get("enabled") is True:
            log.info("DeepSpeed %s mode off: the LoRA and its optimizer state train in fp32", prec)
        cfg[prec] = {"enabled": False}
    zero = cfg.setdefault("zero_optimization", {})
    for k in BUCKET_KEYS:
        if zero.get(k, "auto") == "auto" and (k != "stage3_prefetch_bucket_size" or zero.get("stage") == 3):
            zero[k] = bucket_size(trainable)
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
