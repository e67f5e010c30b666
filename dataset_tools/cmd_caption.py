"""``loomis-data caption DATASET``: content captions (no medium, no style) for every sample."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from loomis.cli import progress_enabled
from loomis.dataset import read_dataset, update_meta
from loomis.errors import InputError
from loomis.parallel import take_shard

from .batch import parse_shard
from .captioning import CaptionBackend, CsvCaptions, QwenVL, clean_caption

log = logging.getLogger(__name__)

MODEL_ENV = "LOOMIS_QWEN25_VL"  # a local Qwen2.5-VL-7B-Instruct (or other size) folder


def register(sub) -> None:
    p = sub.add_parser(
        "caption",
        help="caption samples (content only; the prompt adds the medium)",
        description="Write content captions into a dataset: from --captions CSV (id,caption) "
        "or Qwen2.5-VL loaded from a local --model folder (default: $LOOMIS_QWEN25_VL). "
        "Medium and style words are removed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--captions", metavar="CSV", help="CSV with id,caption rows")
    src.add_argument(
        "--model",
        metavar="DIR",
        help=f"local Qwen2.5-VL folder (transformers layout); default ${MODEL_ENV}",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing captions")
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="caption only samples k with k %% N == I (sorted by id; 0 <= I < N); a rerun skips "
        "captioned samples",
    )
    p.set_defaults(func=run)


def caption_dataset(
    dataset: Path,
    backend: CaptionBackend,
    overwrite: bool = False,
    progress: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> dict:
    samples, problems = read_dataset(dataset)
    if not samples:
        raise InputError(f"{dataset} has no readable samples to caption")
    samples = shard_samples(samples, shard)
    stats = {"captioned": 0, "kept": 0, "missing": [], "problems": [str(p) for p in problems]}
    it = samples
    if progress:
        from tqdm import tqdm

        it = tqdm(samples, unit="sample", desc="caption")
    for s in it:
        if s.caption and not overwrite:
            stats["kept"] += 1
            continue
        raw = backend.caption(s.load_reference(), s.id)
        text = clean_caption(raw or "")
        if not text:
            stats["missing"].append(s.id)
            log.warning("%s: no caption from %s", s.id, backend.name)
            continue
        update_meta(dataset, s.id, {"caption": text, "caption_source": backend.name}, shard=shard)
        stats["captioned"] += 1
    return stats


def _backend(args) -> CaptionBackend:
    if args.captions:
        return CsvCaptions(args.captions)
    model = args.model or os.environ.get(MODEL_ENV)
    if not model:
        raise InputError(
            f"caption needs a captioner: --model DIR (a local Qwen2.5-VL folder), "
            f"set {MODEL_ENV}=DIR once, or give ready captions with --captions CSV"
        )
    return QwenVL(model)


def shard_samples(samples: list, shard: tuple[int, int]) -> list:
    """This shard's share of ``samples``, taken over the samples sorted by id so that every shard of
    a Slurm array agrees without talking to the others."""
    return take_shard(sorted(samples, key=lambda s: s.id), shard)


def run(args) -> int:
    shard = parse_shard(args.shard)
    backend = _backend(args)
    stats = caption_dataset(Path(args.dataset), backend, args.overwrite, progress_enabled(), shard)
    log.info(
        "caption: %d captioned, %d kept, %d without caption",
        stats["captioned"],
        stats["kept"],
        len(stats["missing"]),
    )
    return 0
