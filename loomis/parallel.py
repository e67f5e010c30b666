"""Processes under ``torchrun``: who am I, and one video's transformer spread over N ranks.

``--parallel ulysses=N`` / ``ring=N`` uses diffusers' context parallelism
(``enable_parallelism(config=ContextParallelConfig(...))`` with the Wan transformer's own
``_cp_plan``): each rank holds the whole model, the token sequence is split over the ranks inside
the transformer and gathered at its output, so every rank ends with the same frames (rank 0
writes). Ulysses exchanges heads with all-to-all (heads must divide by N); ring passes K/V around
and needs an attention backend that returns the log-sum-exp (``--attention flash``/``sage``/…).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass

from loomis.errors import InputError

log = logging.getLogger(__name__)

_PARALLEL = re.compile(r"^(ulysses|ring)=(\d+)$")


@dataclass(frozen=True)
class RankInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def rank_info() -> RankInfo:
    """This process's place under torchrun / Slurm launchers (rank 0 of 1 otherwise)."""

    def env(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            raise InputError(
                f"environment variable {name} must be an integer, got {os.environ[name]!r}"
            ) from None

    return RankInfo(env("RANK", 0), env("WORLD_SIZE", 1), env("LOCAL_RANK", 0))


def parse_parallel(text: str) -> tuple[str, int]:
    m = _PARALLEL.match(text or "")
    if not m or int(m.group(2)) < 2:
        raise InputError(f"--parallel takes ulysses=N or ring=N (N >= 2 processes), got {text!r}")
    return m.group(1), int(m.group(2))


def init_distributed(device: str | None, group: bool = True) -> str | None:
    """This rank's device (its own GPU under torchrun) and, with ``group``, the process group
    (NCCL on GPUs, gloo on CPUs; started once). Sharded batch painting needs no group."""
    import torch
    import torch.distributed as dist

    info = rank_info()
    on_gpu = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    if on_gpu:
        device = f"cuda:{info.local_rank}"
        torch.cuda.set_device(info.local_rank)
    if group and info.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if on_gpu else "gloo")
    return device


def enable_context_parallel(transformer, text: str, attention: str | None = None) -> None:
    import torch.distributed as dist
    from diffusers import ContextParallelConfig

    kind, n = parse_parallel(text)
    world = dist.get_world_size() if dist.is_initialized() else 1
    if world != n:
        raise InputError(
            f"--parallel {text} needs {n} processes (torchrun --nproc_per_node {n}); this run has {world}"
        )
    heads = transformer.config.num_attention_heads
    if kind == "ulysses" and heads % n:
        raise InputError(f"--parallel ulysses={n}: the model's {heads} attention heads do not divide by {n}")
    if kind == "ring" and attention in (None, "native"):
        raise InputError(
            "--parallel ring=N needs an attention backend that returns LSE (--attention flash, sage, ...)"
        )
    config = (
        ContextParallelConfig(ulysses_degree=n) if kind == "ulysses" else ContextParallelConfig(ring_degree=n)
    )
    with _accelerator_count_at_least_one():
        transformer.enable_parallelism(config=config)
    log.info("context parallel: %s over %d ranks", kind, n)


@contextlib.contextmanager
def _accelerator_count_at_least_one():
    """diffusers 0.42 picks the rank's device as ``rank % torch.accelerator.device_count()``, which
    divides by zero on a CPU-only machine; there the ranks talk over gloo and the device is the
    CPU, so the count is pinned to 1 while it sets up (GPU machines are left untouched)."""
    import torch

    if torch.accelerator.device_count() > 0:
        yield
        return
    original = torch.accelerator.device_count
    torch.accelerator.device_count = lambda: 1
    try:
        yield
    finally:
        torch.accelerator.device_count = original


def shard_indices(n_items: int, shard: tuple[int, int]) -> list[int]:
    """The items shard ``i`` of ``n`` paints: every ``n``-th, starting at ``i`` (each exactly once)."""
    i, n = shard
    return list(range(i, n_items, n))


def take_shard(items: list, shard: tuple[int, int]) -> list:
    """Shard ``i`` of ``n``'s share of ``items`` (every ``n``-th from ``i``): with the same order on
    every process, the shards of a Slurm array or torchrun cover each item once without talking."""
    return [items[j] for j in shard_indices(len(items), shard)]


def parse_shard(text: str) -> tuple[int, int]:
    m = re.match(r"^(\d+)/(\d+)$", text or "")
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise InputError(f"--shard must be I/N with 0 <= I < N (e.g. 0/4, a Slurm array index), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def frames_agree(frames) -> bool:
    """True when every rank holds the same frames (a digest compared across the process group)."""
    import hashlib

    import torch.distributed as dist

    digest = hashlib.sha1(b"".join(f.tobytes() for f in frames)).hexdigest()
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return True
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, digest)
    return len(set(gathered)) == 1
