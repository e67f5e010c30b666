"""Stroke export: every stroke the procedural painter draws, in painting order, as SVG and JSON.

``StrokeRecorder`` is handed to ``paint(..., on_stroke=recorder)`` and hears of each stroke as it
is rasterised, with the frame it first shows in. Each stroke gets one colour: its own, or for the
strokes that lay down the picture's own pixels (detail passes) the picture's mean colour along
the stroke; a glaze gets the colour of the layer it darkens towards and is marked ``glaze`` (a
multiply in the SVG). Rendering the SVG reproduces the final canvas of an opaque medium within the
tolerance stated in ``docs/lesson.md`` (bristle texture, pressure and clip masks are not drawn).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from loomis.procedural.strokes import Stroke

FORMAT = "loomis-strokes/1"


@dataclass
class StrokeRecord:
    points: list[list[int]]  # [[x, y], …] in canvas pixels
    width: float  # brush diameter in pixels
    colour: str  # "#rrggbb"
    opacity: float
    frame: int  # first frame the stroke shows in
    phase: str
    softness: float = 0.0  # Gaussian edge blur (sigma, pixels)
    glaze: bool = False  # transparent: multiplies what is under it
    clipped: bool = False  # the painter limited it to a region (not reproduced in the SVG)


@dataclass
class StrokeRecorder:
    """Collects strokes as ``film`` draws them (``on_stroke`` callback)."""

    strokes: list[StrokeRecord] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # (width, height)
    ground: np.ndarray | None = None  # (H, W, 3) uint8 blank support (or the learner's canvas)

    def __call__(self, s: Stroke, frame: int, canvas) -> None:
        if self.ground is None:
            self.size = (canvas.w, canvas.h)
            self.ground = np.clip(canvas.ground + 0.5, 0, 255).astype(np.uint8)
        pts = np.asarray(s.pts, np.int64)
        x = np.clip(pts[:, 0], 0, canvas.w - 1)
        y = np.clip(pts[:, 1], 0, canvas.h - 1)
        if s.glaze >= 0 or s.toward >= 0:
            colour = canvas.layers[max(s.glaze, s.toward)][y, x].mean(0)
        elif s.colour is None:
            colour = canvas.target[y, x].mean(0)
        else:
            colour = np.asarray(s.colour, np.float32)
        opacity = float(s.alpha)
        if s.pressure is not None:
            opacity *= float(np.mean(s.pressure))
        self.strokes.append(
            StrokeRecord(
                points=pts.tolist(),
                width=float(max(1, 2 * s.radius)),
                colour=_hex(colour),
                opacity=round(min(max(opacity, 0.0), 1.0), 4),
                frame=int(frame),
                phase=s.phase,
                softness=round(float(s.softness), 3),
                glaze=s.glaze >= 0,
                clipped=s.clip is not None or s.region >= 0,
            )
        )

    def to_json(self) -> dict:
        w, h = self.size
        return {
            "format": FORMAT,
            "size": [w, h],
            "ground": _hex(self.ground.reshape(-1, 3).mean(0)) if self.ground is not None else None,
            "order": "painting order: the first stroke is drawn first",
            "strokes": [vars(s) for s in self.strokes],
        }

    def to_svg(self, flat_ground: bool | None = None) -> str:
        """The strokes as one SVG. The ground is a flat rectangle of its mean colour when it is
        nearly flat (a blank support), else the ground image itself (the learner's canvas)."""
        w, h = self.size
        ground = self.ground if self.ground is not None else np.full((max(h, 1), max(w, 1), 3), 255, np.uint8)
        if flat_ground is None:
            flat_ground = float(ground.reshape(-1, 3).std(0).max()) < 8.0
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
            "<desc>Loomis stroke export: strokes in painting order (data-frame = first frame shown). "
            "A generated reconstruction, not a record of how the picture was made.</desc>",
            _defs(self.strokes),
        ]
        if flat_ground:
            out.append(f'<rect width="{w}" height="{h}" fill="{_hex(ground.reshape(-1, 3).mean(0))}"/>')
        else:
            out.append(
                f'<image width="{w}" height="{h}" xlink:href="data:image/png;base64,{_png64(ground)}"/>'
            )
        out += [_svg_stroke(i, s) for i, s in enumerate(self.strokes)]
        out.append("</svg>")
        return "\n".join(out) + "\n"


def _defs(strokes: list[StrokeRecord]) -> str:
    sigmas = sorted({s.softness for s in strokes if s.softness > 0})
    filters = "".join(
        f'<filter id="{_blur_id(v)}" x="-50%" y="-50%" width="200%" height="200%">'
        f'<feGaussianBlur stdDeviation="{v}"/></filter>'
        for v in sigmas
    )
    return f"<defs>{filters}</defs>"


def _blur_id(sigma: float) -> str:
    return "blur" + f"{sigma:g}".replace(".", "_")


def _svg_stroke(i: int, s: StrokeRecord) -> str:
    extra = f' filter="url(#{_blur_id(s.softness)})"' if s.softness > 0 else ""
    if s.glaze:
        extra += ' style="mix-blend-mode:multiply"'
    meta = f'data-i="{i}" data-frame="{s.frame}" data-phase="{s.phase}"'
    pts = s.points
    if len(pts) == 1 or all(p == pts[0] for p in pts):
        x, y = pts[0]
        return (
            f'<circle {meta} cx="{x}" cy="{y}" r="{s.width / 2:g}" fill="{s.colour}" '
            f'fill-opacity="{s.opacity:g}"{extra}/>'
        )
    d = "M" + " L".join(f"{x} {y}" for x, y in pts)
    return (
        f'<path {meta} d="{d}" fill="none" stroke="{s.colour}" stroke-width="{s.width:g}" '
        f'stroke-opacity="{s.opacity:g}" stroke-linecap="round" stroke-linejoin="round"{extra}/>'
    )


def _hex(rgb) -> str:
    r, g, b = (int(np.clip(round(float(v)), 0, 255)) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _png64(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(img, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
