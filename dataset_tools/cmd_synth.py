"""``loomis-data synth IMAGES... --out DATASET``: synthetic painting processes from plain images.

Each image gets ``--per-image`` different plausible processes (different seeds, so different
stroke orders and jitter) from the weight-free procedural painter, written in the dataset layout
(``loomis.dataset.write_sample``) with provenance ``{"source": "synthetic", …}``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from loomis.cli import output_arg
from loomis.errors import InputError
from loomis.io import IMAGE_SUFFIXES, load_image
from loomis.mediums import get_medium, medium_names

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="synthetic painting processes from plain images (procedural painter)",
        description="Paint each image K times with the weight-free procedural painter and write "
        "the processes as training samples (provenance 'synthetic').",
    )
    p.add_argument("images", nargs="+", help="image files or folders of images")
    p.add_argument(
        "--out",
        required=True,
        type=output_arg("dir", create=True),
        help="dataset folder (created or extended)",
    )
    p.add_argument("--medium", default="oil", help=f"one of: {', '.join(medium_names())}")
    p.add_argument("--per-image", type=int, default=1, help="processes (seeds) per image")
    p.add_argument("--frames", type=int, default=49, help="frames per process")
    p.add_argument("--max-side", type=int, default=832, help="long side of the painted frames")
    p.add_argument("--seed", type=int, default=0, help="first seed; process k uses seed+k")
    p.add_argument("--speed", default="human", help="speed profile: human, linear, fast, strokes")
    p.add_argument("--split", default="train", choices=["train", "val", "test"], help="dataset split")
    p.add_argument("--caption", default="", help="caption stored with every sample")
    p.add_argument("--overwrite", action="store_true", help="replace samples that already exist")
    p.set_defaults(func=run)


def collect_images(paths: list[str]) -> list[Path]:
    """Expand folders into their image files (sorted); refuse missing paths up front."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"folder {path} holds no images")
            out += found
        elif path.exists():
            out.append(path)
        else:
            raise InputError(f"image {path} does not exist")
    return out


def sample_id(image: Path, medium: str, k: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", image.stem).strip("-._") or "image"
    return f"synth-{stem[:80]}-{medium}-{k:02d}"


def run(args) -> int:
    from loomis.dataset import write_sample
    from loomis.procedural import SPEEDS, ProceduralConfig, paint

    medium = get_medium(args.medium).name
    if args.per_image < 1:
        raise InputError(f"--per-image must be at least 1, got {args.per_image}")
    if args.speed not in SPEEDS:
        raise InputError(f"--speed must be one of {', '.join(SPEEDS)}, got {args.speed!r}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    images = collect_images(args.images)
    # Load everything first so that a bad file fails before any sample is written.
    pictures = [(p, load_image(p)) for p in images]
    written = 0
    for path, picture in pictures:
        for k in range(args.per_image):
            seed = args.seed + k
            cfg = ProceduralConfig(frames=args.frames, seed=seed, speed=args.speed, max_side=args.max_side)
            frames = paint(picture, medium, cfg)
            n = len(frames)
            meta = {
                "provenance": {
                    "source": "synthetic",
                    "generator": "loomis.procedural",
                    "image": str(path),
                    "seed": seed,
                    "speed": args.speed,
                    "note": "a generated painting process, not a recording of a painter",
                },
                "frames": [{"index": i, "time": None, "progress": i / (n - 1)} for i in range(n)],
            }
            sid = sample_id(path, medium, k)
            write_sample(
                out,
                sid,
                frames,
                frames[-1],
                medium=medium,
                caption=args.caption,
                split=args.split,
                meta=meta,
                overwrite=args.overwrite,
            )
            written += 1
            log.info("synth: wrote %s (%d frames)", sid, n)
    log.info("synth: %d samples in %s", written, out)
    return 0
