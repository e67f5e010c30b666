"""Curating one tutorial video into a clean, occlusion-free painting process.

``curate_video(path, cfg)`` runs the stages in order — decode at 3 fps, (split screen), canvas
localisation and rectification, exposure normalisation, trimming, occlusion removal per segment,
overlay inpainting, frame selection — and returns frames in painting order with their meta.
Writing (and batch/resume bookkeeping) is in :mod:`loomis_data.batch`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from loomis.errors import InputError

from . import canvas as canvas_mod
from . import occlusion, overlays, register, select, split_screen, trim
from .decode import Samples, sample_video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurateConfig:
    sample_fps: float = 3.0
    segment_s: float = 10.0
    # decoded frames are downscaled to this longest side: large enough that a canvas filling ~2/3
    # of an HD frame still reaches the training size
    work_size: int = 1280
    max_size: int = 832  # rectified canvas longest side (the training width; never upscaled)
    canvas: str = "auto"  # auto | full | x1,y1,x2,y2,x3,y3,x4,y4 (TL TR BR BL, source pixels)
    split_screen: bool = False
    trim_video: bool = True
    remove_overlays: bool = True
    num_frames: int | None = None
    progress_aware: bool = False
    min_change: float = 0.5
    register: bool = True  # register samples to the first one when the camera drifts
    occlusion: occlusion.OcclusionConfig = field(default_factory=occlusion.OcclusionConfig)
    overlay: overlays.OverlayConfig = field(default_factory=overlays.OverlayConfig)


@dataclass
class Curated:
    frames: list[np.ndarray]
    reference: np.ndarray | None
    meta: dict
    overlay_mask: np.ndarray | None = None
    quad: np.ndarray | None = None


@dataclass
class Detectors:
    """Optional learned detectors; None means the weight-free default."""

    canvas: canvas_mod.CanvasDetector | None = None
    occlusion: occlusion.OcclusionDetector | None = None
    inpainter: overlays.Inpainter | None = None
    name: str = "weight-free"


def curate_video(
    path: str | os.PathLike, cfg: CurateConfig = CurateConfig(), detectors: Detectors | None = None
) -> Curated:
    detectors = detectors or Detectors()
    t0 = time.perf_counter()
    samples = sample_video(path, cfg.sample_fps, cfg.work_size)
    if len(samples) < 2:
        raise InputError(f"{path}: too short — {len(samples)} sample(s) at {cfg.sample_fps} fps")
    raw = samples.frames
    t_decode = time.perf_counter() - t0
    drift = register.Drift()
    if cfg.register and not cfg.split_screen:  # a screen recording does not drift
        samples.frames, drift = register.stabilise(samples.frames, cfg.sample_fps)
    split_x, reference = None, None
    if cfg.split_screen:
        split_x = split_screen.find_split_column(samples.frames)
        reference = split_screen.reference_photo(samples.frames, split_x)
    fit = _locate_canvas(samples, cfg, split_x, detectors.canvas)
    if drift.registered:
        fit, drift = _register_on_background(samples, raw, fit, cfg, detectors, drift.max_px)
    quad = fit.quad
    size = canvas_mod.canvas_size(quad, cfg.max_size)
    canv = _rectify_all(samples, quad, size, split_x)
    act = trim.activity(canv)
    first, last = trim.painting_interval(act) if cfg.trim_video else (0, len(canv) - 1)
    frames, info = _remove_occlusions(canv, samples.times, first, last, cfg, detectors.occlusion)
    overlay_mask = None
    if cfg.remove_overlays:
        # overlays are burnt in after filming: they do not follow the exposure, so they are
        # looked for in the rectified frames *before* exposure normalisation
        spread = np.linspace(first, last, min(48, last - first + 1)).round().astype(int)
        matrix = canvas_mod.rectifier(quad, size)
        raw = np.stack([canvas_mod.rectify(np.asarray(samples.frames[i]), matrix, size) for i in spread])
        overlay_mask = overlays.find_overlays(raw, cfg.overlay)
        frames = [overlays.inpaint(f, overlay_mask, inpainter=detectors.inpainter) for f in frames]
    frames, info = _select(frames, info, cfg)
    meta = _meta(samples, cfg, quad, split_x, first, last, info, overlay_mask)
    notes = fit.notes + drift.notes
    meta["provenance"]["canvas"] = {
        "sure": not notes,
        "notes": notes,
        "sides_moved_to_edges": fit.sides_moved,
        "fills_frame": fit.fills_frame,
        "windows_agreeing": [fit.windows_agreeing, fit.windows],
        "source_px": [round(v / samples.scale, 1) for v in _quad_size(quad)],
        "written_px": list(size),
    }
    meta["provenance"]["camera_drift"] = drift.as_meta(samples.scale)
    meta["provenance"]["detectors"] = detectors.name
    if notes:
        log.warning("%s: canvas unsure — %s (check the crop)", samples.source, "; ".join(notes))
    meta["timings"] = {"decode_s": round(t_decode, 3), "total_s": round(time.perf_counter() - t0, 3)}
    return Curated(frames, reference, meta, overlay_mask, quad)


def parse_quad(spec: str) -> np.ndarray:
    try:
        vals = [float(v) for v in spec.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 8:
        raise InputError(
            f"--canvas must be auto, full or 8 numbers x1,y1,…,x4,y4 (TL TR BR BL); got {spec!r}"
        )
    return np.array(vals, np.float32).reshape(4, 2)


def _register_on_background(
    samples: Samples, raw: np.ndarray, fit, cfg: CurateConfig, detectors, moved_px: float
):
    """Second registration pass once the canvas is known: burnt-in overlays (the only still things
    in a drifting video) are inpainted in the unregistered samples, then every window is registered
    straight to the first on the background around the canvas (no paint, no chained error)."""
    if cfg.remove_overlays:
        spread = np.linspace(0, len(raw) - 1, min(48, len(raw))).round().astype(int)
        still = overlays.find_overlays(np.asarray(raw[spread]), cfg.overlay)
        if still.any():
            log.info(
                "%s: %.2f%% of the frame is a still overlay on a moving camera",
                samples.source,
                100 * still.mean(),
            )
            raw = np.stack([overlays.inpaint(np.asarray(f), still) for f in raw])
    inside = ~canvas_mod.background_mask(raw.shape[1:3], fit.quad, 0)
    # the canvas moves over the unregistered samples by up to ``moved_px``: keep clear of it
    r = int(1.2 * moved_px) + 8
    background = cv2.dilate(inside.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) == 0
    samples.frames, drift = register.stabilise(raw, cfg.sample_fps, background=background)
    if not drift.registered:
        drift.notes.append("camera drift found, but not confirmed on the background")
    return _locate_canvas(samples, cfg, None, detectors.canvas), drift


def _quad_size(quad: np.ndarray) -> tuple[float, float]:
    tl, tr, br, bl = np.asarray(quad, np.float64)
    w = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    h = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    return float(w), float(h)


def _locate_canvas(
    samples: Samples, cfg: CurateConfig, split_x: int | None, detector
) -> canvas_mod.CanvasFit:
    h, w = samples.frames.shape[1:3]
    x0 = split_x or 0
    full = np.float32([[x0, 0], [w, 0], [w, h], [x0, h]])
    if cfg.canvas == "full":
        return canvas_mod.CanvasFit(full)
    if cfg.canvas != "auto":
        return canvas_mod.CanvasFit(parse_quad(cfg.canvas) * samples.scale)
    frames = samples.frames if split_x is None else samples.frames[:, :, split_x:]
    fit = canvas_mod.locate_canvas(frames, detector=detector)
    if fit.quad is None:
        if split_x is not None:  # a digital drawing panel: the whole right side is the canvas
            return canvas_mod.CanvasFit(full)
        raise InputError(
            f"{samples.source}: no canvas found (pass --canvas full or the corners with --canvas x1,y1,…)"
        )
    fit.quad = fit.quad + np.float32([x0, 0])
    return fit


def _rectify_all(
    samples: Samples, quad: np.ndarray, size: tuple[int, int], split_x: int | None
) -> np.ndarray:
    matrix = canvas_mod.rectifier(quad, size)
    bg = canvas_mod.background_mask(samples.frames.shape[1:3], quad, split_x or 0)
    gains = canvas_mod.exposure_gains(samples.frames, bg)
    out = np.empty((len(samples), size[1], size[0], 3), np.uint8)
    for i in range(len(samples)):
        c = canvas_mod.rectify(np.asarray(samples.frames[i]), matrix, size)
        if abs(gains[i] - 1.0) > 0.002:
            c = np.clip(c.astype(np.float32) / gains[i], 0, 255).astype(np.uint8)
        out[i] = c
    return out


def blank_canvas(canv: np.ndarray, first: int) -> np.ndarray:
    """The canvas before painting: the median of the still samples before ``first`` when there
    are some, else a flat canvas in the colour of the brightest part of the first sample."""
    if first >= 3:
        return np.median(canv[max(0, first - 30) : first], axis=0).astype(np.uint8)
    f = canv[0].reshape(-1, 3).astype(np.float32)
    lum = f.mean(-1)
    colour = np.median(f[lum >= np.percentile(lum, 90)], axis=0)
    return np.broadcast_to(colour.astype(np.uint8), canv.shape[1:]).copy()


def _remove_occlusions(
    canv, times, first, last, cfg: CurateConfig, detector
) -> tuple[list[np.ndarray], list[dict]]:
    seg = max(1, int(round(cfg.segment_s * cfg.sample_fps)))
    if (last + 1 - first) < seg:
        # a short clip, or a few key frames of a process: segments as long as the default would
        # leave one or two frames; make about eight (a segment is at least one sample)
        seg = max(1, (last + 1 - first) // 8)
        log.info("short painting interval: %.2f s segments", seg / cfg.sample_fps)
    bounds = list(range(first, last + 1, seg))
    if len(bounds) > 1 and last + 1 - bounds[-1] < seg // 3:
        bounds.pop()  # a short tail joins the previous segment
    ranges = [(a, b) for a, b in zip(bounds, bounds[1:] + [last + 1])]
    if last + 1 < len(canv):  # the outro: a clean view of the finished painting
        ranges.append((last + 1, min(len(canv), last + 1 + seg)))
    prev = blank_canvas(canv, first)
    a, b = ranges[-1]  # the outro (or the last segment): where the finished painting is skin-coloured
    skin_ok = occlusion.skin_in_painting(np.median(canv[a:b], axis=0).astype(np.uint8))
    # a beige or toned ground is skin-coloured too: there the colour cue cannot tell a hand
    skin_ok |= occlusion.skin_in_painting(prev)
    frames, info = [], []
    stale = None  # pixels of the last result hidden in all of its samples
    for a, b in ranges:
        if b - a == 1 and detector is None:
            # one view (key frames of a process): nothing tells a passing hand from new paint
            masks = np.zeros((1,) + canv.shape[1:3], bool)
        else:
            masks = occlusion.segment_masks(canv[a:b], prev, cfg.occlusion, detector, skin_ok)
        if stale is not None and stale.any():
            # bidirectional: what the previous segment never saw is taken from this one's first
            # clean view, and that filled result is the "previous" of this segment's median
            prev, _ = occlusion.fill_from_next(prev, stale, canv[a:b], masks)
            frames[-1] = prev
        if b - a == 1 and detector is None:  # the view itself (a median of it and the previous
            prev, occluded = canv[a].copy(), 0.0  # state would take the darker of the two)
        else:
            prev, occluded = occlusion.clean_segment(canv[a:b], prev, cfg.occlusion, masks=masks)
        stale = masks.all(0)
        frames.append(prev)
        outro = a > last
        t = float(times[last]) if outro else float(np.median(times[a:b]))
        info.append(
            {
                "time": round(t, 3),
                "t_start": round(float(times[a]), 3),
                "t_end": round(float(times[b - 1]), 3),
                "samples": [int(a), int(b)],
                "occluded": round(occluded, 4),
                "outro": outro,
            }
        )
    return frames, info


def _select(
    frames: list[np.ndarray], info: list[dict], cfg: CurateConfig
) -> tuple[list[np.ndarray], list[dict]]:
    keep = select.drop_duplicates(frames, cfg.min_change)
    frames, info = [frames[i] for i in keep], [info[i] for i in keep]
    prog = select.progress(frames)
    if cfg.num_frames:
        idx = select.pick(prog, np.array([d["time"] for d in info]), cfg.num_frames, cfg.progress_aware)
        frames, info, prog = [frames[i] for i in idx], [info[i] for i in idx], prog[idx]
    if len(frames) < 2:
        raise InputError(
            "the curated process has fewer than 2 distinct frames (nothing was painted? for a short "
            "clip try a shorter --segment, e.g. --segment 2; --no-trim keeps intro and outro)"
        )
    for i, (d, p) in enumerate(zip(info, prog)):
        d["index"] = i
        d["progress"] = round(float(p), 4)
    return frames, info


def _meta(samples: Samples, cfg: CurateConfig, quad, split_x, first, last, info, overlay_mask) -> dict:
    cfg_dict = asdict(cfg)
    return {
        "source": samples.source,
        "provenance": {
            "source": samples.source,
            "tool": "loomis-data curate",
            "kind": "curated from a real painting video (occlusions removed, canvas rectified)",
            "video": {
                "size": list(samples.size),
                "fps": samples.fps,
                "duration_s": round(samples.duration, 3),
            },
            "canvas_quad": (np.asarray(quad) / samples.scale).round(1).tolist(),
            "split_x": None if split_x is None else int(round(split_x / samples.scale)),
            "trim_s": [round(float(samples.times[first]), 3), round(float(samples.times[last]), 3)],
            "overlay_fraction": 0.0 if overlay_mask is None else round(float(overlay_mask.mean()), 5),
            "config": cfg_dict,
        },
        "frames": info,
    }
