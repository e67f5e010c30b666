"""``loomis-data variants DATASET --to pencil-mono,children,coloring-book,photo``: media-transfer
reference images I* for the second LoRA."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from loomis.dataset import read_dataset, update_meta
from loomis.errors import InputError
from loomis.io import save_image
from loomis.mediums import build_prompt, get_medium, medium_names

from .batch import parse_shard
from .cmd_caption import shard_samples
from .variants import WEIGHT_FREE, DiffusersEditor, make_variant

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "variants",
        help="media-transfer reference images (I*)",
        description="Re-render every sample's reference in other media. pencil-mono, children "
        "and coloring-book work without weights; photo (and --prefer-model) need --model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument(
        "--to",
        required=True,
        help="comma-separated target media, e.g. pencil-mono,children,coloring-book,photo",
    )
    p.add_argument(
        "--model", metavar="DIR", default=None, help="local diffusers image-editing pipeline folder"
    )
    p.add_argument(
        "--prefer-model", action="store_true", help="use the model even where a weight-free style exists"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing variants")
    p.add_argument("--steps", type=int, default=30, help="denoising steps of the --model pipeline (1..200)")
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="only samples k with k %% N == I (sorted by id; 0 <= I < N); a rerun skips finished ones",
    )
    p.set_defaults(func=run)


def _targets(spec: str, has_model: bool) -> list[str]:
    targets = [t.strip() for t in spec.split(",") if t.strip()]
    if not targets:
        raise InputError("--to names no media")
    for t in targets:
        if t != "photo":
            get_medium(t)
        if t not in WEIGHT_FREE and not has_model:
            raise InputError(
                f"variant {t!r} needs --model DIR (weight-free styles: {', '.join(WEIGHT_FREE)})"
            )
    return targets


def add_variants(
    dataset: Path,
    targets: list[str],
    editor=None,
    prefer_model: bool = False,
    overwrite: bool = False,
    shard: tuple[int, int] = (0, 1),
) -> int:
    samples, _ = read_dataset(dataset)
    if not samples:
        raise InputError(f"{dataset} has no readable samples")
    samples = shard_samples(samples, shard)
    written = 0
    for s in samples:
        variants = [v for v in s.meta.get("variants") or []]
        have = {v.get("medium") for v in variants}
        ref = None
        for t in targets:
            if t in have and not overwrite:
                continue
            ref = s.load_reference() if ref is None else ref
            img = make_variant(ref, t, editor, prefer_model)
            rel = f"variants/{t}.png"
            (s.root / "variants").mkdir(exist_ok=True)
            save_image(s.root / rel, img)
            prompt = build_prompt(t, s.caption) if t in medium_names() else s.caption
            variants = [v for v in variants if v.get("medium") != t] + [
                {"path": rel, "medium": t, "prompt": prompt}
            ]
            written += 1
        update_meta(dataset, s.id, {"variants": variants}, shard=shard)
    return written


def run(args) -> int:
    if not 1 <= args.steps <= 200:
        raise InputError("--steps must be 1..200")
    shard = parse_shard(args.shard)
    targets = _targets(args.to, bool(args.model))
    editor = DiffusersEditor(args.model, steps=args.steps) if args.model else None
    n = add_variants(Path(args.dataset), targets, editor, args.prefer_model, args.overwrite, shard)
    log.info("variants: wrote %d images", n)
    return 0
