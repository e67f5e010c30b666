"""``loomis-eval``: process metrics for generated painting processes.

    loomis-eval GENERATED GROUND_TRUTH [--distance NAME] [--json OUT.json]
    loomis-eval compare GROUND_TRUTH NAME=VIDEO [NAME=VIDEO ...] --out DIR [--baselines]

Videos (mp4, …), animated GIF/WebP or folders of frames; time stamps (or fps) are used where the
container has them. The first form prints PDP, PDP-norm and the final distance (and writes every
metric to JSON); ``compare`` writes ``table.md``, ``results.json``, ``pdp_curves.png`` and
``time_maps.png`` into DIR.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from loomis.cli import ArgumentParser, output_arg, progress_enabled, run_main, setup_logging
from loomis.errors import InputError
from loomis.io import check_output, check_writable, load_image, read_video, write_bytes, write_json
from loomis.metrics.closest_frame import CLOSEST_METRICS
from loomis.metrics.distances import DEFAULT_DISTANCE, available_distances

log = logging.getLogger("loomis_eval")

PROG = "loomis-eval"


def _common(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--distance",
        default=DEFAULT_DISTANCE,
        choices=available_distances(),
        help="distance for PDP, aligned distance and DDC; lpips/clip/dinov2 need local weights",
    )
    parser.add_argument(
        "--closest",
        default=",".join(CLOSEST_METRICS),
        help="closest-frame network metrics to try (comma list of lpips,clip,dinov2,fid, or 'none'); "
        "each is skipped with a note when its weights are absent",
    )
    parser.add_argument(
        "--max-frames", type=int, default=0, help="evenly subsample longer videos to N frames (0 = all)"
    )
    parser.add_argument("--reference", default=None, help="finished painting (image); default: last GT frame")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Score a generated painting process against a ground-truth one (PDP, Inverse "
        "Painting's metrics, closest-frame similarity). For a side-by-side table of several "
        f"methods run '{PROG} compare GROUND_TRUTH NAME=VIDEO ... --out DIR' (see '{PROG} compare --help').",
    )
    parser.add_argument("generated", help="generated process: video, GIF/WebP or frame folder")
    parser.add_argument("ground_truth", help="ground-truth process: video, GIF/WebP or frame folder")
    parser.add_argument("--json", type=output_arg("file"), help="write every metric to this JSON file")
    _common(parser)
    return parser


def build_compare_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"{PROG} compare",
        description="Side-by-side comparison of several generated processes against one ground truth: "
        "table.md, results.json, pdp_curves.png and time_maps.png in --out.",
    )
    parser.add_argument("ground_truth", help="ground-truth process: video, GIF/WebP or frame folder")
    parser.add_argument("methods", nargs="+", metavar="NAME=VIDEO", help="a method's name and its process")
    parser.add_argument(
        "--out",
        required=True,
        type=output_arg("dir"),
        help="output folder (created; files in it are replaced)",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="add the trivial baselines (linear fade from the first frame's colour and from white, "
        "blur reveal; loomis.metrics.baselines) as rows, so the table shows whether a method beats them",
    )
    _common(parser)
    return parser


def subsample(frames: list, times: list | None, n: int) -> tuple[list, list | None]:
    """``n`` evenly spaced frames, first and last kept (n <= 0 or >= len: unchanged)."""
    if n <= 0 or n >= len(frames):
        return frames, times
    if n < 2:
        raise InputError("--max-frames must be at least 2")
    idx = np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))
    return [frames[i] for i in idx], (None if times is None else [times[i] for i in idx])


_STAMP = re.compile(r"t(?:(\d+)h)?(\d+)m(\d+(?:\.\d+)?)s", re.IGNORECASE)


def times_from_names(names: Sequence[str]) -> list[float] | None:
    """Time stamps written in frame file names (``01_t0m15s.jpg``, ``t1h2m3s``), if all have one."""
    times = []
    for name in names:
        m = _STAMP.search(name)
        if m is None:
            return None
        times.append(int(m[1] or 0) * 3600 + int(m[2]) * 60 + float(m[3]))
    return times


def load_process(path: str, name: str, max_frames: int = 0):
    from loomis.metrics.report import Process

    video = read_video(path)
    if video.times is None and "files" in video.extra:
        video.times = times_from_names(video.extra["files"])
    if len(video) < 2:
        raise InputError(f"{path} has only {len(video)} frame; a painting process needs at least 2")
    shapes = {f.shape for f in video.frames}
    if len(shapes) > 1:
        log.info("%s: frames of %d sizes; they are resized", path, len(shapes))
    frames, times = subsample(video.frames, video.times, max_frames)
    return Process(frames=frames, times=times, name=name)


def parse_closest(text: str) -> list[str]:
    if text.strip().lower() in ("", "none"):
        return []
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in CLOSEST_METRICS]
    if bad:
        raise InputError(
            f"--closest: unknown {', '.join(bad)}; choose from {', '.join(CLOSEST_METRICS)} or none"
        )
    return names


def parse_method(spec: str) -> tuple[str, str]:
    name, sep, path = spec.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise InputError(f"expected NAME=VIDEO, got {spec!r}")
    return name.strip(), path.strip()


def _progress(items):
    if not progress_enabled():
        return items
    from tqdm import tqdm

    return tqdm(items, desc="methods", unit="video")


def run_single(argv: Sequence[str]) -> int:
    from loomis.metrics.report import evaluate

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    closest = parse_closest(args.closest)
    if args.json:
        check_writable(args.json)
    gen = load_process(args.generated, "generated", args.max_frames)
    gt = load_process(args.ground_truth, "ground truth", args.max_frames)
    reference = load_image(args.reference) if args.reference else None
    ev = evaluate(gen, gt, args.distance, closest, reference=reference)
    out = {**ev.to_dict(curves=True), "generated": args.generated, "ground_truth": args.ground_truth}
    if args.json:
        write_json(args.json, out)
        log.info("wrote %s", args.json)
    p, ip = ev.pdp, ev.inverse_painting
    print(f"distance: {p.distance_name}")
    print(f"pdp {p.pdp:.4f}  pdp_norm {p.pdp_norm:.4f}  distance {p.distance:.4f}")
    print(f"aligned {ip.aligned_distance:.4f}  iou {ip.iou:.3f}  ddc {ip.ddc:.4f}  dts {ip.dts:.3f}")
    return 0


def _prepare_out(out: str) -> Path:
    path = check_output(out, "dir")  # wrong kind, missing parent, read-only: exit 2 before any work
    path.mkdir(exist_ok=True)
    return path


def baseline_processes(gt, reference=None) -> list:
    """The trivial baselines for this ground truth, as processes named after them."""
    from loomis.metrics.baselines import baselines
    from loomis.metrics.report import Process

    picture = gt.frames[-1] if reference is None else reference
    return [Process(frames=f, name=n) for n, f in baselines(picture, gt.frames[0]).items()]


def run_compare(argv: Sequence[str]) -> int:
    from loomis.metrics import plots
    from loomis.metrics.report import compare, comparison_json, markdown_table

    args = build_compare_parser().parse_args(argv)
    setup_logging(args.verbose)
    closest = parse_closest(args.closest)
    specs = [parse_method(s) for s in args.methods]
    gt = load_process(args.ground_truth, "ground truth", args.max_frames)
    methods = [load_process(path, name, args.max_frames) for name, path in specs]
    reference = load_image(args.reference) if args.reference else None
    if args.baselines:
        methods += baseline_processes(gt, reference)
    out = _prepare_out(args.out)
    results = compare(gt, methods, args.distance, closest, reference, progress=_progress)
    table = markdown_table(results, closest)
    write_bytes(out / "table.md", table.encode())
    write_json(out / "results.json", comparison_json(results, args.ground_truth))
    plots.plot_pdp_curves(results, out / "pdp_curves.png")
    final = reference if reference is not None else gt.frames[-1]
    plots.plot_time_maps(results, out / "time_maps.png", reference=final)
    print(table)
    log.info("wrote table.md, results.json, pdp_curves.png, time_maps.png to %s", out)
    return 0


def body(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "compare":
        return run_compare(argv[1:])
    return run_single(argv)


def main(argv: Sequence[str] | None = None) -> int:
    sys.exit(run_main(body, argv))
