"""``loomis-lesson PROCESS -o DIR``: a step-by-step lesson (HTML, PDF, ``lesson.json``) from a
painting process — a video or frame folder from either backend, or a curated real process."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from loomis.cli import ArgumentParser, int_range, progress_enabled, run_main, setup_logging
from loomis.errors import InputError
from loomis.io import IMAGE_SUFFIXES, read_video

log = logging.getLogger("loomis-lesson")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="loomis-lesson",
        description="Read a painting process as a lesson: stages, key steps with the region that "
        "changed, its colours, brush size, an instruction and mixing recipes from your paints. "
        "Writes DIR/lesson.html (offline), DIR/lesson.pdf and DIR/lesson.json.",
    )
    p.add_argument(
        "process",
        metavar="PROCESS",
        help="a process video (.mp4, .gif, .webp, …), a folder of frames, or a curated sample "
        "folder (<id>/ with frames/ and meta.json)",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="folder for the lesson (new, empty, or an earlier lesson's)",
    )
    p.add_argument(
        "--medium",
        default=None,
        help="medium, for the stage names (digital: line art → flats → shading); default: from the "
        "process's sidecar JSON or meta.json, else acrylic",
    )
    p.add_argument(
        "--paints",
        default=None,
        metavar="PAINTS.yaml",
        help="your tube colours (YAML list of name + rgb); default: common acrylic/oil pigments",
    )
    p.add_argument("--steps-per-stage", type=int_range(1, 12), default=3, help="key steps per stage (1-12)")
    p.add_argument(
        "--max-side",
        type=int_range(64, 1024),
        default=256,
        help="analysis size: long side in pixels (64-1024)",
    )
    p.add_argument("--no-recipes", action="store_true", help="skip the mixing recipes")
    p.add_argument("--no-pdf", action="store_true", help="write the HTML and JSON only")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def read_process(path: Path) -> tuple[list, str | None]:
    """Frames of PROCESS and the medium its metadata names (or None)."""
    if not path.exists():
        raise InputError(f"process {path} does not exist")
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES - {".gif", ".webp"}:
        raise InputError(
            f"{path} is a single picture; paint it first (loomis-paint {path} -o process.mp4) and read that"
        )
    medium = None
    sidecar = Path(str(path) + ".json")
    if path.is_dir() and (path / "frames").is_dir():  # a curated sample: <id>/frames + meta.json
        medium = _medium_from(path / "meta.json") if (path / "meta.json").is_file() else None
        path = path / "frames"
    elif sidecar.is_file():  # loomis-paint's OUT.json beside OUT
        medium = _medium_from(sidecar)
    video = read_video(path)
    return video.frames, medium


def _medium_from(meta: Path) -> str | None:
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        log.warning("could not read %s; pass --medium to name the medium", meta)
        return None
    medium = data.get("medium") if isinstance(data, dict) else None
    return medium if isinstance(medium, str) else None


def _check_medium(name: str) -> str:
    from loomis.lesson.stages import VOCABULARY
    from loomis.mediums import medium_names

    valid = [*medium_names(), *(k for k in VOCABULARY if k not in medium_names())]
    if name not in valid:
        raise InputError(f"unknown medium {name!r}; valid: {', '.join(valid)}")
    return name


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from loomis.lesson import LessonConfig, build_lesson, check_output_dir, read_paints, write_lesson

    cfg = LessonConfig(
        steps_per_stage=args.steps_per_stage, max_side=args.max_side, recipes=not args.no_recipes
    )
    cfg.validate()
    out = check_output_dir(args.output)
    paints = read_paints(args.paints) if args.paints else None
    if args.medium:
        _check_medium(args.medium)
    frames, found = read_process(Path(args.process))
    medium = args.medium or found or "acrylic"
    bar = None
    if progress_enabled():
        from tqdm import tqdm

        bar = tqdm(desc="lesson", unit="step", leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total, bar.n = total, done
            bar.refresh()

    lesson = build_lesson(frames, medium, cfg, paints=paints, source=str(args.process), progress=progress)
    if bar is not None:
        bar.close()
    write_lesson(lesson, out, pdf=not args.no_pdf)
    summary = {
        "output": str(out),
        "medium": medium,
        "stages": [s.name for s in lesson.stages],
        "steps": len(lesson.steps),
    }
    print(json.dumps(summary))
    return 0


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))
