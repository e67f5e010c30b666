"""``loomis-data caption DATASET``: content captions (no medium, no style) for every sample."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from loomis.cli import progress_enabled
from loomis.dataset import read_dataset, update_meta
from loomis.errors import InputError

from .captioning import CaptionBackend, CsvCaptions, QwenVL, clean_caption

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "caption",
        help="caption samples (content only; the prompt adds the medium)",
        description="Write content captions into a dataset: from --captions CSV (id,caption) "
        "or Qwen2.5-VL loaded from a local --model folder. Medium and style words are removed.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--captions", metavar="CSV", help="CSV with id,caption rows")
    src.add_argument("--model", metavar="DIR", help="local Qwen2.5-VL folder (transformers layout)")
    p.add_argument("--overwrite", action="store_true", help="replace existing captions")
    p.set_defaults(func=run)


def caption_dataset(
    dataset: Path, backend: CaptionBackend, overwrite: bool = False, progress: bool = False
) -> dict:
    samples, problems = read_dataset(dataset)
    if not samples:
        raise InputError(f"{dataset} has no readable samples to caption")
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
        update_meta(dataset, s.id, {"caption": text, "caption_source": backend.name})
        stats["captioned"] += 1
    return stats


def run(args) -> int:
    backend = CsvCaptions(args.captions) if args.captions else QwenVL(args.model)
    stats = caption_dataset(Path(args.dataset), backend, args.overwrite, progress_enabled())
    log.info(
        "caption: %d captioned, %d kept, %d without caption",
        stats["captioned"],
        stats["kept"],
        len(stats["missing"]),
    )
    return 0
