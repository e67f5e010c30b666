"""Evaluation speed: PDP and the full metric set on a synthetic 100-frame 512x512 process, and
the real peer comparison when ../shared/realdata is present (target: under 10 s per method on CPU)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from loomis.metrics import pdp
from loomis.metrics.report import Process, evaluate


def _synthetic(n: int, side: int = 512) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    final = (rng.random((side // 16, side // 16, 3)) * 255).astype(np.uint8).repeat(16, 0).repeat(16, 1)
    frames = []
    for k in range(n):
        f = np.full_like(final, 255)
        rows = round(side * k / (n - 1))
        f[:rows] = final[:rows]
        frames.append(f)
    return frames


def run(out_dir) -> dict:
    gen, gt = _synthetic(100), _synthetic(14)
    t0 = time.perf_counter()
    pdp.perceptual_distance_profile(gen, gt)
    t_pdp = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(Process(gen), Process(gt), closest=())
    result = {"pdp_100x512_s": round(t_pdp, 2), "all_metrics_100x512_s": round(time.perf_counter() - t0, 2)}
    real = Path(
        os.environ.get("LOOMIS_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata")
    )
    comp = real / "inversepainting_github_io" / "comparison"
    if comp.is_dir():
        from loomis.io import read_video

        gt_v = read_video(comp / "gt.mp4")
        for name in ("ours", "timecraft", "PT", "svd"):
            v = read_video(comp / f"{name}.mp4")
            t0 = time.perf_counter()
            ev = evaluate(Process(v.frames, v.times), Process(gt_v.frames, gt_v.times), closest=())
            result[f"real_{name}"] = {"pdp": round(ev.pdp.pdp, 4), "s": round(time.perf_counter() - t0, 2)}
    return result
