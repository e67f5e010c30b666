"""Synthetic "filmed painting tutorials" with ground truth, for tests and benchmarks.

A known frame sequence (procedural, or a real process such as ``../shared/realdata``) is painted
onto a canvas that sits in a larger scene: perspective, a wooden table, slow lighting drift, sensor
noise, a hand with a brush that moves where the paint appears, a static channel logo, a quiet intro
and outro, and optionally a split screen with a reference photo on the left. The video is written
as H.264 mp4 so that compression is part of the test. ``Tutorial`` keeps everything needed to score
a curation run: the canvas quadrilateral, the painting interval, the logo box and ``canvas_at(t)``,
the exact canvas state at any time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from loomis.io import mp4_writer

log = logging.getLogger(__name__)

SKIN = np.array([214, 160, 128], np.float32)
BRUSH = np.array([70, 45, 25], np.float32)


@dataclass(frozen=True)
class TutorialSpec:
    size: tuple[int, int] = (640, 360)  # video (width, height)
    fps: float = 30.0
    intro_s: float = 6.0
    paint_s: float = 48.0
    outro_s: float = 6.0
    canvas_frac: float = 0.72  # canvas height / video height
    perspective: float = 0.06  # how much narrower the far (top) edge is
    lighting_drift: float = 0.04  # peak relative gain change
    noise: float = 2.0  # sensor noise sigma (grey levels)
    hand: bool = True
    logo: bool = True
    split_screen: float | None = None  # split column as a fraction of the width, e.g. 0.48
    cell: int = 20  # brush cell size in canvas pixels (the order paint appears in)
    seed: int = 0
    # scene types (see SCENES): what surrounds the canvas, its blank tone, the camera, extras
    background: str = "wood"  # wood | dark | clutter | wall (a white wall behind a white canvas)
    drift_px: float = 0.0  # camera pan over the whole video (video pixels, from the first frame)
    zoom: float = 0.0  # relative camera zoom over the whole video
    shadow: float = 0.0  # hand shadow strength (0 = none, 0.4 = 40 % darker)
    watermark: float = 0.0  # opacity of a semi-transparent text watermark across the canvas


@dataclass
class Tutorial:
    path: Path
    spec: TutorialSpec
    known: list[np.ndarray]  # F_0 (blank) … F_K (finished), canvas resolution
    quad: np.ndarray  # (4, 2) canvas corners in video pixels: TL, TR, BR, BL
    paint_start: float
    paint_end: float
    logo_box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 in video pixels
    reference: np.ndarray | None = None  # split-screen photo
    split_x: int | None = None
    reveal: list[np.ndarray] = field(default_factory=list)  # per step: pixel change times (s)
    watermark_box: tuple[int, int, int, int] | None = None  # the semi-transparent watermark's box

    def camera(self, t: float) -> np.ndarray:
        """(2, 3) affine camera motion at ``t``: a slow pan and zoom, none at t = 0."""
        w, h = self.spec.size
        u = t / self.duration
        z = 1 + self.spec.zoom * u
        tx, ty = self.spec.drift_px * u, 0.5 * self.spec.drift_px * u
        cx, cy = w / 2, h / 2
        return np.float32([[z, 0, cx - z * cx + tx], [0, z, cy - z * cy + ty]])

    @property
    def duration(self) -> float:
        return self.spec.intro_s + self.spec.paint_s + self.spec.outro_s

    def canvas_at(self, t: float) -> np.ndarray:
        """The exact canvas (known resolution, no lighting/noise/hand) at video time ``t``."""
        if t < self.paint_start:
            return self.known[0]
        if t >= self.paint_end:
            return self.known[-1]
        k = min(int((t - self.paint_start) / self._slot), len(self.known) - 2)
        done = self.reveal[k] <= t
        return np.where(done[..., None], self.known[k + 1], self.known[k])

    @property
    def _slot(self) -> float:
        return (self.paint_end - self.paint_start) / (len(self.known) - 1)


# --------------------------------------------------------------------------------------------
# known sequences
# --------------------------------------------------------------------------------------------
def procedural_sequence(
    size: tuple[int, int] = (320, 240),
    steps: int = 8,
    seed: int = 0,
    order: str = "layers",
    tone: tuple[int, int, int] = (246, 246, 246),
) -> list[np.ndarray]:
    """A landscape painted coarse-to-fine (``order="layers"``: blank canvas, sky, hills, sun,
    water, textured detail) or finished band by band from the top (``"top_down"``: the lower part
    stays blank for most of the video), on a blank canvas of colour ``tone``."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    blank = np.broadcast_to(np.float32(tone), (h, w, 3)).copy()
    target = np.zeros((h, w, 3), np.float32)
    sky = np.stack([70 + 90 * y / h, 130 + 60 * y / h, 225 - 20 * y / h], -1)
    target[:] = sky
    ridge = h * 0.55 + h * 0.08 * np.sin(x / w * 7 + rng.uniform(0, 6)) + h * 0.04 * np.sin(x / w * 17)
    hills = y > ridge
    target[hills] = np.stack([60 + 40 * (y / h), 110 + 30 * np.sin(x / 23), 50 + 0 * x], -1)[hills]
    sun = (x - w * 0.72) ** 2 + (y - h * 0.25) ** 2 < (h * 0.09) ** 2
    target[sun] = (250, 210, 60)
    water = y > h * 0.8
    target[water] = np.stack([40 + 30 * np.sin(x / 9 + y / 5), 90 + 20 * (y / h), 170 + 0 * x], -1)[water]
    texture = cv2.GaussianBlur(rng.normal(0, 18, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
    detail = np.clip(target + texture, 0, 255)
    if order == "top_down":
        frames = [blank]
        for band in np.array_split(np.arange(h), steps):
            cur = frames[-1].copy()
            cur[: band[-1] + 1] = detail[: band[-1] + 1]
            frames.append(cur)
        return [np.clip(f, 0, 255).astype(np.uint8) for f in frames]
    layers = [sky_mask := y <= ridge, hills & ~water, sun, water]
    frames = [blank.copy()]
    cur = blank.copy()
    blurred = cv2.GaussianBlur(target, (0, 0), 6)
    for m in layers:  # block-in: flat, blurred colours region by region
        cur = np.where(m[..., None], blurred, cur)
        frames.append(cur.copy())
    del sky_mask
    n_detail = max(1, steps - len(frames) + 1)
    bands = np.array_split(np.arange(h), n_detail)
    for band in bands:  # detail pass top to bottom
        m = np.zeros((h, w), bool)
        m[band] = True
        cur = np.where(m[..., None], detail, cur)
        frames.append(cur.copy())
    return [np.clip(f, 0, 255).astype(np.uint8) for f in frames]


def load_sequence(folder: str | os.PathLike, size: tuple[int, int] = (320, 256)) -> list[np.ndarray]:
    """A real process from a folder of ordered frames, resized, with a blank canvas prepended."""
    from loomis.io import load_image, resize

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    frames = [resize(load_image(f), size) for f in files]
    blank = np.full_like(frames[0], 246)
    return [blank, *frames]


# --------------------------------------------------------------------------------------------
# scene
# --------------------------------------------------------------------------------------------
def _canvas_quad(spec: TutorialSpec, area: tuple[int, int, int, int], aspect: float, rng) -> np.ndarray:
    x0, y0, aw, ah = area
    ch = min(ah * spec.canvas_frac, aw * 0.8 / aspect)
    cw = ch * aspect
    cx, cy = x0 + aw / 2 + rng.uniform(-0.03, 0.03) * aw, y0 + ah / 2
    p = spec.perspective * cw / 2
    quad = np.array(
        [
            [cx - cw / 2 + p, cy - ch / 2],
            [cx + cw / 2 - p, cy - ch / 2],
            [cx + cw / 2, cy + ch / 2],
            [cx - cw / 2, cy + ch / 2],
        ],
        np.float32,
    )
    ang = np.deg2rad(rng.uniform(-2.0, 2.0))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    return ((quad - (cx, cy)) @ rot.T + (cx, cy)).astype(np.float32)


def _table(w: int, h: int, rng) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 12 * np.sin(y / 3.1 + 4 * np.sin(x / 57.0)) + rng.normal(0, 4, (h, w))
    base = np.stack([96 + grain, 66 + 0.8 * grain, 44 + 0.5 * grain], -1)
    return np.clip(base, 0, 255).astype(np.float32)


def _background(kind: str, w: int, h: int, quad: np.ndarray, rng) -> np.ndarray:
    """What surrounds the canvas: a wooden table, a dark textured cloth, a desk cluttered with
    tubes, brushes and a white sheet of paper, or a white wall (with the canvas' thin shadow)."""
    if kind == "wood":
        return _table(w, h, rng)
    if kind == "dark":
        weave = cv2.GaussianBlur(rng.normal(0, 10, (h, w)).astype(np.float32), (0, 0), 1.2)
        return np.clip(np.stack([34 + weave, 31 + weave, 30 + weave], -1), 0, 255).astype(np.float32)
    if kind == "wall":
        y = np.mgrid[0:h, 0:w][0].astype(np.float32)
        wall = np.stack([236 - 10 * y / h, 234 - 10 * y / h, 228 - 10 * y / h], -1)
        drop = np.zeros((h, w), np.float32)  # a canvas stands off the wall: a soft drop shadow
        cv2.fillConvexPoly(drop, (quad + (3, 4)).round().astype(np.int32), 1.0)
        drop = cv2.GaussianBlur(drop, (0, 0), 2.5)
        return wall * (1 - 0.18 * drop[..., None])
    if kind == "clutter":
        img = _table(w, h, rng)
        cx = float(quad[:, 0].min())
        # a white sheet of paper left of the canvas, as bright as the blank canvas
        pw = max(8, int(min(cx - 6, w * 0.2)))
        if pw > 10:
            y0 = int(h * rng.uniform(0.15, 0.35))
            img[y0 : y0 + int(h * 0.45), 3 : 3 + pw - 6] = (240, 238, 232)
        for _ in range(14):  # paint tubes and brushes, anywhere (the canvas is drawn over them)
            colour = rng.uniform(20, 230, 3)
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            ang = rng.uniform(0, np.pi)
            ln, th = rng.uniform(0.06, 0.18) * w, rng.uniform(0.01, 0.03) * h
            box = cv2.boxPoints(((x0, y0), (ln, th), np.degrees(ang))).astype(np.int32)
            cv2.fillConvexPoly(img, box, colour.tolist())
        return img
    raise ValueError(f"unknown background {kind!r}")


def _reveal_times(
    prev: np.ndarray, nxt: np.ndarray, t0: float, t1: float, cell: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel time at which ``nxt`` replaces ``prev``: cells that change are visited in a
    boustrophedon path; returns (times, path of cell centres in canvas pixels)."""
    h, w = prev.shape[:2]
    diff = np.abs(prev.astype(np.int16) - nxt.astype(np.int16)).max(-1) > 8
    gy, gx = -(-h // cell), -(-w // cell)
    cells = []
    for r in range(gy):
        cols = range(gx) if r % 2 == 0 else range(gx - 1, -1, -1)
        for c in cols:
            if diff[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell].any():
                cells.append((r, c))
    times = np.full((h, w), t0, np.float32)
    if not cells:
        return times, np.array([[w / 2, h / 2]], np.float32)
    dt = (t1 - t0) / len(cells)
    for j, (r, c) in enumerate(cells):
        sl = (slice(r * cell, (r + 1) * cell), slice(c * cell, (c + 1) * cell))
        times[sl] = t0 + (j + rng.uniform(0.2, 0.8, (min(cell, h - r * cell), min(cell, w - c * cell)))) * dt
    path = np.array([[(c + 0.5) * cell, (r + 0.5) * cell] for r, c in cells], np.float32)
    return times, path


def _draw_hand(
    img: np.ndarray, tip: np.ndarray, scale: float, wobble: float, colours: tuple | None = None
) -> None:
    """Brush tip at ``tip``; brush, hand and arm extend to the lower right (a right-handed painter)."""
    brush, skin, arm = colours if colours is not None else (BRUSH, SKIN, SKIN * 0.92)
    d = np.array([np.cos(0.75 + wobble), np.sin(0.75 + wobble)], np.float32)
    grip = tip + d * 70 * scale
    cv2.line(img, _pt(tip), _pt(grip), brush.tolist(), max(2, int(5 * scale)), cv2.LINE_AA)
    cv2.ellipse(
        img,
        _pt(grip + d * 10 * scale),
        (int(34 * scale), int(22 * scale)),
        float(np.degrees(0.75 + wobble)),
        0,
        360,
        skin.tolist(),
        -1,
        cv2.LINE_AA,
    )
    elbow = grip + d * 900 * scale
    cv2.line(img, _pt(grip + d * 20 * scale), _pt(elbow), arm.tolist(), int(42 * scale), cv2.LINE_AA)


def _draw_shadow(img: np.ndarray, tip: np.ndarray, scale: float, wobble: float, strength: float) -> None:
    """The hand's soft shadow, cast down and to the left (light from the upper right)."""
    shade = np.ones(3, np.float32)
    off = np.float32([-22, 16]) * scale
    m3 = np.zeros(img.shape, np.float32)
    _draw_hand(m3, tip + off, scale, wobble, colours=(shade, shade, shade))
    mask = cv2.GaussianBlur(m3[..., 0], (0, 0), 5 * scale)
    img *= 1 - strength * mask[..., None]


def _watermark(
    w: int, h: int, quad: np.ndarray, opacity: float
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A semi-transparent white text watermark across the lower middle of the canvas."""
    img = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.uint8)
    cx = float(quad[:, 0].mean())
    cy = float(quad[:, 1].min() + 0.62 * np.ptp(quad[:, 1]))
    fs = h / 360.0 * 0.9
    text = "(c) ART CHANNEL"
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, fs, max(1, int(2 * fs)))
    org = (int(cx - tw / 2), int(cy + th / 2))
    cv2.putText(alpha, text, org, cv2.FONT_HERSHEY_DUPLEX, fs, 255, max(1, int(2 * fs)), cv2.LINE_AA)
    img[:] = 255
    box = (org[0] - 2, org[1] - th - 2, org[0] + tw + 2, org[1] + 4)
    return img, alpha.astype(np.float32) / 255 * opacity, box


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _logo(
    w: int, h: int, quad: np.ndarray, area_x0: int
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """An opaque channel badge overlapping the canvas' lower right corner."""
    lw, lh = int(w * 0.16), int(h * 0.09)
    br = quad[2]
    x0 = int(min(w - lw - 2, br[0] - lw * 0.6))
    y0 = int(min(h - lh - 2, br[1] - lh * 0.7))
    x0 = max(x0, area_x0 + 2)
    img = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.float32)
    cv2.rectangle(img, (x0, y0), (x0 + lw, y0 + lh), (250, 250, 250), -1)
    cv2.rectangle(alpha, (x0, y0), (x0 + lw, y0 + lh), 1.0, -1)
    fs = lh / 40.0
    cv2.putText(
        img,
        "ART TV",
        (x0 + 4, y0 + int(lh * 0.75)),
        cv2.FONT_HERSHEY_SIMPLEX,
        fs,
        (200, 30, 30),
        max(1, int(2 * fs)),
        cv2.LINE_AA,
    )
    return img.astype(np.float32), alpha, (x0, y0, x0 + lw, y0 + lh)


# --------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------
def make_tutorial(
    path: str | os.PathLike, spec: TutorialSpec = TutorialSpec(), known: list[np.ndarray] | None = None
) -> Tutorial:
    """Render a tutorial video to ``path`` (mp4) and return its ground truth."""
    rng = np.random.default_rng(spec.seed)
    w, h = spec.size
    known = known if known is not None else procedural_sequence(seed=spec.seed)
    kh, kw = known[0].shape[:2]
    split_x = int(round(w * spec.split_screen)) if spec.split_screen else None
    area = (split_x, 0, w - split_x, h) if split_x else (0, 0, w, h)
    quad = _canvas_quad(spec, area, kw / kh, rng)
    homography = cv2.getPerspectiveTransform(np.float32([[0, 0], [kw, 0], [kw, kh], [0, kh]]), quad)
    table = _background(spec.background, w, h, quad, rng)
    cover = cv2.warpPerspective(np.ones((kh, kw), np.float32), homography, (w, h), flags=cv2.INTER_LINEAR)[
        ..., None
    ]
    reference = None
    if split_x:
        photo = cv2.GaussianBlur(known[-1].astype(np.float32), (0, 0), 0.8) * 0.95 + 8
        reference = np.clip(photo, 0, 255).astype(np.uint8)
        ph = int(round(split_x * kh / kw))
        table[:, :split_x] = 30
        y0 = (h - ph) // 2
        table[max(0, y0) : y0 + ph, :split_x] = cv2.resize(photo, (split_x, ph))[: h - max(0, y0)]
    logo_img, logo_a, logo_box = _logo(w, h, quad, split_x or 0) if spec.logo else (None, None, None)
    wm_img, wm_a, wm_box = _watermark(w, h, quad, spec.watermark) if spec.watermark else (None, None, None)

    t0 = spec.intro_s
    t1 = spec.intro_s + spec.paint_s
    slot = (t1 - t0) / (len(known) - 1)
    reveals, paths = [], []
    for k in range(len(known) - 1):
        times, pth = _reveal_times(known[k], known[k + 1], t0 + k * slot, t0 + (k + 1) * slot, spec.cell, rng)
        reveals.append(times)
        paths.append(pth)
    tut = Tutorial(Path(path), spec, known, quad, t0, t1, logo_box, reference, split_x, reveals)
    tut.watermark_box = wm_box

    n = int(round(tut.duration * spec.fps))
    scale = h / 360.0
    # a bank of noise fields (7 is coprime with the usual 30/3 sampling stride) keeps rendering fast
    noise = [rng.normal(0, spec.noise, (h, w, 3)).astype(np.float32) for _ in range(7)]
    x264 = ["-preset", "veryfast", "-crf", "23", "-g", "250"]
    with mp4_writer(path, spec.fps, quality=None, output_params=x264) as append:
        for i in range(n):
            t = i / spec.fps
            frame = table.copy()
            canvas = cv2.warpPerspective(
                tut.canvas_at(t).astype(np.float32), homography, (w, h), flags=cv2.INTER_LINEAR
            )
            frame = frame * (1 - cover) + canvas * cover
            if spec.hand and t0 <= t < t1:
                k = min(int((t - t0) / slot), len(paths) - 1)
                u = (t - t0 - k * slot) / slot * len(paths[k])
                j = min(int(u), len(paths[k]) - 1)
                tip_c = paths[k][j] + rng.normal(0, 2.0, 2)
                tip = cv2.perspectiveTransform(tip_c[None, None].astype(np.float32), homography)[0, 0]
                wobble = float(0.15 * np.sin(t * 2.3))
                if spec.shadow:
                    _draw_shadow(frame, tip, scale, wobble, spec.shadow)
                _draw_hand(frame, tip, scale, wobble)
            gain = float(1 + spec.lighting_drift * np.sin(2 * np.pi * t / 23.0))
            frame = frame * gain
            if split_x:  # the photo panel is a screen overlay: no lighting
                frame[:, :split_x] = table[:, :split_x]
            if wm_img is not None:  # burnt in with the scene (a watermark on the canvas itself)
                frame = frame * (1 - wm_a[..., None]) + wm_img * wm_a[..., None]
            if spec.drift_px or spec.zoom:
                frame = cv2.warpAffine(frame, tut.camera(t), (w, h), borderMode=cv2.BORDER_REFLECT)
            frame += noise[i % len(noise)]
            if logo_img is not None:
                frame = frame * (1 - logo_a[..., None]) + logo_img * logo_a[..., None]
            append(np.clip(frame, 0, 255).astype(np.uint8))
    log.debug("wrote synthetic tutorial %s (%d frames)", path, n)
    return tut


# --------------------------------------------------------------------------------------------
# scene types
# --------------------------------------------------------------------------------------------
# name -> (TutorialSpec fields, procedural_sequence fields, drop the blank first state)
SCENES: dict[str, tuple[dict, dict, bool]] = {
    "basic": ({}, {}, False),
    "top_down": ({}, {"order": "top_down"}, False),  # sky first: the lower part stays white
    "pre_painted": ({}, {"order": "top_down"}, True),  # no blank intro: the top is painted from start
    "toned_dark": ({"background": "dark"}, {"tone": (196, 178, 150)}, False),  # toned canvas, dark cloth
    "clutter": ({"background": "clutter"}, {}, False),  # white paper, tubes and brushes around it
    "white_wall": ({"background": "wall"}, {}, False),  # white canvas on a white wall
    "drift": ({"drift_px": 16.0, "zoom": 0.04}, {}, False),  # a slow camera pan and zoom
    "shadow": ({"shadow": 0.45}, {}, False),  # the hand casts a soft shadow
    "watermark": ({"watermark": 0.35}, {}, False),  # semi-transparent text across the canvas
}


def scene(
    name: str, base: TutorialSpec = TutorialSpec(), size: tuple[int, int] = (320, 240), steps: int = 8
) -> tuple[TutorialSpec, list[np.ndarray]]:
    """(spec, known sequence) of scene type ``name`` on top of ``base``."""
    from dataclasses import replace

    spec_kw, seq_kw, drop_blank = SCENES[name]
    known = procedural_sequence(size, steps=steps, seed=base.seed, **seq_kw)
    if drop_blank:
        known = known[1:]
    return replace(base, **spec_kw), known
