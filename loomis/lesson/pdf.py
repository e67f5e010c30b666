"""The printable lesson (A4, matplotlib's PDF backend): a cover page with the finished picture
and the stages, then two steps per page — the change highlighted, the instruction, the colours
and their mixes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from loomis.lesson.export import highlight
from loomis.lesson.model import PROVENANCE, Lesson, Step

A4 = (8.27, 11.69)


def render_pdf(lesson: Lesson, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with PdfPages(str(path), metadata={"Title": "Painting lesson", "Subject": PROVENANCE}) as pdf:
        fig = Figure(figsize=A4)
        _cover(fig, lesson)
        pdf.savefig(fig)
        for k in range(0, len(lesson.steps), 2):
            fig = Figure(figsize=A4)
            for j, step in enumerate(lesson.steps[k : k + 2]):
                _step(fig, lesson, step, top=0.97 - 0.48 * j)
            pdf.savefig(fig)


def _cover(fig, lesson: Lesson) -> None:
    fig.text(0.08, 0.95, "Painting lesson", fontsize=22, weight="bold", va="top")
    meta = f"{lesson.medium or 'painting'} · {lesson.n_frames} frames · {len(lesson.steps)} steps"
    fig.text(0.08, 0.91, meta, fontsize=11, color="#555", va="top")
    ax = fig.add_axes((0.08, 0.45, 0.84, 0.43))
    ax.imshow(lesson.final)
    ax.set_axis_off()
    y = 0.41
    for st in lesson.stages:
        fig.text(0.08, y, f"{st.index + 1}. {st.name}", fontsize=13, weight="bold", va="top")
        fig.text(0.30, y, "\n".join(textwrap.wrap(st.summary, 62)), fontsize=10.5, va="top")
        y -= 0.05
    paints = "Paints: " + ", ".join(p["name"] for p in lesson.paints)
    fig.text(0.08, 0.12, "\n".join(textwrap.wrap(paints, 95)), fontsize=9, color="#333", va="top")
    fig.text(0.08, 0.06, "\n".join(textwrap.wrap(PROVENANCE, 105)), fontsize=8, color="#777", va="top")


def _step(fig, lesson: Lesson, s: Step, top: float) -> None:
    st = lesson.stages[s.stage]
    head = f"Step {s.index + 1} of {len(lesson.steps)}  ·  stage {st.index + 1}: {st.name}"
    fig.text(0.06, top, head, fontsize=10, color="#b0006e", weight="bold", va="top")
    fig.text(
        0.06, top - 0.022, "\n".join(textwrap.wrap(s.instruction, 72)), fontsize=12, weight="bold", va="top"
    )
    img = highlight(s)
    h, w = img.shape[:2]
    box_w, box_h = 0.5, 0.34
    aspect = (w / h) * (A4[1] / A4[0])  # axes fraction width per height fraction
    iw, ih = (box_w, box_w / aspect) if box_w / aspect <= box_h else (box_h * aspect, box_h)
    ax = fig.add_axes((0.06, top - 0.075 - ih, iw, ih))
    ax.imshow(img)
    ax.set_axis_off()
    x, y = 0.60, top - 0.08
    fig.text(
        x, y, f"Brush ≈ {s.brush_px:.0f} px ({s.brush_frac * 100:.1f} % of the width)", fontsize=9, va="top"
    )
    y -= 0.03
    for c, r in zip(s.palette, s.recipes):
        fig.patches.append(_swatch(fig, (x, y - 0.028), np.asarray(c.rgb) / 255.0))
        fig.text(x + 0.045, y, f"{c.name} ({c.share * 100:.0f} %)", fontsize=9.5, weight="bold", va="top")
        if r is not None:
            fig.text(x + 0.045, y - 0.014, "\n".join(textwrap.wrap(r.text(), 44)), fontsize=8, va="top")
        y -= 0.055


def _swatch(fig, xy, rgb):
    from matplotlib.patches import Rectangle

    return Rectangle(
        xy, 0.035, 0.028, transform=fig.transFigure, figure=fig, facecolor=rgb, edgecolor="#555", lw=0.5
    )
