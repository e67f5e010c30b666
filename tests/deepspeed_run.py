"""Run under ``torchrun --nproc_per_node 2`` by tests/test_train_deepspeed.py: the tiny model with a
bf16 base, on the same synthetic clips, through the plain engine (hand all-reduce), DeepSpeed
ZeRO-2 uninterrupted, and DeepSpeed stopped at step 2 then resumed; one process group for all
four runs (a launch costs ~15 s on 2 cores). Rank 0 writes ``OUT/report.json``: losses, dtypes
after engine set-up, the final LoRA of each run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from train_support import REPO, read_metrics


def main(out: Path) -> None:
    from loomis_train import distributed as D
    from loomis_train.config import load_config
    from loomis_train.trainer import Trainer

    env = D.init()
    common = ["model.dtype=bfloat16", "train.max_steps=4", "train.save_every=2", "logging.tensorboard=false",
              "data.aspect_buckets=false", "data.synthetic=4"]  # fmt: skip
    runs = {
        "plain": (["distributed.backend=plain"], [False]),
        "ds": (["distributed.backend=deepspeed"], [False]),
        "ds_resumed": (["distributed.backend=deepspeed"], [False, True]),
    }
    report = {}
    for name, (sets, resumes) in runs.items():
        for i, resume in enumerate(resumes):
            stop = ["train.stop_at=2"] if len(resumes) > 1 and i == 0 else []
            cfg = load_config(
                REPO / "configs/tiny.yaml", common + sets + stop + [f"train.output={out / name}"]
            )
            trainer = Trainer(cfg, env)
            trainer.run(resume=resume)
        report[name] = {"dtypes": trainer.dtypes, "losses": [m["loss"] for m in read_metrics(out / name)]}
        report[name]["resumed"] = trainer.last_checkpoint is not None and resume
    if env.is_main:
        (out / "report.json").write_text(json.dumps(report))
    D.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
