"""``loomis-paint IMAGE [--medium M] [-o OUT.mp4]``: a painting-process video of IMAGE, forward
order (blank canvas first). Parses, calls ``loomis.paint``, writes; nothing else."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import fields
from pathlib import Path

from loomis.accel import CACHE_KNOBS, CACHES, OFFLOADS, VAE_TILING, WEIGHT_DTYPES
from loomis.cli import (
    ArgumentParser,
    device_arg,
    float_range,
    fps_arg,
    frames_arg,
    guidance_arg,
    progress_enabled,
    run_main,
    seed_arg,
    setup_logging,
    size_arg,
    steps_arg,
)
from loomis.errors import InputError
from loomis.io import (
    IMAGE_SUFFIXES,
    OUTPUT_SUFFIXES,
    check_output,
    check_writable,
    commit_together,
    contact_sheet,
    load_image,
    save_image,
    write_bytes,
    write_json,
    write_video,
)
from loomis.mediums import DEFAULT_NEGATIVE_PROMPT, get_medium, medium_names
from loomis.paint import BACKENDS, PaintConfig, Painter
from loomis.parallel import parse_shard, rank_info, shard_indices
from loomis.sampler import PRESETS
from loomis.schedulers import SCHEDULERS
from loomis.wan import LoraSpec

from .batch import Manifest, completed, output_names

log = logging.getLogger("loomis-paint")

SHIFT_ARG = float_range(0.0, 100.0, "a shift above ~20 puts every step at the noisy end", lo_open=True)
THRESHOLD_ARG = float_range(
    0.0, 1000.0, "taylorseer: passes between full ones; others: a relative change", lo_open=True
)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="loomis-paint",
        description="Show how a picture could have been painted: "
        "writes a painting-process video (blank canvas → finished picture) of IMAGE.",
    )
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="PNG/JPEG/WebP image (with --batch: several, or folders)"
    )
    p.add_argument("--medium", default="acrylic", help=f"painting medium: {', '.join(medium_names())}")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="OUT.mp4|.gif|.webp or a folder for numbered PNG frames "
        "(with --batch: a folder for the videos); default: <image>.<medium>.mp4 here",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="wan = Wan 2.1 I2V + LoRAs; procedural = "
        "weight-free painter; auto = wan when a model is given or $LOOMIS_MODEL is set",
    )
    p.add_argument(
        "--model",
        default=None,
        help="wan2.1-i2v-14b-480p | wan2.1-i2v-14b-720p | tiny | a Diffusers directory",
    )
    p.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="PATH[:WEIGHT]",
        help="LoRA file (diffusers, ComfyUI or musubi keys); repeat to stack",
    )
    p.add_argument("--caption", default=None, help="what the picture shows (the prompt adds the medium)")
    p.add_argument(
        "--frames",
        type=frames_arg,
        default=None,
        help="frame count (wan: 4k+1); default: medium/model default",
    )
    p.add_argument(
        "--fps", type=fps_arg, default=None, help="output frame rate; default: 16 (wan), 8 (procedural)"
    )
    p.add_argument(
        "--steps", type=steps_arg, default=None, help="denoising steps (wan); default: the medium's"
    )
    p.add_argument(
        "--guidance",
        type=guidance_arg,
        default=None,
        help="classifier-free guidance (wan); default: the medium's",
    )
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed")
    p.add_argument("--negative-prompt", default=DEFAULT_NEGATIVE_PROMPT, help="negative prompt (wan)")
    p.add_argument(
        "--size",
        type=size_arg,
        default=None,
        help="480p | 720p | WxH; default: the model's (procedural: long side 832)",
    )
    p.add_argument("--dtype", default=None, help="bf16 | fp16 | fp32; default: bf16 on GPU, fp32 on CPU")
    p.add_argument(
        "--device", type=device_arg, default=None, help="cuda | cuda:N | cpu; default: cuda when available"
    )
    _sampling_flags(p)
    _speed_flags(p)
    p.add_argument("--speed", default="human", help="procedural: how progress is spread over time")
    p.add_argument(
        "--sheet", action="store_true", help="also write a contact sheet PNG of keyframes beside the output"
    )
    p.add_argument("--batch", action="store_true", help="paint several images / folders with one model load")
    p.add_argument(
        "--strokes",
        default=None,
        metavar="OUT.svg",
        help="procedural: also write every stroke in painting order as OUT.svg and OUT.json",
    )
    p.add_argument(
        "--from",
        dest="from_canvas",
        default=None,
        metavar="PARTIAL.png",
        help="procedural: continue from your own canvas (a sketch or half-finished painting aligned "
        "with IMAGE); frame 0 is that canvas and what already matches IMAGE is kept",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="with --batch: paint only shard I of N (a Slurm array task); under torchrun without "
        "--parallel each rank takes its own shard",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def _sampling_flags(p: ArgumentParser) -> None:
    g = p.add_argument_group("sampling (wan backend; default: preset > medium > the model's own)")
    g.add_argument("--preset", default=None, choices=sorted(PRESETS), help="fast: 4 Euler steps, shift 5, "
                   "guidance 1 - for a step-distilled LoRA (lightx2v, CausVid) given with --lora")  # fmt: skip
    g.add_argument("--scheduler", default=None, choices=SCHEDULERS, help="flow-matching solver")
    g.add_argument(
        "--shift", type=SHIFT_ARG, default=None, help="sigma shift (model default: 3 at 480p, 5 at 720p)"
    )


def _speed_flags(p: ArgumentParser) -> None:
    g = p.add_argument_group("speed and memory (wan backend; docs/inference.md)")
    g.add_argument("--cache", default="none", choices=CACHES, help="reuse transformer work across steps")
    g.add_argument("--cache-threshold", type=THRESHOLD_ARG, default=None,
                   help="; ".join(f"{k}: {v[0]} (default {v[1]})" for k, v in CACHE_KNOBS.items()))  # fmt: skip
    g.add_argument("--cache-ratios", default=None, metavar="FILE",
                   help="magcache: ratios (JSON list, or the sidecar of a calibration run, i.e. "
                   "--cache magcache without this flag)")  # fmt: skip
    g.add_argument("--compile", action="store_true", help="torch.compile the repeated transformer blocks")
    g.add_argument(
        "--offload",
        default="none",
        choices=OFFLOADS,
        help="for small GPUs: model = whole components, sequential = layer by layer, "
        "group = transformer blocks one at a time, overlapped with compute",
    )
    g.add_argument(
        "--weights-dtype", default=None, choices=WEIGHT_DTYPES, help="store transformer weights in fp8"
    )
    g.add_argument("--vae-tiling", default="auto", choices=VAE_TILING,
                   help="decode in tiles (auto: on GPUs, for frames larger than a tile)")  # fmt: skip
    g.add_argument(
        "--attention",
        default=None,
        help="diffusers attention backend, e.g. native, flash, _native_flash, sage",
    )
    g.add_argument("--parallel", default=None, metavar="ulysses=N|ring=N",
                   help="one video over N GPUs (torchrun --nproc_per_node N); rank 0 writes")  # fmt: skip


def _inputs(args) -> list[Path]:
    paths: list[Path] = []
    for raw in args.images:
        p = Path(raw)
        if p.is_dir():
            if not args.batch:
                raise InputError(f"{p} is a folder; pass --batch to paint every image in it")
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"folder {p} holds no images")
            paths += found
        else:
            paths.append(p)
    if len(paths) > 1 and not args.batch:
        raise InputError("several images given; pass --batch (and -o FOLDER) to paint them all")
    if args.shard and not args.batch:
        raise InputError("--shard needs --batch")
    unique = {q.resolve(): q for q in paths}  # each image painted exactly once
    return list(unique.values())


def _outputs(args, inputs: list[Path]) -> list[Path]:
    if not args.batch:
        out = Path(args.output) if args.output else Path(f"{inputs[0].stem}.{args.medium}.mp4")
        if out.suffix and out.suffix.lower() not in OUTPUT_SUFFIXES:
            raise InputError(f"unsupported output {out.name}: use .mp4, .gif, .webp or a folder path")
        return [check_writable(out)]
    folder = Path(args.output or ".")
    if folder.suffix:
        raise InputError("with --batch, -o is a folder for the videos")
    check_output(folder, "dir", create=True)  # before mkdir: a read-only parent is exit 2, not a traceback
    folder.mkdir(parents=True, exist_ok=True)
    return [check_writable(folder / name) for name in output_names(inputs, args.medium)]


def _shard(args) -> tuple[int, int]:
    if args.shard:
        return parse_shard(args.shard)
    info = rank_info()
    return (info.rank, info.world) if args.batch and not args.parallel else (0, 1)


def _config(args) -> PaintConfig:
    """Flags → PaintConfig: the parser's dests are the config's field names (``--lora`` → ``loras``)."""
    names = {f.name for f in fields(PaintConfig)} - {"loras", "start", "record_strokes"}
    start = load_image(args.from_canvas) if args.from_canvas else None
    loras = [LoraSpec.parse(s) for s in args.lora]
    for spec in loras:
        spec.read()  # read once, here: exit 2 before a model load for a missing/corrupt/pickle file
    return PaintConfig(
        loras=loras, start=start, record_strokes=bool(args.strokes), **{n: getattr(args, n) for n in names}
    )


def _strokes_path(args) -> Path | None:
    if args.strokes is None:
        return None
    if args.batch:
        raise InputError("--strokes and --from take one image, not --batch")
    out = Path(args.strokes)
    if out.suffix.lower() != ".svg":
        raise InputError(f"--strokes must name an .svg file (its JSON goes beside it), got {out.name}")
    check_writable(out.with_suffix(".json"))
    return check_writable(out)


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    medium = get_medium(args.medium)  # an unknown medium fails before anything is loaded
    inputs = _inputs(args)
    first = load_image(inputs[0]) if not args.batch else None  # a bad single image fails before the load
    outputs = _outputs(args, inputs)
    if args.batch and args.from_canvas:
        raise InputError("--strokes and --from take one image, not --batch")
    args.strokes_path = _strokes_path(args)
    cfg = _config(args)
    cfg.accel()  # bad acceleration options fail before the model loads
    shard = _shard(args)
    todo = shard_indices(len(inputs), shard)
    manifest = Manifest(outputs[0].parent, shard) if args.batch else None
    if args.batch:
        todo = _resumable(todo, inputs, outputs, manifest)
        if not todo:
            log.info("nothing to paint: every output of shard %d/%d is complete", *shard)
            return 0
    painter = Painter(cfg)
    writer = rank_info().is_main or not args.parallel  # under --parallel every rank paints, rank 0 writes
    if writer:
        label = f" ({painter.wan.model_label})" if painter.wan else ""
        print(f"loomis-paint: backend {painter.backend}{label}", file=sys.stderr)
    failed = []
    for n, i in enumerate(todo):
        src, out = inputs[i], outputs[i]
        t0 = time.perf_counter()
        try:
            image = first if first is not None else load_image(src)
            _paint_one(painter, image, medium, src, out, args, writer)
        except InputError as exc:
            if not args.batch:
                raise
            log.error("skipping %s: %s", src, exc)  # one bad image never sinks the batch
            failed.append(src.name)
            if writer:
                manifest.append(src, out, "error", time.perf_counter() - t0, str(exc))
        else:
            if manifest is not None and writer:
                manifest.append(src, out, "ok", time.perf_counter() - t0)
        if len(todo) > 1:
            log.info("%d/%d %s → %s", n + 1, len(todo), src.name, out)
    if failed:
        raise InputError(f"{len(failed)} of {len(todo)} images failed: {', '.join(failed)}")
    return 0


def _resumable(todo: list[int], inputs: list[Path], outputs: list[Path], manifest: Manifest) -> list[int]:
    """Drop the inputs whose output is already complete (recorded as skipped)."""
    left = []
    for i in todo:
        done = completed(outputs[i], inputs[i])
        if done is None:
            raise InputError(
                f"{outputs[i]} holds the result of another input; remove it or choose another -o"
            )
        if done:
            manifest.append(inputs[i], outputs[i], "skipped")
        else:
            left.append(i)
    return left


def _paint_one(painter: Painter, image, medium, src: Path, out: Path, args, writer: bool = True) -> None:
    bar = None
    if progress_enabled():
        from tqdm import tqdm

        bar = tqdm(desc=src.name, unit="step", leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    result = painter.paint(image, medium, progress=progress)
    if bar is not None:
        bar.close()
    if not writer:
        return
    t0 = time.perf_counter()
    note = result.record["provenance"]  # also inside the files, should the sidecar get lost
    record = dict(result.record, input=str(src), output=str(out))
    with commit_together():  # the video, its sheet, strokes and sidecar appear together or not at all
        write_video(out, result.frames, fps=result.fps, description=note)
        if result.strokes is not None and args.strokes_path is not None:
            write_bytes(args.strokes_path, result.strokes.to_svg().encode())
            write_json(args.strokes_path.with_suffix(".json"), result.strokes.to_json())
            record["strokes"] = {"svg": str(args.strokes_path), "count": len(result.strokes.strokes)}
        if args.from_canvas:
            record["from"] = str(args.from_canvas)
        if args.sheet:
            sheet = out.with_name(out.name + ".sheet.png")
            save_image(sheet, contact_sheet(result.frames, n=8), description=note)
            record["sheet"] = str(sheet)
        record["timings"]["write_s"] = round(time.perf_counter() - t0, 3)
        write_json(Path(str(out) + ".json"), record)
    print(
        json.dumps(
            {
                "output": str(out),
                "frames": len(result.frames),
                "size": record["size"],
                "backend": record["backend"],
            }
        )
    )


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))
