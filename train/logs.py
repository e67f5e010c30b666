"""Run logging on rank 0: ``metrics.jsonl`` (always), TensorBoard, optional W&B, a progress bar."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from loomis.cli import progress_enabled
from loomis.errors import InputError

from .config import LoggingConfig

log = logging.getLogger(__name__)


class MetricsLogger:
    def __init__(self, out: Path, cfg: LoggingConfig, is_main: bool, start_step: int):
        self.is_main, self.path = is_main, out / "metrics.jsonl"
        self.tb = self.wandb = self.bar = None
        if not is_main:
            return
        self._truncate(start_step)  # a killed run may have logged steps past its last checkpoint
        if cfg.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(out / "tensorboard"), purge_step=start_step + 1)
        if cfg.wandb:
            try:
                import wandb
            except ImportError:
                raise InputError(
                    "config key logging.wandb: wandb is not installed; pip install wandb or set "
                    "logging.wandb=false"
                ) from None
            self.wandb = wandb.init(project=cfg.wandb_project, dir=str(out), resume="allow")

    def _truncate(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = [
            ln for ln in self.path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step
        ]
        self.path.write_text("".join(ln + "\n" for ln in keep))

    def start_bar(self, step: int, total: int) -> None:
        if self.is_main and progress_enabled():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=step, desc="train", dynamic_ncols=True)

    def log(self, step: int, values: dict, every: int = 1) -> None:
        if not self.is_main:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"train/{k}", v, step)
        if self.wandb is not None:
            self.wandb.log(values, step=step)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{values['loss']:.4f}")
        elif step % every == 0:
            log.info("step %d loss %.5f lr %.3g", step, values["loss"], values["lr"])

    def scalar(self, name: str, value: float, step: int) -> None:
        if self.is_main and self.tb is not None:
            self.tb.add_scalar(name, value, step)

    def close(self) -> None:
        for h in (self.bar, self.tb):
            if h is not None:
                h.close()
        if self.wandb is not None:
            self.wandb.finish()
