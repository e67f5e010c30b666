"""The Loomis studio (Gradio): upload a picture, paint it, scrub the steps with the lesson beside
them, download everything.

One painting job runs at a time (the queue's concurrency limit on the paint event: one GPU, one
model), scrubbing is instant. A job writes into its own folder under the studio's work folder:
the process video and its sidecar JSON, the strokes (procedural backend), the lesson (HTML, PDF,
JSON). Bad input is a message in the page, never a traceback.
"""

from __future__ import annotations

import html
import logging
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from loomis.errors import InputError
from loomis.io import IMAGE_SUFFIXES, load_image, write_bytes, write_json, write_video

log = logging.getLogger(__name__)

UPLOAD_TYPES = [".png", ".jpg", ".jpeg", ".webp"]
MAX_PIXELS = 40_000_000  # a 40-megapixel picture is plenty; larger ones are scaled down anyway
FRAMES = (9, 97)


@dataclass
class StudioConfig:
    model: str | None = None  # Wan model (spec name or folder); None: procedural only
    work_dir: Path | None = None  # where jobs write; default: a fresh temporary folder
    max_upload_mb: int = 25
    max_side: int = 512  # procedural painting size (long side) in the studio: quick to paint

    @property
    def backends(self) -> list[str]:
        return ["procedural", "wan"] if self.model else ["procedural"]


class Studio:
    """The jobs behind the page (no Gradio here, so that they can be tested directly)."""

    def __init__(self, cfg: StudioConfig):
        self.cfg = cfg
        self.work = Path(cfg.work_dir or tempfile.mkdtemp(prefix="loomis-studio-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self._painters: dict[str, object] = {}

    def check_upload(self, path: str | None) -> np.ndarray:
        """The uploaded picture, or an InputError that says what to upload instead."""
        if not path:
            raise InputError("upload a picture first (PNG, JPEG or WebP)")
        p = Path(path)
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            raise InputError(f"{p.name} is not a picture: upload a PNG, JPEG or WebP image")
        if p.stat().st_size > self.cfg.max_upload_mb * 1024 * 1024:
            raise InputError(f"{p.name} is larger than {self.cfg.max_upload_mb} MB; upload a smaller picture")
        image = load_image(p)
        if image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise InputError(
                f"{p.name} has more than {MAX_PIXELS // 1_000_000} megapixels; upload a smaller picture"
            )
        return image

    def paint(self, path, medium: str, backend: str, frames: int, seed: int, progress=None) -> dict:
        """Paint, write every output and read the lesson. Returns what the page shows."""
        from loomis.lesson import LessonConfig, build_lesson, write_lesson
        from loomis.mediums import get_medium

        image = self.check_upload(path)
        get_medium(medium)
        if backend not in self.cfg.backends:
            raise InputError(
                f"backend {backend!r} is not set up here; choose {' or '.join(self.cfg.backends)}"
            )
        frames, seed = _frames(frames), _seed(seed)
        job = Path(tempfile.mkdtemp(prefix=time.strftime("job-%H%M%S-"), dir=self.work))
        painter = self._painter(backend, frames, seed)
        say = progress or (lambda *_a, **_k: None)
        say(0.0, "painting")
        result = painter.paint(image, medium, progress=lambda d, t: say(0.75 * d / max(t, 1), "painting"))
        video = job / "process.mp4"
        write_video(video, result.frames, fps=result.fps)
        record = dict(result.record, input=Path(path).name, output=video.name)
        files = [video, job / "process.mp4.json"]
        if result.strokes is not None:
            write_bytes(job / "strokes.svg", result.strokes.to_svg().encode())
            write_json(job / "strokes.json", result.strokes.to_json())
            record["strokes"] = {"svg": "strokes.svg", "count": len(result.strokes.strokes)}
            files += [job / "strokes.svg", job / "strokes.json"]
        write_json(files[1], record)
        say(0.8, "reading the lesson")
        lesson = build_lesson(result.frames, medium, LessonConfig(), source=video.name)
        write_lesson(lesson, job / "lesson")
        files += [job / "lesson" / n for n in ("lesson.html", "lesson.pdf", "lesson.json")]
        say(1.0, "done")
        return {"video": str(video), "lesson": lesson, "files": [str(f) for f in files], "record": record}

    def _painter(self, backend: str, frames: int, seed: int):
        from loomis.paint import PaintConfig, Painter

        cfg = PaintConfig(
            backend=backend,
            model=self.cfg.model if backend == "wan" else None,
            frames=frames,
            seed=seed,
            size=None if backend == "wan" else f"{self.cfg.max_side}x{self.cfg.max_side}",
            record_strokes=backend == "procedural",
        )
        if backend not in self._painters:  # the Wan model loads once
            self._painters[backend] = Painter(cfg)
        painter = self._painters[backend]
        painter.cfg = replace(painter.cfg, frames=frames, seed=seed)
        return painter


def _frames(v) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise InputError(f"frames must be a whole number, got {v!r}") from None
    if not FRAMES[0] <= n <= FRAMES[1]:
        raise InputError(f"frames must be between {FRAMES[0]} and {FRAMES[1]}, got {n}")
    return n


def _seed(v) -> int:
    try:
        n = int(v)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"seed must be a whole number, got {v!r}") from None
    if not 0 <= n < 2**31:
        raise InputError(f"seed must be between 0 and 2147483647, got {n}")
    return n


def step_card(lesson, k: int) -> str:
    """The lesson beside the picture: stage, step, instruction, colours and their mixes (HTML)."""
    if lesson is None or not lesson.steps:
        return "<p>The lesson appears here once a picture is painted.</p>"
    k = max(0, min(len(lesson.steps) - 1, k))
    s = lesson.steps[k]
    st = lesson.stages[s.stage]
    rows = "".join(
        f'<li><span class="sw" style="background:{c.hex}"></span><b>{html.escape(c.name)}</b> '
        f"({c.share * 100:.0f} %)<br><small>{html.escape(r.text() if r else '')}</small></li>"
        for c, r in zip(s.palette, s.recipes)
    )
    stages = " → ".join(
        f"<b>{html.escape(x.name)}</b>" if x.index == st.index else html.escape(x.name) for x in lesson.stages
    )
    return (
        f'<div class="card"><p class="stages">{stages}</p>'
        f'<p class="stage">Stage {st.index + 1} of {len(lesson.stages)}: {html.escape(st.name)} · step {k + 1} of '
        f'{len(lesson.steps)}</p><p class="instr">{html.escape(s.instruction)}</p>'
        f"<p><small>Brush about {s.brush_px:.0f} px ({s.brush_frac * 100:.1f} % of the width); "
        f"{s.area * 100:.0f} % of the canvas changes.</small></p>"
        f'<ul class="pal">{rows}</ul></div>'
    )
