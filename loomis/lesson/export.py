"""Writing a lesson: ``lesson.json``, a self-contained offline ``lesson.html`` (pictures inlined,
no network), and a printable ``lesson.pdf`` (``pdf.py``) — one folder, written atomically."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from loomis.errors import InputError
from loomis.io import atomic_dir
from loomis.lesson.model import Lesson, Step

FILES = ("lesson.html", "lesson.pdf", "lesson.json")
HIGHLIGHT = (255, 0, 170)  # outline of the changed region: a magenta no painting is likely to hold


def check_output_dir(out: str | os.PathLike) -> Path:
    """A lesson folder may be new, empty, or an earlier lesson (replaced whole); anything else
    is refused so that a typo never replaces a folder of the user's own files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} is a file; give a folder for the lesson")
    if out.is_dir():
        names = {p.name for p in out.iterdir()}
        if names and not names <= set(FILES):
            raise InputError(
                f"output folder {out} holds other files; give a new folder (or an earlier lesson's)"
            )
    from loomis.io import check_output

    return check_output(out, "dir")  # the shared check: missing parent, read-only folder


def write_lesson(lesson: Lesson, out: str | os.PathLike, pdf: bool = True) -> Path:
    """Write ``lesson.html``, ``lesson.json`` and (``pdf``) ``lesson.pdf`` into the folder ``out``,
    atomically: the folder appears (or replaces an earlier lesson) only when all are complete."""
    out = check_output_dir(out)
    with atomic_dir(out) as tmp:
        (tmp / "lesson.json").write_text(json.dumps(lesson.to_json(), indent=1, ensure_ascii=False) + "\n")
        (tmp / "lesson.html").write_text(render_html(lesson), encoding="utf-8")
        if pdf:
            from loomis.lesson.pdf import render_pdf

            render_pdf(lesson, tmp / "lesson.pdf")
    return out


def highlight(step: Step) -> np.ndarray:
    """The state before the step, the step's new paint shown inside its region, everything else
    faded, and the region outlined."""
    before, after = step.before.astype(np.float32), step.after.astype(np.float32)
    h, w = before.shape[:2]
    m = cv2.resize(step.region.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    out = 0.45 * before + 0.55 * 255.0
    out[m] = after[m]
    out = np.clip(out, 0, 255).astype(np.uint8)
    # The outline runs a little outside the region, half transparent, so thin lines inside stay
    # visible (a line-art step's region is the lines themselves).
    grow = max(2, round(max(h, w) / 160))
    ring = cv2.dilate(m.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    contours, _ = cv2.findContours(ring, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    lines = out.copy()
    cv2.drawContours(lines, contours, -1, HIGHLIGHT, max(1, round(max(h, w) / 400)), cv2.LINE_AA)
    out = cv2.addWeighted(lines, 0.7, out, 0.3, 0)
    return out


def data_uri(img: np.ndarray, quality: int = 85) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, np.uint8)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _step_view(lesson: Lesson, s: Step) -> dict:
    st = lesson.stages[s.stage]
    return {
        "stage": s.stage,
        "stageName": st.name,
        "instruction": s.instruction,
        "frames": list(s.frames),
        "brush": f"about {s.brush_px:.0f} px wide ({s.brush_frac * 100:.1f} % of the canvas width)",
        "area": f"{s.area * 100:.0f} % of the canvas",
        "palette": [
            {"hex": c.hex, "name": c.name, "share": round(c.share * 100), "recipe": r.text() if r else ""}
            for c, r in zip(s.palette, s.recipes)
        ],
        "after": data_uri(s.after),
        "highlight": data_uri(highlight(s)),
    }


def render_html(lesson: Lesson) -> str:
    """The lesson page: one file, pictures and script inline, nothing fetched."""
    view = {
        "stages": [{"name": s.name, "summary": s.summary, "steps": s.steps} for s in lesson.stages],
        "steps": [_step_view(lesson, s) for s in lesson.steps],
        "final": data_uri(lesson.final),
    }
    payload = json.dumps(view, ensure_ascii=False).replace("</", "<\\/")
    template = resources.files("loomis.lesson").joinpath("lesson.html").read_text(encoding="utf-8")
    title = f"Painting lesson — {Path(lesson.source).name or 'process'}"
    meta = (
        f"{lesson.medium or 'painting'} · {lesson.n_frames} frames · {len(lesson.stages)} stages · "
        f"{len(lesson.steps)} steps"
    )
    from loomis.lesson.model import PROVENANCE

    return (
        template.replace("{{TITLE}}", html.escape(title))
        .replace("{{META}}", html.escape(meta))
        .replace("{{PROVENANCE}}", html.escape(PROVENANCE))
        .replace("{{PAINTS}}", html.escape(", ".join(p["name"] for p in lesson.paints)))
        .replace("{{DATA}}", payload)
    )
