"""Shared helpers for the trainer tests (synthetic painting datasets, tiny configs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from synthetic import reveal_process

from loomis.dataset import write_sample

REPO = Path(__file__).resolve().parents[1]


def painting(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (60 + 150 * y / h).astype(np.uint8)
    img[..., 1] = (40 + 180 * x / w).astype(np.uint8)
    img[..., 2] = int(rng.integers(60, 200))
    cy, cx = rng.integers(10, h - 10), rng.integers(10, w - 10)
    img[(y - cy) ** 2 + (x - cx) ** 2 < 80] = rng.integers(0, 255, 3)
    return img


process = reveal_process  # blank canvas → final, top to bottom (painting order)


def make_dataset(
    root: Path,
    n: int = 1,
    frames: int = 12,
    variants: bool = False,
    size=(48, 64),
    medium: str = "acrylic",
    split: str = "train",
) -> Path:
    for i in range(n):
        final = painting(i, *size)
        extra, meta = {}, {}
        if variants:
            grey = np.repeat(final.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
            extra["variants/pencil.png"] = grey
            meta["variants"] = [
                {"path": "variants/pencil.png", "medium": "pencil", "prompt": "pencil drawing"}
            ]
        write_sample(
            root,
            f"s{i:03d}",
            process(final, frames),
            medium=medium,
            caption=f"picture {i}",
            split=split,
            meta=meta,
            extra_files=extra,
        )
    return root


def tiny_overrides(data: Path, out: Path, **extra) -> list[str]:
    sets = [f"train.output={out}", "logging.tensorboard=false"] + ([f"data.path={data}"] if data else [])
    return sets + [f"{k}={v}" for k, v in extra.items()]


def run_training(
    data: Path, out: Path, sets: list[str] = (), resume: bool = False, config: str = "tiny.yaml"
):
    """Train in-process with configs/<config> (tiny model) and return (trainer, result)."""
    from loomis_train.config import load_config
    from loomis_train.distributed import DistEnv
    from loomis_train.trainer import Trainer

    cfg = load_config(REPO / "configs" / config, tiny_overrides(data, out) + list(sets))
    trainer = Trainer(cfg, DistEnv())
    return trainer, trainer.run(resume=resume)


def read_metrics(out: Path) -> list[dict]:
    import json

    return [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines() if ln.strip()]
