"""``loomis-data curate VIDEO|DIR|LIST --out DATASET --medium M``: real painting-tutorial videos
into clean painting-process samples (see :mod:`loomis_data.curate` for the stages)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from loomis.cli import output_arg, progress_enabled
from loomis.errors import InputError
from loomis.io import ensure_dir_writable
from loomis.mediums import get_medium

from .batch import gather_inputs, parse_shard, run_batch
from .curate import CurateConfig, parse_quad
from .occlusion import OcclusionConfig

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser(
        "curate",
        help="curate painting-tutorial videos into dataset samples",
        description="Turn real painting-tutorial videos into clean, occlusion-free painting processes. "
        "INPUT is a video, a folder of videos (searched recursively) or a .txt list (one path a line). "
        "Finished videos are skipped on a re-run; an interrupted batch resumes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("input", metavar="VIDEO|DIR|LIST", help="a video file, a folder of videos or a list file")
    p.add_argument(
        "--out",
        required=True,
        type=output_arg("dir", create=True),
        metavar="DATASET",
        help="dataset folder (created if missing)",
    )
    p.add_argument("--medium", required=True, help="painting medium of these videos (registry name)")
    p.add_argument(
        "--split-screen", action="store_true", help="Loomis split-screen videos: photo left, drawing right"
    )
    p.add_argument(
        "--canvas",
        default="auto",
        help="auto, full, or the corners x1,y1,…,x4,y4 (TL TR BR BL, video pixels)",
    )
    p.add_argument("--sample-fps", type=float, default=3.0, help="samples per second of video")
    p.add_argument(
        "--segment", type=float, default=10.0, metavar="SECONDS", help="occlusion-removal segment length"
    )
    p.add_argument(
        "--max-size",
        type=int,
        default=832,
        help="longest side of the rectified canvas (pixels; the training width, 32..4096); a smaller "
        "canvas keeps its own size (never upscaled)",
    )
    p.add_argument(
        "--num-frames", type=int, default=None, help="keep this many frames (default: every distinct one)"
    )
    p.add_argument(
        "--progress-aware", action="store_true", help="with --num-frames: spread perceptual change evenly"
    )
    p.add_argument("--no-trim", action="store_true", help="keep intro and outro")
    p.add_argument("--no-overlays", action="store_true", help="do not look for logos/watermarks")
    p.add_argument(
        "--occlusion-threshold", type=int, default=28, help="grey-level deviation that marks a hand/brush"
    )
    p.add_argument(
        "--detector-model",
        default=None,
        metavar="DIR",
        help="local GroundingDINO folder (transformers layout) for canvas and hand/brush detection",
    )
    p.add_argument(
        "--mask-model",
        default=None,
        metavar="DIR",
        help="local SAM 2 folder (transformers layout): hand/brush masks from the --detector-model boxes",
    )
    p.add_argument(
        "--shard", default=None, metavar="I/N", help="process only videos k with k %% N == I (0 <= I < N)"
    )
    p.add_argument("--overwrite", action="store_true", help="redo videos that are already curated")
    p.set_defaults(func=run)


def _config(args) -> CurateConfig:
    if args.sample_fps <= 0 or args.segment <= 0:
        raise InputError("--sample-fps and --segment must be positive")
    if not 32 <= args.max_size <= 4096:
        raise InputError("--max-size must be 32..4096 (pixels of the rectified canvas)")
    if args.num_frames is not None and args.num_frames < 2:
        raise InputError("--num-frames must be at least 2")
    if args.canvas not in ("auto", "full"):
        parse_quad(args.canvas)
    return CurateConfig(
        sample_fps=args.sample_fps,
        segment_s=args.segment,
        max_size=args.max_size,
        work_size=max(1280, args.max_size * 3 // 2),
        canvas=args.canvas,
        split_screen=args.split_screen,
        trim_video=not args.no_trim,
        remove_overlays=not args.no_overlays,
        num_frames=args.num_frames,
        progress_aware=args.progress_aware,
        occlusion=OcclusionConfig(threshold=args.occlusion_threshold),
    )


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    parent = out if out.exists() else out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    ensure_dir_writable(parent)


def run(args) -> int:
    get_medium(args.medium)
    cfg = _config(args)
    shard = parse_shard(args.shard)
    videos, batch = gather_inputs(args.input)
    out = Path(args.out)
    _check_output(out)
    out.mkdir(parents=True, exist_ok=True)
    detectors = None
    if args.mask_model and not args.detector_model:
        raise InputError("--mask-model needs --detector-model (SAM 2 is prompted with its hand/brush boxes)")
    if args.detector_model:
        from .detectors import grounding_dino_detectors

        detectors = grounding_dino_detectors(args.detector_model, args.mask_model)
    bar = None
    if batch and progress_enabled():
        from tqdm import tqdm

        bar = tqdm
    report = run_batch(
        videos,
        out,
        args.medium,
        cfg,
        batch=batch,
        shard=shard,
        overwrite=args.overwrite,
        detectors=detectors,
        progress=bar,
    )
    log.info(
        "curate: %d written, %d already done, %d failed → %s",
        len(report.done),
        len(report.skipped),
        len(report.failed),
        out,
    )
    for sid, why in report.unsure.items():
        log.warning("check the canvas crop of %s: %s", sid, why)
    if report.unsure:
        log.warning(
            "%d sample(s) with an unsure canvas crop (meta.json provenance.canvas.notes); "
            "pass --canvas x1,y1,…,x4,y4 for them",
            len(report.unsure),
        )
    if batch and report.failed:
        # the rest is finished; a failure must still fail the job (Slurm, CI) and name the videos
        names = ", ".join(f"{Path(src).name} ({why})" for src, why in report.failed.items())
        total = len(report.done) + len(report.skipped) + len(report.failed)
        raise InputError(f"{len(report.failed)} of {total} videos could not be curated: {names}")
    return 0
