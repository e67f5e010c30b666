"""Checkpoint directories: atomic, rotated, self-describing.

``OUTPUT/checkpoints/step-000100/`` holds

* ``lora.safetensors``: the LoRA in diffusers format with metadata (``loomis.lora.save_lora``),
  loadable by ``loomis-paint --lora`` and stock ``WanImageToVideoPipeline.load_lora_weights``;
* ``state.json``: step, data position, engine, world size, config hash;
* ``rng-rank<N>.safetensors``: each rank's generator states;
* ``config.yaml``: the resolved config;
* the optimizer/scheduler state: ``optimizer.safetensors`` + ``optimizer.json`` +
  ``scheduler.json``, written the same way by both engines (DeepSpeed's moments gathered from the
  ZeRO partitions).

Nothing here is ever unpickled, and ``--resume`` refuses a checkpoint holding anything else
(``check_contents``): a pickle planted in a shared run folder (or DeepSpeed's own ``*.pt`` state
from an older Loomis) must not run code as whoever resumes.

Everything is written into ``.tmp-step-000100`` first and renamed when complete, so a directory
named ``step-*`` is always usable; only then are the oldest beyond ``keep_last`` removed.
``OUTPUT/lora.safetensors`` is the latest LoRA.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from loomis.io import atomic_path

_STEP = re.compile(r"^step-(\d+)$")
WRITTEN = {"lora.safetensors", "state.json", "config.yaml", "optimizer.safetensors", "optimizer.json",
           "scheduler.json"}  # fmt: skip
_RNG = re.compile(r"^rng-rank\d+\.safetensors$")
_ROOT_ENTRY = re.compile(r"^(\.tmp-|\.old-)?step-\d+$")


def check_contents(root: Path, checkpoint: Path) -> None:
    """Refuse (InputError, exit 2) a checkpoint folder holding files the trainer does not write,
    links, or sub-folders; and a checkpoints/ folder with foreign entries."""
    for p in sorted(root.iterdir()):
        if not _ROOT_ENTRY.match(p.name) or p.is_symlink() or not p.is_dir():
            _refuse(p)
    for p in sorted(checkpoint.iterdir()):
        if p.is_symlink() or not p.is_file() or not (p.name in WRITTEN or _RNG.match(p.name)):
            _refuse(p)


def _refuse(path: Path) -> None:
    from loomis.errors import InputError

    raise InputError(
        f"--resume: {path} was not written by loomis-train (checkpoints hold only safetensors, JSON "
        f"and YAML; DeepSpeed's pickled state of older versions is not loaded); refusing to resume. "
        f"Remove it if you trust this folder, or start a fresh run"
    )


class CheckpointManager:
    def __init__(self, root: Path, keep_last: int):
        self.root, self.keep_last = Path(root), keep_last

    def name(self, step: int) -> str:
        return f"step-{step:06d}"

    def tmp_dir(self, step: int) -> Path:
        return self.root / f".tmp-{self.name(step)}"

    def begin(self, step: int) -> Path:
        """Rank 0: a fresh temporary directory for ``step`` (call a barrier afterwards)."""
        tmp = self.tmp_dir(step)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        return tmp

    def commit(self, step: int) -> Path:
        """Rank 0: publish the complete checkpoint, then rotate."""
        final = self.root / self.name(step)
        if final.exists():  # re-saving a step (e.g. after a resume): replace only once complete
            old = self.root / f".old-{self.name(step)}"
            final.rename(old)
            self.tmp_dir(step).rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.tmp_dir(step).rename(final)
        self.rotate()
        return final

    def all(self) -> list[tuple[int, Path]]:
        if not self.root.is_dir():
            return []
        found = [
            (int(m.group(1)), p) for p in self.root.iterdir() if (m := _STEP.match(p.name)) and p.is_dir()
        ]
        return sorted(found)

    def latest(self) -> Path | None:
        found = self.all()
        return found[-1][1] if found else None

    def rotate(self) -> None:
        found = self.all()
        for _, path in found[: max(0, len(found) - self.keep_last)]:
            shutil.rmtree(path, ignore_errors=True)


def save_rng(directory: Path, rank: int, generators: dict[str, torch.Generator]) -> None:
    tensors = {f"gen.{k}": g.get_state() for k, g in generators.items()}
    tensors["torch_cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["torch_cuda"] = torch.cuda.get_rng_state()
    with atomic_path(directory / f"rng-rank{rank}.safetensors") as tmp:
        save_file(tensors, str(tmp))


def load_rng(directory: Path, rank: int, generators: dict[str, torch.Generator]) -> None:
    path = directory / f"rng-rank{rank}.safetensors"
    tensors = load_file(str(path))
    for k, g in generators.items():
        g.set_state(tensors[f"gen.{k}"])
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["torch_cuda"])


def read_state(directory: Path) -> dict:
    return json.loads((directory / "state.json").read_text())
