"""Curation quality and speed on synthetic filmed tutorials with ground truth.

Tutorials: 640x360 at 30 fps, 60 s (6 s intro, 48 s painting, 6 s outro), perspective canvas,
hand + brush, static logo, lighting drift, sensor noise, H.264. Known sequences: the procedural
landscape, and the real acrylic process of ``../shared/realdata`` (ArmastusChen, when present).
Targets (issue 3): PSNR >= 28 dB on the canvas, no hand pixels, logo removed, trimming within one
segment (10 s), >= 10x real time on 2 CPU cores with the default (weight-free) detectors.
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
from loomis_data.tutorial_synth import TutorialSpec, load_sequence, make_tutorial

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
REAL_SEQ = REALDATA / "ArmastusChen_inverse_painting" / "sample_timelapse_frames"


def _one(name: str, spec: TutorialSpec, known, cfg: CurateConfig, tmp: Path) -> dict:
    tut = make_tutorial(tmp / f"{name}.mp4", spec, known)
    best = None
    for _ in range(2):  # the machine is shared: take the faster of two runs
        t0 = time.perf_counter()
        res = curate_video(tut.path, cfg)
        wall = time.perf_counter() - t0
        best = wall if best is None else min(best, wall)
    out = score(tut, res.frames, res.meta)
    out["psnr_ceiling_db"] = _ceiling(tut, res.meta, out["psnr_final_db"])
    out.update(
        {
            "video": f"{spec.size[0]}x{spec.size[1]} @ {spec.fps:g} fps, {tut.duration:g} s",
            "wall_s": round(best, 2),
            "x_realtime": round(tut.duration / best, 1),
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


def run(out_dir) -> dict:
    results: dict = {
        "targets": {
            "psnr_db": ">= 28",
            "hand_pixels_left": 0,
            "logo_pixels_left": 0,
            "trim_error_s": "<= 10",
            "x_realtime": ">= 10",
        }
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results["procedural"] = _one("procedural", TutorialSpec(), None, CurateConfig(), tmp)
        results["procedural_seed1"] = _one(
            "procedural1", TutorialSpec(seed=1, perspective=0.1), None, CurateConfig(), tmp
        )
        split = TutorialSpec(split_screen=0.47, logo=False, seed=2)
        results["split_screen"] = _one("split", split, None, CurateConfig(split_screen=True), tmp)
        if REAL_SEQ.is_dir():
            results["real_acrylic_process"] = _one(
                "real", TutorialSpec(seed=3), load_sequence(REAL_SEQ), CurateConfig(), tmp
            )
        else:
            results["real_acrylic_process"] = "skipped: ../shared/realdata absent"
    rows = [v for v in results.values() if isinstance(v, dict) and "psnr_mean_db" in v]
    results["summary"] = {
        "psnr_mean_db": round(float(np.mean([r["psnr_mean_db"] for r in rows])), 2),
        "psnr_ceiling_db": round(float(np.mean([r["psnr_ceiling_db"] for r in rows])), 2),
        "min_x_realtime": min(r["x_realtime"] for r in rows),
        "hand_pixels_left": sum(r["hand_pixels_left"] for r in rows),
        "logo_pixels_left": sum(r["logo_pixels_left"] for r in rows),
        "max_trim_error_s": max(max(r["trim_start_error_s"], r["trim_end_error_s"]) for r in rows),
    }
    return results
