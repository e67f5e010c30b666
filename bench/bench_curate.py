"""Curation quality and speed on synthetic filmed tutorials with ground truth.

Tutorials: 640x360 at 30 fps, 60 s (6 s intro, 48 s painting, 6 s outro), perspective canvas,
hand + brush, static logo, lighting drift, sensor noise, H.264 — one per scene type of
``tutorial_synth.SCENES`` (wooden table, sky-first top-down order, canvas painted before the video
starts, toned canvas on dark cloth, cluttered desk with white paper, white wall, camera pan + zoom,
hand shadows, semi-transparent watermark), plus a split screen and the real acrylic process of
``../shared/realdata`` as the known sequence. ``real_processes``: the two real processes curated
as they are (already cropped, hand-free), final frame against the real finished canvas.
Targets (issue 11): final >= 26 dB and mean >= 24 dB on every scene type, no hand pixels, logo
removed, trimming within one segment (10 s), >= 20x real time at 640x360 on 2 CPU cores with the
default (weight-free) detectors. ``quad_corner_error`` is the largest corner distance over the
canvas' larger side.
``psnr_ceiling_db`` is what a perfect occluder removal would score under the same design (the
10 s median of the *true* canvas states, plus the previous result, against the truth at the
frame's time stamp, each frame capped at the final frame's measured PSNR): the part of the gap to
28 dB that no occlusion mask can close.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from loomis_data.curate import CurateConfig, curate_video
from loomis_data.tutorial_score import psnr, score
from loomis_data.tutorial_synth import SCENES, TutorialSpec, load_sequence, make_tutorial, scene

from loomis.io import load_image

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
REAL_SEQ = REALDATA / "ArmastusChen_inverse_painting" / "sample_timelapse_frames"
REAL_VIDEO = REALDATA / "inversepainting_github_io" / "comparison"


def _one(name: str, spec: TutorialSpec, known, cfg: CurateConfig, tmp: Path) -> dict:
    tut = make_tutorial(tmp / f"{name}.mp4", spec, known)
    best, cpu = None, None
    for _ in range(2):  # the machine is shared: take the faster of two runs
        t0, c0 = time.perf_counter(), time.process_time()
        res = curate_video(tut.path, cfg)
        wall, used = time.perf_counter() - t0, time.process_time() - c0
        best = wall if best is None else min(best, wall)
        cpu = used if cpu is None else min(cpu, used)
    out = score(tut, res.frames, res.meta)
    out["psnr_ceiling_db"] = _ceiling(tut, res.meta, out["psnr_final_db"])
    size = max(np.ptp(tut.quad[:, 0]), np.ptp(tut.quad[:, 1]))
    out["quad_corner_error"] = round(float(np.linalg.norm(res.quad - tut.quad, axis=1).max() / size), 4)
    out["canvas_sure"] = res.meta["provenance"]["canvas"]["sure"]
    out["canvas_notes"] = res.meta["provenance"]["canvas"]["notes"]
    out["camera_drift"] = res.meta["provenance"]["camera_drift"]
    out.update(
        {
            "video": f"{spec.size[0]}x{spec.size[1]} @ {spec.fps:g} fps, {tut.duration:g} s",
            "wall_s": round(best, 2),
            "x_realtime": round(tut.duration / best, 1),
            # CPU seconds of this process (all its threads): load from other jobs on a shared
            # machine inflates wall time, not this; on 2 free cores wall <= cpu
            "cpu_s": round(cpu, 2),
            "x_realtime_cpu": round(tut.duration / cpu, 1),
            "decode_s": res.meta["timings"]["decode_s"],
        }
    )
    return out


def _ceiling(tut, meta: dict, cap: float) -> float:
    """Mean PSNR of the masked-median design fed the true canvas states (no hand, no noise)."""
    prev, vals = tut.known[0], []
    for d in meta["frames"]:
        a, b = d["samples"]
        times = np.linspace(d["t_start"], d["t_end"], b - a)
        stack = np.stack([tut.canvas_at(float(t)) for t in times] + [prev])
        prev = np.median(stack, axis=0).astype(np.uint8)
        vals.append(min(cap, psnr(prev, tut.canvas_at(float(d["time"])))))
    return round(float(np.mean(vals)), 2)


def _real_processes() -> dict:
    """The two real processes curated with the defaults; final frame vs the finished painting."""
    import cv2

    out = {}
    pairs = {
        "ArmastusChen_frames": (REAL_SEQ, REAL_SEQ / "10_t3m21s.jpg"),
        "inversepainting_gt_mp4": (REAL_VIDEO / "gt.mp4", REAL_VIDEO / "input.jpg"),
    }
    for name, (src, finished) in pairs.items():
        if not src.exists():
            out[name] = "skipped: ../shared/realdata absent"
            continue
        res = curate_video(src, CurateConfig())
        gt = load_image(finished)
        final = cv2.resize(res.frames[-1], (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_AREA)
        out[name] = {
            "frames": len(res.frames),
            "psnr_final_vs_finished_db": round(psnr(final, gt), 2),
            "canvas": res.meta["provenance"]["canvas"],
        }
    return out


def run(out_dir) -> dict:
    results: dict = {
        "targets": {
            "psnr_final_db": ">= 26 (every scene type)",
            "psnr_mean_db": ">= 24 (every scene type)",
            "hand_pixels_left": 0,
            "logo_pixels_left": 0,
            "trim_error_s": "<= 10",
            "x_realtime": ">= 20 at 640x360",
            "quad_corner_error": "<= 0.03",
        },
        "scenes": {},
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name in SCENES:
            spec, known = scene(name, TutorialSpec())
            results["scenes"][name] = _one(name, spec, known, CurateConfig(), tmp)
        split = TutorialSpec(split_screen=0.47, logo=False, seed=2)
        results["scenes"]["split_screen"] = _one("split", split, None, CurateConfig(split_screen=True), tmp)
        if REAL_SEQ.is_dir():
            results["scenes"]["real_acrylic_process"] = _one(
                "real", TutorialSpec(seed=3), load_sequence(REAL_SEQ), CurateConfig(), tmp
            )
        else:
            results["scenes"]["real_acrylic_process"] = "skipped: ../shared/realdata absent"
    results["real_processes"] = _real_processes()
    rows = [v for v in results["scenes"].values() if isinstance(v, dict)]
    results["summary"] = {
        "psnr_mean_db": round(float(np.mean([r["psnr_mean_db"] for r in rows])), 2),
        "worst_scene_psnr_mean_db": min(r["psnr_mean_db"] for r in rows),
        "worst_scene_psnr_final_db": min(r["psnr_final_db"] for r in rows),
        "psnr_ceiling_db": round(float(np.mean([r["psnr_ceiling_db"] for r in rows])), 2),
        "min_x_realtime": min(r["x_realtime"] for r in rows),
        "min_x_realtime_cpu": min(r["x_realtime_cpu"] for r in rows),
        "hand_pixels_left": sum(r["hand_pixels_left"] for r in rows),
        "shadow_pixels_left": sum(r["shadow_pixels_left"] for r in rows),
        "logo_pixels_left": sum(r["logo_pixels_left"] for r in rows),
        "max_trim_error_s": max(max(r["trim_start_error_s"], r["trim_end_error_s"]) for r in rows),
        "max_quad_corner_error": max(r["quad_corner_error"] for r in rows),
        "scenes_unsure": [
            k for k, r in results["scenes"].items() if isinstance(r, dict) and not r["canvas_sure"]
        ],
    }
    return results
