"""``loomis-data import DIR --out DATASET``: painvidpro output (a pipeline folder or an export)
into the Loomis dataset layout, with a report of what could not be mapped."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from loomis.cli import output_arg
from loomis.dataset import write_sample
from loomis.errors import InputError
from loomis.io import write_json
from loomis.mediums import get_medium
from loomis.parallel import take_shard

from . import painvidpro as pvp
from .batch import parse_shard

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "import",
        help="import painvidpro output (frame_data.h5 + pipeline.json) as a Loomis dataset",
        description="Turn the output of painvidpro (Loomis Painter's curation pipeline: per video a "
        "frame_data.h5 of JPEG frames, reference frames and metadata) into Loomis samples: frames "
        "in painting order with their progress, the finished painting as reference, the newest "
        "reference tag as caption (content words only), generated reference variations as "
        "variants. What cannot be mapped is listed in DATASET/.import/report.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "input", metavar="DIR", help="a painvidpro pipeline folder, an export, or one video folder"
    )
    p.add_argument(
        "--out",
        required=True,
        type=output_arg("dir", create=True),
        metavar="DATASET",
        help="dataset folder (created if missing)",
    )
    p.add_argument(
        "--medium",
        default=None,
        help="medium for videos whose art_media names none Loomis knows (default: skip them)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace samples that already exist")
    p.add_argument("--shard", default=None, metavar="I/N", help="import only videos k with k %% N == I")
    p.set_defaults(func=run)


def import_video(video: pvp.Video, out: Path, fallback: str | None, overwrite: bool, shard) -> list[str]:
    """Write one sample; returns what was not mapped (an empty list when everything was)."""
    notes = [f"global metadata key {k!r} kept in provenance only" for k in video.unmapped]
    medium = pvp.map_medium(video.attrs.get("art_media"))
    if medium is None:
        if fallback is None:
            raise InputError(
                f"art_media {video.attrs.get('art_media')!r} names no Loomis medium (pass --medium)"
            )
        notes.append(f"art_media {video.attrs.get('art_media')!r} unknown: used --medium {fallback}")
        medium = fallback
    n = len(video.frames)
    if n < 2:
        raise InputError(f"{n} frame(s): a painting process needs at least 2")
    fps = video.attrs.get("fps")
    per_frame = []
    for i, m in enumerate(video.frame_meta + [{}] * (n - len(video.frame_meta))):
        prog = m.get("frame_progress")
        idx = m.get("frame_index")
        per_frame.append(
            {
                "index": i,
                "time": round(idx / fps, 3) if idx is not None and fps else None,
                "progress": float(prog) if prog is not None else i / (n - 1),
                "source_frame_index": idx,
            }
        )
    if len(video.frame_meta) != n:
        notes.append(f"{n - len(video.frame_meta)} frame(s) without frame_metadata: progress spread evenly")
    reference = video.references[0] if video.references else video.frames[-1]
    if not video.references:
        notes.append("no reference frame: the last frame is the reference")
    extra, variants = {}, []
    for k, (img, meta) in enumerate(zip(video.references[1:], video.reference_meta[1:]), 1):
        vm = pvp.variant_medium(meta)
        if vm is None:
            notes.append(
                f"reference variation {k} (prompt {meta.get('prompt', '')[:60]!r}): medium unknown, left out"
            )
            continue
        rel = f"variants/{vm}-{k}.png"
        extra[rel] = img
        variants.append({"path": rel, "medium": vm, "prompt": meta.get("prompt", "")})
    caption = pvp.caption_of(video.attrs)
    if not caption:
        notes.append("no reference_frame_tags: no caption (run loomis-data caption)")
    meta = {
        "frames": per_frame,
        "variants": variants,
        "provenance": {
            "tool": "loomis-data import",
            "kind": "curated by painvidpro from a real painting video",
            "source": str(video.folder),
            "painvidpro": {k: v for k, v in video.attrs.items() if k != "reference_frame_tags"},
        },
    }
    write_sample(
        out,
        video.sample_id,
        video.frames,
        reference,
        medium=medium,
        caption=caption,
        split=video.split,
        meta=meta,
        extra_files=extra,
        overwrite=overwrite,
        shard=shard,
    )
    return notes


def run(args) -> int:
    if args.medium is not None:
        get_medium(args.medium)
    shard = parse_shard(args.shard)
    root = Path(args.input)
    folders = pvp.find_videos(root)
    mine = take_shard(folders, shard)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"imported": {}, "skipped": {}, "not_mapped": {}}
    for folder in mine:
        try:
            video = pvp.read_video(folder, root)
            if video.attrs.get("exclude_video"):
                report["skipped"][str(folder)] = "exclude_video is set"
                continue
            if (out / video.sample_id).exists() and not args.overwrite:
                report["skipped"][str(folder)] = f"sample {video.sample_id} exists (--overwrite replaces it)"
                continue
            notes = import_video(video, out, args.medium, args.overwrite, shard)
        except InputError as exc:
            report["skipped"][str(folder)] = str(exc)
            log.warning("%s: skipped — %s", folder, exc)
            continue
        report["imported"][video.sample_id] = str(folder)
        if notes:
            report["not_mapped"][video.sample_id] = notes
    name = "report.json" if shard[1] == 1 else f"report-{shard[0]}-of-{shard[1]}.json"
    (out / ".import").mkdir(exist_ok=True)
    write_json(out / ".import" / name, report)
    log.info(
        "import: %d imported, %d skipped, %d with unmapped fields → %s (details: %s)",
        len(report["imported"]),
        len(report["skipped"]),
        len(report["not_mapped"]),
        out,
        out / ".import" / name,
    )
    for sid, notes in report["not_mapped"].items():
        log.info("%s: not mapped: %s", sid, "; ".join(notes))
    failed = {k: v for k, v in report["skipped"].items() if "exclude_video" not in v and "exists" not in v}
    if failed:
        names = ", ".join(f"{Path(k).name} ({v})" for k, v in failed.items())
        raise InputError(f"{len(failed)} of {len(mine)} videos could not be imported: {names}")
    return 0
